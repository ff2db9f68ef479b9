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

mod rows;

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
    let mut lines = ["chat.type", "chat.then", "chat.keys"].into_iter().fold(
        vec![Line::styled(tr(state, lang), DIM)],
        |mut v, k| {
            v.push(Line::styled(tr(k, lang), DIM));
            v
        },
    );
    // A real MoE one command away: the smallest curated model.
    if let Some(o) = crate::model::pull::curated_offers(lang).into_iter().next() {
        lines.push(Line::styled(
            tr_with(
                "pull.welcome",
                lang,
                &[("offer", &o.label), ("name", &o.name)],
            ),
            DIM,
        ));
    }
    lines
}

/// A run of transcript rows: one built this frame, or a message's cached wrapped rows.
enum Piece {
    Row(Line<'static>),
    /// A message's rows: its key in the row cache and how many there are.
    Message(rows::Key, usize),
    /// The streaming reply's cursor, at the end of the row before it.
    Cursor,
}

impl Piece {
    fn len(&self) -> usize {
        match self {
            Piece::Row(_) => 1,
            Piece::Message(_, n) => *n,
            Piece::Cursor => 0,
        }
    }
}

/// The transcript at `width` columns as pieces; wraps only lines changed since a recent
/// frame wrapped them.
fn pieces(app: &App, width: u16, frame: &mut rows::Frame) -> Vec<Piece> {
    if app.messages().is_empty() {
        return welcome(app)
            .into_iter()
            .flat_map(|l| wrap(&l.into(), width))
            .map(Piece::Row)
            .collect();
    }
    let lang = app.lang().code();
    let mut out = Vec::new();
    for (i, m) in app.messages().iter().enumerate() {
        if i > 0 {
            out.push(Piece::Row(Line::default()));
        }
        out.push(Piece::Row(header(m, lang)));
        if m.role == Role::Assistant && m.content.is_empty() && m.status != ReplyStatus::Streaming {
            let pad = " ".repeat(INDENT as usize);
            out.push(Piece::Row(Line::styled(
                format!("{pad}{}", tr("chat.empty", lang)),
                DIM,
            )));
        }
        let (key, n) = frame.message(m.id, &m.rendered, width, INDENT);
        out.push(Piece::Message(key, n));
        if m.status == ReplyStatus::Streaming && !m.content.is_empty() {
            out.push(Piece::Cursor);
        }
    }
    out
}

/// Rows `from..from + take` of the pieces, the only rows copied.
fn slice(frame: &rows::Frame, pieces: &[Piece], from: usize, take: usize) -> Vec<Line<'static>> {
    let end = from.saturating_add(take);
    let mut out: Vec<Line<'static>> = Vec::with_capacity(take.min(1024));
    let mut at = 0usize;
    for p in pieces {
        let n = p.len();
        match p {
            Piece::Cursor if at > from && at <= end => {
                if let Some(last) = out.last_mut() {
                    last.spans.push(Span::styled("▌", DIM));
                }
            }
            Piece::Row(r) if at >= from && at < end => out.push(r.clone()),
            Piece::Message(key, _) if at + n > from && at < end => {
                frame.copy_rows(*key, from.saturating_sub(at), end - at, &mut out);
            }
            _ => {}
        }
        at += n;
        // Past the window: a cursor after this piece would mark a row not drawn.
        if at > end {
            break;
        }
    }
    out
}

