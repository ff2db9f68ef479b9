//! Interventions on the routers: plain data the app (or a headless run) builds and sends to
//! the engine in one command, which applies it at one point of each decode (the eval
//! callback) and which the routing pane reads to mark what it changed.
//!
//! Layers are model layers (as llama.cpp numbers them, dense lead layers included);
//! experts are routed-expert ids within a layer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What the routers are told to do differently. The default changes nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interventions {
    /// Experts removed from selection, by model layer: never chosen, never mixed in.
    /// Ids are sorted and distinct; a layer with none is not stored.
    pub knockout: BTreeMap<u32, Vec<u16>>,
}

impl Interventions {
    /// Nothing is changed: the engine can leave the graph alone.
    pub fn is_empty(&self) -> bool {
        self.knockout.is_empty()
    }

    /// The experts knocked out of `layer` (empty when none).
    pub fn knocked_out(&self, layer: u32) -> &[u16] {
        self.knockout.get(&layer).map_or(&[], Vec::as_slice)
    }

    /// Knock out `experts` in `layer` (sorted, deduplicated; an empty list brings the
    /// layer's experts back).
    pub fn set_knockout(&mut self, layer: u32, mut experts: Vec<u16>) {
        experts.sort_unstable();
        experts.dedup();
        if experts.is_empty() {
            self.knockout.remove(&layer);
        } else {
            self.knockout.insert(layer, experts);
        }
    }

    /// Bring every expert back.
    pub fn clear(&mut self) {
        *self = Interventions::default();
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
        i.clear();
        assert!(i.is_empty());
    }
}
