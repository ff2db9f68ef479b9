//! The token strip: the tokens around the selection, each coloured by what the router did
//! in the chosen layer (its top expert, or how uncertain it was), with a legend.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};
use unicode_width::UnicodeWidthStr;

use super::palette::{entropy_color, expert_color, on, DIM, TITLE};
use crate::app::{App, StripMode, TokenRef};
use crate::i18n::{tr, tr_with};
use crate::routing::{LayerSummary, Phase};
use crate::transcript::TokenEvent;

/// Rows the strip takes: a title rule, the tokens, the selection marker, the legend.
pub const HEIGHT: u16 = 4;
const MAX_TOKEN_WIDTH: usize = 14;

/// How a token reads in the strip: visible whitespace, bounded width.
pub fn token_label(text: &str) -> String {
    if text.is_empty() {
        return "∅".into();
    }
    let mut s: String = text
        .chars()
        .map(|c| match c {
            ' ' => '·',
            '\n' => '⏎',
            c => c,
        })
        .collect();
    if s.width() > MAX_TOKEN_WIDTH {
        let mut cut = String::new();
        for c in s.chars() {
            if cut.width() + 1 >= MAX_TOKEN_WIDTH {
                break;
            }
            cut.push(c);
        }
        cut.push('…');
        s = cut;
    }
    s
}

/// The routing summary of a token in MoE layer slot `slot`, if it has one.
pub fn summary(token: &TokenEvent, slot: usize) -> Option<LayerSummary> {
    let view = token.routing.as_ref()?.layer(slot)?;
    view.computed.then(|| LayerSummary::of(&view))
}

/// The strip colour of a token: None = uncoloured (no routing, or not computed).
pub fn token_style(mode: StripMode, token: &TokenEvent, slot: usize) -> Style {
    match (summary(token, slot), mode) {
        (
            Some(LayerSummary {
                top_expert: Some(e),
                ..
            }),
            StripMode::TopExpert,
        ) => on(expert_color(e)),
        // A compacted older record has no probabilities, so no entropy to colour by.
        (Some(s), StripMode::Entropy)
            if !token.routing.as_ref().is_some_and(|r| r.is_compact()) =>
        {
            on(entropy_color(s.normalized_entropy))
        }
        _ if token.routing.is_some() => DIM,
        _ => Style::default(),
    }
}

fn prev(app: &App, r: TokenRef) -> Option<TokenRef> {
    if r.token > 0 {
        return Some(TokenRef {
            message: r.message,
            token: r.token - 1,
        });
    }
    let msgs = app.messages();
    (0..r.message)
        .rev()
        .find(|&i| !msgs[i].tokens.is_empty())
        .map(|i| TokenRef {
            message: i,
            token: msgs[i].tokens.len() - 1,
        })
}

fn next(app: &App, r: TokenRef) -> Option<TokenRef> {
    let msgs = app.messages();
    if r.token + 1 < msgs.get(r.message)?.tokens.len() {
        return Some(TokenRef {
            message: r.message,
            token: r.token + 1,
        });
    }
    (r.message + 1..msgs.len())
        .find(|&i| !msgs[i].tokens.is_empty())
        .map(|i| TokenRef {
            message: i,
            token: 0,
        })
}

/// The tokens that fit around the selection, selection roughly centred.
fn window(app: &App, sel: TokenRef, width: usize) -> Vec<TokenRef> {
    let cost = |r: TokenRef| app.token(r).map_or(1, |t| token_label(&t.text).width() + 1);
    let mut used = cost(sel);
    let mut left = Vec::new();
    let mut right = Vec::new();
    let (mut l, mut r) = (prev(app, sel), next(app, sel));
    while l.is_some() || r.is_some() {
        let before = left.len() + right.len();
        // Give the left side (what led here) a little more room than the right.
        for side in [true, true, false] {
            let cand = if side { l } else { r };
            if let Some(c) = cand {
                if used + cost(c) > width {
                    if side {
                        l = None
                    } else {
                        r = None
                    }
                    continue;
                }
                used += cost(c);
                if side {
                    left.push(c);
                    l = prev(app, c);
                } else {
                    right.push(c);
                    r = next(app, c);
                }
            }
        }
        if left.len() + right.len() == before && l.is_none() && r.is_none() {
            break;
        }
    }
    left.reverse();
    left.push(sel);
    left.extend(right);
    left
}

