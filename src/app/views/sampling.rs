//! The sampling pane: for a generated token, the candidates of the step that drew it,
//! raw and after-temperature probability bars, the top_p cut-off, and the draw. Candidates
//! are numbered for `/branch N`; a step where branches of the reply part is marked, with
//! what the other branches wrote there.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget, Wrap};
use unicode_width::UnicodeWidthStr;

use super::palette::{bar, CHOSEN, DIM, INFO, TITLE};
use super::strip::token_label;
use crate::app::{App, Message, TokenRef};
use crate::i18n::{tr, tr_with};
use crate::routing::Phase;
use crate::sampling::StepSnapshot;
use crate::transcript::TokenEvent;

const TEXT_W: usize = 12;

fn message(area: Rect, buf: &mut Buffer, block: Block, text: String) {
    Paragraph::new(Line::styled(text, DIM))
        .wrap(Wrap { trim: true })
        .block(block)
        .render(area, buf);
}

fn fit(s: &str, w: usize) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if out.width() + c.to_string().width() > w {
            break;
        }
        out.push(c);
    }
    let pad = w.saturating_sub(out.width());
    out.push_str(&" ".repeat(pad));
    out
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let lang = app.lang().code();
    let block = Block::bordered().title(Span::styled(tr("title.sampling", lang), TITLE));
    let Some((at, token)) = app.selected_token() else {
        return message(area, buf, block, tr("view.sampling_nothing_yet", lang));
    };
    if token.phase == Phase::Prompt {
        return message(
            area,
            buf,
            block,
            tr_with(
                "view.sampling_prompt_token",
                lang,
                &[("token", &format!("{:?}", token.text)), ("pos", &token.pos)],
            ),
        );
    }
    let Some(step) = token.step.as_ref() else {
        return message(area, buf, block, tr("view.sampling_no_snapshot", lang));
    };
    let inner = block.inner(area);
    block.render(area, buf);
    let mut out = branch_lines(app, at);
    out.extend(lines(app, token, step, inner, out.len()));
    Paragraph::new(out).render(inner, buf);
}

/// Where the reply's branches part at this step, and what the others wrote there.
fn branch_lines(app: &App, at: TokenRef) -> Vec<Line<'static>> {
    let Some(m) = app.messages().get(at.message) else {
        return Vec::new();
    };
    let lang = app.lang().code();
    let mut out = Vec::new();
    if m.split() == Some(at.token) {
        let (k, n) = (m.branch_index() + 1, m.branch_count());
        out.push(Line::styled(
            tr_with("sampling.split_here", lang, &[("k", &k), ("n", &n)]),
            INFO,
        ));
    }
    let others = others_here(m, at.token);
    if !others.is_empty() {
        let slot = app.layer_slot();
        let mut spans = vec![Span::styled(tr("sampling.other_branches", lang), INFO)];
        for (k, t) in others {
            spans.push(Span::styled(format!(" {k} "), DIM));
            spans.push(Span::styled(token_label(&t.text), Style::default()));
            // The experts that branch's token chose at the marked layer, beside the
            // routing pane's view of this branch's token.
            if let Some(v) = t.routing.as_ref().and_then(|r| r.layer(slot)) {
                let experts: Vec<String> = v.experts.iter().map(|e| format!("e{e}")).collect();
                spans.push(Span::styled(
                    format!(" L{} {}", v.layer, experts.join(" ")),
                    DIM,
                ));
            }
        }
        out.push(Line::from(spans));
    }
    out
}

/// The other branches that share this reply's tokens before step `i` and wrote another
/// token at it: (branch number, 1-based; its token).
fn others_here(m: &Message, i: usize) -> Vec<(usize, &TokenEvent)> {
    let Some(here) = m.tokens.get(i) else {
        return Vec::new();
    };
    m.other_branches()
        .filter_map(|(k, b)| {
            let t = b.tokens.get(i)?;
            let same_before = b.tokens[..i]
                .iter()
                .zip(&m.tokens[..i])
                .all(|(a, c)| a.token_id == c.token_id);
            (same_before && t.token_id != here.token_id).then_some((k + 1, t))
        })
        .collect()
}

