//! What a capacity limit would do to a layer's routing. Training-time MoE layers often give
//! each expert room for only `C x tokens x k / E` tokens of a batch (C the capacity factor);
//! a token routed to a full expert loses that expert's contribution ("is dropped" there).
//! Here the batch is every token given, taken in order, as a Switch-style router fills
//! its experts.

use serde::{Deserialize, Serialize};

/// The drops at one layer under one capacity factor.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CapacityDrop {
    pub factor: f64,
    /// Tokens each expert may take: ceil(factor x tokens x k / n_expert).
    pub capacity: u32,
    /// Expert assignments beyond an expert's capacity.
    pub dropped_assignments: u32,
    /// Tokens that lost at least one of their experts.
    pub dropped_tokens: u32,
    /// `dropped_tokens` over the layer's tokens.
    pub dropped_share: f64,
}

/// Drops for one layer: `choices` holds each token's chosen experts, in token order.
pub fn capacity_drops<'a>(
    choices: impl IntoIterator<Item = &'a [u16]>,
    n_expert: usize,
    k: usize,
    factor: f64,
) -> CapacityDrop {
    let choices: Vec<&[u16]> = choices.into_iter().collect();
    let tokens = choices.len();
    let capacity = if n_expert == 0 {
        0
    } else {
        (factor.max(0.0) * tokens as f64 * k as f64 / n_expert as f64).ceil() as u32
    };
    let mut load = vec![0u32; n_expert];
    let (mut dropped_assignments, mut dropped_tokens) = (0u32, 0u32);
    for experts in &choices {
        let mut lost = false;
        for &e in *experts {
            let Some(l) = load.get_mut(e as usize) else {
                continue;
            };
            if *l >= capacity {
                dropped_assignments += 1;
                lost = true;
            } else {
                *l += 1;
            }
        }
        dropped_tokens += u32::from(lost);
    }
    CapacityDrop {
        factor,
        capacity,
        dropped_assignments,
        dropped_tokens,
        dropped_share: if tokens == 0 {
            0.0
        } else {
            dropped_tokens as f64 / tokens as f64
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_by_hand() {
        // E = 4, k = 2, four tokens, expert 0 in every one.
        let toks: [&[u16]; 4] = [&[0, 1], &[0, 1], &[0, 2], &[0, 3]];
        // C = 1: capacity ceil(4 x 2 / 4) = 2; expert 0's third and fourth tokens drop.
        let d = capacity_drops(toks, 4, 2, 1.0);
        assert_eq!(
            (d.capacity, d.dropped_assignments, d.dropped_tokens),
            (2, 2, 2)
        );
        assert!((d.dropped_share - 0.5).abs() < 1e-12);
        // C = 1.5: capacity 3; only the fourth token drops.
        let d = capacity_drops(toks, 4, 2, 1.5);
        assert_eq!(
            (d.capacity, d.dropped_assignments, d.dropped_tokens),
            (3, 1, 1)
        );
        // C = 2: capacity 4, nothing drops.
        assert_eq!(capacity_drops(toks, 4, 2, 2.0).dropped_tokens, 0);
        assert_eq!(capacity_drops([], 4, 2, 1.0).dropped_share, 0.0);
    }
}
