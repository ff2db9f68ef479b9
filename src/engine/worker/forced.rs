//! A forced step: the token a branch puts where the sampler would have drawn. The step keeps
//! the model's real distribution; only its choice (and that choice's probabilities) change.

use llama_cpp_2::token::LlamaToken;

use crate::sampling::StepSnapshot;

/// Make `token` the step's choice: the distribution stays the one the model gave (the
/// candidates, the nucleus); the probabilities of the choice are read from it, the raw one
/// from the logits when the token is not among the candidates shown.
pub(super) fn force(step: &mut StepSnapshot, token: LlamaToken, logits: &[f32]) {
    let id = token.0 as u32;
    step.chosen = id;
    match step.candidates.iter().find(|c| c.token_id == id) {
        Some(c) => {
            step.chosen_p_raw = c.p_raw;
            step.chosen_prob = if c.in_nucleus { c.p_temp } else { 0.0 };
        }
        None => {
            step.chosen_p_raw = softmax_at(logits, id as usize);
            step.chosen_prob = 0.0;
        }
    }
}

/// The probability of token `i` under the raw logits (temperature 1).
fn softmax_at(logits: &[f32], i: usize) -> f32 {
    let max = logits
        .iter()
        .copied()
        .filter(|l| l.is_finite())
        .fold(f32::NEG_INFINITY, f32::max);
    let Some(&li) = logits.get(i) else {
        return 0.0;
    };
    if !max.is_finite() || !li.is_finite() {
        return 0.0;
    }
    let sum: f64 = logits
        .iter()
        .filter(|l| l.is_finite())
        .map(|&l| f64::from(l - max).exp())
        .sum();
    (f64::from(li - max).exp() / sum) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_raw_probability_of_any_token_sums_to_one() {
        let logits = [1.0f32, 2.0, 3.0, f32::NAN];
        let total: f32 = (0..4).map(|i| softmax_at(&logits, i)).sum();
        assert!((total - 1.0).abs() < 1e-5, "{total}");
        assert!(softmax_at(&logits, 2) > softmax_at(&logits, 1));
        assert_eq!(softmax_at(&logits, 3), 0.0);
        assert_eq!(softmax_at(&logits, 9), 0.0);
    }
}
