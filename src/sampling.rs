//! Sampling: temperature, top_p (nucleus) and a seeded draw, with a snapshot of the
//! candidate distribution of every step so the UI and traces can show what happened.
//!
//! Implemented in plain Rust over the logits (not llama.cpp's sampler chain) so that each
//! stage of the distribution can be observed and the settings can change between tokens.

mod rng;

use serde::{Deserialize, Serialize};

pub use rng::SplitMix64;

/// How many candidates a snapshot keeps (sorted by raw logit).
pub const SNAPSHOT_CANDIDATES: usize = 16;

/// Sampling settings. Temperature 0 means greedy (always the most likely token).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SamplingParams {
    pub temperature: f32,
    pub top_p: f32,
    pub seed: u64,
}

impl Default for SamplingParams {
    fn default() -> Self {
        SamplingParams {
            temperature: 0.7,
            top_p: 0.9,
            seed: 42,
        }
    }
}

impl SamplingParams {
    pub const TEMPERATURE_MAX: f32 = 2.0;
    pub const TEMPERATURE_STEP: f32 = 0.1;
    pub const TOP_P_STEP: f32 = 0.05;

    /// Clamp to the supported ranges (temperature 0..=2, top_p 0.05..=1) and round away
    /// floating-point drift from repeated steps.
    pub fn clamped(self) -> Self {
        let round = |x: f32| (x * 100.0).round() / 100.0;
        SamplingParams {
            temperature: round(self.temperature.clamp(0.0, Self::TEMPERATURE_MAX)),
            top_p: round(self.top_p.clamp(0.05, 1.0)),
            seed: self.seed,
        }
    }
}

/// One candidate token of a sampling step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub token_id: u32,
    pub text: String,
    pub logit: f32,
    /// Probability from the raw logits (temperature 1).
    pub p_raw: f32,
    /// Probability after temperature, before the top_p cut.
    pub p_temp: f32,
    /// Inside the top_p nucleus (could be drawn).
    pub in_nucleus: bool,
}

/// The candidate distribution of one sampling step and what was drawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepSnapshot {
    pub params: SamplingParams,
    /// The top candidates by raw logit, most likely first.
    pub candidates: Vec<Candidate>,
    /// Number of tokens inside the nucleus.
    pub nucleus_size: usize,
    pub chosen: u32,
    /// Probability of the chosen token in the distribution it was drawn from (after
    /// temperature and the top_p cut, renormalised).
    pub chosen_prob: f32,
    /// Probability of the chosen token from the raw logits.
    pub chosen_p_raw: f32,
}

