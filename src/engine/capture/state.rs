//! What the eval callback accumulates during one `llama_decode` call, and the rules it
//! applies. Plain safe code: the callback (`callback.rs`) hands it values it has read.

use std::collections::BTreeMap;

use super::plan::{Gating, RouterPlan};
use crate::routing::Interventions;

/// What one MoE layer's router did for the tokens of the current decode call, appended
/// graph by graph (a decode split into several micro-batches runs several graphs).
#[derive(Debug, Default, Clone)]
pub struct LayerCapture {
    pub n_expert: usize,
    pub k: usize,
    /// `[n_expert]` per token, token-major: the router's probabilities as it computed them
    /// (before any intervention; for softmax-weight gating, the softmax of its logits).
    pub probs: Vec<f32>,
    /// `[k]` per token.
    pub topk: Vec<i32>,
    /// `[k]` per token, from the latest weights tensor seen in the graph.
    pub weights: Vec<f32>,
    /// Reads of this layer that failed in this decode call (a tensor of unexpected type
    /// or layout, inputs that were not the graph's, an intervention that missed).
    pub failures: u32,
    weights_rank: Option<u8>,
    /// Weights of the current graph, replaced when a later-stage tensor arrives.
    graph_weights: Vec<f32>,
}

impl LayerCapture {
    pub fn n_tokens(&self) -> usize {
        self.probs.len().checked_div(self.n_expert).unwrap_or(0)
    }

    fn flush_graph(&mut self) {
        let w = std::mem::take(&mut self.graph_weights);
        self.weights.extend_from_slice(&w);
        self.weights_rank = None;
    }
}

/// Values read at a node of the running graph, with the identity (address) of the tensor
/// they came from, so a later node can check they are its own inputs.
#[derive(Debug, Clone)]
pub(super) struct NodeValues<T> {
    pub layer: u32,
    pub tensor: usize,
    pub values: Vec<T>,
}

/// Values noted at earlier nodes of the current graph.
#[derive(Debug, Default)]
pub(super) struct Noted {
    /// The router's own probabilities of an intervened layer, before we overwrote them.
    pub original: Option<NodeValues<f32>>,
    /// Probabilities and top-k read at their own nodes (backends that fuse the router).
    pub probs: Option<NodeValues<f32>>,
    pub topk: Option<NodeValues<i32>>,
}

/// How the callback reads the probabilities and top-k.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    /// Through the weights node's inputs where the tensors live in CPU memory; at their
    /// own nodes elsewhere (GPU backends may fuse the router so that the probabilities are
    /// never written).
    Auto,
    /// Always at their own nodes (one more graph split per tensor).
    AtNodes,
}

/// State shared with the callback. Owned by a `CapturedContext`, which hands llama.cpp its
/// address; Rust code reaches it only between decode calls.
#[derive(Debug)]
pub struct CaptureState {
    pub enabled: bool,
    pub read_mode: ReadMode,
    plan: RouterPlan,
    interventions: Interventions,
    pub layers: BTreeMap<u32, LayerCapture>,
    /// Failures in this decode call that belong to no layer (a panic in the callback).
    pub failures: u32,
    /// The callback panicked during this decode call: it declines all further work
    /// until the next one.
    pub poisoned: bool,
    pub(super) noted: Noted,
    /// The layer lens's requests and results (`lens.rs`).
    pub lens: super::lens::LensState,
    /// Test hook: panic inside the callback when this layer's weights are computed.
    #[cfg(test)]
    pub panic_at_layer: Option<u32>,
}

impl CaptureState {
    pub fn new(enabled: bool, plan: RouterPlan) -> Self {
        CaptureState {
            enabled,
            read_mode: ReadMode::Auto,
            plan,
            interventions: Interventions::default(),
            layers: BTreeMap::new(),
            failures: 0,
            poisoned: false,
            noted: Noted::default(),
            lens: super::lens::LensState::default(),
            #[cfg(test)]
            panic_at_layer: None,
        }
    }

