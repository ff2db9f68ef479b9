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
/// (ties: lower id first). NaN logits are never chosen.
pub fn top_probs(logits: &[f32], n: usize) -> Vec<(u32, f32)> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() || n == 0 {
        return Vec::new();
    }
    let sum: f64 = logits
        .iter()
        .filter(|l| !l.is_nan())
        .map(|&l| f64::from(l - max).exp())
        .sum();
    // One pass keeping the best n (a vocabulary has ~10^5 entries; n is 5).
    let mut best: Vec<u32> = Vec::with_capacity(n + 1);
    for (i, &l) in logits.iter().enumerate() {
        if l.is_nan() || best.len() == n && best.last().is_some_and(|&b| logits[b as usize] >= l) {
            continue;
        }
        let at = best.partition_point(|&b| logits[b as usize] >= l);
        best.insert(at, i as u32);
        best.truncate(n);
    }
    best.into_iter()
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
        let mixed = top_probs(&[f32::NAN, 0.0, 0.0], 3);
        assert_eq!(mixed, vec![(1, 0.5), (2, 0.5)]);
    }
}
