//! Expert statistics over many tokens' routing (a conversation, a trace, an experiment
//! run): per MoE layer, how often each expert was chosen, how balanced that is (entropy of
//! usage, coefficient of variation, busiest over even, never-used share), which experts are
//! chosen together, which tokens each expert handles most often (evidence for or against
//! "specialised" experts), and what a capacity limit would drop.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::capacity::{capacity_drops, CapacityDrop};
use super::trace::TraceRecord;
use crate::transcript::TokenEvent;

/// One token's routing, reduced to what the statistics need.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutedToken {
    pub token_id: u32,
    pub text: String,
    pub n_expert: u16,
    /// (model layer, chosen experts) of each MoE layer whose router ran for this token.
    pub layers: Vec<(u16, Vec<u16>)>,
}

impl RoutedToken {
    pub fn from_trace(r: &TraceRecord) -> Self {
        RoutedToken {
            token_id: r.token_id,
            text: r.text.clone(),
            n_expert: r.layers.iter().map(|l| l.probs.len()).max().unwrap_or(0) as u16,
            layers: r
                .layers
                .iter()
                .filter(|l| l.computed)
                .map(|l| (l.layer, l.experts.clone()))
                .collect(),
        }
    }

    /// None for a token without routing (capture off, or a dense model).
    pub fn from_event(ev: &TokenEvent) -> Option<Self> {
        let r = ev.routing.as_ref()?;
        Some(RoutedToken {
            token_id: ev.token_id,
            text: ev.text.clone(),
            n_expert: r.n_expert,
            layers: r
                .iter()
                .filter(|v| v.computed)
                .map(|v| (v.layer, v.experts.to_vec()))
                .collect(),
        })
    }
}

/// A token and how often an expert handled it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenCount {
    pub token_id: u32,
    pub text: String,
    pub count: u32,
}

/// One MoE layer's statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerStats {
    pub layer: u16,
    /// Tokens this layer routed.
    pub tokens: u32,
    /// Experts chosen per token.
    pub k: usize,
    /// Tokens that chose each expert.
    pub picks: Vec<u32>,
    /// Entropy (nats) of the usage distribution picks / sum(picks).
    pub usage_entropy: f64,
    /// `usage_entropy / ln(n_expert)`: 1 = perfectly even.
    pub usage_entropy_norm: f64,
    /// Standard deviation of the picks over their mean (0 = even).
    pub cv: f64,
    /// The busiest expert's picks over the even share (1 = even).
    pub max_over_even: f64,
    /// Share of the experts never chosen.
    pub never_used_share: f64,
    /// `coactivation[a][b]`: tokens that chose both a and b (the diagonal = picks).
    pub coactivation: Vec<Vec<u32>>,
    /// For each expert, the tokens it handled most often, most first.
    pub top_tokens: Vec<Vec<TokenCount>>,
    pub capacity: CapacityDrop,
}

/// Statistics for every MoE layer, in model order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpertStats {
    pub n_expert: usize,
    pub tokens: u32,
    pub layers: Vec<LayerStats>,
}

fn balance(picks: &[u32]) -> (f64, f64, f64, f64, f64) {
    let n = picks.len();
    let total: u64 = picks.iter().map(|&c| c as u64).sum();
    if n == 0 || total == 0 {
        return (0.0, 0.0, 0.0, 0.0, if n == 0 { 0.0 } else { 1.0 });
    }
    let t = total as f64;
    let entropy = -picks
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| (c as f64 / t) * (c as f64 / t).ln())
        .sum::<f64>();
    let norm = if n > 1 {
        entropy / (n as f64).ln()
    } else {
        1.0
    };
    let mean = t / n as f64;
    let var = picks
        .iter()
        .map(|&c| (c as f64 - mean).powi(2))
        .sum::<f64>()
        / n as f64;
    let max = picks.iter().copied().max().unwrap_or(0) as f64;
    let never = picks.iter().filter(|&&c| c == 0).count() as f64 / n as f64;
    (entropy, norm, var.sqrt() / mean, max / mean, never)
}

