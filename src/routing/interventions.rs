//! Interventions on the routers: plain data the app (or a headless run) builds and sends to
//! the engine in one command, which applies it at one point of each decode (the eval
//! callback) and which the routing pane reads to mark what it changed.
//!
//! Layers are model layers (as llama.cpp numbers them, dense lead layers included);
//! experts are routed-expert ids within a layer. Three kinds, all per layer:
//! - **knock-out**: these experts are never chosen (and so never mixed in);
//! - **force**: these experts are always among the layer's k chosen;
//! - **restrict**: only these experts may be chosen.
//!
//! Every list is sorted and free of duplicates; a layer with an empty list is not stored.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub use super::refusal::Refusal;

/// What the routers are told to do differently. The default changes nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interventions {
    /// Experts removed from selection, by model layer: never chosen, never mixed in.
    pub knockout: BTreeMap<u32, Vec<u16>>,
    /// Experts always chosen, by model layer (at most k per layer).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub force: BTreeMap<u32, Vec<u16>>,
    /// The only experts a layer may choose from (at least k of them).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub restrict: BTreeMap<u32, Vec<u16>>,
}

/// One layer's selection rules, resolved: what the engine writes into the selection scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerRules<'a> {
    pub knockout: &'a [u16],
    pub force: &'a [u16],
    /// Empty = no restriction.
    pub restrict: &'a [u16],
}

impl LayerRules<'_> {
    /// Nothing to change in this layer.
    pub fn is_empty(&self) -> bool {
        self.knockout.is_empty() && self.force.is_empty() && self.restrict.is_empty()
    }

    /// Whether expert `e` may be chosen at all.
    pub fn allows(&self, e: u16) -> bool {
        !self.knockout.contains(&e) && (self.restrict.is_empty() || self.restrict.contains(&e))
    }
}

fn put(map: &mut BTreeMap<u32, Vec<u16>>, layer: u32, mut experts: Vec<u16>) {
    experts.sort_unstable();
    experts.dedup();
    if experts.is_empty() {
        map.remove(&layer);
    } else {
        map.insert(layer, experts);
    }
}

fn list(experts: &[u16]) -> String {
    let v: Vec<String> = experts.iter().map(|e| format!("e{e}")).collect();
    v.join(" ")
}

impl Interventions {
    /// Nothing is changed: the engine can leave the graph alone.
    pub fn is_empty(&self) -> bool {
        self.knockout.is_empty() && self.force.is_empty() && self.restrict.is_empty()
    }

    /// The experts knocked out of `layer` (empty when none).
    pub fn knocked_out(&self, layer: u32) -> &[u16] {
        self.knockout.get(&layer).map_or(&[], Vec::as_slice)
    }

    /// The experts forced into `layer`'s choice (empty when none).
    pub fn forced(&self, layer: u32) -> &[u16] {
        self.force.get(&layer).map_or(&[], Vec::as_slice)
    }

    /// The only experts `layer` may choose (empty when unrestricted).
    pub fn restricted_to(&self, layer: u32) -> &[u16] {
        self.restrict.get(&layer).map_or(&[], Vec::as_slice)
    }

