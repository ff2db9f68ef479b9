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

/// A run of transcript rows: one built this frame, or a line's cached wrapped rows.
enum Piece {
    Row(Line<'static>),
    Rows(rows::Rows),
    /// The streaming reply's cursor, at the end of the row before it.
    Cursor,
}

impl Piece {
    fn len(&self) -> usize {
        match self {
            Piece::Row(_) => 1,
            Piece::Rows(r) => r.len(),
            Piece::Cursor => 0,
        }
    }
}

/// The transcript at `width` columns as pieces; wraps only lines no recent frame has seen.
fn pieces(app: &App, width: u16, frame: &rows::Frame) -> Vec<Piece> {
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
        out.extend(
            m.rendered
                .iter()
                .map(|sl| Piece::Rows(frame.rows(sl, width, INDENT))),
        );
        if m.status == ReplyStatus::Streaming && !m.content.is_empty() {
            out.push(Piece::Cursor);
        }
    }
    out
}

/// Rows `from..from + take` of the pieces, the only rows copied.
fn slice(pieces: &[Piece], from: usize, take: usize) -> Vec<Line<'static>> {
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
            Piece::Rows(rs) if at + n > from && at < end => {
                let lo = from.saturating_sub(at);
                let hi = (end - at).min(n);
                out.extend(rs[lo..hi].iter().cloned());
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
    let frame = rows::Frame::begin();
    let all = pieces(app, width, &frame);
    slice(&all, 0, usize::MAX)
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let block = Block::bordered().title(Span::styled(
        tr("title.chat", app.lang().code()),
        super::palette::TITLE,
    ));
    let inner = block.inner(area);
    let frame = rows::Frame::begin();
    let all = pieces(app, inner.width, &frame);
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
    let visible = slice(&all, top, height);
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
            for sl in &m.rendered {
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
    fn the_visible_window_is_the_same_slice_of_the_whole() {
        let app = synthetic_app(2, 8, 200);
        let frame = rows::Frame::begin();
        let all = pieces(&app, 50, &frame);
        let whole = slice(&all, 0, usize::MAX);
        for (from, take) in [(0, 5), (3, 17), (whole.len() - 4, 10), (whole.len(), 3)] {
            let end = (from + take).min(whole.len());
            assert_eq!(slice(&all, from, take), whole[from..end].to_vec());
        }
    }
}
