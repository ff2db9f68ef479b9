//! Comparisons between runs: each run against its baseline run (routing divergence, reply
//! overlap, and the teacher-forced KL filled in by `teacher`), and every pair of runs.

use serde::{Deserialize, Serialize};

use super::driver::RunResult;
pub use super::driver::Versus;
use super::metrics::{overlap, routing_divergence};

/// Fill each run's routing divergence and reply overlap against its baseline run.
pub fn against_baselines(results: &mut [RunResult]) {
    // A failed run is compared with nothing, and nothing with it.
    let snapshot: Vec<(String, Vec<u32>, super::metrics::Usage)> = results
        .iter()
        .filter(|r| r.error.is_none())
        .map(|r| (r.spec.id.clone(), r.reply_tokens.clone(), r.usage.clone()))
        .collect();
    for r in results.iter_mut().filter(|r| r.error.is_none()) {
        let Some(b) = r
            .spec
            .baseline
            .as_ref()
            .and_then(|id| snapshot.iter().find(|(i, _, _)| i == id))
        else {
            continue;
        };
        r.versus.js_baseline = routing_divergence(&r.usage, &b.2);
        let o = overlap(&r.reply_tokens, &b.1);
        r.versus.shared_prefix_baseline = Some(o.shared_prefix);
        r.versus.overlap_baseline = Some(o.bigram_jaccard);
    }
}

/// Two runs compared (one row of `pairs.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pair {
    pub a: String,
    pub b: String,
    pub js_distance: Option<f64>,
    pub shared_prefix: usize,
    pub bigram_jaccard: f64,
}

/// Every unordered pair of runs.
pub fn pairs(results: &[RunResult]) -> Vec<Pair> {
    let mut out = Vec::new();
    for (i, a) in results.iter().enumerate() {
        for b in &results[i + 1..] {
            let o = overlap(&a.reply_tokens, &b.reply_tokens);
            out.push(Pair {
                a: a.spec.id.clone(),
                b: b.spec.id.clone(),
                js_distance: routing_divergence(&a.usage, &b.usage),
                shared_prefix: o.shared_prefix,
                bigram_jaccard: o.bigram_jaccard,
            });
        }
    }
    out
}
