//! Expert statistics as text (for a terminal), CSV (one row per MoE layer with the
//! balance scores) and JSON (everything). Token texts are sanitised for the terminal.

use std::fmt::Write;

use super::expert_stats::ExpertStats;
use crate::text::sanitize;

/// The columns of the CSV export, in order.
pub const STATS_COLUMNS: &[&str] = &[
    "layer",
    "tokens",
    "k",
    "n_expert",
    "usage_entropy",
    "usage_entropy_norm",
    "cv",
    "max_over_even",
    "never_used_share",
    "capacity_factor",
    "capacity",
    "dropped_assignments",
    "dropped_tokens",
    "dropped_share",
    "picks",
];

pub fn to_csv(s: &ExpertStats) -> String {
    let mut out = STATS_COLUMNS.join(",");
    out.push('\n');
    for l in &s.layers {
        let picks: Vec<String> = l.picks.iter().map(u32::to_string).collect();
        let _ = writeln!(
            out,
            "{},{},{},{},{:.6},{:.6},{:.6},{:.6},{:.6},{},{},{},{},{:.6},{}",
            l.layer,
            l.tokens,
            l.k,
            s.n_expert,
            l.usage_entropy,
            l.usage_entropy_norm,
            l.cv,
            l.max_over_even,
            l.never_used_share,
            l.capacity.factor,
            l.capacity.capacity,
            l.capacity.dropped_assignments,
            l.capacity.dropped_tokens,
            l.capacity.dropped_share,
            picks.join(" ")
        );
    }
    out
}

pub fn to_json(s: &ExpertStats) -> Result<String, String> {
    serde_json::to_string_pretty(s).map_err(|e| format!("cannot write the statistics as JSON: {e}"))
}

fn quoted(text: &str) -> String {
    format!("{:?}", sanitize(text))
}

/// A readable report: per layer the balance scores, the capacity drops, the busiest
/// experts with their most frequent tokens, and the pairs chosen together most often.
pub fn to_text(s: &ExpertStats) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} tokens, {} experts per MoE layer",
        s.tokens, s.n_expert
    );
    for l in &s.layers {
        let _ = writeln!(
            out,
            "\nlayer {} · {} tokens · k {} · usage entropy {:.3} nats ({:.0}% of even) · CV {:.2} · max/even {:.2} · never used {:.0}%",
            l.layer,
            l.tokens,
            l.k,
            l.usage_entropy,
            l.usage_entropy_norm * 100.0,
            l.cv,
            l.max_over_even,
            l.never_used_share * 100.0
        );
        let _ = writeln!(
            out,
            "  capacity factor {}: {} tokens per expert, {} tokens dropped ({:.1}%), {} assignments",
            l.capacity.factor,
            l.capacity.capacity,
            l.capacity.dropped_tokens,
            l.capacity.dropped_share * 100.0,
            l.capacity.dropped_assignments
        );
        let mut order: Vec<usize> = (0..l.picks.len()).collect();
        order.sort_by(|&a, &b| l.picks[b].cmp(&l.picks[a]).then(a.cmp(&b)));
        for &e in order.iter().take(4) {
            let tops: Vec<String> = l.top_tokens[e]
                .iter()
                .map(|t| format!("{} x{}", quoted(&t.text), t.count))
                .collect();
            let _ = writeln!(
                out,
                "  e{e:<3} {:>5} picks  {}",
                l.picks[e],
                tops.join("  ")
            );
        }
        let mut pairs: Vec<(u32, usize, usize)> = Vec::new();
        for a in 0..l.coactivation.len() {
            for b in a + 1..l.coactivation.len() {
                pairs.push((l.coactivation[a][b], a, b));
            }
        }
        pairs.sort_by(|x, y| y.0.cmp(&x.0).then((x.1, x.2).cmp(&(y.1, y.2))));
        let top: Vec<String> = pairs
            .iter()
            .filter(|p| p.0 > 0)
            .take(3)
            .map(|(n, a, b)| format!("e{a}+e{b} x{n}"))
            .collect();
        if !top.is_empty() {
            let _ = writeln!(out, "  chosen together most: {}", top.join("  "));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::expert_stats::RoutedToken;

    #[test]
    fn csv_has_the_documented_columns_and_text_is_sanitised() {
        let t = |text: &str, e: &[u16]| RoutedToken {
            token_id: 3,
            text: text.into(),
            n_expert: 4,
            layers: vec![(2, e.to_vec())],
        };
        let s = ExpertStats::compute(
            &[t("\u{1b}[31mx", &[0, 1]), t("\u{1b}[31mx", &[0, 2])],
            3,
            1.0,
        );
        let csv = to_csv(&s);
        let mut lines = csv.lines();
        assert_eq!(lines.next().unwrap(), STATS_COLUMNS.join(","));
        let row: Vec<&str> = lines.next().unwrap().split(',').collect();
        assert_eq!(row.len(), STATS_COLUMNS.len());
        assert_eq!((row[0], row[1], row[2], row[3]), ("2", "2", "2", "4"));
        assert_eq!(row[14], "2 1 1 0");
        let text = to_text(&s);
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(text.contains("e0+e1 x1"), "{text}");
        assert!(to_json(&s).unwrap().contains("\"coactivation\""));
    }
}
