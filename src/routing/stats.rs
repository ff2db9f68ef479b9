//! Summaries of routing records used by views (token colours) and lessons.

use super::{dequantize_prob, LayerView, TokenRouting};

/// Shannon entropy (nats) of a router distribution given as quantised probabilities,
/// renormalised so quantisation error does not matter.
pub fn entropy(probs: &[u8]) -> f32 {
    let ps: Vec<f32> = probs.iter().map(|&q| dequantize_prob(q)).collect();
    let sum: f32 = ps.iter().sum();
    if sum <= 0.0 {
        return 0.0;
    }
    -ps.iter()
        .filter(|&&p| p > 0.0)
        .map(|&p| {
            let p = p / sum;
            p * p.ln()
        })
        .sum::<f32>()
}

/// What a token strip shows about one token in one layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerSummary {
    pub top_expert: Option<u16>,
    /// Router entropy divided by ln(n_expert): 0 = certain, 1 = uniform.
    pub normalized_entropy: f32,
}

impl LayerSummary {
    pub fn of(view: &LayerView<'_>) -> Self {
        let n = view.probs.len().max(2) as f32;
        LayerSummary {
            top_expert: view.top_expert(),
            normalized_entropy: if view.computed {
                (entropy(view.probs) / n.ln()).clamp(0.0, 1.0)
            } else {
                0.0
            },
        }
    }
}

/// How often each expert of one MoE layer was among the chosen top-k, over many tokens.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LayerLoad {
    pub layer: u16,
    /// Tokens this layer routed (tokens whose routing was computed here).
    pub tokens: u32,
    /// Picks per expert; they add up to `tokens * k`.
    pub picks: Vec<u32>,
}

impl LayerLoad {
    /// Expert `e`'s load relative to a perfectly even spread (1.0 = its fair share of
    /// `tokens * k / n_expert` picks; 0 = never chosen).
    pub fn ratio(&self, e: usize) -> f32 {
        let total: u32 = self.picks.iter().sum();
        if total == 0 || self.picks.is_empty() {
            return 0.0;
        }
        self.picks.get(e).copied().unwrap_or(0) as f32 * self.picks.len() as f32 / total as f32
    }

    /// Fraction of the tokens that went to expert `e` (an even spread gives k / n_expert).
    pub fn share(&self, e: usize) -> f32 {
        if self.tokens == 0 {
            return 0.0;
        }
        self.picks.get(e).copied().unwrap_or(0) as f32 / self.tokens as f32
    }

    /// [`LayerLoad::ratio`] of every expert, the total summed once.
    pub fn ratios(&self) -> Vec<f32> {
        let total: u32 = self.picks.iter().sum();
        let scale = if total == 0 {
            0.0
        } else {
            self.picks.len() as f32 / total as f32
        };
        self.picks.iter().map(|&c| c as f32 * scale).collect()
    }

    /// The busiest expert's load over the mean load (1.0 = perfectly balanced).
    pub fn max_over_mean(&self) -> f32 {
        self.ratios().into_iter().fold(0.0, f32::max)
    }

    /// Coefficient of variation of the loads (standard deviation / mean; 0 = balanced).
    pub fn cv(&self) -> f32 {
        let n = self.picks.len();
        let total: u32 = self.picks.iter().sum();
        if n == 0 || total == 0 {
            return 0.0;
        }
        let mean = total as f64 / n as f64;
        let var = self
            .picks
            .iter()
            .map(|&c| (c as f64 - mean).powi(2))
            .sum::<f64>()
            / n as f64;
        (var.sqrt() / mean) as f32
    }

    /// Experts never chosen.
    pub fn unused(&self) -> usize {
        self.picks.iter().filter(|&&c| c == 0).count()
    }
}

/// Expert load per MoE layer over a set of tokens (a conversation): what load balancing
/// is about. Layers are in model order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExpertLoad {
    pub n_expert: usize,
    pub k: usize,
    pub layers: Vec<LayerLoad>,
}

