//! Wrapping styled lines to a width: at spaces where possible, display-width aware (CJK
//! characters take two columns), continuation lines hang at the line's indent.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar;

use crate::text::markdown::StyledLine;

/// Wrap one logical line into rows at most `width` columns wide.
pub fn wrap(line: &StyledLine, width: u16) -> Vec<Line<'static>> {
    let width = width as usize;
    if width == 0 {
        return Vec::new();
    }
    let hang = (line.hang as usize).min(width / 2);
    let cells: Vec<(char, Style)> = line
        .line
        .spans
        .iter()
        .flat_map(|s| {
            let style = line.line.style.patch(s.style);
            s.content.chars().map(move |c| (c, style))
        })
        .collect();
    let mut rows: Vec<Vec<(char, Style)>> = Vec::new();
    let mut row: Vec<(char, Style)> = Vec::new();
    let mut w = 0usize;
    let mut brk: Option<usize> = None;
    for (c, s) in cells {
        let cw = c.width().unwrap_or(0);
        let limit = if rows.is_empty() { width } else { width - hang };
        if w + cw > limit && !row.is_empty() {
            let rest = match brk {
                Some(b) if b < row.len() => row.split_off(b),
                _ => Vec::new(),
            };
            rows.push(row);
            row = rest;
            w = row.iter().map(|(c, _)| c.width().unwrap_or(0)).sum();
            brk = None;
        }
        if c == ' ' {
            if row.is_empty() && !rows.is_empty() {
                continue;
            }
            brk = Some(row.len() + 1);
        }
        row.push((c, s));
        w += cw;
    }
    rows.push(row);
    rows.into_iter()
        .enumerate()
        .map(|(i, cells)| {
            let mut spans = Vec::new();
            if i > 0 && hang > 0 {
                spans.push(Span::raw(" ".repeat(hang)));
            }
            spans.extend(merge(cells));
            Line::from(spans)
        })
        .collect()
}

fn merge(cells: Vec<(char, Style)>) -> Vec<Span<'static>> {
    let mut spans: Vec<Span<'static>> = Vec::new();
    let mut text = String::new();
    let mut style = None;
    for (c, s) in cells {
        if style.is_some_and(|st| st != s) {
            spans.push(Span::styled(
                std::mem::take(&mut text),
                style.unwrap_or_default(),
            ));
        }
        style = Some(s);
        text.push(c);
    }
    if !text.is_empty() {
        spans.push(Span::styled(text, style.unwrap_or_default()));
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str, hang: u16, width: u16) -> Vec<String> {
        let line = StyledLine {
            hang,
            ..StyledLine::plain(text, Style::default())
        };
        wrap(&line, width).iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn wraps_at_spaces_and_hangs() {
        assert_eq!(
            rows("• one two three", 2, 9),
            ["• one ", "  two ", "  three"]
        );
    }

    #[test]
    fn breaks_long_words_and_counts_wide_chars() {
        assert_eq!(rows("abcdefgh", 0, 3), ["abc", "def", "gh"]);
        assert_eq!(rows("中文字符", 0, 5), ["中文", "字符"]);
    }

    #[test]
    fn empty_and_zero_width() {
        assert_eq!(rows("", 0, 10), [""]);
        assert!(rows("abc", 0, 0).is_empty());
    }
}