    pub fn plan(&self) -> &RouterPlan {
        &self.plan
    }

    pub fn interventions(&self) -> &Interventions {
        &self.interventions
    }

    /// Replace the interventions after checking them against the model; on an error the
    /// previous ones stay in force and the message says why.
    pub fn set_interventions(&mut self, i: Interventions) -> Result<(), String> {
        self.plan.check(&i)?;
        self.interventions = i;
        Ok(())
    }

    /// Whether the callback has anything to do.
    pub fn active(&self) -> bool {
        self.enabled || !self.interventions.is_empty() || self.lens.active()
    }

    /// Forget what the previous decode captured.
    pub fn clear(&mut self) {
        self.noted = Noted::default();
        self.failures = 0;
        self.poisoned = false;
        for l in self.layers.values_mut() {
            l.probs.clear();
            l.topk.clear();
            l.weights.clear();
            l.graph_weights.clear();
            l.weights_rank = None;
            l.failures = 0;
        }
    }

    /// Move the current graph's weights into the accumulated list. Called after
    /// `llama_decode` returns.
    pub fn finish_graph(&mut self) {
        self.noted = Noted::default();
        for l in self.layers.values_mut() {
            l.flush_graph();
        }
    }

    /// Any failure in this decode call.
    pub fn failed(&self) -> bool {
        self.poisoned || self.failures > 0 || self.layers.values().any(|l| l.failures > 0)
    }

    /// A read of `layer` failed.
    pub fn fail(&mut self, layer: u32) {
        let l = self.layers.entry(layer).or_default();
        l.failures = l.failures.saturating_add(1);
    }

    /// The callback panicked: record it and stop working on this decode call.
    pub fn poison(&mut self) {
        self.poisoned = true;
        self.failures = self.failures.saturating_add(1);
        self.noted = Noted::default();
    }

    /// A layer's probabilities `[n_expert] x n_tokens` and top-k `[k] x n_tokens`, read at
    /// its weights node and checked to be that node's inputs.
    pub fn record_router(
        &mut self,
        layer: u32,
        n_expert: usize,
        k: usize,
        mut probs: Vec<f32>,
        topk: Vec<i32>,
    ) {
        let cols = probs.len().checked_div(n_expert);
        if n_expert == 0 || k == 0 || cols.is_none() || cols != topk.len().checked_div(k) {
            self.fail(layer);
            return;
        }
        if self.plan.gating == Gating::SoftmaxWeight {
            // The "probabilities" are logits here: show what a softmax router would.
            for row in probs.chunks_exact_mut(n_expert) {
                softmax_in_place(row);
            }
        }
        let entry = self.layers.entry(layer).or_default();
        // A new graph begins for this layer: flush the weights of the previous one.
        entry.flush_graph();
        entry.n_expert = n_expert;
        entry.k = k;
        entry.probs.extend_from_slice(&probs);
        entry.topk.extend_from_slice(&topk);
    }

    /// A weights tensor of `layer` at stage `rank` (later stages replace earlier ones).
    pub fn record_weights(&mut self, layer: u32, rank: u8, values: Option<Vec<f32>>) {
        let entry = self.layers.entry(layer).or_default();
        if entry.weights_rank.is_some_and(|r| r >= rank) {
            return;
        }
        match values {
            Some(v) => {
                entry.graph_weights = v;
                entry.weights_rank = Some(rank);
            }
            None => self.fail(layer),
        }
    }
}

fn softmax_in_place(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return;
    }
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    if sum > 0.0 {
        row.iter_mut().for_each(|v| *v /= sum);
    }
}

/// Score written for a forced expert: above any probability, biased score or logit a
/// router produces, and finite so that adding a bias cannot make it NaN.
pub const FORCE_SCORE: f32 = 1e30;

