//! `moe-tutor stats TRACE.jsonl`: expert statistics of a trace file, as a report or
//! exported as CSV / JSON.

use std::path::PathBuf;

use clap::Args;

use crate::routing::expert_stats::{ExpertStats, RoutedToken};
use crate::routing::stats_export::{to_csv, to_json, to_text};
use crate::routing::trace::read_trace;

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// A trace file (`run --trace FILE`, or an experiment's traces/RUN.jsonl)
    #[arg(value_name = "TRACE.jsonl")]
    pub trace: PathBuf,
    /// One CSV row per MoE layer (balance scores, capacity drops, picks per expert)
    #[arg(long, conflicts_with = "json")]
    pub csv: bool,
    /// Everything as JSON (co-activation and top tokens per expert included)
    #[arg(long)]
    pub json: bool,
    /// Capacity factor C: each expert takes at most ceil(C x tokens x k / experts) tokens
    #[arg(long, default_value_t = 1.0, value_name = "C")]
    pub capacity: f64,
    /// Tokens listed per expert
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub top_tokens: usize,
    /// Only the generated tokens (default: prompt and generated)
    #[arg(long)]
    pub generated_only: bool,
}

/// The command's output, or an error message.
pub fn stats(a: &StatsArgs) -> Result<String, String> {
    if !a.capacity.is_finite() || a.capacity <= 0.0 {
        return Err(format!(
            "the capacity factor must be above 0 (got {})",
            a.capacity
        ));
    }
    let text = std::fs::read_to_string(&a.trace)
        .map_err(|e| format!("cannot read {}: {e}", a.trace.display()))?;
    let records = read_trace(&text).map_err(|e| format!("{}: {e}", a.trace.display()))?;
    let tokens: Vec<RoutedToken> = records
        .iter()
        .filter(|r| !a.generated_only || r.phase == crate::routing::Phase::Generated)
        .map(RoutedToken::from_trace)
        .collect();
    if tokens.iter().all(|t| t.layers.is_empty()) {
        return Err(format!(
            "{} holds no routing (a dense model, or no tokens)",
            a.trace.display()
        ));
    }
    let s = ExpertStats::compute(&tokens, a.top_tokens, a.capacity);
    if a.csv {
        Ok(to_csv(&s))
    } else if a.json {
        to_json(&s)
    } else {
        Ok(to_text(&s))
    }
}
