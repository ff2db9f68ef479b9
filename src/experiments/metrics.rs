//! Metrics of one run, gathered token by token as the reply streams (so routing records
//! need not be kept), and the comparisons between two runs.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::sampling::StepSnapshot;
use crate::transcript::TokenEvent;

/// How often each expert was among the chosen k, per MoE layer, over a reply's tokens.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Model layer of each MoE layer, in model order.
    pub layers: Vec<u16>,
    /// Tokens each layer routed.
    pub tokens: Vec<u32>,
    /// `picks[i][e]`: tokens for which MoE layer i chose expert e.
    pub picks: Vec<Vec<u32>>,
}

impl Usage {
    pub fn add(&mut self, ev: &TokenEvent) {
        let Some(r) = &ev.routing else { return };
        if self.layers.is_empty() {
            self.layers = r.layers.clone();
            self.tokens = vec![0; r.layers.len()];
            self.picks = vec![vec![0; r.n_expert as usize]; r.layers.len()];
        }
        for (i, v) in r.iter().enumerate() {
            if !v.computed || i >= self.picks.len() {
                continue;
            }
            self.tokens[i] += 1;
            for &e in v.experts {
                if let Some(c) = self.picks[i].get_mut(e as usize) {
                    *c += 1;
                }
            }
        }
    }

    /// Share of the layer's tokens that chose each expert (they add up to k).
    pub fn shares(&self, i: usize) -> Vec<f64> {
        let n = self.tokens.get(i).copied().unwrap_or(0).max(1) as f64;
        self.picks
            .get(i)
            .map(|p| p.iter().map(|&c| c as f64 / n).collect())
            .unwrap_or_default()
    }
}

/// Entropy (nats) of the distribution a step was drawn from, over its top candidates:
/// those inside the nucleus among the snapshot's top 16, renormalised (0 for greedy).
pub fn step_entropy(step: &StepSnapshot) -> f64 {
    let ps: Vec<f64> = step
        .candidates
        .iter()
        .filter(|c| c.in_nucleus)
        .map(|c| c.p_temp as f64)
        .filter(|&p| p > 0.0)
        .collect();
    let sum: f64 = ps.iter().sum();
    if ps.len() < 2 || sum <= 0.0 {
        return 0.0;
    }
    -ps.iter().map(|p| (p / sum) * (p / sum).ln()).sum::<f64>()
}

/// Distinct n-grams over all n-grams of `ids` (1.0 when there are none).
pub fn distinct(ids: &[u32], n: usize) -> f64 {
    if ids.len() < n || n == 0 {
        return 1.0;
    }
    let grams: HashSet<&[u32]> = ids.windows(n).collect();
    grams.len() as f64 / (ids.len() - n + 1) as f64
}

/// Share of the 3-grams of `ids` that already occurred earlier in it.
pub fn repetition_rate(ids: &[u32]) -> f64 {
    if ids.len() < 3 {
        return 0.0;
    }
    let mut seen = HashSet::new();
    let mut repeats = 0usize;
    for w in ids.windows(3) {
        if !seen.insert(w) {
            repeats += 1;
        }
    }
    repeats as f64 / (ids.len() - 2) as f64
}

/// Jensen-Shannon distance (base 2, in 0..=1) between two distributions given as
/// non-negative weights (each normalised here).
pub fn js_distance(a: &[f64], b: &[f64]) -> f64 {
    let (sa, sb): (f64, f64) = (a.iter().sum(), b.iter().sum());
    if sa <= 0.0 || sb <= 0.0 || a.len() != b.len() {
        return if sa <= 0.0 && sb <= 0.0 { 0.0 } else { 1.0 };
    }
    let mut js = 0.0;
    for (&x, &y) in a.iter().zip(b) {
        let (p, q) = (x / sa, y / sb);
        let m = (p + q) / 2.0;
        if p > 0.0 {
            js += 0.5 * p * (p / m).log2();
        }
        if q > 0.0 {
            js += 0.5 * q * (q / m).log2();
        }
    }
    js.clamp(0.0, 1.0).sqrt()
}

/// Mean over MoE layers of the JS distance between two runs' expert usage.
pub fn routing_divergence(a: &Usage, b: &Usage) -> Option<f64> {
    if a.layers.is_empty() || a.layers != b.layers {
        return None;
    }
    let n = a.layers.len();
    let sum: f64 = (0..n)
        .map(|i| {
            let to_f = |p: &Vec<u32>| p.iter().map(|&c| c as f64).collect::<Vec<_>>();
            js_distance(&to_f(&a.picks[i]), &to_f(&b.picks[i]))
        })
        .sum();
    Some(sum / n as f64)
}

/// How much two replies share: tokens in common at the start, and the Jaccard similarity
/// of their token bigram sets (1 = same bigrams).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Overlap {
    pub shared_prefix: usize,
    pub bigram_jaccard: f64,
}

pub fn overlap(a: &[u32], b: &[u32]) -> Overlap {
    let shared_prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let grams = |v: &[u32]| -> HashSet<(u32, u32)> { v.windows(2).map(|w| (w[0], w[1])).collect() };
    let (ga, gb) = (grams(a), grams(b));
    let union = ga.union(&gb).count();
    let bigram_jaccard = if union == 0 {
        if a == b {
            1.0
        } else {
            0.0
        }
    } else {
        ga.intersection(&gb).count() as f64 / union as f64
    };
    Overlap {
        shared_prefix,
        bigram_jaccard,
    }
}

