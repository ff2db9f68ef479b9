//! How a model's routers choose, read from its GGUF metadata, and so where an intervention
//! must act. Mirrors `build_moe_ffn` in the vendored llama.cpp (`src/llama-graph.cpp`):
//!
//! ```text
//! logits = gate_inp * x (+ gate_inp_b)                       ffn_moe_logits
//! probs  = softmax(logits) | sigmoid(logits) | logits        ffn_moe_probs
//! sel    = probs (+ exp_probs_b)                             ffn_moe_probs_biased
//! sel    = group mask(sel)          (n_expert_groups > 1)    ffn_moe_probs_masked
//! topk   = argsort(sel)[:k]                                  ffn_moe_topk
//! w      = probs[topk]                                       ffn_moe_weights
//! w      = softmax(w)               (softmax-weight gating)  ffn_moe_weights_softmax
//! w      = w / sum(w)               (norm_w)                 ffn_moe_weights_norm
//! w      = w * scale                (scale != 0, 1)          ffn_moe_weights_scaled
//! ```
//!
//! The engine writes the interventions into `ffn_moe_probs` right after it is computed:
//! -inf for experts that may not be chosen, a huge score for forced ones. The selection
//! bias is added to that tensor, so the biased scores carry the change too. Because
//! `ffn_moe_weights` gathers from the same tensor, the engine then puts the router's own
//! values back into the gathered weights of forced experts (knocked-out experts are never
//! gathered), so normalisation, softmax-weight gating and scaling see what the router
//! computed. Llama 4 selects from the logits and grouped routing masks whole groups: there
//! the engine refuses interventions rather than pretend. At run time the capture checks in
//! the graph that the selection really came from the tensor it wrote.

use std::path::Path;

/// The router's gating function (`<arch>.expert_gating_func` in llama.cpp).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gating {
    Softmax,
    Sigmoid,
    /// gpt-oss: selection on the raw logits, softmax over the chosen k afterwards.
    SoftmaxWeight,
    /// Not known for this architecture: interventions are refused.
    Unknown,
}

/// Architectures whose graph calls `build_moe_ffn` with a fixed softmax gating, whatever
/// the metadata says (the `models/*.cpp` of the vendored llama.cpp).
const SOFTMAX_ARCHS: &[&str] = &[
    "llama",
    "deepseek",
    "qwen2moe",
    "qwen3moe",
    "qwen3vlmoe",
    "qwen35moe",
    "qwen3next",
    "olmoe",
    "granitemoe",
    "granitehybrid",
    "phimoe",
    "hunyuan-moe",
    "bailingmoe",
    "ernie4_5-moe",
    "dbrx",
    "grok",
    "arctic",
    "jamba",
    "mistral3",
    "rnd1",
    "llada-moe",
    "nomic-bert-moe",
];

/// Architectures whose selection does not run on the probabilities tensor.
const REFUSED_ARCHS: &[(&str, &str)] = &[
    (
        "llama4",
        "Llama 4 selects experts from the raw router logits",
    ),
    (
        "grovemoe",
        "GroveMoE selects over expert groups with its own scores",
    ),
];

/// What the engine knows about a model's routers.
#[derive(Debug, Clone, PartialEq)]
pub struct RouterPlan {
    pub arch: String,
    pub gating: Gating,
    /// A selection bias (`exp_probs_b`) is added before the top-k.
    pub biased: bool,
    /// Expert groups (`<arch>.expert_group_count`); > 1 means group-limited selection.
    pub groups: u32,
    pub n_layer: u32,
    pub n_expert: u32,
    pub k: u32,
    pub n_dense_lead: u32,
}

impl RouterPlan {
    /// A plan for a model of this shape whose routing is not known (dense models too).
    pub fn unknown(arch: &str, n_layer: u32, n_expert: u32, k: u32, n_dense_lead: u32) -> Self {
        RouterPlan {
            arch: arch.to_string(),
            gating: Gating::Unknown,
            biased: false,
            groups: 0,
            n_layer,
            n_expert,
            k,
            n_dense_lead,
        }
    }

