//! The first-run preparation view: the step list with the running step marked, the
//! download's progress bar with bytes, rate and time left, the time so far, pip's last
//! line; after a failure or a cancel, why, and the ways forward. Drawn beside the lesson
//! (over the routing and sampling panes when wide, over the chat column when narrow).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

use super::palette::{self, CHOSEN, DIM, ERROR, TITLE};
use crate::app::prep::{Phase, Prep, Row};
use crate::app::App;
use crate::i18n::{tr, tr_with};
use crate::model::acquire::{AcquireError, Step, Transfer};

fn row_label(row: Row, lang: &str) -> String {
    match row {
        Row::Step(Step::FetchTeacher) => tr("prep.step_fetch", lang),
        Row::Step(Step::CheckHash) => tr("prep.step_hash", lang),
        Row::Step(Step::Unpack) => tr("prep.step_unpack", lang),
        Row::Step(Step::Forge) => tr("prep.step_forge", lang),
        Row::Step(Step::Verify) => tr("prep.step_verify", lang),
        Row::Load => tr("prep.step_load", lang),
    }
}

/// One step as a mark and its label: done, running (or where it stopped), or to come.
fn step_span(p: &Prep, row: Row, lang: &str) -> Span<'static> {
    let label = row_label(row, lang);
    if p.is_finished(row) {
        Span::styled(
            format!("✓ {label}"),
            Style::new().fg(ratatui::style::Color::Green),
        )
    } else if p.current == Some(row) {
        match p.phase {
            Phase::Failed(_) => Span::styled(format!("✗ {label}"), ERROR),
            Phase::Cancelled => Span::styled(format!("■ {label}"), CHOSEN),
            _ => Span::styled(format!("▶ {label}"), CHOSEN),
        }
    } else {
        Span::styled(format!("· {label}"), DIM)
    }
}

fn mb(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1e6)
}

/// "[████▌     ] 45.1 / 92.9 MB · 3.2 MB/s · 15 s left".
fn transfer_lines(t: &Transfer, width: u16, lang: &str) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let mut text = match t.total {
        Some(n) => tr_with(
            "prep.bytes_of",
            lang,
            &[("done", &mb(t.bytes)), ("total", &mb(n))],
        ),
        None => tr_with("prep.bytes", lang, &[("done", &mb(t.bytes))]),
    };
    if t.rate > 0.0 {
        text.push_str(" · ");
        text.push_str(&tr_with(
            "prep.rate",
            lang,
            &[("rate", &format!("{:.2}", t.rate / 1e6))],
        ));
    }
    if let Some(eta) = t.eta_secs.filter(|e| *e >= 0.5) {
        text.push_str(" · ");
        text.push_str(&tr_with(
            "prep.eta",
            lang,
            &[("secs", &(eta.ceil() as u64))],
        ));
    }
    if let Some(total) = t.total.filter(|n| *n > 0) {
        let w = usize::from(width.saturating_sub(12)).clamp(10, 40);
        let frac = (t.bytes as f64 / total as f64) as f32;
        out.push(Line::from(vec![
            Span::raw("["),
            Span::styled(palette::bar(frac, w), CHOSEN),
            Span::raw(format!("] {:>3.0}%", 100.0 * frac.clamp(0.0, 1.0))),
        ]));
    }
    out.push(Line::raw(text));
    out
}

fn why(e: &AcquireError, lang: &str) -> String {
    match e {
        AcquireError::PipMissing => tr("prep.pip_missing", lang),
        AcquireError::PipFailed(m) => tr_with("prep.pip_failed", lang, &[("why", m)]),
        AcquireError::HashMismatch(m) | AcquireError::Other(m) => m.clone(),
        AcquireError::Cancelled => tr("prep.cancelled", lang),
    }
}

fn ways_forward(out: &mut Vec<Line<'static>>, lang: &str) {
    out.push(Line::styled(
        tr("prep.ways", lang),
        Style::new().add_modifier(Modifier::BOLD),
    ));
    for (cmd, key) in [
        ("moe-tutor --model PATH.gguf", "prep.way_model"),
        (
            "moe-tutor model forge --teacher SmolLM2-135M-Instruct.Q4_1.gguf",
            "prep.way_forge",
        ),
        (
            "moe-tutor model tiny --out tiny-moe.gguf && moe-tutor --model tiny-moe.gguf",
            "prep.way_tiny",
        ),
    ] {
        out.push(Line::from(vec![Span::raw("• "), Span::styled(cmd, CHOSEN)]));
        out.push(Line::styled(format!("  {}", tr(key, lang)), DIM));
    }
}

fn lines(p: &Prep, width: u16, tall: bool, lang: &str) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    if tall {
        out.extend(Row::ALL.iter().map(|r| Line::from(step_span(p, *r, lang))));
    } else {
        // Short of rows: the steps on two lines, three a line.
        for half in Row::ALL.chunks(3) {
            let mut spans = Vec::new();
            for r in half {
                if !spans.is_empty() {
                    spans.push(Span::raw("  "));
                }
                spans.push(step_span(p, *r, lang));
            }
            out.push(Line::from(spans));
        }
    }
    out.push(Line::default());
    match &p.phase {
        Phase::Running | Phase::Cancelling => {
            if let Some(t) = &p.transfer {
                if p.current == Some(Row::Step(Step::FetchTeacher)) {
                    out.extend(transfer_lines(t, width, lang));
                }
            }
            let secs = p.elapsed_secs;
            out.push(Line::styled(
                tr_with(
                    "prep.elapsed",
                    lang,
                    &[("time", &format!("{}:{:02}", secs / 60, secs % 60))],
                ),
                DIM,
            ));
            if let Some(l) = &p.pip_line {
                out.push(Line::styled(format!("pip: {l}"), DIM));
            }
            out.push(Line::default());
            let key = if p.phase == Phase::Cancelling {
                "prep.cancelling"
            } else {
                "prep.keys_running"
            };
            out.push(Line::styled(tr(key, lang), CHOSEN));
        }
        Phase::Loading => out.push(Line::raw(tr("prep.loading", lang))),
        Phase::Cancelled | Phase::Failed(_) => {
            let (text, style) = match &p.phase {
                Phase::Failed(e) => (why(e, lang), ERROR),
                _ => (
                    tr_with(
                        "prep.cancelled_kept",
                        lang,
                        &[(
                            "dir",
                            &crate::text::sanitize(&p.cache_dir.display().to_string()),
                        )],
                    ),
                    CHOSEN,
                ),
            };
            out.push(Line::styled(crate::text::sanitize(&text), style));
            out.push(Line::default());
            ways_forward(&mut out, lang);
            out.push(Line::default());
            out.push(Line::styled(tr("prep.keys_stopped", lang), CHOSEN));
        }
    }
    out
}

/// Draw the preparation into `area`.
pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let Some(p) = app.prep() else { return };
    if area.width < 4 || area.height < 3 {
        return;
    }
    let lang = app.lang().code();
    Clear.render(area, buf);
    let block = Block::bordered().title(Span::styled(tr("prep.title", lang), TITLE));
    let inner = block.inner(area);
    let tall = inner.height >= 16;
    Paragraph::new(lines(p, inner.width, tall, lang))
        .wrap(Wrap { trim: false })
        .block(block)
        .render(area, buf);
}
