//! The saved-conversations overlay (F9 / Ctrl+O, /history): a search line, then one row
//! per conversation (date, messages, title; a snippet of the match while searching).

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};
use unicode_width::UnicodeWidthStr;

use super::palette::{CHOSEN, DIM, ERROR, TITLE};
use crate::app::{App, Browser};
use crate::i18n::{tr, tr_with};
use crate::store::time;

/// Draw the overlay over `area`; returns where the cursor goes (the end of the query).
pub fn render(app: &App, area: Rect, buf: &mut Buffer) -> Option<Position> {
    let b = app.browser()?;
    let w = area.width.saturating_sub(4).min(110);
    let h = area.height.saturating_sub(2);
    if w < 10 || h < 4 {
        return None;
    }
    let popup = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    Clear.render(popup, buf);
    let block = Block::bordered()
        .title(Span::styled(tr("title.history", app.lang().code()), TITLE))
        .title_bottom(Line::styled(tr("history.footer", app.lang().code()), DIM).right_aligned());
    let inner = block.inner(popup);
    block.render(popup, buf);
    let rows = lines(
        b,
        inner.width as usize,
        inner.height.saturating_sub(2) as usize,
        app.lang().code(),
    );
    Paragraph::new(rows).render(inner, buf);
    let search = tr("history.search", app.lang().code());
    let x = inner.x + (search.width() + b.query().width()).min(inner.width as usize) as u16;
    Some(Position::new(
        x.min(inner.right().saturating_sub(1)),
        inner.y,
    ))
}

fn lines(b: &Browser, width: usize, rows: usize, lang: &str) -> Vec<Line<'static>> {
    let mut out = vec![
        Line::from(vec![
            Span::styled(tr("history.search", lang), DIM),
            Span::raw(b.query().to_string()),
        ]),
        Line::default(),
    ];
    if let Some(e) = b.error() {
        out.push(Line::styled(e.to_string(), ERROR));
        return out;
    }
    let hits = b.hits();
    if hits.is_empty() {
        out.push(Line::styled(
            if b.total() == 0 {
                tr("view.history_empty", lang)
            } else {
                tr("view.history_no_match", lang)
            },
            DIM,
        ));
        return out;
    }
    // Each conversation takes one row, two while searching (its snippet).
    let per = if b.query().trim().is_empty() { 1 } else { 2 };
    let fit = (rows / per).max(1);
    let first = b.selected().saturating_sub(fit - 1);
    for (i, s) in hits.iter().enumerate().skip(first).take(fit) {
        let selected = i == b.selected();
        let marker = if selected { "▶ " } else { "  " };
        let when = time::human(s.created);
        let count = tr_with(
            "history.msgs",
            lang,
            &[("n", &format!("{:>3}", s.messages))],
        );
        let used = marker.width() + when.width() + count.width() + 4;
        let title = crate::text::sanitize(&s.title);
        let title: String = clip(&title, width.saturating_sub(used));
        let style = if selected {
            CHOSEN.add_modifier(Modifier::REVERSED)
        } else {
            Style::new()
        };
        out.push(Line::from(vec![
            Span::styled(marker, CHOSEN),
            Span::styled(format!("{when}  {count}  "), DIM),
            Span::styled(title, style),
        ]));
        if per == 2 {
            let snippet = s
                .snippet(b.query(), width.saturating_sub(6))
                .map(|t| crate::text::sanitize(&t))
                .unwrap_or_default();
            out.push(Line::styled(
                format!("    … {}", clip(&snippet, width.saturating_sub(6))),
                DIM,
            ));
        }
    }
    out
}

/// At most `w` columns of `s`.
fn clip(s: &str, w: usize) -> String {
    let mut used = 0;
    s.chars()
        .take_while(|c| {
            used += unicode_width::UnicodeWidthChar::width(*c).unwrap_or(0);
            used <= w
        })
        .collect()
}