    /// Read the gating from the GGUF metadata of `path` (header only) for a model loaded
    /// with `k` experts per token. A file that cannot be read gives an unknown gating.
    pub fn from_gguf(path: &Path, n_layer: u32, k: u32, n_dense_lead: u32) -> Self {
        let Ok(file) = crate::model::gguf::GgufFile::open(path) else {
            return Self::unknown("?", n_layer, 0, k, n_dense_lead);
        };
        let arch = file.architecture().unwrap_or("?").to_string();
        let key = |s: &str| file.get_u32(&format!("{arch}.{s}"));
        let n_expert = key("expert_count").unwrap_or(0);
        let biased = file
            .tensors()
            .iter()
            .any(|t| t.name.ends_with(".exp_probs_b.bias"));
        let gating = gating_for(&arch, key("expert_gating_func"));
        RouterPlan {
            gating,
            biased,
            groups: key("expert_group_count").unwrap_or(0),
            n_layer,
            n_expert,
            k,
            n_dense_lead,
            arch,
        }
    }

    /// The routing in words, for messages.
    pub fn describe(&self) -> String {
        let base = match self.gating {
            Gating::Softmax => "softmax gating",
            Gating::Sigmoid => "sigmoid gating",
            Gating::SoftmaxWeight => "softmax-weight gating (softmax over the chosen experts)",
            Gating::Unknown => "an unknown gating function",
        };
        let bias = if self.biased {
            " with a selection bias"
        } else {
            ""
        };
        format!("{}'s routing ({base}{bias})", self.arch)
    }

    /// Whether the engine can apply interventions to this model, and if not, why.
    pub fn supports_interventions(&self) -> Result<(), String> {
        let refuse = |why: &str| {
            Err(format!(
                "interventions are not supported on {}: {why}; nothing was changed",
                self.describe()
            ))
        };
        if let Some((_, why)) = REFUSED_ARCHS.iter().find(|(a, _)| *a == self.arch) {
            return refuse(why);
        }
        if self.groups > 1 {
            return refuse(&format!(
                "it chooses among {} expert groups first, which these interventions do not handle",
                self.groups
            ));
        }
        if self.gating == Gating::Unknown {
            return refuse("its gating function is not known to this app");
        }
        Ok(())
    }

    /// Check a request against this model: its routing first, then its shape.
    pub fn check(&self, i: &crate::routing::Interventions) -> Result<(), String> {
        if i.is_empty() {
            return Ok(());
        }
        self.supports_interventions()?;
        i.validate(self.n_layer, self.n_expert, self.k, self.n_dense_lead)
    }
}

