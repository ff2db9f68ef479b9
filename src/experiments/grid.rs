//! The experiment grid: a prompt, lists of sampling settings and experts per token, and
//! named intervention sets, as read from (and written to) a TOML file; and its expansion
//! into runs, ordered by experts per token so the model is loaded once per k.
//!
//! ```toml
//! prompt = "Name three fruits."
//! max_tokens = 64
//! temperature = [0.2, 1.0]
//! top_p = [0.9, 1.0]
//! seed = [1, 2]
//! experts_used = [2, 4]          # optional; empty = the model's own count
//! baseline = "none"              # optional; default: the first set without rules
//!
//! [[interventions]]
//! name = "none"
//!
//! [[interventions]]
//! name = "no-e3"
//! knockout = ["1:3", "all:5,6"]  # LAYER:EXPERT[,EXPERT...]; LAYER may be `all`
//!
//! [[interventions]]
//! name = "pinned"
//! force = ["2:0"]                # always among the layer's k chosen
//! restrict = ["1:0,1,2,3"]       # the only experts the layer may choose
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::routing::Interventions;

/// Most runs one grid may expand to.
pub const MAX_RUNS: usize = 1000;

/// Where the files of an experiment came from: written into `grid.toml` so a rerun uses
/// the same model bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelRef {
    pub path: String,
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lora: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lora_sha256: Option<String>,
    pub threads: i32,
    pub n_ctx: u32,
}

/// A named set of interventions. Every key besides `name` is an intervention kind (see
/// [`KINDS`]) holding rules written `LAYER:E1,E2,...`, LAYER a model layer or `all`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InterventionSet {
    pub name: String,
    #[serde(flatten)]
    pub rules: BTreeMap<String, Vec<String>>,
}

/// The intervention kinds a set may hold, by their TOML key, with the field of
/// [`Interventions`] each fills. A new kind is one line here.
#[allow(clippy::type_complexity)]
pub const KINDS: &[(&str, fn(&mut Interventions) -> &mut BTreeMap<u32, Vec<u16>>)] = &[
    ("knockout", |i| &mut i.knockout),
    ("force", |i| &mut i.force),
    ("restrict", |i| &mut i.restrict),
];

fn default_max_tokens() -> u32 {
    64
}
fn default_temperature() -> Vec<f64> {
    vec![0.7]
}
fn default_top_p() -> Vec<f64> {
    vec![0.9]
}
fn default_seed() -> Vec<u64> {
    vec![42]
}

/// A value given as f32 (a command-line flag) as the f64 with the same decimal text, so
/// `0.2` is written to `grid.toml` as 0.2 and reads back as the same f32.
pub fn decimal(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(x as f64)
}

/// An experiment definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    pub prompt: String,
    /// Send the prompt without the chat template.
    #[serde(default)]
    pub raw: bool,
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    #[serde(default = "default_temperature")]
    pub temperature: Vec<f64>,
    #[serde(default = "default_top_p")]
    pub top_p: Vec<f64>,
    #[serde(default = "default_seed")]
    pub seed: Vec<u64>,
    /// Experts per token; empty = the count the model was loaded with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub experts_used: Vec<u32>,
    /// The set the others are compared with (default: the first set without rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interventions: Vec<InterventionSet>,
    /// Filled in when the experiment is saved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelRef>,
}

impl Grid {
    /// A grid with one value of everything and no interventions.
    pub fn new(prompt: impl Into<String>) -> Self {
        Grid {
            prompt: prompt.into(),
            raw: false,
            max_tokens: default_max_tokens(),
            temperature: default_temperature(),
            top_p: default_top_p(),
            seed: default_seed(),
            experts_used: Vec::new(),
            baseline: None,
            interventions: Vec::new(),
            model: None,
        }
    }

    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| format!("the grid file is not valid: {e}"))
    }

    pub fn to_toml(&self) -> Result<String, String> {
        toml::to_string(self).map_err(|e| format!("cannot write the grid as TOML: {e}"))
    }

    /// The intervention sets, with an implicit empty one named `none` when the grid
    /// names none.
    pub fn sets(&self) -> Vec<InterventionSet> {
        if self.interventions.is_empty() {
            vec![InterventionSet {
                name: "none".into(),
                rules: BTreeMap::new(),
            }]
        } else {
            self.interventions.clone()
        }
    }

    /// The baseline set's name: the one named, else the first set without rules.
    pub fn baseline_set(&self) -> Option<String> {
        if let Some(b) = &self.baseline {
            return Some(b.clone());
        }
        self.sets()
            .into_iter()
            .find(|s| s.rules.values().all(Vec::is_empty))
            .map(|s| s.name)
    }
}

