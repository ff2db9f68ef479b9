//! The input box at the bottom of the chat: multi-line, hard-wrapped to the box,
//! scrolled to keep the cursor in view.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};
use unicode_width::UnicodeWidthChar;

use super::palette::{DIM, TITLE};
use crate::app::App;
use crate::i18n::tr;

const MAX_ROWS: usize = 6;

/// Rows of the text hard-wrapped at `width`, and the cursor's (row, column).
fn layout(text: &str, cursor: usize, width: usize) -> (Vec<String>, (usize, usize)) {
    let mut rows = vec![String::new()];
    let mut col = 0usize;
    let mut at = (0, 0);
    for (i, c) in text.char_indices() {
        if i == cursor {
            at = (rows.len() - 1, col);
        }
        if c == '\n' {
            rows.push(String::new());
            col = 0;
            continue;
        }
        let cw = c.width().unwrap_or(0);
        if col + cw > width && col > 0 {
            rows.push(String::new());
            col = 0;
            if i == cursor {
                at = (rows.len() - 1, 0);
            }
        }
        if let Some(r) = rows.last_mut() {
            r.push(c);
        }
        col += cw;
    }
    if cursor >= text.len() {
        if col >= width && width > 0 {
            rows.push(String::new());
            col = 0;
        }
        at = (rows.len() - 1, col);
    }
    (rows, at)
}

/// Height of the input box (borders included) at this outer width.
pub fn height(app: &App, width: u16) -> u16 {
    let w = width.saturating_sub(2).max(1) as usize;
    let (rows, _) = layout(app.input().text(), app.input().cursor(), w);
    rows.len().clamp(1, MAX_ROWS) as u16 + 2
}

/// Draw the box; returns where the terminal cursor belongs.
pub fn render(app: &App, area: Rect, buf: &mut Buffer) -> Option<Position> {
    let lang = app.lang().code();
    let hint = tr(
        if app.is_generating() {
            "input.hint_stop"
        } else {
            "input.hint_send"
        },
        lang,
    );
    let block = Block::bordered()
        .title(Span::styled(tr("title.message", lang), TITLE))
        .title_top(Line::styled(hint, DIM).right_aligned());
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width == 0 || inner.height == 0 {
        return None;
    }
    let input = app.input();
    if input.text().is_empty() {
        let placeholder = tr("input.placeholder", lang);
        Paragraph::new(Line::styled(placeholder, DIM)).render(inner, buf);
        return Some(Position::new(inner.x, inner.y));
    }
    let (rows, (crow, ccol)) = layout(input.text(), input.cursor(), inner.width as usize);
    let h = inner.height as usize;
    let top = (crow + 1).saturating_sub(h);
    let visible: Vec<Line> = rows.into_iter().skip(top).take(h).map(Line::from).collect();
    Paragraph::new(visible).render(inner, buf);
    let x = inner
        .x
        .saturating_add(ccol.min(inner.width.saturating_sub(1) as usize) as u16);
    let y = inner.y.saturating_add((crow - top) as u16);
    Some(Position::new(x, y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_follows_wide_characters_and_wraps() {
        let (rows, at) = layout("中文ab", "中文ab".len(), 4);
        assert_eq!(rows, ["中文", "ab"]);
        assert_eq!(at, (1, 2));
        let (rows, at) = layout("ab\ncd", 3, 10);
        assert_eq!(rows, ["ab", "cd"]);
        assert_eq!(at, (1, 0));
    }

    #[test]
    fn cursor_at_a_full_row_moves_to_the_next() {
        let (rows, at) = layout("abcd", 4, 4);
        assert_eq!(rows.len(), 2);
        assert_eq!(at, (1, 0));
    }
}