/// Everything measured on one reply while it streams.
#[derive(Debug, Clone, Default)]
pub struct RunAccumulator {
    pub prompt_ids: Vec<u32>,
    pub reply_ids: Vec<u32>,
    pub reply: String,
    entropy_sum: f64,
    prob_sum: f64,
    p_raw_sum: f64,
    steps: usize,
    pub usage: Usage,
}

/// The per-run metrics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunMetrics {
    /// Generated tokens.
    pub tokens: usize,
    /// Characters of the reply.
    pub chars: usize,
    /// Mean entropy (nats) of the sampling distribution over the top-16 candidates.
    pub mean_entropy: f64,
    pub distinct_1: f64,
    pub distinct_2: f64,
    pub repetition_rate: f64,
    /// Mean probability of the drawn tokens in the distribution they were drawn from.
    pub mean_sampled_prob: f64,
    /// The same from the raw logits (temperature 1, no cut).
    pub mean_sampled_p_raw: f64,
}

impl RunAccumulator {
    pub fn prompt(&mut self, tokens: &[TokenEvent]) {
        self.prompt_ids.extend(tokens.iter().map(|t| t.token_id));
    }

    pub fn token(&mut self, ev: &TokenEvent) {
        self.reply_ids.push(ev.token_id);
        self.reply.push_str(&ev.text);
        if let Some(step) = &ev.step {
            self.entropy_sum += step_entropy(step);
            self.prob_sum += step.chosen_prob as f64;
            self.p_raw_sum += step.chosen_p_raw as f64;
            self.steps += 1;
        }
        self.usage.add(ev);
    }

    pub fn tail(&mut self, text: &str) {
        self.reply.push_str(text);
    }

    pub fn metrics(&self) -> RunMetrics {
        let n = self.steps.max(1) as f64;
        RunMetrics {
            tokens: self.reply_ids.len(),
            chars: self.reply.chars().count(),
            mean_entropy: self.entropy_sum / n,
            distinct_1: distinct(&self.reply_ids, 1),
            distinct_2: distinct(&self.reply_ids, 2),
            repetition_rate: repetition_rate(&self.reply_ids),
            mean_sampled_prob: self.prob_sum / n,
            mean_sampled_p_raw: self.p_raw_sum / n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampling::{Candidate, SamplingParams};

    fn cand(p: f32, in_nucleus: bool) -> Candidate {
        Candidate {
            token_id: 0,
            text: String::new(),
            logit: 0.0,
            p_raw: p,
            p_temp: p,
            in_nucleus,
        }
    }

    #[test]
    fn entropy_is_over_the_nucleus_candidates() {
        let step = StepSnapshot {
            params: SamplingParams::default(),
            candidates: vec![cand(0.25, true), cand(0.25, true), cand(0.5, false)],
            nucleus_size: 2,
            chosen: 0,
            chosen_prob: 0.5,
            chosen_p_raw: 0.25,
        };
        assert!((step_entropy(&step) - 2f64.ln()).abs() < 1e-9);
        let greedy = StepSnapshot {
            candidates: vec![cand(1.0, true), cand(0.0, false)],
            ..step
        };
        assert_eq!(step_entropy(&greedy), 0.0);
    }

    #[test]
    fn text_metrics_by_hand() {
        let ids = [1, 2, 1, 2, 1, 2];
        assert!((distinct(&ids, 1) - 2.0 / 6.0).abs() < 1e-12);
        assert!((distinct(&ids, 2) - 2.0 / 5.0).abs() < 1e-12);
        // 3-grams: 121 212 121 212 -> the last two repeat.
        assert!((repetition_rate(&ids) - 0.5).abs() < 1e-12);
        assert_eq!(repetition_rate(&[1, 2, 3, 4]), 0.0);
        let o = overlap(&[1, 2, 3, 4], &[1, 2, 5, 4]);
        assert_eq!(o.shared_prefix, 2);
        // {12,23,34} vs {12,25,54}: 1 shared of 5.
        assert!((o.bigram_jaccard - 0.2).abs() < 1e-12);
    }

    #[test]
    fn js_distance_bounds() {
        assert_eq!(js_distance(&[1.0, 1.0], &[2.0, 2.0]), 0.0);
        assert!((js_distance(&[1.0, 0.0], &[0.0, 1.0]) - 1.0).abs() < 1e-12);
        // p = (1, 0), q = (0.5, 0.5): JS = 0.5 * log2(4/3) + 0.25 * log2(2/3) + 0.25 * 1.
        let want: f64 = 0.5 * (4.0f64 / 3.0).log2() + 0.25 * (2.0f64 / 3.0).log2() + 0.25;
        assert!((js_distance(&[1.0, 0.0], &[1.0, 1.0]) - want.sqrt()).abs() < 1e-12);
        let u = |p: Vec<u32>| Usage {
            layers: vec![1],
            tokens: vec![2],
            picks: vec![p],
        };
        assert_eq!(
            routing_divergence(&u(vec![1, 1]), &u(vec![2, 2])),
            Some(0.0)
        );
        assert_eq!(routing_divergence(&u(vec![1, 1]), &Usage::default()), None);
    }
}