/// Map an f32 to a u32 whose unsigned order is the float order (-inf lowest).
fn ordered_bits(x: f32) -> u32 {
    let b = x.to_bits();
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

/// Result of [`sample`]: the token and the snapshot (without candidate texts; the engine
/// fills those in from the vocabulary).
pub fn sample(logits: &[f32], params: SamplingParams, rng: &mut SplitMix64) -> StepSnapshot {
    let params = params.clamped();
    let n = logits.len();
    let empty = StepSnapshot {
        params,
        candidates: Vec::new(),
        nucleus_size: 0,
        chosen: 0,
        chosen_prob: 0.0,
        chosen_p_raw: 0.0,
    };
    if n == 0 {
        return empty;
    }
    let max = logits
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return empty;
    }
    let sanitized = |x: f32| if x.is_finite() { x } else { f32::NEG_INFINITY };
    // The two normalisers are full passes over the vocabulary, run for every token: exp in
    // f32 (each term is at most 1), sums in f64.
    let raw_sum: f64 = logits
        .iter()
        .map(|&l| (sanitized(l) - max).exp() as f64)
        .sum();
    let greedy = params.temperature <= 0.0;
    let t = params.temperature.max(1e-3) as f64;
    let inv_t = (1.0 / t) as f32;
    let temp_sum: f64 = if greedy {
        1.0
    } else if params.temperature == 1.0 {
        raw_sum
    } else {
        logits
            .iter()
            .map(|&l| ((sanitized(l) - max) * inv_t).exp() as f64)
            .sum()
    };
    let p_raw = |l: f32| (((sanitized(l) - max) as f64).exp() / raw_sum) as f32;
    let p_temp = |l: f32| {
        if greedy {
            if sanitized(l) >= max {
                1.0
            } else {
                0.0
            }
        } else {
            ((((sanitized(l) - max) as f64) / t).exp() / temp_sum) as f32
        }
    };

    // Sort only the head of the distribution: select the top `head` by logit in O(n),
    // sort those; fall back to a full sort when the nucleus reaches past the head.
    // Integer keys order by logit descending, then token id: plain u64 comparisons instead
    // of float comparisons through the logits.
    let mut keys: Vec<u64> = logits
        .iter()
        .enumerate()
        .map(|(i, &l)| (u64::from(u32::MAX - ordered_bits(sanitized(l))) << 32) | i as u64)
        .collect();
    let mut head = n.min(1024);
    let order = loop {
        if head < n {
            keys.select_nth_unstable(head - 1);
        }
        keys[..head].sort_unstable();
        let order: Vec<u32> = keys[..head].iter().map(|k| *k as u32).collect();
        let mass: f64 = order[..head]
            .iter()
            .map(|&i| p_temp(logits[i as usize]) as f64)
            .sum();
        if greedy || mass >= params.top_p as f64 || head == n {
            break order;
        }
        head = n;
    };

    // Nucleus: the smallest prefix whose mass reaches top_p (at least one token).
    let mut cum = 0.0f64;
    let mut nucleus = 0usize;
    for &i in &order[..head] {
        let p = p_temp(logits[i as usize]) as f64;
        if greedy && p == 0.0 {
            break;
        }
        nucleus += 1;
        cum += p;
        if greedy || cum >= params.top_p as f64 {
            break;
        }
    }
    let nucleus = nucleus.max(1);
    let nucleus_mass: f64 = order[..nucleus]
        .iter()
        .map(|&i| p_temp(logits[i as usize]) as f64)
        .sum();

    let chosen_idx = if greedy || nucleus == 1 {
        0
    } else {
        let r = rng.next_f64() * nucleus_mass;
        let mut acc = 0.0;
        let mut pick = nucleus - 1;
        for (j, &i) in order[..nucleus].iter().enumerate() {
            acc += p_temp(logits[i as usize]) as f64;
            if r < acc {
                pick = j;
                break;
            }
        }
        pick
    };
    let chosen = order[chosen_idx];
    let chosen_prob = if nucleus_mass > 0.0 {
        (p_temp(logits[chosen as usize]) as f64 / nucleus_mass) as f32
    } else {
        1.0
    };

    let candidates = order[..head.min(SNAPSHOT_CANDIDATES)]
        .iter()
        .enumerate()
        .map(|(j, &i)| Candidate {
            token_id: i,
            text: String::new(),
            logit: logits[i as usize],
            p_raw: p_raw(logits[i as usize]),
            p_temp: p_temp(logits[i as usize]),
            in_nucleus: j < nucleus,
        })
        .collect();
    StepSnapshot {
        params,
        candidates,
        nucleus_size: nucleus,
        chosen,
        chosen_prob,
        chosen_p_raw: p_raw(logits[chosen as usize]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(t: f32, p: f32) -> SamplingParams {
        SamplingParams {
            temperature: t,
            top_p: p,
            seed: 1,
        }
    }

    #[test]
    fn greedy_picks_the_argmax() {
        let logits = [0.1, 3.0, 2.9, -1.0];
        let mut rng = SplitMix64::new(7);
        for _ in 0..20 {
            let s = sample(&logits, params(0.0, 1.0), &mut rng);
            assert_eq!(s.chosen, 1);
            assert_eq!(s.nucleus_size, 1);
            assert_eq!(s.chosen_prob, 1.0);
        }
    }

    #[test]
    fn probabilities_are_softmax_and_sorted() {
        let logits = [1.0f32, 2.0, 3.0];
        let mut rng = SplitMix64::new(7);
        let s = sample(&logits, params(1.0, 1.0), &mut rng);
        let z: f32 = logits.iter().map(|l| l.exp()).sum();
        assert_eq!(s.candidates[0].token_id, 2);
        assert!((s.candidates[0].p_raw - 3f32.exp() / z).abs() < 1e-6);
        assert!((s.candidates[0].p_temp - s.candidates[0].p_raw).abs() < 1e-6);
        let sum: f32 = s.candidates.iter().map(|c| c.p_temp).sum();
        assert!((sum - 1.0).abs() < 1e-5);
    }

    #[test]
    fn temperature_sharpens_and_flattens() {
        let logits = [1.0f32, 2.0, 3.0];
        let mut rng = SplitMix64::new(7);
        let cold = sample(&logits, params(0.5, 1.0), &mut rng);
        let hot = sample(&logits, params(2.0, 1.0), &mut rng);
        assert!(cold.candidates[0].p_temp > cold.candidates[0].p_raw);
        assert!(hot.candidates[0].p_temp < hot.candidates[0].p_raw);
    }

    #[test]
    fn top_p_cuts_the_tail() {
        // probabilities 0.5, 0.25, 0.125, ...
        let logits: Vec<f32> = (0..10).map(|i| -(i as f32) * 2f32.ln()).collect();
        let mut rng = SplitMix64::new(3);
        let s = sample(&logits, params(1.0, 0.7), &mut rng);
        assert_eq!(s.nucleus_size, 2);
        assert!(s.candidates[0].in_nucleus && s.candidates[1].in_nucleus);
        assert!(!s.candidates[2].in_nucleus);
        for _ in 0..200 {
            let s = sample(&logits, params(1.0, 0.7), &mut rng);
            assert!(s.chosen <= 1, "drew {} outside the nucleus", s.chosen);
        }
    }

    #[test]
    fn same_seed_same_draws() {
        let logits: Vec<f32> = (0..500).map(|i| ((i * 37) % 101) as f32 / 25.0).collect();
        let draw = |seed| {
            let mut rng = SplitMix64::new(seed);
            (0..50)
                .map(|_| sample(&logits, params(1.2, 0.95), &mut rng).chosen)
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(5), draw(5));
        assert_ne!(draw(5), draw(6));
    }

    #[test]
    fn wide_nucleus_falls_back_to_full_sort() {
        // 4000 equal logits: the nucleus at top_p 1 covers all of them.
        let logits = vec![0.0f32; 4000];
        let mut rng = SplitMix64::new(1);
        let s = sample(&logits, params(1.0, 1.0), &mut rng);
        assert!(s.nucleus_size >= 3999, "{}", s.nucleus_size);
    }

    #[test]
    fn non_finite_logits_are_never_drawn() {
        let logits = [f32::NAN, 1.0, f32::NEG_INFINITY, 0.5];
        let mut rng = SplitMix64::new(9);
        for _ in 0..50 {
            let s = sample(&logits, params(1.5, 1.0), &mut rng);
            assert!(s.chosen == 1 || s.chosen == 3);
        }
        let s = sample(&[f32::NAN; 3], params(1.0, 1.0), &mut rng);
        assert!(s.candidates.is_empty());
    }
}
