//! The experiment's PNG plots, in `plots/`:
//! - `usage-<run>.png`: expert usage per MoE layer for each run (share of the reply's
//!   tokens that chose each expert);
//! - `<metric>-vs-<parameter>.png`: a metric against each parameter the grid sweeps (more
//!   than one value), every run a dot, the mean per value a line;
//! - `usage-diff-<set>-k<k>.png`: for each group of runs that has baseline runs, the mean
//!   difference of its usage shares from its baselines' (red: more, blue: less).
//!
//! The data behind each chart comes from plain functions ([`swept`], [`metric_points`],
//! [`usage_difference`]) that the TUI can draw itself.

pub mod draw;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::driver::RunResult;

/// The metrics plotted against each swept parameter: (file name, axis label, value).
#[allow(clippy::type_complexity)]
pub const METRICS: &[(&str, &str, fn(&RunResult) -> Option<f64>)] = &[
    (
        "mean_entropy",
        "mean entropy of the sampling distribution (nats)",
        |r| Some(r.metrics.mean_entropy),
    ),
    ("distinct_2", "distinct-2", |r| Some(r.metrics.distinct_2)),
    (
        "mean_sampled_prob",
        "mean probability of the drawn tokens",
        |r| Some(r.metrics.mean_sampled_prob),
    ),
    (
        "repetition_rate",
        "repetition rate (repeated 3-grams)",
        |r| Some(r.metrics.repetition_rate),
    ),
    ("kl_baseline", "KL from the baseline (nats/token)", |r| {
        r.versus.kl_baseline
    }),
    (
        "js_baseline",
        "routing divergence from the baseline (JS)",
        |r| r.versus.js_baseline,
    ),
];

/// A swept parameter's name and each run's value as a label.
pub type Swept = (&'static str, Vec<String>);

/// A parameter's name and how to read a run's value of it.
type Param = (&'static str, fn(&RunResult) -> String);

/// Per (set, k): the MoE layers and the mean usage difference per layer and expert.
pub type UsageDiff = BTreeMap<(String, u32), (Vec<u16>, Vec<Vec<f64>>)>;

/// The parameters that take more than one value across `results`, with each run's value.
pub fn swept(results: &[RunResult]) -> Vec<Swept> {
    let all: [Param; 5] = [
        ("temperature", |r| r.spec.temperature.to_string()),
        ("top_p", |r| r.spec.top_p.to_string()),
        ("seed", |r| r.spec.seed.to_string()),
        ("experts_used", |r| r.spec.experts_used.to_string()),
        ("interventions", |r| r.spec.set.clone()),
    ];
    all.iter()
        .map(|(name, f)| (*name, results.iter().map(f).collect::<Vec<_>>()))
        .filter(|(_, v)| {
            let mut d = v.clone();
            d.sort();
            d.dedup();
            d.len() > 1
        })
        .collect()
}

/// The distinct values of a swept parameter in first-seen order, and each run's
/// (slot, metric) point.
pub fn metric_points(
    results: &[RunResult],
    values: &[String],
    metric: fn(&RunResult) -> Option<f64>,
) -> (Vec<String>, Vec<(usize, f64)>) {
    let mut labels: Vec<String> = Vec::new();
    for v in values {
        if !labels.contains(v) {
            labels.push(v.clone());
        }
    }
    let points = results
        .iter()
        .zip(values)
        .filter_map(|(r, v)| {
            let slot = labels.iter().position(|l| l == v)?;
            metric(r).filter(|y| y.is_finite()).map(|y| (slot, y))
        })
        .collect();
    (labels, points)
}

/// For each (set, k) group of runs with baseline runs: the mean over its runs of
/// (usage share - the baseline run's usage share), per MoE layer and expert.
pub fn usage_difference(results: &[RunResult]) -> UsageDiff {
    type Sum = (Vec<u16>, Vec<Vec<f64>>, usize);
    let mut sums: BTreeMap<(String, u32), Sum> = BTreeMap::new();
    for r in results {
        let Some(b) = r
            .spec
            .baseline
            .as_ref()
            .and_then(|id| results.iter().find(|x| &x.spec.id == id))
        else {
            continue;
        };
        if r.usage.layers.is_empty() || r.usage.layers != b.usage.layers {
            continue;
        }
        let e = sums
            .entry((r.spec.set.clone(), r.spec.experts_used))
            .or_insert_with(|| {
                let zero = r.usage.picks.iter().map(|p| vec![0.0; p.len()]).collect();
                (r.usage.layers.clone(), zero, 0)
            });
        for (i, row) in e.1.iter_mut().enumerate() {
            let (sr, sb) = (r.usage.shares(i), b.usage.shares(i));
            for (j, cell) in row.iter_mut().enumerate() {
                *cell += sr.get(j).copied().unwrap_or(0.0) - sb.get(j).copied().unwrap_or(0.0);
            }
        }
        e.2 += 1;
    }
    sums.into_iter()
        .map(|(key, (layers, mut rows, n))| {
            for v in rows.iter_mut().flatten() {
                *v /= n.max(1) as f64;
            }
            (key, (layers, rows))
        })
        .collect()
}

fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn layer_labels(layers: &[u16]) -> Vec<String> {
    layers.iter().map(|l| format!("L{l}")).collect()
}

/// Draw every plot into `dir/plots/`; returns the files written.
pub fn write_all(dir: &Path, results: &[RunResult]) -> Result<Vec<PathBuf>, String> {
    let plots = dir.join("plots");
    std::fs::create_dir_all(&plots)
        .map_err(|e| format!("cannot create {}: {e}", plots.display()))?;
    let mut written = Vec::new();
    for r in results.iter().filter(|r| !r.usage.layers.is_empty()) {
        let path = plots.join(format!("usage-{}.png", r.spec.id));
        let rows: Vec<Vec<f64>> = (0..r.usage.layers.len())
            .map(|i| r.usage.shares(i))
            .collect();
        let title = format!("expert usage · {} · {}", r.spec.id, r.spec.label());
        draw::heatmap(&path, &title, &layer_labels(&r.usage.layers), &rows, false)?;
        written.push(path);
    }
    for (param, values) in swept(results) {
        for (name, label, metric) in METRICS {
            let (labels, points) = metric_points(results, &values, *metric);
            if points.is_empty() {
                continue;
            }
            let path = plots.join(format!("{name}-vs-{param}.png"));
            let title = format!("{name} against {param}");
            draw::metric_chart(&path, &title, param, label, &labels, &points)?;
            written.push(path);
        }
    }
    for ((set, k), (layers, rows)) in usage_difference(results) {
        let path = plots.join(format!("usage-diff-{}-k{k}.png", file_safe(&set)));
        let title = format!("usage difference from the baseline · {set} · k {k}");
        draw::heatmap(&path, &title, &layer_labels(&layers), &rows, true)?;
        written.push(path);
    }
    Ok(written)
}
