//! A grid checked against the loaded model and expanded into runs: every combination of
//! experts per token, intervention set, temperature, top_p and seed, ordered by experts
//! per token (the model is loaded again only when k changes), and each run's baseline.

use serde::{Deserialize, Serialize};

use super::grid::{check_set_for_k, resolve_set, Grid, ModelShape, MAX_RUNS};
use crate::routing::Interventions;
use crate::sampling::SamplingParams;

/// One run of the grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// `r000`, `r001`, ... in run order.
    pub id: String,
    pub temperature: f32,
    pub top_p: f32,
    pub seed: u64,
    /// Experts per token the model runs with.
    pub experts_used: u32,
    /// The intervention set's name (`interventions` in the files).
    #[serde(rename = "interventions")]
    pub set: String,
    /// What the set does, resolved for the model (`intervention_rules` in the files).
    #[serde(rename = "intervention_rules")]
    pub interventions: Interventions,
    /// The run this one is compared with (same sampling settings, baseline set and k);
    /// None for a baseline run itself, or when the grid has no such run.
    pub baseline: Option<String>,
}

impl RunSpec {
    pub fn params(&self) -> SamplingParams {
        SamplingParams {
            temperature: self.temperature,
            top_p: self.top_p,
            seed: self.seed,
        }
    }

    /// One line naming the run's settings.
    pub fn label(&self) -> String {
        format!(
            "T {} · top_p {} · seed {} · k {} · {}",
            self.temperature, self.top_p, self.seed, self.experts_used, self.set
        )
    }
}

/// The checked, expanded grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub grid: Grid,
    pub runs: Vec<RunSpec>,
    /// The baseline's set and experts per token, if the grid has a baseline set.
    pub baseline: Option<(String, u32)>,
}

/// The checks that need no model: a prompt, non-empty lists, values in range, distinct
/// set names (`lessons check` runs these on a lesson's grid files).
pub fn check_values(grid: &Grid) -> Result<(), String> {
    if grid.prompt.trim().is_empty() {
        return Err("the prompt is empty".into());
    }
    for (name, empty) in [
        ("temperature", grid.temperature.is_empty()),
        ("top_p", grid.top_p.is_empty()),
        ("seed", grid.seed.is_empty()),
    ] {
        if empty {
            return Err(format!("the list of {name} values is empty"));
        }
    }
    if let Some(t) = grid
        .temperature
        .iter()
        .find(|t| !(0.0..=SamplingParams::TEMPERATURE_MAX as f64).contains(*t))
    {
        return Err(format!(
            "temperature {t} is out of range: 0 to {}",
            SamplingParams::TEMPERATURE_MAX
        ));
    }
    if let Some(p) = grid.top_p.iter().find(|p| !(0.05..=1.0).contains(*p)) {
        return Err(format!("top_p {p} is out of range: 0.05 to 1"));
    }
    if grid.max_tokens == 0 {
        return Err("max_tokens must be at least 1".into());
    }
    let mut names: Vec<&str> = grid.interventions.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!("two intervention sets are named {:?}", w[0]));
    }
    Ok(())
}

