//! The files of an experiment's folder: `grid.toml` (the exact grid, with the model's path
//! and sha256), `runs.jsonl` (one object per run, full detail), `runs.csv` (one row per
//! run) and `pairs.csv` (every pair of runs compared). Traces are in `traces/`, plots in
//! `plots/`.

use std::path::Path;

use super::compare::Pair;
use super::driver::RunResult;
use super::grid::Grid;
use crate::store::atomic::write_atomic;

/// The columns of `runs.csv`, in order (documented in the README).
pub const RUN_COLUMNS: &[&str] = &[
    "id",
    "temperature",
    "top_p",
    "seed",
    "experts_used",
    "interventions",
    "baseline",
    "stop",
    "tokens",
    "chars",
    "mean_entropy",
    "distinct_1",
    "distinct_2",
    "repetition_rate",
    "mean_sampled_prob",
    "mean_sampled_p_raw",
    "tokens_per_s",
    "wall_ms",
    "kl_baseline",
    "js_baseline",
    "shared_prefix_baseline",
    "overlap_baseline",
    "reply",
    "error",
];

/// sha256 of a file, as lowercase hex (the forge's own helper).
pub use crate::model::forge::sha256_file;

/// A CSV field: quoted when it holds a comma, quote or line break.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

fn run_row(r: &RunResult) -> Vec<String> {
    let m = &r.metrics;
    let f = |x: f64| format!("{x:.6}");
    vec![
        r.spec.id.clone(),
        r.spec.temperature.to_string(),
        r.spec.top_p.to_string(),
        r.spec.seed.to_string(),
        r.spec.experts_used.to_string(),
        csv_field(&r.spec.set),
        opt(r.spec.baseline.clone()),
        serde_json::to_value(r.stop)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        m.tokens.to_string(),
        m.chars.to_string(),
        f(m.mean_entropy),
        f(m.distinct_1),
        f(m.distinct_2),
        f(m.repetition_rate),
        f(m.mean_sampled_prob),
        f(m.mean_sampled_p_raw),
        format!("{:.1}", r.tokens_per_s),
        format!("{:.1}", r.wall_ms),
        opt(r.versus.kl_baseline.map(f)),
        opt(r.versus.js_baseline.map(f)),
        opt(r.versus.shared_prefix_baseline),
        opt(r.versus.overlap_baseline.map(f)),
        csv_field(&r.reply),
        csv_field(r.error.as_deref().unwrap_or_default()),
    ]
}

/// `runs.csv` as text.
pub fn runs_csv(results: &[RunResult]) -> String {
    let mut out = RUN_COLUMNS.join(",");
    out.push('\n');
    for r in results {
        out.push_str(&run_row(r).join(","));
        out.push('\n');
    }
    out
}

/// `pairs.csv` as text.
pub fn pairs_csv(pairs: &[Pair]) -> String {
    let mut out = String::from("a,b,js_distance,shared_prefix,bigram_jaccard\n");
    for p in pairs {
        out.push_str(&format!(
            "{},{},{},{},{:.6}\n",
            p.a,
            p.b,
            opt(p.js_distance.map(|x| format!("{x:.6}"))),
            p.shared_prefix,
            p.bigram_jaccard
        ));
    }
    out
}

/// `runs.jsonl` as text.
pub fn runs_jsonl(results: &[RunResult]) -> Result<String, String> {
    let mut out = String::new();
    for r in results {
        out.push_str(&serde_json::to_string(r).map_err(|e| format!("runs.jsonl: {e}"))?);
        out.push('\n');
    }
    Ok(out)
}

/// Read `runs.jsonl`.
pub fn read_runs(dir: &Path) -> Result<Vec<RunResult>, String> {
    let path = dir.join("runs.jsonl");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| format!("{} line {}: {e}", path.display(), i + 1))
        })
        .collect()
}

/// Read `grid.toml`.
pub fn read_grid(dir: &Path) -> Result<Grid, String> {
    let path = dir.join("grid.toml");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Grid::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn save(dir: &Path, name: &str, text: &str) -> Result<(), String> {
    write_atomic(&dir.join(name), text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", dir.join(name).display()))
}

/// Write `grid.toml`, `runs.jsonl`, `runs.csv` and `pairs.csv` into `dir`.
pub fn write_all(
    dir: &Path,
    grid: &Grid,
    results: &[RunResult],
    pairs: &[Pair],
) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    save(dir, "grid.toml", &grid.to_toml()?)?;
    save(dir, "runs.jsonl", &runs_jsonl(results)?)?;
    save(dir, "runs.csv", &runs_csv(results))?;
    save(dir, "pairs.csv", &pairs_csv(pairs))
}