/// The gating llama.cpp uses for `arch`, given the `expert_gating_func` key if present.
fn gating_for(arch: &str, key: Option<u32>) -> Gating {
    if SOFTMAX_ARCHS.contains(&arch) {
        return Gating::Softmax;
    }
    if arch == "gpt-oss" {
        return Gating::SoftmaxWeight;
    }
    match key {
        Some(1) => Gating::Softmax,
        Some(2) => Gating::Sigmoid,
        Some(3) => Gating::SoftmaxWeight,
        // llama.cpp's own defaults when the key is absent.
        None if arch == "deepseek2" => Gating::Softmax,
        None if arch == "glm4moe" => Gating::Sigmoid,
        _ => Gating::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gating_follows_the_architecture_then_the_key() {
        assert_eq!(gating_for("deepseek", Some(2)), Gating::Softmax);
        assert_eq!(gating_for("gpt-oss", None), Gating::SoftmaxWeight);
        assert_eq!(gating_for("dots1", Some(2)), Gating::Sigmoid);
        assert_eq!(gating_for("deepseek2", None), Gating::Softmax);
        assert_eq!(gating_for("glm4moe", None), Gating::Sigmoid);
        assert_eq!(gating_for("dots1", None), Gating::Unknown);
        assert_eq!(gating_for("something-new", Some(9)), Gating::Unknown);
    }

    fn plan_of(spec: &crate::model::tiny::TinySpec) -> RouterPlan {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("m.gguf");
        crate::model::tiny::write(&path, spec).expect("write");
        RouterPlan::from_gguf(&path, spec.n_layer, spec.n_expert_used, spec.n_dense_lead)
    }

    #[test]
    fn the_tiny_families_read_back_with_their_gating() {
        use crate::model::tiny::TinySpec;
        let p = plan_of(&TinySpec::default());
        assert_eq!(
            (p.arch.as_str(), p.gating, p.biased),
            ("deepseek", Gating::Softmax, false)
        );
        let p = plan_of(&TinySpec::dots1());
        assert_eq!(
            (p.arch.as_str(), p.gating, p.biased),
            ("dots1", Gating::Sigmoid, true)
        );
        assert_eq!(
            p.describe(),
            "dots1's routing (sigmoid gating with a selection bias)"
        );
        let p = plan_of(&TinySpec::gpt_oss());
        assert_eq!((p.gating, p.n_expert), (Gating::SoftmaxWeight, 8));
        assert_eq!(plan_of(&TinySpec::qwen3moe()).gating, Gating::Softmax);
        assert!(plan_of(&TinySpec::dots1()).supports_interventions().is_ok());
    }

    #[test]
    fn headers_of_unsupported_routing_are_refused_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, arch: &str, groups: u32| {
            let mut w = crate::model::gguf::GgufWriter::new();
            w.set("general.architecture", arch);
            w.set(format!("{arch}.expert_count"), 16u32);
            w.set(format!("{arch}.expert_used_count"), 2u32);
            w.set(format!("{arch}.expert_gating_func"), 2u32);
            if groups > 0 {
                // A valid header: llama.cpp (and so the pre-parser) needs the groups used.
                w.set(format!("{arch}.expert_group_count"), groups);
                w.set(
                    format!("{arch}.expert_group_used_count"),
                    groups.div_ceil(2),
                );
            }
            let path = dir.path().join(name);
            w.write(&path).expect("write");

            RouterPlan::from_gguf(&path, 4, 2, 0)
        };
        let e = write("l4.gguf", "llama4", 0)
            .supports_interventions()
            .unwrap_err();
        assert!(
            e.contains("llama4's routing") && e.contains("logits"),
            "{e}"
        );
        // Grouped routing, built directly: a header-only deepseek2 file lacks the attention
        // keys the pre-parser requires before anything reads its routing.
        let mut grouped = RouterPlan::unknown("deepseek2", 4, 16, 2, 0);
        grouped.gating = Gating::Sigmoid;
        grouped.groups = 8;
        let e = grouped.supports_interventions().unwrap_err();
        assert!(e.contains("8 expert groups"), "{e}");
        // One group is no grouping.
        let mut one = RouterPlan::unknown("deepseek2", 4, 16, 2, 0);
        one.gating = Gating::Sigmoid;
        one.groups = 1;
        assert!(one.supports_interventions().is_ok());
        let missing = RouterPlan::from_gguf(&dir.path().join("absent.gguf"), 4, 2, 0);
        assert!(missing.supports_interventions().is_err());
    }

    #[test]
    fn refusals_name_the_routing() {
        let mut p = RouterPlan::unknown("llama4", 4, 16, 1, 0);
        p.gating = Gating::Sigmoid;
        let e = p.supports_interventions().unwrap_err();
        assert!(
            e.contains("llama4's routing (sigmoid gating)") && e.contains("logits"),
            "{e}"
        );
        let mut p = RouterPlan::unknown("deepseek2", 4, 16, 2, 0);
        p.gating = Gating::Sigmoid;
        p.biased = true;
        p.groups = 4;
        let e = p.supports_interventions().unwrap_err();
        assert!(
            e.contains("with a selection bias") && e.contains("4 expert groups"),
            "{e}"
        );
        let e = RouterPlan::unknown("mystery", 4, 16, 2, 0)
            .supports_interventions()
            .unwrap_err();
        assert!(e.contains("unknown gating function"), "{e}");
        p.groups = 0;
        assert!(p.supports_interventions().is_ok());
    }
}