fn legend(app: &App, slot: usize, shown: &[TokenRef], layer_label: &str) -> Line<'static> {
    let Some(model) = app.model() else {
        return Line::styled(tr("view.waiting_model", app.lang().code()), DIM);
    };
    if !model.is_moe() {
        return Line::styled(tr("view.strip_dense", app.lang().code()), DIM);
    }
    let any_routing = shown
        .iter()
        .filter_map(|r| app.token(*r))
        .any(|t| t.routing.is_some());
    if !any_routing && !shown.is_empty() {
        let why = if app.config().capture {
            tr("view.strip_no_routing", app.lang().code())
        } else {
            tr("view.strip_capture_off", app.lang().code())
        };
        return Line::styled(why, DIM);
    }
    match app.strip_mode() {
        StripMode::TopExpert => {
            let mut experts: Vec<u16> = shown
                .iter()
                .filter_map(|r| app.token(*r))
                .filter_map(|t| summary(t, slot)?.top_expert)
                .collect();
            experts.sort_unstable();
            experts.dedup();
            let mut spans = vec![Span::styled(
                tr_with(
                    "strip.legend_top",
                    app.lang().code(),
                    &[("layer", &layer_label)],
                ),
                DIM,
            )];
            spans.extend(experts.into_iter().flat_map(|e| {
                [
                    Span::styled(format!("e{e}"), on(expert_color(e))),
                    Span::raw(" "),
                ]
            }));
            Line::from(spans)
        }
        StripMode::Entropy => {
            let mut spans = vec![Span::styled(
                tr_with(
                    "strip.legend_entropy",
                    app.lang().code(),
                    &[("layer", &layer_label)],
                ),
                DIM,
            )];
            spans.extend((0..8).map(|i| Span::styled(" ", on(entropy_color(i as f32 / 7.0)))));
            spans.push(Span::styled(tr("strip.uncertain", app.lang().code()), DIM));
            Line::from(spans)
        }
    }
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let slot = app.layer_slot();
    let sel = app.selected();
    let layer_label = sel
        .and_then(|r| app.token(r))
        .and_then(|t| t.routing.as_ref())
        .and_then(|r| r.layers.get(slot).copied())
        .map(|l| format!("L{l}"))
        .or_else(|| {
            app.model()
                .filter(|m| m.is_moe())
                .map(|m| format!("L{}", m.n_dense_lead as usize + slot))
        })
        .unwrap_or_else(|| "-".into());
    let lang = app.lang().code();
    let mode = match app.strip_mode() {
        StripMode::TopExpert => tr("strip.mode_top", lang),
        StripMode::Entropy => tr("strip.mode_entropy", lang),
    };
    let follow = if app.is_following() {
        tr("strip.following", lang)
    } else {
        String::new()
    };
    let tokens_word = tr("strip.tokens", lang);
    let title = if app.model().is_some_and(|m| !m.is_moe()) {
        format!(" {tokens_word}{follow} ")
    } else {
        format!(" {tokens_word} · {layer_label} · {mode}{follow} ")
    };
    let block = Block::new()
        .borders(Borders::TOP)
        .title(Span::styled(title, TITLE));
    let inner = block.inner(area);
    block.render(area, buf);
    let Some(sel) = sel else {
        let l = Line::styled(tr("view.strip_no_tokens", app.lang().code()), DIM);
        Paragraph::new(l).render(inner, buf);
        return;
    };
    let width = inner.width as usize;
    let shown = window(app, sel, width);
    let mut tokens = Vec::new();
    let mut marker = String::new();
    let mut last_msg = None;
    for r in &shown {
        let Some(t) = app.token(*r) else { continue };
        let label = token_label(&t.text);
        let sep = if last_msg.is_some_and(|m| m != r.message) {
            "│"
        } else {
            " "
        };
        if last_msg.is_some() {
            tokens.push(Span::styled(sep, DIM));
            marker.push(' ');
        }
        last_msg = Some(r.message);
        let mut style = token_style(app.strip_mode(), t, slot);
        let w = label.width();
        if *r == sel {
            style = style.add_modifier(Modifier::BOLD | Modifier::UNDERLINED | Modifier::REVERSED);
            marker.push_str(&"▔".repeat(w));
        } else {
            marker.push_str(&" ".repeat(w));
        }
        tokens.push(Span::styled(label, style));
    }
    let sel_tok = app.token(sel);
    let about = sel_tok.map_or(String::new(), |t| {
        let phase = if t.phase == Phase::Prompt {
            tr("view.phase_prompt", lang)
        } else {
            tr("view.phase_generated", lang)
        };
        tr_with("strip.about", lang, &[("pos", &t.pos), ("phase", &phase)])
    });
    let marker = marker.trim_end().to_string();
    let marker_line = if marker.width() + about.width() <= width {
        Line::from(vec![Span::styled(marker, TITLE), Span::styled(about, DIM)])
    } else {
        Line::styled(marker, TITLE)
    };
    let lines = vec![
        Line::from(tokens),
        marker_line,
        legend(app, slot, &shown, &layer_label),
    ];
    Paragraph::new(lines).render(inner, buf);
}
