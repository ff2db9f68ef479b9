//! Summaries of routing records used by views (token colours) and lessons.

use super::{dequantize_prob, LayerView};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::quantize_prob;

    #[test]
    fn entropy_of_uniform_and_certain() {
        let uniform: Vec<u8> = vec![quantize_prob(0.25); 4];
        assert!((entropy(&uniform) - 4f32.ln()).abs() < 0.01);
        let certain = vec![255, 0, 0, 0];
        assert!(entropy(&certain).abs() < 1e-6);
        assert_eq!(entropy(&[0, 0]), 0.0);
    }
}
