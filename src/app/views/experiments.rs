//! The experiments overlay: the grid's form, the runs in flight, and the results side by
//! side (a column per run: settings, metrics, the reply wrapped). Pure: drawn from the
//! overlay's plain fields; the chart view is in `experiments_chart.rs`.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Gauge, Paragraph, Widget, Wrap};

use super::palette::{CHOSEN, DIM, ERROR, TITLE};
use crate::app::overlay::experiments::{Experiments, Phase};
use crate::app::overlay::experiments_form::Field;
use crate::experiments::RunResult;
use crate::i18n::{tr, tr_with};
use crate::text::sanitize;

/// Draw the overlay. `runs` is what the form would run (its count, or why not).
pub fn render(
    e: &Experiments,
    runs: &Result<usize, String>,
    lang: &str,
    area: Rect,
    buf: &mut Buffer,
) {
    // The overlay takes the whole main area: its columns need the width.
    Clear.render(area, buf);
    let block = Block::bordered()
        .title(tr("title.experiments", lang))
        .title_style(TITLE);
    let inner = block.inner(area);
    block.render(area, buf);
    match e.phase {
        Phase::Form => form(e, runs, lang, inner, buf),
        Phase::Running => running(e, lang, inner, buf),
        Phase::Measuring => {
            let line = Line::styled(tr("exp.measuring", lang), CHOSEN);
            Paragraph::new(line).render(inner, buf)
        }
        Phase::Results if e.chart => super::experiments_chart::render(e, lang, inner, buf),
        Phase::Results => results(e, lang, inner, buf),
    }
}

fn form(e: &Experiments, runs: &Result<usize, String>, lang: &str, area: Rect, buf: &mut Buffer) {
    let label_w = Field::ALL
        .iter()
        .map(|f| tr(f.label(), lang).chars().count())
        .max()
        .unwrap_or(0)
        + 2;
    let mut lines = Vec::new();
    for (i, f) in Field::ALL.iter().enumerate() {
        let focused = i == e.form.focus;
        let label = format!("{:<label_w$}", tr(f.label(), lang));
        let value = sanitize(e.form.value(*f));
        let mut spans = vec![
            Span::styled(if focused { "▶ " } else { "  " }, CHOSEN),
            Span::styled(label, if focused { CHOSEN } else { Style::new() }),
            Span::raw(value),
        ];
        if focused {
            spans.push(Span::styled("▏", CHOSEN));
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::default());
    lines.push(match runs {
        Ok(n) => Line::styled(tr_with("exp.run_count", lang, &[("n", n)]), CHOSEN),
        Err(why) => Line::styled(sanitize(why), ERROR),
    });
    lines.push(Line::styled(tr("exp.form_keys", lang), DIM));
    lines.push(Line::styled(tr("exp.sets_syntax", lang), DIM));
    if let Some(err) = &e.error {
        lines.push(Line::styled(sanitize(err), ERROR));
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(area, buf);
}

fn running(e: &Experiments, lang: &str, area: Rect, buf: &mut Buffer) {
    let p = &e.progress;
    let [head, bar, rest] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(area);
    let status = match p.reloading {
        Some(k) => tr_with("exp.reloading", lang, &[("k", &k)]),
        None => tr_with(
            "exp.progress",
            lang,
            &[
                ("i", &p.run),
                ("n", &p.total),
                ("t", &p.tokens),
                ("max", &p.max_tokens),
            ],
        ),
    };
    Paragraph::new(vec![Line::styled(status, CHOSEN)]).render(head, buf);
    let done = p.run.saturating_sub(1) as f64
        + (p.tokens as f64 / f64::from(p.max_tokens.max(1))).min(1.0);
    let ratio = (done / p.total.max(1) as f64).clamp(0.0, 1.0);
    Gauge::default()
        .gauge_style(CHOSEN)
        .ratio(ratio)
        .label(format!("{:.0}%", ratio * 100.0))
        .render(bar, buf);
    let mut lines = vec![
        Line::default(),
        Line::styled(tr("exp.cancel_keys", lang), DIM),
    ];
    if let Some(d) = &e.dir {
        lines.push(Line::styled(
            tr_with(
                "exp.folder",
                lang,
                &[("dir", &sanitize(&d.display().to_string()))],
            ),
            DIM,
        ));
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(rest, buf);
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |x| format!("{x:.3}"))
}

/// One run's column: settings, metrics, the reply.
fn column(r: &RunResult, lang: &str) -> Vec<Line<'static>> {
    let s = &r.spec;
    let m = &r.metrics;
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut out = vec![
        Line::styled(format!("{} · {}", s.id, sanitize(&s.set)), TITLE),
        Line::from(format!(
            "T {} · top_p {} · seed {}",
            s.temperature, s.top_p, s.seed
        )),
        Line::from(format!("k {}", s.experts_used)),
        Line::styled(
            format!(
                "{} {} · {} {:.2}",
                tr("exp.m.tokens", lang),
                m.tokens,
                tr("exp.m.entropy", lang),
                m.mean_entropy
            ),
            bold,
        ),
        Line::styled(
            format!(
                "distinct-2 {:.2} · KL {}",
                m.distinct_2,
                num(r.versus.kl_baseline)
            ),
            bold,
        ),
        Line::styled(format!("{:.1} tok/s", r.tokens_per_s), bold),
        Line::default(),
    ];
    match &r.error {
        Some(err) => out.push(Line::styled(sanitize(err), ERROR)),
        None => out.extend(
            sanitize(&r.reply)
                .lines()
                .map(|l| Line::from(l.to_string())),
        ),
    }
    out
}

/// Width of one run's column.
const COL_W: u16 = 28;

fn results(e: &Experiments, lang: &str, area: Rect, buf: &mut Buffer) {
    let [cols, foot] = Layout::vertical([Constraint::Min(1), Constraint::Length(3)]).areas(area);
    let n = e.results.len();
    let fit = (cols.width / COL_W).max(1) as usize;
    let first = e.col.min(n.saturating_sub(fit));
    let shown = &e.results[first.min(n)..(first + fit).min(n)];
    if shown.is_empty() {
        Paragraph::new(Line::styled(tr("exp.no_runs", lang), DIM)).render(cols, buf);
    }
    let w = if shown.is_empty() {
        COL_W
    } else {
        (cols.width / shown.len() as u16).max(1)
    };
    for (i, r) in shown.iter().enumerate() {
        let x = cols.x + i as u16 * w;
        let rect = Rect::new(x, cols.y, w.saturating_sub(1), cols.height);
        Paragraph::new(column(r, lang))
            .wrap(Wrap { trim: false })
            .scroll((e.row.min(u16::MAX as usize) as u16, 0))
            .render(rect, buf);
    }
    let mut lines = vec![Line::styled(
        tr_with(
            "exp.results_head",
            lang,
            &[
                ("from", &(first + 1)),
                ("to", &(first + shown.len())),
                ("n", &n),
            ],
        ) + if e.cancelled {
            tr("exp.cancelled", lang)
        } else {
            String::new()
        }
        .as_str(),
        CHOSEN,
    )];
    if let Some(d) = &e.dir {
        lines.push(Line::styled(
            tr_with(
                "exp.folder",
                lang,
                &[("dir", &sanitize(&d.display().to_string()))],
            ),
            DIM,
        ));
    }
    match &e.error {
        Some(err) => lines.push(Line::styled(sanitize(err), ERROR)),
        None => lines.push(Line::styled(tr("exp.results_keys", lang), DIM)),
    }
    Paragraph::new(lines).render(foot, buf);
}