/// Apply one layer's rules to the selection scores `scores` (`[n_expert]` per token, in
/// place): -inf where an expert may not be chosen, [`FORCE_SCORE`] where it must be.
pub fn apply_rules(
    scores: &mut [f32],
    n_expert: usize,
    rules: &crate::routing::interventions::LayerRules<'_>,
) {
    if n_expert == 0 {
        return;
    }
    for row in scores.chunks_exact_mut(n_expert) {
        for (e, v) in row.iter_mut().enumerate() {
            let Ok(id) = u16::try_from(e) else { break };
            if !rules.allows(id) {
                *v = f32::NEG_INFINITY;
            } else if rules.force.contains(&id) {
                *v = FORCE_SCORE;
            }
        }
    }
}

/// Put the router's own values back into the gathered weights (`[k]` per token) of forced
/// experts, so that mixing sees the router's numbers, not [`FORCE_SCORE`].
pub fn restore_forced(
    weights: &mut [f32],
    topk: &[i32],
    original: &[f32],
    n_expert: usize,
    k: usize,
    forced: &[u16],
) -> bool {
    if k == 0 || weights.len() != topk.len() || original.len() / n_expert.max(1) != topk.len() / k {
        return false;
    }
    for (col, (w, ids)) in weights
        .chunks_exact_mut(k)
        .zip(topk.chunks_exact(k))
        .enumerate()
    {
        for (slot, &id) in w.iter_mut().zip(ids) {
            let Ok(e) = u16::try_from(id) else { continue };
            if forced.contains(&e) {
                match original.get(col * n_expert + usize::from(e)) {
                    Some(&v) => *slot = v,
                    None => return false,
                }
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::Interventions;

    #[test]
    fn rules_write_minus_inf_and_the_force_score() {
        let mut i = Interventions::default();
        i.set_knockout(1, vec![0]);
        i.set_force(1, vec![3]);
        i.set_restrict(1, vec![0, 1, 3]);
        let mut s = vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8];
        apply_rules(&mut s, 4, &i.rules(1));
        let ninf = f32::NEG_INFINITY;
        assert_eq!(
            s,
            vec![ninf, 0.2, ninf, FORCE_SCORE, ninf, 0.6, ninf, FORCE_SCORE]
        );
    }

    #[test]
    fn forced_weights_get_the_routers_values_back() {
        // 2 tokens, 4 experts, k = 2; expert 3 forced.
        let original = [0.1, 0.2, 0.3, 0.4, 0.5, 0.25, 0.15, 0.1];
        let topk = [3, 2, 0, 3];
        let mut w = [FORCE_SCORE, 0.3, 0.5, FORCE_SCORE];
        assert!(restore_forced(&mut w, &topk, &original, 4, 2, &[3]));
        assert_eq!(w, [0.4, 0.3, 0.5, 0.1]);
        assert!(!restore_forced(&mut w, &topk[..3], &original, 4, 2, &[3]));
    }

    #[test]
    fn mismatched_router_reads_count_as_failures() {
        let mut s = CaptureState::new(true, RouterPlan::unknown("deepseek", 3, 4, 2, 1));
        s.record_router(1, 4, 2, vec![0.25; 8], vec![0, 1]);
        assert_eq!(s.layers[&1].failures, 1);
        assert!(s.failed());
        s.clear();
        assert!(!s.failed());
        s.record_router(1, 4, 2, vec![0.25; 8], vec![0, 1, 2, 3]);
        assert_eq!(s.layers[&1].n_tokens(), 2);
        s.record_weights(1, 0, None);
        assert!(s.failed());
    }

    #[test]
    fn softmax_weight_logits_are_shown_as_probabilities() {
        let mut plan = RouterPlan::unknown("gpt-oss", 3, 2, 1, 0);
        plan.gating = Gating::SoftmaxWeight;
        let mut s = CaptureState::new(true, plan);
        s.record_router(0, 2, 1, vec![0.0, (3.0f32).ln()], vec![1]);
        let p = &s.layers[&0].probs;
        assert!(
            (p[0] - 0.25).abs() < 1e-6 && (p[1] - 0.75).abs() < 1e-6,
            "{p:?}"
        );
    }
}