fn lines(
    app: &App,
    token: &TokenEvent,
    step: &StepSnapshot,
    area: Rect,
    above: usize,
) -> Vec<Line<'static>> {
    let p = step.params;
    let lang = app.lang().code();
    let mut out = vec![
        Line::from(vec![
            Span::styled(tr("sampling.drew", lang), DIM),
            Span::styled(format!("{:?}", token.text), CHOSEN),
            Span::styled(
                tr_with(
                    "sampling.drew_p",
                    lang,
                    &[
                        ("p", &pct(step.chosen_prob)),
                        ("raw", &pct(step.chosen_p_raw)),
                        ("pos", &token.pos),
                    ],
                ),
                DIM,
            ),
        ]),
        Line::from(vec![
            Span::raw(format!(
                "T {:.2} · top_p {:.2} · seed {} · ",
                p.temperature, p.top_p, p.seed
            )),
            Span::styled(
                tr_with("sampling.nucleus", lang, &[("n", &step.nucleus_size)]),
                INFO,
            ),
        ]),
    ];
    let now = app.params();
    if (now.temperature, now.top_p) != (p.temperature, p.top_p) {
        out.push(Line::styled(
            tr_with(
                "sampling.settings_now",
                lang,
                &[
                    ("t", &format!("{:.2}", now.temperature)),
                    ("top_p", &format!("{:.2}", now.top_p)),
                ],
            ),
            DIM,
        ));
    }
    let width = area.width as usize;
    // "▶" + "nn " + text + " " + bar + " 100.0%" + "  " + bar + " 100.0%"
    let fixed = 4 + TEXT_W + 1 + 7 + 2 + 7;
    let bw = (width.saturating_sub(fixed) / 2).clamp(1, 30);
    out.push(Line::styled(
        format!(
            "  # {} {} {}",
            fit(&tr("sampling.col_token", lang), TEXT_W),
            fit(&tr("sampling.col_raw", lang), bw + 7),
            fit(&tr("sampling.col_after", lang), bw + 7)
        ),
        Style::new().add_modifier(Modifier::BOLD),
    ));
    let reserve = usize::from(step.nucleus_size > step.candidates.len())
        + usize::from(!step.candidates.iter().any(|c| c.token_id == step.chosen));
    let room = (area.height as usize).saturating_sub(out.len() + reserve + above);
    let mut rows = 0;
    let mut cum = 0.0f32;
    for (i, c) in step.candidates.iter().enumerate() {
        if rows + 1 >= room && i + 1 < step.candidates.len() {
            out.push(Line::styled(
                tr_with(
                    "sampling.more",
                    lang,
                    &[("n", &(step.candidates.len() - i))],
                ),
                DIM,
            ));
            break;
        }
        let chosen = c.token_id == step.chosen;
        let style = if chosen {
            CHOSEN
        } else if c.in_nucleus {
            Style::default()
        } else {
            DIM
        };
        let mark = if chosen { "▶" } else { " " };
        cum += c.p_temp;
        out.push(Line::from(vec![
            Span::styled(mark, CHOSEN),
            Span::styled(format!("{:>2} ", i + 1), DIM),
            Span::styled(fit(&token_label(&c.text), TEXT_W), style),
            Span::styled(
                format!(" {}{:>6.1}%", bar(c.p_raw, bw), c.p_raw * 100.0),
                style,
            ),
            Span::styled(
                format!("  {}{:>6.1}%", bar(c.p_temp, bw), c.p_temp * 100.0),
                style,
            ),
        ]));
        rows += 1;
        if i + 1 == step.nucleus_size && i + 1 < step.candidates.len() {
            let text = tr_with(
                "sampling.cut",
                lang,
                &[
                    ("top_p", &format!("{:.2}", p.top_p)),
                    ("mass", &format!("{:.0}", cum * 100.0)),
                    ("n", &step.nucleus_size),
                ],
            );
            let mut rule = fit(&text, width.saturating_sub(1)).trim_end().to_string();
            rule.push(' ');
            rule.push_str(&"─".repeat(width.saturating_sub(rule.width())));
            out.push(Line::styled(rule, INFO));
            rows += 1;
        }
    }
    if step.nucleus_size > step.candidates.len() {
        out.push(Line::styled(
            tr_with(
                "sampling.past_shown",
                lang,
                &[("n", &step.candidates.len())],
            ),
            INFO,
        ));
    }
    if !step.candidates.iter().any(|c| c.token_id == step.chosen) {
        out.push(Line::from(vec![
            Span::styled("▶ ", CHOSEN),
            Span::styled(format!("{:?}", token.text), CHOSEN),
            Span::styled(
                tr_with(
                    "sampling.below_top",
                    lang,
                    &[
                        ("n", &step.candidates.len()),
                        ("raw", &pct(step.chosen_p_raw)),
                    ],
                ),
                DIM,
            ),
        ]));
    }
    out
}

/// A probability as a percentage that stays readable when tiny.
fn pct(p: f32) -> String {
    match p {
        p if !p.is_finite() => "?".into(),
        p if p > 0.0 && p < 0.001 => "<0.1%".into(),
        p => format!("{:.1}%", p * 100.0),
    }
}
