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
use crate::i18n::{tr, tr_with};
use crate::transcript::Role;

const INDENT: u16 = 2;

fn header(m: &Message, lang: &str) -> Line<'static> {
    let (name, style) = match m.role {
        Role::User => (
            "chat.you",
            Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
        ),
        Role::Assistant => (
            "chat.model",
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        ),
        Role::System => ("chat.system", DIM),
    };
    let mut spans = vec![Span::styled(tr(name, lang), style)];
    let note = match m.status {
        ReplyStatus::Complete => None,
        ReplyStatus::Streaming if m.content.is_empty() => Some(("chat.reading", DIM)),
        ReplyStatus::Streaming => Some(("chat.writing", DIM)),
        ReplyStatus::Stopped => Some(("chat.stopped", INFO)),
        ReplyStatus::MaxTokens => Some(("chat.max_tokens", INFO)),
        ReplyStatus::ContextFull => Some(("chat.context_full", ERROR)),
        ReplyStatus::Failed => Some(("chat.error", ERROR)),
    };
    if let Some((key, style)) = note {
        spans.push(Span::styled(" · ", DIM));
        spans.push(Span::styled(tr(key, lang), style));
    }
    if m.branch_count() > 1 {
        let (k, n) = (m.branch_index() + 1, m.branch_count());
        spans.push(Span::styled(
            tr_with("chat.branch", lang, &[("k", &k), ("n", &n)]),
            INFO,
        ));
    }
    if !m.tokens.is_empty() {
        let n = m.tokens.len();
        let key = match (m.role == Role::User, n == 1) {
            (true, true) => "chat.token_read",
            (true, false) => "chat.tokens_read",
            (false, true) => "chat.token_written",
            (false, false) => "chat.tokens_written",
        };
        spans.push(Span::styled(tr_with(key, lang, &[("n", &n)]), DIM));
    }
    Line::from(spans)
}

fn welcome(app: &App) -> Vec<Line<'static>> {
    let lang = app.lang().code();
    let state = if app.model().is_some() {
        "chat.ready"
    } else {
        "chat.loading"
    };
    ["chat.type", "chat.then", "chat.keys"].into_iter().fold(
        vec![Line::styled(tr(state, lang), DIM)],
        |mut v, k| {
            v.push(Line::styled(tr(k, lang), DIM));
            v
        },
    )
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
    let lang = app.lang().code();
    let mut out = Vec::new();
    for (i, m) in app.messages().iter().enumerate() {
        if i > 0 {
            out.push(Line::default());
        }
        out.push(header(m, lang));
        if m.role == Role::Assistant && m.content.is_empty() && m.status != ReplyStatus::Streaming {
            out.push(Line::styled(
                format!("{pad}{}", tr("chat.empty", lang)),
                DIM,
            ));
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
    let block = Block::bordered().title(Span::styled(
        tr("title.chat", app.lang().code()),
        super::palette::TITLE,
    ));
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
        block = block
            .title_top(Line::styled(tr("chat.more_above", app.lang().code()), DIM).right_aligned());
    }
    if top < max {
        block = block.title_bottom(
            Line::styled(tr("chat.more_below", app.lang().code()), INFO).right_aligned(),
        );
    }
    let visible: Vec<Line<'static>> = all.into_iter().skip(top).take(height).collect();
    Paragraph::new(visible).block(block).render(area, buf);
}
