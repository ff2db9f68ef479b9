//! The expert statistics pane (`/stats`): for the whole conversation, each MoE layer's
//! usage per expert (one bar glyph per expert), its balance scores (usage entropy over
//! even, coefficient of variation, busiest over even, never-used share) and the tokens a
//! capacity limit of factor C would drop; for the layer the cursor marks, the expert pairs
//! chosen together most often against what independent choices would give, and the tokens
//! the busiest experts handle most. Pure: it reads the statistics the conversation keeps.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget, Wrap};
use unicode_width::UnicodeWidthStr;

use super::palette::{expert_color, CHOSEN, DIM, INFO, TITLE};
use super::strip::token_label;
use crate::app::App;
use crate::i18n::{tr, tr_with};
use crate::routing::expert_stats::{ExpertStats, LayerStats};

/// Columns of the layer table: the layer label, then each score right-aligned.
const LAYER_W: usize = 6;
const COL: usize = 7;

fn right(s: &str, w: usize) -> String {
    format!("{}{s}", " ".repeat(w.saturating_sub(s.width())))
}

fn left(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(s.width())))
}

const BARS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let lang = app.lang().code();
    let block = Block::bordered().title(Span::styled(tr("stats.title", lang), TITLE));
    let Some(stats) = app.conversation().expert_stats() else {
        Paragraph::new(Line::styled(tr("stats.empty", lang), DIM))
            .wrap(Wrap { trim: true })
            .block(block)
            .render(area, buf);
        return;
    };
    let inner = block.inner(area);
    block.render(area, buf);
    let slot = app.layer_slot().min(stats.layers.len().saturating_sub(1));
    Paragraph::new(lines(app, &stats, slot, inner.width as usize))
        .wrap(Wrap { trim: false })
        .render(inner, buf);
}

/// Usage per expert as one glyph each (experts grouped when they do not fit `width`).
fn usage_bar(picks: &[u32], width: usize) -> Vec<Span<'static>> {
    let width = width.max(1);
    let per = picks.len().div_ceil(width).max(1);
    let groups: Vec<(usize, u32)> = picks
        .chunks(per)
        .enumerate()
        .map(|(i, c)| (i * per, c.iter().copied().max().unwrap_or(0)))
        .collect();
    let max = groups.iter().map(|g| g.1).max().unwrap_or(0).max(1);
    groups
        .into_iter()
        .map(|(e, n)| {
            let level = ((n as f64 / max as f64) * 8.0).ceil() as usize;
            let glyph = if n == 0 {
                '·'
            } else {
                BARS[level.clamp(1, 8)]
            };
            Span::styled(glyph.to_string(), Style::new().fg(expert_color(e as u16)))
        })
        .collect()
}

fn layer_row(l: &LayerStats, bar_w: usize, usage_w: usize, marked: bool) -> Line<'static> {
    let style = if marked { CHOSEN } else { Style::default() };
    let mut spans = vec![Span::styled(
        format!("{}L{:<4}", if marked { "▶" } else { " " }, l.layer),
        style,
    )];
    let bars = usage_bar(&l.picks, bar_w);
    let pad = usage_w.saturating_sub(bars.len());
    spans.extend(bars);
    spans.push(Span::raw(" ".repeat(pad)));
    let cells = [
        format!("{:.0}%", l.usage_entropy_norm * 100.0),
        format!("{:.2}", l.cv),
        format!("{:.2}", l.max_over_even),
        format!("{:.0}%", l.never_used_share * 100.0),
        format!("{}", l.capacity.dropped_tokens),
        format!("{:.0}%", l.capacity.dropped_share * 100.0),
    ];
    let text: String = cells.iter().map(|c| right(c, COL)).collect();
    spans.push(Span::styled(text, style));
    Line::from(spans)
}

