//! The transcript: user and model messages, the model's replies rendered from markdown,
//! wrapped to the pane and scrolled (following the end unless the user scrolled up).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

use super::palette::{DIM, ERROR, INFO};
use super::wrap::wrap;
use crate::app::{App, Message, ReplyStatus, Scroll};
use crate::transcript::Role;

const INDENT: u16 = 2;

fn header(m: &Message) -> Line<'static> {
    let (name, style) = match m.role {
        Role::User => (
            "you",
            Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
        ),
        Role::Assistant => (
            "model",
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        ),
        Role::System => ("system", DIM),
    };
    let mut spans = vec![Span::styled(name, style)];
    let note = match m.status {
        ReplyStatus::Complete => None,
        ReplyStatus::Streaming if m.content.is_empty() => Some(("reading the prompt…", DIM)),
        ReplyStatus::Streaming => Some(("writing…", DIM)),
        ReplyStatus::Stopped => Some(("stopped", INFO)),
        ReplyStatus::MaxTokens => Some(("cut at max tokens", INFO)),
        ReplyStatus::ContextFull => Some(("context full", ERROR)),
        ReplyStatus::Failed => Some(("error", ERROR)),
    };
    if let Some((text, style)) = note {
        spans.push(Span::styled(" · ", DIM));
        spans.push(Span::styled(text, style));
    }
    if !m.tokens.is_empty() {
        let what = if m.role == Role::User {
            "read"
        } else {
            "written"
        };
        let n = m.tokens.len();
        let s = if n == 1 { "" } else { "s" };
        spans.push(Span::styled(format!(" · {n} token{s} {what}"), DIM));
    }
    Line::from(spans)
}

fn welcome(app: &App) -> Vec<Line<'static>> {
    let state = if app.model().is_some() {
        "The model is ready."
    } else {
        "The model is loading…"
    };
    vec![
        Line::styled(state.to_string(), DIM),
        Line::styled("Type a message and press Enter.", DIM),
        Line::styled(
            "Then pick a token with Alt+←/→ and watch which experts it went to.",
            DIM,
        ),
        Line::styled("F1 lists every key; /help too.", DIM),
    ]
}

/// Every row of the transcript at `width` columns.
pub fn lines(app: &App, width: u16) -> Vec<Line<'static>> {
    if app.messages().is_empty() {
        return welcome(app)
            .into_iter()
            .flat_map(|l| wrap(&l.into(), width))
            .collect();
    }
    let inner = width.saturating_sub(INDENT);
    let pad = " ".repeat(INDENT as usize);
    let mut out = Vec::new();
    for (i, m) in app.messages().iter().enumerate() {
        if i > 0 {
            out.push(Line::default());
        }
        out.push(header(m));
        if m.role == Role::Assistant && m.content.is_empty() && m.status != ReplyStatus::Streaming {
            out.push(Line::styled(format!("{pad}(empty reply)"), DIM));
        }
        for sl in &m.rendered {
            for mut row in wrap(sl, inner) {
                row.spans.insert(0, Span::raw(pad.clone()));
                out.push(row);
            }
        }
        if m.status == ReplyStatus::Streaming && !m.content.is_empty() {
            if let Some(last) = out.last_mut() {
                last.spans.push(Span::styled("▌", DIM));
            }
        }
    }
    out
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let block = Block::bordered().title(Span::styled(" chat ", super::palette::TITLE));
    let inner = block.inner(area);
    let all = lines(app, inner.width);
    let height = inner.height as usize;
    let max = all.len().saturating_sub(height);
    let top = match app.layout().scroll {
        Scroll::Follow => max,
        Scroll::FromTop(t) => t.min(max),
    };
    app.layout().chat_geometry.set((inner.height, max));
    let mut block = block;
    if top > 0 {
        block = block.title_top(Line::styled(" ↑ PgUp ", DIM).right_aligned());
    }
    if top < max {
        block = block.title_bottom(Line::styled(" ↓ PgDn (more below) ", INFO).right_aligned());
    }
    let visible: Vec<Line<'static>> = all.into_iter().skip(top).take(height).collect();
    Paragraph::new(visible).block(block).render(area, buf);
}