impl ExpertLoad {
    pub fn of<'a>(tokens: impl IntoIterator<Item = &'a TokenRouting>) -> Self {
        let mut load = ExpertLoad::default();
        for r in tokens {
            load.add(r);
        }
        load
    }

    /// Count one more token's choices.
    pub fn add(&mut self, r: &TokenRouting) {
        self.n_expert = self.n_expert.max(r.n_expert as usize);
        self.k = self.k.max(r.k as usize);
        for v in r.iter().filter(|v| v.computed) {
            let i = match self.layers.binary_search_by_key(&v.layer, |l| l.layer) {
                Ok(i) => i,
                Err(i) => {
                    self.layers.insert(
                        i,
                        LayerLoad {
                            layer: v.layer,
                            ..LayerLoad::default()
                        },
                    );
                    i
                }
            };
            let l = &mut self.layers[i];
            if l.picks.len() < r.n_expert as usize {
                l.picks.resize(r.n_expert as usize, 0);
            }
            l.tokens += 1;
            for &e in v.experts {
                if let Some(c) = l.picks.get_mut(e as usize) {
                    *c += 1;
                }
            }
        }
    }

    /// Add another count (tokens counted elsewhere, e.g. folded out of memory).
    pub fn merge(&mut self, other: &ExpertLoad) {
        self.n_expert = self.n_expert.max(other.n_expert);
        self.k = self.k.max(other.k);
        for o in &other.layers {
            match self.layers.binary_search_by_key(&o.layer, |l| l.layer) {
                Ok(i) => {
                    let l = &mut self.layers[i];
                    if l.picks.len() < o.picks.len() {
                        l.picks.resize(o.picks.len(), 0);
                    }
                    l.tokens += o.tokens;
                    for (c, x) in l.picks.iter_mut().zip(&o.picks) {
                        *c += x;
                    }
                }
                Err(i) => self.layers.insert(i, o.clone()),
            }
        }
    }

    pub fn layer(&self, layer: u16) -> Option<&LayerLoad> {
        self.layers.iter().find(|l| l.layer == layer)
    }

    /// Tokens counted (the most any layer routed).
    pub fn tokens(&self) -> u32 {
        self.layers.iter().map(|l| l.tokens).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::quantize_prob;

    fn routed(n_expert: u16, picks: &[&[u16]]) -> TokenRouting {
        let mut r = TokenRouting::new(
            n_expert,
            picks[0].len() as u16,
            (0..picks.len() as u16).collect(),
        );
        for (slot, chosen) in picks.iter().enumerate() {
            let probs = vec![1.0 / n_expert as f32; n_expert as usize];
            let weights = vec![0.5; chosen.len()];
            r.set_layer(slot, chosen, &weights, &probs);
        }
        r
    }

    #[test]
    fn load_counts_picks_per_layer() {
        // Two layers, E = 4, k = 2, three tokens.
        let toks = [
            routed(4, &[&[0, 1], &[2, 3]]),
            routed(4, &[&[0, 2], &[2, 3]]),
            routed(4, &[&[0, 1], &[2, 0]]),
        ];
        let load = ExpertLoad::of(&toks);
        assert_eq!((load.n_expert, load.k, load.tokens()), (4, 2, 3));
        let l0 = load.layer(0).unwrap();
        assert_eq!(l0.picks, vec![3, 2, 1, 0]);
        assert_eq!(l0.unused(), 1);
        // Fair share = 3 tokens x 2 picks / 4 experts = 1.5 picks.
        assert!((l0.ratio(0) - 2.0).abs() < 1e-6);
        assert!((l0.max_over_mean() - 2.0).abs() < 1e-6);
        assert!((l0.share(1) - 2.0 / 3.0).abs() < 1e-6);
        let l1 = load.layer(1).unwrap();
        assert_eq!(l1.picks, vec![1, 0, 3, 2]);
        // Perfect balance has CV 0; a single busy expert has a large one.
        let even = LayerLoad {
            layer: 0,
            tokens: 4,
            picks: vec![2, 2, 2, 2],
        };
        assert_eq!(even.cv(), 0.0);
        assert!((even.max_over_mean() - 1.0).abs() < 1e-6);
        assert!(l0.cv() > 0.5);
        assert_eq!(ExpertLoad::of(&[]).tokens(), 0);
    }

    #[test]
    fn entropy_of_uniform_and_certain() {
        let uniform: Vec<u8> = vec![quantize_prob(0.25); 4];
        assert!((entropy(&uniform) - 4f32.ln()).abs() < 0.01);
        let certain = vec![255, 0, 0, 0];
        assert!(entropy(&certain).abs() < 1e-6);
        assert_eq!(entropy(&[0, 0]), 0.0);
    }
}
