//! The layer lens: what the model would predict if it stopped after each layer (the final
//! norm and output head applied to that layer's residual stream), for one position. Plain
//! data that the engine fills in and views render.

use serde::{Deserialize, Serialize};

/// How many tokens each layer's row keeps.
pub const LENS_TOP: usize = 5;

/// One candidate of a layer's prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LensCandidate {
    pub token_id: u32,
    /// The token's text, sanitised.
    pub text: String,
    /// Probability (softmax of the logits, temperature 1).
    pub p: f32,
}

/// The prediction read after one layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LensRow {
    /// 0-based layer index; the last row is the model's real output.
    pub layer: u32,
    /// The most probable tokens, most probable first.
    pub top: Vec<LensCandidate>,
}

/// The lens for the token read at position `pos` (so the rows predict position `pos + 1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerLens {
    pub pos: u32,
    pub rows: Vec<LensRow>,
}

/// The `n` most probable (token id, probability) pairs of `logits`, most probable first
/// (ties: lower id first).
pub fn top_probs(logits: &[f32], n: usize) -> Vec<(u32, f32)> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return Vec::new();
    }
    let sum: f64 = logits.iter().map(|&l| f64::from(l - max).exp()).sum();
    let mut idx: Vec<u32> = (0..logits.len() as u32).collect();
    idx.sort_by(|&a, &b| {
        logits[b as usize]
            .total_cmp(&logits[a as usize])
            .then(a.cmp(&b))
    });
    idx.into_iter()
        .take(n)
        .map(|i| {
            let p = f64::from(logits[i as usize] - max).exp() / sum;
            (i, p as f32)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_probs_is_a_sorted_softmax() {
        let top = top_probs(&[0.0, 2.0_f32.ln(), 0.0, 1.0_f32.ln()], 3);
        let ids: Vec<u32> = top.iter().map(|t| t.0).collect();
        assert_eq!(ids, vec![1, 0, 2]);
        assert!((top[0].1 - 0.4).abs() < 1e-6, "{top:?}");
        assert!((top[1].1 - 0.2).abs() < 1e-6, "{top:?}");
        assert!(top_probs(&[], 2).is_empty());
        assert!(top_probs(&[f32::NAN, f32::NAN], 2).is_empty());
    }
}
