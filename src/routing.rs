//! Plain data for expert routing: what each MoE layer's router decided for one token.
//!
//! Records are compact (u16 expert ids, f16 weights, u8 router probabilities on a square-root
//! scale) so that long conversations with large models stay small. Nothing here knows about
//! llama.cpp or the UI.

pub mod capacity;
pub mod expert_stats;
pub mod interventions;
pub mod lens;
mod refusal;
mod stats;
pub mod stats_export;
pub mod trace;

use half::f16;
use serde::{Deserialize, Serialize};

pub use interventions::Interventions;
pub use stats::{entropy, ExpertLoad, LayerLoad, LayerSummary};

/// Whether a token was part of the prompt the model read, or sampled by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Prompt,
    Generated,
}

/// Quantise a probability in [0, 1] to a byte on a square-root scale: small probabilities
/// keep more resolution than a linear byte would give them (1/128 maps to 23, not 2).
pub fn quantize_prob(p: f32) -> u8 {
    let p = if p.is_finite() {
        p.clamp(0.0, 1.0)
    } else {
        0.0
    };
    (p.sqrt() * 255.0).round() as u8
}

/// Inverse of [`quantize_prob`].
pub fn dequantize_prob(q: u8) -> f32 {
    let s = q as f32 / 255.0;
    s * s
}

/// The routing of one token through every MoE layer of the model.
///
/// Layout: `layers[i]` is the model layer index of the i-th MoE layer; for MoE layer i,
/// `experts[i*k..(i+1)*k]` are the chosen expert ids in the order llama.cpp chose them
/// (highest score first), `weights[i*k..]` the mixing weights the architecture applied to
/// them, and `probs[i*n_expert..(i+1)*n_expert]` the router's probabilities (quantised).
/// A layer whose router did not run for this token (llama.cpp skips the last layer for
/// tokens whose logits were not requested) has `computed[i] == false` and zeros elsewhere.
/// `incomplete` says the capture itself went wrong for this token (a tensor could not be
/// read, a read did not match the graph, the callback failed): some layers may then be
/// missing or partial, and the record must not be read as the whole truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRouting {
    pub n_expert: u16,
    pub k: u16,
    pub layers: Vec<u16>,
    pub computed: Vec<bool>,
    pub experts: Vec<u16>,
    pub weights: Vec<f16>,
    pub probs: Vec<u8>,
    /// Optional "router preference" (softmax of logits / display temperature), quantised
    /// like `probs`; empty when the model declares no display temperature.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preference: Vec<u8>,
    /// The capture of at least one layer failed or was partial for this token.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub incomplete: bool,
}

/// A borrowed view of one MoE layer inside a [`TokenRouting`].
#[derive(Debug, Clone, Copy)]
pub struct LayerView<'a> {
    pub layer: u16,
    pub computed: bool,
    pub experts: &'a [u16],
    pub weights: &'a [f16],
    pub probs: &'a [u8],
    pub preference: &'a [u8],
}

impl LayerView<'_> {
    /// Router probability of expert `e`, dequantised.
    pub fn prob(&self, e: usize) -> f32 {
        self.probs
            .get(e)
            .copied()
            .map(dequantize_prob)
            .unwrap_or(0.0)
    }
    /// Mixing weight applied to expert `e` if it was chosen.
    pub fn weight_of(&self, e: usize) -> Option<f32> {
        self.experts
            .iter()
            .position(|&x| x as usize == e)
            .and_then(|i| self.weights.get(i))
            .map(|w| w.to_f32())
    }
    /// The highest-weighted chosen expert (the first llama.cpp picked).
    pub fn top_expert(&self) -> Option<u16> {
        if self.computed {
            self.experts.first().copied()
        } else {
            None
        }
    }
}

impl TokenRouting {
    /// An empty record for a model with `n_expert` experts, `k` used, over `layers`.
    pub fn new(n_expert: u16, k: u16, layers: Vec<u16>) -> Self {
        let n = layers.len();
        TokenRouting {
            n_expert,
            k,
            computed: vec![false; n],
            experts: vec![0; n * k as usize],
            weights: vec![f16::ZERO; n * k as usize],
            probs: vec![0; n * n_expert as usize],
            preference: Vec::new(),
            incomplete: false,
            layers,
        }
    }

    pub fn n_layers(&self) -> usize {
        self.layers.len()
    }

