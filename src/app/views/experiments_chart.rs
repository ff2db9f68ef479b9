//! The experiments overlay's chart view: a metric against a swept parameter (every run a
//! dot, the mean per value a line; `m` and `p` cycle them), and the usage difference of an
//! intervention group from its baseline runs as a heatmap (layers x experts, red = chosen
//! more, blue = less; `s` cycles the group). Pure: drawn from the finished runs.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Paragraph, Widget};

use super::palette::{CHOSEN, DIM, TITLE};
use crate::app::overlay::experiments::Experiments;
use crate::experiments::plots::{metric_points, swept, usage_difference, METRICS};
use crate::i18n::{tr, tr_with};
use crate::text::sanitize;

pub fn render(e: &Experiments, lang: &str, area: Rect, buf: &mut Buffer) {
    let diffs = usage_difference(&e.results);
    let heat_h = diffs
        .values()
        .next()
        .map_or(0, |(layers, _)| layers.len() as u16 + 3)
        .min(area.height / 2);
    let [chart_area, heat_area, foot] = Layout::vertical([
        Constraint::Min(4),
        Constraint::Length(heat_h),
        Constraint::Length(1),
    ])
    .areas(area);
    metric_chart(e, lang, chart_area, buf);
    if heat_h > 0 {
        let (key, (layers, rows)) = diffs
            .iter()
            .nth(e.diff % diffs.len())
            .map(|(k, v)| (k.clone(), v.clone()))
            .unwrap_or_default();
        heatmap(&key, &layers, &rows, lang, heat_area, buf);
    }
    Paragraph::new(Line::styled(tr("exp.chart_keys", lang), DIM)).render(foot, buf);
}

fn metric_chart(e: &Experiments, lang: &str, area: Rect, buf: &mut Buffer) {
    let params = swept(&e.results);
    let (metric_name, _, metric) = METRICS[e.metric % METRICS.len()];
    let Some((param, values)) = params.get(e.param % params.len().max(1)) else {
        Paragraph::new(Line::styled(tr("exp.nothing_swept", lang), DIM)).render(area, buf);
        return;
    };
    let (labels, points) = metric_points(&e.results, values, metric);
    let dots: Vec<(f64, f64)> = points.iter().map(|&(x, y)| (x as f64, y)).collect();
    let means: Vec<(f64, f64)> = (0..labels.len())
        .filter_map(|slot| {
            let ys: Vec<f64> = points.iter().filter(|p| p.0 == slot).map(|p| p.1).collect();
            (!ys.is_empty()).then(|| (slot as f64, ys.iter().sum::<f64>() / ys.len() as f64))
        })
        .collect();
    let (lo, hi) = dots
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.1), hi.max(p.1))
        });
    let (lo, hi) = if lo.is_finite() {
        let pad = ((hi - lo) * 0.1).max(1e-3);
        (
            (lo - pad).max(if lo >= 0.0 { 0.0 } else { f64::MIN }),
            hi + pad,
        )
    } else {
        (0.0, 1.0)
    };
    let title = tr_with(
        "exp.chart_title",
        lang,
        &[("metric", &metric_name), ("param", param)],
    );
    let datasets = vec![
        Dataset::default()
            .name(tr("exp.chart_runs", lang))
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .style(Style::new().fg(Color::Yellow))
            .data(&dots),
        Dataset::default()
            .name(tr("exp.chart_mean", lang))
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::Cyan))
            .data(&means),
    ];
    let x_labels: Vec<Line> = labels.iter().map(|l| Line::from(sanitize(l))).collect();
    let n = labels.len().max(2) as f64;
    Chart::new(datasets)
        .block(ratatui::widgets::Block::new().title(Line::styled(title, TITLE)))
        .x_axis(
            Axis::default()
                .title(param.to_string())
                .bounds([-0.25, n - 0.75])
                .labels(x_labels),
        )
        .y_axis(Axis::default().title(metric_name).bounds([lo, hi]).labels([
            format!("{lo:.3}"),
            format!("{:.3}", (lo + hi) / 2.0),
            format!("{hi:.3}"),
        ]))
        .render(area, buf);
}

/// A signed share difference as a background colour: red for more, blue for less.
fn diff_color(v: f64, max: f64) -> Color {
    let t = (v.abs() / max.max(1e-9)).clamp(0.0, 1.0);
    let c = (40.0 + 215.0 * t) as u8;
    let dim = (40.0 * (1.0 - t)) as u8;
    if v >= 0.0 {
        Color::Rgb(c, dim, dim)
    } else {
        Color::Rgb(dim, dim, c)
    }
}

fn heatmap(
    key: &(String, u32),
    layers: &[u16],
    rows: &[Vec<f64>],
    lang: &str,
    area: Rect,
    buf: &mut Buffer,
) {
    let max = rows.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut lines = vec![Line::styled(
        tr_with(
            "exp.heat_title",
            lang,
            &[("set", &sanitize(&key.0)), ("k", &key.1)],
        ),
        TITLE,
    )];
    let n_expert = rows.first().map_or(0, Vec::len);
    let mut head = vec![Span::raw("      ")];
    head.extend((0..n_expert).map(|e| Span::styled(format!("{e:>3}"), DIM)));
    lines.push(Line::from(head));
    for (layer, row) in layers.iter().zip(rows) {
        let mut spans = vec![Span::styled(format!("L{layer:<4} "), DIM)];
        spans.extend(row.iter().map(|&v| {
            let mark = if v.abs() < 1e-9 { " · " } else { "   " };
            Span::styled(mark, Style::new().bg(diff_color(v, max)).fg(Color::Gray))
        }));
        lines.push(Line::from(spans));
    }
    lines.push(Line::from(vec![
        Span::styled("   ", Style::new().bg(diff_color(-max, max))),
        Span::styled(format!(" -{max:.2} "), DIM),
        Span::styled("   ", Style::new().bg(diff_color(max, max))),
        Span::styled(format!(" +{max:.2}  "), DIM),
        Span::styled(tr("exp.heat_legend", lang), CHOSEN),
    ]));
    Paragraph::new(lines).render(area, buf);
}