/// Check `grid` against the model and expand it. Every refusal names the limit crossed.
pub fn plan(grid: &Grid, shape: &ModelShape) -> Result<Plan, String> {
    check_values(grid)?;
    let ks: Vec<u32> = if grid.experts_used.is_empty() {
        vec![shape.k]
    } else {
        grid.experts_used.clone()
    };
    for &k in &ks {
        if shape.n_expert == 0 && !grid.experts_used.is_empty() {
            return Err("the model is dense: experts per token cannot be changed".into());
        }
        if shape.n_expert > 0 && !(1..=shape.n_expert).contains(&k) {
            return Err(format!(
                "experts per token {k} is out of range: the model has {} experts (1..={})",
                shape.n_expert, shape.n_expert
            ));
        }
    }
    let sets = grid.sets();
    let resolved: Vec<(String, Interventions)> = sets
        .iter()
        .map(|s| resolve_set(s, shape).map(|iv| (s.name.clone(), iv)))
        .collect::<Result<_, _>>()?;
    for (name, iv) in &resolved {
        for &k in &ks {
            check_set_for_k(name, iv, k, shape)?;
        }
    }
    let baseline_set = grid.baseline_set();
    if let Some(b) = &baseline_set {
        if !resolved.iter().any(|(n, _)| n == b) {
            return Err(format!(
                "the baseline {b:?} is not one of the intervention sets"
            ));
        }
    }
    let total =
        ks.len() * resolved.len() * grid.temperature.len() * grid.top_p.len() * grid.seed.len();
    if total > MAX_RUNS {
        return Err(format!(
            "the grid expands to {total} runs; at most {MAX_RUNS} are allowed"
        ));
    }
    // Run order: by k (stable, so the grid's order within a k), then set, T, top_p, seed.
    let mut k_order = ks.clone();
    k_order.sort_unstable();
    k_order.dedup();
    let mut runs = Vec::with_capacity(total);
    for &k in &k_order {
        for (name, iv) in &resolved {
            for &t in &grid.temperature {
                for &p in &grid.top_p {
                    for &seed in &grid.seed {
                        runs.push(RunSpec {
                            id: format!("r{:03}", runs.len()),
                            temperature: t as f32,
                            top_p: p as f32,
                            seed,
                            experts_used: k,
                            set: name.clone(),
                            interventions: iv.clone(),
                            baseline: None,
                        });
                    }
                }
            }
        }
    }
    let baseline = baseline_set.map(|s| (s, ks[0]));
    if let Some((set, k)) = &baseline {
        let ids: Vec<Option<String>> = runs
            .iter()
            .map(|r| {
                if &r.set == set && r.experts_used == *k {
                    return None;
                }
                runs.iter()
                    .find(|b| {
                        &b.set == set
                            && b.experts_used == *k
                            && b.temperature == r.temperature
                            && b.top_p == r.top_p
                            && b.seed == r.seed
                    })
                    .map(|b| b.id.clone())
            })
            .collect();
        for (r, id) in runs.iter_mut().zip(ids) {
            r.baseline = id;
        }
    }
    Ok(Plan {
        grid: grid.clone(),
        runs,
        baseline,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::grid::InterventionSet;
    use std::collections::BTreeMap;

    // 3 layers, layer 0 dense, 8 experts, k = 2: the standard tiny model.
    const SHAPE: ModelShape = ModelShape {
        n_layer: 3,
        n_expert: 8,
        n_dense_lead: 1,
        k: 2,
    };

    fn set(name: &str, knockout: &[&str]) -> InterventionSet {
        let mut rules = BTreeMap::new();
        if !knockout.is_empty() {
            rules.insert(
                "knockout".to_string(),
                knockout.iter().map(|s| s.to_string()).collect(),
            );
        }
        InterventionSet {
            name: name.into(),
            rules,
        }
    }

    #[test]
    fn expands_in_k_order_with_baselines() {
        let mut g = Grid::new("hi");
        g.temperature = vec![0.2, 1.0];
        g.seed = vec![1, 2];
        g.experts_used = vec![4, 2];
        g.interventions = vec![set("base", &[]), set("ko", &["all:3", "1:4"])];
        let p = plan(&g, &SHAPE).unwrap();
        assert_eq!(p.runs.len(), 2 * 2 * 2 * 2);
        let ks: Vec<u32> = p.runs.iter().map(|r| r.experts_used).collect();
        assert!(ks.windows(2).all(|w| w[0] <= w[1]), "{ks:?}");
        // The baseline is the first set at the grid's first k (4).
        assert_eq!(p.baseline, Some(("base".into(), 4)));
        let ko = p
            .runs
            .iter()
            .find(|r| r.set == "ko" && r.experts_used == 2)
            .unwrap();
        assert_eq!(ko.interventions.knocked_out(1), &[3, 4]);
        assert_eq!(ko.interventions.knocked_out(2), &[3]);
        let b = p
            .runs
            .iter()
            .find(|r| Some(&r.id) == ko.baseline.as_ref())
            .unwrap();
        assert_eq!((b.set.as_str(), b.experts_used), ("base", 4));
        assert_eq!((b.temperature, b.seed), (ko.temperature, ko.seed));
        assert!(p
            .runs
            .iter()
            .filter(|r| r.baseline.is_none())
            .all(|r| r.set == "base" && r.experts_used == 4));
    }

    #[test]
    fn refusals_name_the_limit() {
        let refuse = |g: Grid, want: &str| {
            let e = plan(&g, &SHAPE).expect_err(want);
            assert!(e.contains(want), "{e:?} lacks {want:?}");
        };
        let with = |s: InterventionSet| {
            let mut g = Grid::new("hi");
            g.interventions = vec![s];
            g
        };
        refuse(with(set("a", &["5:1"])), "MoE layers are 1..=2");
        refuse(with(set("a", &["0:1"])), "layer 0 has no router");
        refuse(with(set("a", &["1:8"])), "experts are 0..=7");
        refuse(with(set("a", &["1-2"])), "is not LAYER:EXPERT");
        refuse(
            with(set("a", &["all:0,1,2,3,4,5,6"])),
            "keeps only 1 of 8 experts, but each token needs k = 2",
        );
        let mut g = with(set("a", &["1:0,1,2,3,4,5"]));
        assert!(plan(&g, &SHAPE).is_ok());
        g.experts_used = vec![2, 3];
        refuse(g, "needs k = 3");
        let mut g = Grid::new("hi");
        g.experts_used = vec![9];
        refuse(g, "out of range: the model has 8 experts");
        let mut g = Grid::new("hi");
        g.top_p = vec![1.5];
        refuse(g, "top_p 1.5 is out of range");
        let mut g = Grid::new("hi");
        g.baseline = Some("x".into());
        refuse(g, "baseline \"x\" is not one of");
        let mut s = set("a", &[]);
        s.rules.insert("sideways".into(), vec!["1:1".into()]);
        refuse(
            with(s),
            "unknown kind \"sideways\" (known: knockout, force, restrict)",
        );
    }

    fn rules(name: &str, kinds: &[(&str, &[&str])]) -> InterventionSet {
        let mut s = set(name, &[]);
        for (kind, list) in kinds {
            s.rules.insert(
                kind.to_string(),
                list.iter().map(|r| r.to_string()).collect(),
            );
        }
        s
    }

    #[test]
    fn force_and_restrict_resolve_and_are_checked_per_k() {
        let mut g = Grid::new("hi");
        g.experts_used = vec![2, 3];
        g.interventions = vec![
            set("none", &[]),
            rules("pin", &[("force", &["2:0"]), ("restrict", &["1:0,1,2,3"])]),
        ];
        let p = plan(&g, &SHAPE).unwrap();
        let pin = p.runs.iter().find(|r| r.set == "pin").unwrap();
        assert_eq!(pin.interventions.forced(2), &[0]);
        assert_eq!(pin.interventions.restricted_to(1), &[0, 1, 2, 3]);
        assert!(pin.interventions.knockout.is_empty());
        let refuse = |s: InterventionSet, ks: Vec<u32>, want: &str| {
            let mut g = Grid::new("hi");
            g.experts_used = ks;
            g.interventions = vec![s];
            let e = plan(&g, &SHAPE).expect_err(want);
            assert!(e.contains(want), "{e:?} lacks {want:?}");
        };
        refuse(
            rules("f", &[("force", &["1:0,1,2"])]),
            vec![2],
            "3 experts forced but only k = 2 are chosen",
        );
        // Fine at k = 3, refused when the grid also runs k = 2: the limit names the k.
        refuse(
            rules("f", &[("force", &["1:0,1,2"])]),
            vec![3, 2],
            "set \"f\" at k = 2",
        );
        refuse(
            rules("r", &[("restrict", &["all:4,5"])]),
            vec![3],
            "only 2 of 8 experts left to choose from, but each token needs k = 3",
        );
        refuse(
            rules("fk", &[("force", &["2:1"]), ("knockout", &["2:1"])]),
            vec![2],
            "e1 forced but also knocked out",
        );
        refuse(
            rules("fr", &[("force", &["1:6"]), ("restrict", &["1:0,1"])]),
            vec![2],
            "outside the allowed set",
        );
        refuse(
            rules("d", &[("force", &["0:1"])]),
            vec![2],
            "layer 0 has no router",
        );
    }

    #[test]
    fn grid_round_trips_through_toml() {
        let mut g = Grid::new("Name three fruits.");
        g.temperature = vec![0.2, 1.0];
        g.interventions = vec![set("none", &[]), set("ko", &["all:5,6"])];
        let text = g.to_toml().unwrap();
        assert_eq!(Grid::from_toml(&text).unwrap(), g);
        let parsed = Grid::from_toml(
            "prompt = \"p\"\nseed = [1, 2]\n[[interventions]]\nname = \"k\"\nknockout = [\"1:3\"]\n",
        )
        .unwrap();
        assert_eq!(parsed.seed, vec![1, 2]);
        assert_eq!(parsed.temperature, vec![0.7]);
        assert_eq!(parsed.interventions[0].rules["knockout"], vec!["1:3"]);
        assert!(Grid::from_toml("prompt = \"p\"\ntemprature = [1.0]\n").is_err());
    }
}