    /// Fill MoE layer slot `i` from full-precision values.
    pub fn set_layer(&mut self, i: usize, experts: &[u16], weights: &[f32], probs: &[f32]) {
        let k = self.k as usize;
        let e = self.n_expert as usize;
        if i >= self.layers.len() || experts.len() != k || weights.len() != k || probs.len() != e {
            return;
        }
        self.computed[i] = true;
        self.experts[i * k..(i + 1) * k].copy_from_slice(experts);
        for (dst, w) in self.weights[i * k..(i + 1) * k].iter_mut().zip(weights) {
            *dst = f16::from_f32(*w);
        }
        for (dst, p) in self.probs[i * e..(i + 1) * e].iter_mut().zip(probs) {
            *dst = quantize_prob(*p);
        }
    }

    /// Fill the router preference of MoE layer slot `i`.
    pub fn set_preference(&mut self, i: usize, pref: &[f32]) {
        let e = self.n_expert as usize;
        if pref.len() != e || i >= self.layers.len() {
            return;
        }
        if self.preference.len() != self.probs.len() {
            self.preference = vec![0; self.probs.len()];
        }
        for (dst, p) in self.preference[i * e..(i + 1) * e].iter_mut().zip(pref) {
            *dst = quantize_prob(*p);
        }
    }

    pub fn layer(&self, i: usize) -> Option<LayerView<'_>> {
        let k = self.k as usize;
        let e = self.n_expert as usize;
        let layer = *self.layers.get(i)?;
        Some(LayerView {
            layer,
            computed: self.computed[i],
            experts: &self.experts[i * k..(i + 1) * k],
            weights: &self.weights[i * k..(i + 1) * k],
            // A compacted record has no probabilities: its layers show the choice only.
            probs: self.probs.get(i * e..(i + 1) * e).unwrap_or(&[]),
            preference: self.preference.get(i * e..(i + 1) * e).unwrap_or(&[]),
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = LayerView<'_>> {
        (0..self.layers.len()).filter_map(|i| self.layer(i))
    }

    /// Drop the router probabilities and preference (most of the record for a model with
    /// many experts), keeping which experts were chosen and their weights: what an older
    /// token keeps when the conversation's routing detail is over its memory budget.
    pub fn compact(&mut self) {
        self.probs = Vec::new();
        self.preference = Vec::new();
    }

    /// Whether [`TokenRouting::compact`] dropped the probabilities.
    pub fn is_compact(&self) -> bool {
        self.probs.is_empty() && self.n_expert > 0 && !self.layers.is_empty()
    }

    /// Bytes this record occupies in memory (payload only), for the performance budget.
    pub fn payload_bytes(&self) -> usize {
        self.layers.len() * 2
            + self.computed.len()
            + self.experts.len() * 2
            + self.weights.len() * 2
            + self.probs.len()
            + self.preference.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantisation_round_trips_within_tolerance() {
        for i in 0..=1000 {
            let p = i as f32 / 1000.0;
            let back = dequantize_prob(quantize_prob(p));
            // square-root scale: error ~ 2 sqrt(p) * half a step
            assert!((back - p).abs() <= p.sqrt() / 255.0 + 1e-4, "{p} -> {back}");
        }
        assert_eq!(quantize_prob(f32::NAN), 0);
        assert_eq!(quantize_prob(2.0), 255);
    }

    #[test]
    fn layer_views_slice_the_flat_arrays() {
        let mut r = TokenRouting::new(4, 2, vec![1, 2]);
        r.set_layer(1, &[3, 0], &[0.6, 0.3], &[0.3, 0.05, 0.05, 0.6]);
        let l0 = r.layer(0).unwrap();
        assert!(!l0.computed);
        assert_eq!(l0.top_expert(), None);
        let l1 = r.layer(1).unwrap();
        assert_eq!(l1.layer, 2);
        assert_eq!(l1.experts, &[3, 0]);
        assert_eq!(l1.top_expert(), Some(3));
        assert!((l1.prob(3) - 0.6).abs() < 0.01);
        assert!((l1.weight_of(0).unwrap() - 0.3).abs() < 0.001);
        assert_eq!(l1.weight_of(1), None);
        assert_eq!(r.payload_bytes(), 4 + 2 + 8 + 8 + 8);
        r.compact();
        assert!(r.is_compact());
        assert_eq!(r.payload_bytes(), 4 + 2 + 8 + 8);
        let l1 = r.layer(1).unwrap();
        assert_eq!(l1.experts, &[3, 0]);
        assert_eq!(l1.prob(3), 0.0);
        assert!(l1.probs.is_empty());
    }

    #[test]
    fn set_layer_ignores_mismatched_lengths() {
        let mut r = TokenRouting::new(4, 2, vec![0]);
        r.set_layer(0, &[1], &[1.0], &[0.25; 4]);
        assert!(!r.computed[0]);
        r.set_layer(5, &[1, 2], &[1.0, 1.0], &[0.25; 4]);
        assert_eq!(r.experts, vec![0, 0]);
    }
}