impl ExpertStats {
    /// Statistics over `tokens`, keeping `top_n` tokens per expert, with drops counted at
    /// capacity factor `capacity`.
    pub fn compute(tokens: &[RoutedToken], top_n: usize, capacity: f64) -> Self {
        let n_expert = tokens
            .iter()
            .map(|t| t.n_expert as usize)
            .max()
            .unwrap_or(0);
        // Per layer: each token's choice, in order (borrowed), and the token index.
        let mut per_layer: BTreeMap<u16, Vec<(usize, &[u16])>> = BTreeMap::new();
        for (i, t) in tokens.iter().enumerate() {
            for (layer, experts) in &t.layers {
                per_layer.entry(*layer).or_default().push((i, experts));
            }
        }
        let layers = per_layer
            .into_iter()
            .map(|(layer, rows)| {
                let k = rows.iter().map(|(_, e)| e.len()).max().unwrap_or(0);
                let mut picks = vec![0u32; n_expert];
                let mut co = vec![vec![0u32; n_expert]; n_expert];
                let mut by_token: Vec<HashMap<u32, u32>> = vec![HashMap::new(); n_expert];
                for (i, experts) in &rows {
                    for (a_pos, &a) in experts.iter().enumerate() {
                        let a = a as usize;
                        if a >= n_expert {
                            continue;
                        }
                        picks[a] += 1;
                        *by_token[a].entry(tokens[*i].token_id).or_default() += 1;
                        for &b in &experts[a_pos..] {
                            let b = b as usize;
                            if b >= n_expert {
                                continue;
                            }
                            co[a][b] += 1;
                            if a != b {
                                co[b][a] += 1;
                            }
                        }
                    }
                }
                let text_of: HashMap<u32, &str> = rows
                    .iter()
                    .map(|(i, _)| (tokens[*i].token_id, tokens[*i].text.as_str()))
                    .collect();
                let top_tokens = by_token
                    .into_iter()
                    .map(|m| {
                        let mut v: Vec<(u32, u32)> = m.into_iter().collect();
                        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                        v.into_iter()
                            .take(top_n)
                            .map(|(id, count)| TokenCount {
                                token_id: id,
                                text: text_of.get(&id).copied().unwrap_or("").to_string(),
                                count,
                            })
                            .collect()
                    })
                    .collect();
                let (usage_entropy, usage_entropy_norm, cv, max_over_even, never_used_share) =
                    balance(&picks);
                LayerStats {
                    layer,
                    tokens: rows.len() as u32,
                    k,
                    capacity: capacity_drops(rows.iter().map(|(_, e)| *e), n_expert, k, capacity),
                    picks,
                    usage_entropy,
                    usage_entropy_norm,
                    cv,
                    max_over_even,
                    never_used_share,
                    coactivation: co,
                    top_tokens,
                }
            })
            .collect();
        ExpertStats {
            n_expert,
            tokens: tokens.len() as u32,
            layers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(id: u32, text: &str, experts: &[u16]) -> RoutedToken {
        RoutedToken {
            token_id: id,
            text: text.into(),
            n_expert: 4,
            layers: vec![(1, experts.to_vec())],
        }
    }

    #[test]
    fn numbers_checked_by_hand() {
        let toks = [
            tok(7, "a", &[0, 1]),
            tok(7, "a", &[0, 1]),
            tok(8, "b", &[0, 2]),
            tok(9, "c", &[0, 3]),
        ];
        let s = ExpertStats::compute(&toks, 2, 1.0);
        assert_eq!((s.n_expert, s.tokens, s.layers.len()), (4, 4, 1));
        let l = &s.layers[0];
        assert_eq!(l.picks, vec![4, 2, 1, 1]);
        // Usage (1/2, 1/4, 1/8, 1/8): entropy 1.75 ln 2.
        assert!((l.usage_entropy - 1.75 * 2f64.ln()).abs() < 1e-12);
        assert!((l.usage_entropy_norm - 1.75 / 2.0).abs() < 1e-12);
        // Mean 2, deviations (2, 0, -1, -1): sd sqrt(1.5).
        assert!((l.cv - 1.5f64.sqrt() / 2.0).abs() < 1e-12);
        assert!((l.max_over_even - 2.0).abs() < 1e-12);
        assert_eq!(l.never_used_share, 0.0);
        assert_eq!(l.coactivation[0], vec![4, 2, 1, 1]);
        assert_eq!(l.coactivation[1], vec![2, 2, 0, 0]);
        assert_eq!(l.coactivation[2][3], 0);
        // Expert 0 handled "a" twice, then "b" and "c" once (ties by token id).
        let top: Vec<(&str, u32)> = l.top_tokens[0]
            .iter()
            .map(|t| (t.text.as_str(), t.count))
            .collect();
        assert_eq!(top, vec![("a", 2), ("b", 1)]);
        assert_eq!(l.capacity.dropped_tokens, 2);
        let unbalanced = ExpertStats::compute(&[tok(1, "x", &[0, 1])], 1, 1.0);
        assert!((unbalanced.layers[0].never_used_share - 0.5).abs() < 1e-12);
    }
}