/// Every row of the transcript at `width` columns.
pub fn lines(app: &App, width: u16) -> Vec<Line<'static>> {
    let mut frame = rows::Frame::begin();
    let all = pieces(app, width, &mut frame);
    slice(&frame, &all, 0, usize::MAX)
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let block = Block::bordered().title(Span::styled(
        tr("title.chat", app.lang().code()),
        super::palette::TITLE,
    ));
    let inner = block.inner(area);
    let mut frame = rows::Frame::begin();
    let all = pieces(app, inner.width, &mut frame);
    let total: usize = all.iter().map(Piece::len).sum();
    let height = inner.height as usize;
    let max = total.saturating_sub(height);
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
    let visible = slice(&frame, &all, top, height);
    Paragraph::new(visible).block(block).render(area, buf);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::synthetic_app;

    /// The transcript wrapped line by line, with nothing kept between frames.
    fn fresh(app: &App, width: u16) -> Vec<Line<'static>> {
        let lang = app.lang().code();
        let pad = " ".repeat(INDENT as usize);
        let mut out = Vec::new();
        for (i, m) in app.messages().iter().enumerate() {
            if i > 0 {
                out.push(Line::default());
            }
            out.push(header(m, lang));
            for sl in m.rendered.lines() {
                for mut row in wrap(sl, width - INDENT) {
                    row.spans.insert(0, Span::raw(pad.clone()));
                    out.push(row);
                }
            }
        }
        out
    }

    #[test]
    fn kept_rows_are_the_rows_a_fresh_wrap_gives() {
        let app = synthetic_app(2, 8, 300);
        for width in [20, 57, 80] {
            assert_eq!(lines(&app, width), fresh(&app, width), "width {width}");
        }
    }

    #[test]
    fn a_second_frame_wraps_nothing_and_a_new_width_wraps_again() {
        let app = synthetic_app(3, 8, 120);
        lines(&app, 61);
        let before = rows::wrapped_so_far();
        lines(&app, 61);
        assert_eq!(rows::wrapped_so_far(), before);
        lines(&app, 62);
        assert!(rows::wrapped_so_far() > before);
        // Rows of old widths are dropped once they outnumber the ones in use.
        let before = rows::wrapped_so_far();
        for w in 20..120 {
            lines(&app, w);
        }
        let wrapped = rows::wrapped_so_far() - before;
        let held = rows::held() as u64;
        assert!(wrapped > 300 && held < wrapped, "{held} of {wrapped}");
    }

    #[test]
    fn edited_lines_are_wrapped_again_and_only_they() {
        let mut app = synthetic_app(2, 8, 200);
        let width = 47;
        let text = |n: usize| -> Vec<crate::text::markdown::StyledLine> {
            (0..n)
                .map(|i| {
                    let l =
                        format!("line {i}: 专家 experts route tokens, a row long enough to wrap");
                    crate::text::markdown::StyledLine::plain(l, DIM)
                })
                .collect()
        };
        let last = app.chat.messages.len() - 1;
        for at in [1, last] {
            app.chat.messages[at].rendered.set(text(8));
        }
        assert_eq!(lines(&app, width), fresh(&app, width));
        // A finished message's lines replaced (a branch switch, a reopened transcript):
        // the same message id, new text.
        let m = &mut app.chat.messages[1];
        let mut new = m.rendered.lines().to_vec();
        new[3] = crate::text::markdown::StyledLine::plain("edited 中文 line", DIM);
        new.truncate(new.len() - 2);
        m.rendered.set(new);
        let before = rows::wrapped_so_far();
        assert_eq!(lines(&app, width), fresh(&app, width));
        assert_eq!(rows::wrapped_so_far() - before, 6);
        // A streaming-style edit of the last lines of the last message: only the lines
        // from the first changed one are wrapped again.
        let m = &mut app.chat.messages[last];
        let n = m.rendered.len();
        let mut tail: Vec<_> = m.rendered.lines()[n - 2..].to_vec();
        tail[1] = crate::text::markdown::StyledLine::plain("a new last line", DIM);
        tail.push(crate::text::markdown::StyledLine::plain(
            "and one more",
            DIM,
        ));
        m.rendered.sync_from(n - 2, tail.iter());
        let before = rows::wrapped_so_far();
        assert_eq!(lines(&app, width), fresh(&app, width));
        assert_eq!(rows::wrapped_so_far() - before, 2);
        // Another width: wrapped again, and right.
        assert_eq!(lines(&app, 30), fresh(&app, 30));
    }

    #[test]
    fn a_streaming_token_wraps_only_the_lines_it_changed_however_long_the_reply() {
        let mut app = synthetic_app(1, 8, 0);
        app.chat.messages.push(Message::new(
            Role::Assistant,
            String::new(),
            ReplyStatus::Streaming,
        ));
        let reply = app.chat.messages.len() - 1;
        let text = |i: usize| match i % 300 {
            100 => "\n\n```rust\nfn f() {\n".to_string(),
            101..=130 => format!("    let x{i} = {i};\n"),
            131 => "}\n```\n\n".to_string(),
            200 => "\n\n- item".to_string(),
            _ if i % 40 == 39 => ".\n\n".to_string(),
            _ => format!(" 词{i} word"),
        };
        let mut most = 0;
        for i in 0..4000 {
            let token = crate::transcript::TokenEvent {
                phase: crate::routing::Phase::Generated,
                pos: 8 + i as u32,
                token_id: 7,
                text: text(i),
                routing: None,
                step: None,
            };
            app.chat.add_token(reply, token);
            let before = rows::wrapped_so_far();
            let mut buf = Buffer::empty(Rect::new(0, 0, 60, 20));
            render(&app, Rect::new(0, 0, 60, 20), &mut buf);
            most = most.max(rows::wrapped_so_far() - before);
        }
        let lines = app.chat.messages[reply].rendered.len();
        assert!(lines > 500, "{lines}");
        // The open paragraph, or the open code block's last lines and its frame.
        assert!(most <= 4, "a token wrapped {most} lines of {lines}");
    }

    #[test]
    fn the_visible_window_is_the_same_slice_of_the_whole() {
        let app = synthetic_app(2, 8, 200);
        let mut frame = rows::Frame::begin();
        let all = pieces(&app, 50, &mut frame);
        let whole = slice(&frame, &all, 0, usize::MAX);
        for (from, take) in [(0, 5), (3, 17), (whole.len() - 4, 10), (whole.len(), 3)] {
            let end = (from + take).min(whole.len());
            assert_eq!(slice(&frame, &all, from, take), whole[from..end].to_vec());
        }
    }
}