fn lines(app: &App, s: &ExpertStats, slot: usize, width: usize) -> Vec<Line<'static>> {
    let lang = app.lang().code();
    let c = app.conversation().stats_capacity();
    let k = s.layers.first().map_or(0, |l| l.k);
    let mut out = vec![
        Line::styled(
            tr_with(
                "stats.header",
                lang,
                &[("t", &s.tokens), ("e", &s.n_expert), ("k", &k)],
            ),
            DIM,
        ),
        Line::styled(
            tr_with(
                "stats.capacity",
                lang,
                &[
                    ("c", &c),
                    ("cap", &s.layers.first().map_or(0, |l| l.capacity.capacity)),
                ],
            ),
            INFO,
        ),
    ];
    // "▶L12  " + bars + six columns
    let fixed = LAYER_W + 6 * COL;
    let bar_w = width.saturating_sub(fixed).clamp(4, s.n_expert.max(4));
    let shown = usage_bar(&s.layers.first().map_or(vec![], |l| l.picks.clone()), bar_w).len();
    let usage_label = tr("stats.col_usage", lang);
    let usage_w = shown.max(usage_label.width());
    let header = [
        left(&tr("stats.col_layer", lang), LAYER_W),
        left(&usage_label, usage_w),
        right("H/even", COL),
        right("CV", COL),
        right("max/e", COL),
        right(&tr("stats.col_unused", lang), COL),
        right(&tr("stats.col_dropped", lang), 2 * COL),
    ];
    out.push(Line::styled(
        header.concat(),
        Style::new().add_modifier(ratatui::style::Modifier::BOLD),
    ));
    for (i, l) in s.layers.iter().enumerate() {
        out.push(layer_row(l, bar_w, usage_w, i == slot));
    }
    let Some(l) = s.layers.get(slot) else {
        return out;
    };
    out.push(Line::default());
    out.push(Line::styled(
        tr_with("stats.pairs", lang, &[("layer", &l.layer)]),
        TITLE,
    ));
    let mut pair_spans = Vec::new();
    for (n, a, b) in top_pairs(l, 4) {
        let expected = l.picks[a] as f64 * l.picks[b] as f64 / l.tokens.max(1) as f64;
        pair_spans.push(Span::styled(format!("  e{a}+e{b} "), Style::default()));
        pair_spans.push(Span::styled(format!("{n}"), CHOSEN));
        pair_spans.push(Span::styled(format!(" ({expected:.1})"), DIM));
    }
    out.push(Line::from(pair_spans));
    out.push(Line::styled(
        tr_with("stats.busiest", lang, &[("layer", &l.layer)]),
        TITLE,
    ));
    let mut order: Vec<usize> = (0..l.picks.len()).collect();
    order.sort_by(|&a, &b| l.picks[b].cmp(&l.picks[a]).then(a.cmp(&b)));
    for &e in order.iter().take(4).filter(|&&e| l.picks[e] > 0) {
        let mut spans = vec![
            Span::styled(
                format!("  e{e:<3}"),
                Style::new().fg(expert_color(e as u16)),
            ),
            Span::styled(format!("{:>5} ", l.picks[e]), DIM),
        ];
        for t in l.top_tokens.get(e).into_iter().flatten() {
            spans.push(Span::raw(format!(" {}", token_label(&t.text))));
            spans.push(Span::styled(format!("×{}", t.count), DIM));
        }
        out.push(Line::from(spans));
    }
    let folded = app.conversation().budget().folded().tokens();
    if folded > 0 {
        out.push(Line::styled(
            tr_with("stats.folded", lang, &[("n", &folded)]),
            DIM,
        ));
    }
    out
}

/// The `n` expert pairs chosen together most often: (count, a, b), a < b.
fn top_pairs(l: &LayerStats, n: usize) -> Vec<(u32, usize, usize)> {
    let mut pairs = Vec::new();
    for a in 0..l.coactivation.len() {
        for b in a + 1..l.coactivation[a].len() {
            if l.coactivation[a][b] > 0 {
                pairs.push((l.coactivation[a][b], a, b));
            }
        }
    }
    pairs.sort_by(|x, y| y.0.cmp(&x.0).then((x.1, x.2).cmp(&(y.1, y.2))));
    pairs.truncate(n);
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_group_experts_that_do_not_fit() {
        let picks: Vec<u32> = (0..16).collect();
        assert_eq!(usage_bar(&picks, 16).len(), 16);
        let grouped = usage_bar(&picks, 5);
        assert_eq!(grouped.len(), 4, "16 experts in groups of 4");
        assert_eq!(grouped[3].content, "█");
        assert_eq!(usage_bar(&[0, 4], 8)[0].content, "·");
    }
}