    /// Everything that applies to `layer`.
    pub fn rules(&self, layer: u32) -> LayerRules<'_> {
        LayerRules {
            knockout: self.knocked_out(layer),
            force: self.forced(layer),
            restrict: self.restricted_to(layer),
        }
    }

    /// Every layer with at least one rule.
    pub fn layers(&self) -> BTreeSet<u32> {
        self.knockout
            .keys()
            .chain(self.force.keys())
            .chain(self.restrict.keys())
            .copied()
            .collect()
    }

    /// Knock out `experts` in `layer` (sorted, deduplicated; an empty list brings the
    /// layer's experts back).
    pub fn set_knockout(&mut self, layer: u32, experts: Vec<u16>) {
        put(&mut self.knockout, layer, experts);
    }

    /// Force `experts` into `layer`'s choice (an empty list removes the rule).
    pub fn set_force(&mut self, layer: u32, experts: Vec<u16>) {
        put(&mut self.force, layer, experts);
    }

    /// Let `layer` choose only from `experts` (an empty list removes the rule).
    pub fn set_restrict(&mut self, layer: u32, experts: Vec<u16>) {
        put(&mut self.restrict, layer, experts);
    }

    /// Bring every expert back.
    pub fn clear(&mut self) {
        *self = Interventions::default();
    }

    /// Check the request against the model: `n_layer` layers of which the first
    /// `n_dense_lead` have no router, `n_expert` routed experts, `k` chosen per token.
    /// The message names the limit that was crossed.
    pub fn validate(
        &self,
        n_layer: u32,
        n_expert: u32,
        k: u32,
        n_dense_lead: u32,
    ) -> Result<(), String> {
        self.check(n_layer, n_expert, k, n_dense_lead)
            .map_err(|r| r.to_string())
    }

    /// [`Interventions::validate`], saying which limit was crossed as a value.
    pub fn check(
        &self,
        n_layer: u32,
        n_expert: u32,
        k: u32,
        n_dense_lead: u32,
    ) -> Result<(), Refusal> {
        let last = n_layer.saturating_sub(1);
        if self.is_empty() {
            return Ok(());
        }
        if n_expert == 0 || k == 0 {
            return Err(Refusal::NoExperts);
        }
        for layer in self.layers() {
            if layer >= n_layer {
                return Err(Refusal::NoLayer { layer, last });
            }
            if layer < n_dense_lead {
                let lead = n_dense_lead;
                return Err(Refusal::DenseLayer { layer, lead, last });
            }
            let r = self.rules(layer);
            for &e in r.knockout.iter().chain(r.force).chain(r.restrict) {
                if u32::from(e) >= n_expert {
                    return Err(Refusal::NoExpert {
                        layer,
                        expert: e,
                        last: n_expert - 1,
                    });
                }
            }
            if r.force.len() as u32 > k {
                let n = r.force.len();
                return Err(Refusal::TooManyForced { layer, n, k });
            }
            let blocked: Vec<u16> = r.force.iter().copied().filter(|&e| !r.allows(e)).collect();
            if !blocked.is_empty() {
                let experts = list(&blocked);
                return Err(Refusal::ForcedBlocked { layer, experts });
            }
            let left = (0..n_expert)
                .filter(|&e| u16::try_from(e).is_ok_and(|e| r.allows(e)))
                .count() as u32;
            if left < k {
                return Err(Refusal::TooFewLeft {
                    layer,
                    left,
                    n_expert,
                    k,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knockout_sets_sort_dedup_and_clear() {
        let mut i = Interventions::default();
        assert!(i.is_empty());
        i.set_knockout(2, vec![5, 1, 5]);
        assert_eq!(i.knocked_out(2), &[1, 5]);
        assert!(i.knocked_out(3).is_empty());
        i.set_knockout(2, vec![]);
        assert!(i.is_empty());
        i.set_knockout(1, vec![0]);
        i.set_force(2, vec![3, 3]);
        i.set_restrict(3, vec![4, 2]);
        assert_eq!(i.layers().into_iter().collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(i.forced(2), &[3]);
        assert_eq!(i.restricted_to(3), &[2, 4]);
        assert!(i.rules(3).allows(2) && !i.rules(3).allows(3));
        i.clear();
        assert!(i.is_empty());
    }

    #[test]
    fn validate_names_the_limit() {
        // 4 layers, layer 0 dense, 8 experts, k = 2.
        let check = |f: &dyn Fn(&mut Interventions)| {
            let mut i = Interventions::default();
            f(&mut i);
            i.validate(4, 8, 2, 1)
        };
        assert!(check(&|i| i.set_knockout(1, vec![0, 1, 2, 3, 4, 5])).is_ok());
        let err = |f: &dyn Fn(&mut Interventions), want: &str| {
            let e = check(f).expect_err(want);
            assert!(e.contains(want), "{e:?} lacks {want:?}");
        };
        err(&|i| i.set_knockout(4, vec![0]), "layers 0..3");
        err(&|i| i.set_force(0, vec![0]), "layer 0 is dense");
        err(&|i| i.set_restrict(2, vec![1, 8]), "experts are 0..7");
        err(
            &|i| i.set_knockout(1, vec![0, 1, 2, 3, 4, 5, 6]),
            "only 1 of 8",
        );
        err(&|i| i.set_restrict(1, vec![5]), "needs k = 2");
        err(&|i| i.set_force(2, vec![1, 2, 3]), "only k = 2");
        err(
            &|i| {
                i.set_force(2, vec![1]);
                i.set_knockout(2, vec![1]);
            },
            "e1 forced but also knocked out",
        );
        err(
            &|i| {
                i.set_force(2, vec![6]);
                i.set_restrict(2, vec![1, 2]);
            },
            "outside the allowed set",
        );
        // Knock-out and restrict together: the allowed set shrinks to 3, 4.
        assert!(check(&|i| {
            i.set_restrict(3, vec![2, 3, 4]);
            i.set_knockout(3, vec![2]);
        })
        .is_ok());
        let dense = Interventions {
            knockout: BTreeMap::from([(0, vec![0])]),
            ..Interventions::default()
        };
        assert!(dense
            .validate(2, 0, 0, 0)
            .unwrap_err()
            .contains("no routed experts"));
        assert!(Interventions::default().validate(2, 0, 0, 0).is_ok());
    }

    #[test]
    fn old_json_without_force_or_restrict_still_reads() {
        let i: Interventions = serde_json::from_str(r#"{"knockout":{"1":[2]}}"#).unwrap();
        assert_eq!(i.knocked_out(1), &[2]);
        assert!(i.force.is_empty() && i.restrict.is_empty());
    }
}