/// What the checks and the expansion need to know about the loaded model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelShape {
    pub n_layer: u32,
    /// Routed experts per MoE layer (0 = dense).
    pub n_expert: u32,
    /// Leading layers without a router.
    pub n_dense_lead: u32,
    /// Experts per token the model is loaded with now.
    pub k: u32,
}

impl ModelShape {
    pub fn of(info: &crate::transcript::ModelInfo) -> Self {
        ModelShape {
            n_layer: info.n_layer,
            n_expert: info.n_expert,
            n_dense_lead: info.n_dense_lead,
            k: info.n_expert_used,
        }
    }
}

/// Parse one rule `LAYER:E1,E2,...` into (layers, experts); `all` = every MoE layer.
pub fn parse_rule(rule: &str, shape: &ModelShape) -> Result<(Vec<u32>, Vec<u16>), String> {
    let (layer, experts) = rule
        .split_once(':')
        .ok_or_else(|| format!("{rule:?} is not LAYER:EXPERT[,EXPERT...] (e.g. 1:3 or all:0,5)"))?;
    let moe_layers = shape.n_dense_lead..shape.n_layer;
    let layers: Vec<u32> = if layer.trim() == "all" {
        moe_layers.clone().collect()
    } else {
        let l: u32 = layer
            .trim()
            .parse()
            .map_err(|_| format!("{rule:?}: {layer:?} is not a layer number or `all`"))?;
        if !moe_layers.contains(&l) {
            return Err(format!(
                "{rule:?}: layer {l} has no router: the model's MoE layers are {}..={}",
                shape.n_dense_lead,
                shape.n_layer.saturating_sub(1)
            ));
        }
        vec![l]
    };
    let mut ids = Vec::new();
    for e in experts.split(',') {
        let e: u32 = e
            .trim()
            .parse()
            .map_err(|_| format!("{rule:?}: {e:?} is not an expert number"))?;
        if e >= shape.n_expert {
            return Err(format!(
                "{rule:?}: expert {e} does not exist: the model's experts are 0..={}",
                shape.n_expert.saturating_sub(1)
            ));
        }
        ids.push(e as u16);
    }
    Ok((layers, ids))
}

/// Turn a set's rules into [`Interventions`] for this model.
pub fn resolve_set(set: &InterventionSet, shape: &ModelShape) -> Result<Interventions, String> {
    let mut out = Interventions::default();
    for (kind, rules) in &set.rules {
        let field = KINDS
            .iter()
            .find(|(name, _)| name == kind)
            .map(|(_, f)| f)
            .ok_or_else(|| {
                let known: Vec<&str> = KINDS.iter().map(|(n, _)| *n).collect();
                format!(
                    "intervention set {:?}: unknown kind {kind:?} (known: {})",
                    set.name,
                    known.join(", ")
                )
            })?;
        if !rules.is_empty() && shape.n_expert == 0 {
            return Err(format!(
                "intervention set {:?}: the model is dense: it has no experts to intervene on",
                set.name
            ));
        }
        for rule in rules {
            let (layers, experts) =
                parse_rule(rule, shape).map_err(|e| format!("set {:?}: {e}", set.name))?;
            for l in layers {
                let list = field(&mut out).entry(l).or_default();
                list.extend(&experts);
                list.sort_unstable();
                list.dedup();
            }
        }
    }
    Ok(out)
}

/// Experts a layer may still choose from under `iv` (knocked-out experts removed).
fn experts_left(iv: &Interventions, layer: u32, n_expert: u32) -> u32 {
    n_expert.saturating_sub(iv.knocked_out(layer).len() as u32)
}

/// Check a set against experts per token `k` with the same rules the engine applies
/// ([`Interventions::validate`]): every layer must keep at least k experts to choose
/// from, force at most k, and force none it also knocks out or leaves outside its
/// allowed set. The message names the set and the limit.
pub fn check_set_for_k(
    name: &str,
    iv: &Interventions,
    k: u32,
    shape: &ModelShape,
) -> Result<(), String> {
    for &layer in iv.knockout.keys() {
        let left = experts_left(iv, layer, shape.n_expert);
        if left < k {
            return Err(format!(
                "intervention set {name:?}: layer {layer} keeps only {left} of {} experts, but each token needs k = {k}",
                shape.n_expert
            ));
        }
    }
    iv.validate(shape.n_layer, shape.n_expert, k, shape.n_dense_lead)
        .map_err(|e| format!("intervention set {name:?} at k = {k}: {e}"))
}
