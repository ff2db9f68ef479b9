//! Wrapping styled lines to a width by the Unicode line-breaking rules (UAX #14, the
//! `unicode-linebreak` crate): Latin words stay whole and break at spaces, CJK text breaks
//! between characters (never before closing punctuation such as `，` or `。`), and an
//! inline-code chip (a run in one style with a background colour) breaks only at its
//! spaces. A word longer than the row is cut at the width. Display-width aware (CJK
//! characters take two columns); continuation lines hang at the line's indent, and a line
//! in a frame (code block, quote: it starts with `│ `) keeps the frame on every row.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_linebreak::linebreaks;
use unicode_width::UnicodeWidthChar;

use crate::text::markdown::StyledLine;

/// The border a framed line starts with (code blocks, quotes).
const FRAME: &str = "│ ";

/// Per cell, whether a row may end just before it.
fn break_before(cells: &[(char, Style)]) -> Vec<bool> {
    let text: String = cells.iter().map(|(c, _)| *c).collect();
    let mut at = vec![false; cells.len()];
    let mut index = text.char_indices().map(|(b, _)| b).enumerate();
    for (byte, _) in linebreaks(&text) {
        if let Some((i, _)) = index.by_ref().find(|(_, b)| *b == byte) {
            at[i] = i > 0;
        }
    }
    // An inline-code chip stays whole except at its spaces.
    for i in 1..cells.len() {
        let (prev, style) = cells[i - 1];
        if at[i] && prev != ' ' && style.bg.is_some() && cells[i].1 == style {
            at[i] = false;
        }
    }
    at
}

/// Wrap one logical line into rows at most `width` columns wide.
pub fn wrap(line: &StyledLine, width: u16) -> Vec<Line<'static>> {
    let width = width as usize;
    if width == 0 {
        return Vec::new();
    }
    let frame = line
        .line
        .spans
        .first()
        .filter(|s| s.content == FRAME)
        .map(|s| Span::styled(FRAME, line.line.style.patch(s.style)));
    let hang = if frame.is_some() {
        FRAME.chars().count()
    } else {
        line.hang as usize
    }
    .min(width / 2);
    let cells: Vec<(char, Style)> = line
        .line
        .spans
        .iter()
        .flat_map(|s| {
            let style = line.line.style.patch(s.style);
            s.content.chars().map(move |c| (c, style))
        })
        .collect();
    let mut breaks = break_before(&cells);
    // Never break inside the indent or frame a line starts with: that row would be empty.
    let mut lead = 0;
    for (b, (c, _)) in breaks.iter_mut().zip(&cells) {
        if lead <= hang {
            *b = false;
        }
        lead += c.width().unwrap_or(0);
    }
    let cell_width =
        |row: &[(char, Style)]| -> usize { row.iter().map(|(c, _)| c.width().unwrap_or(0)).sum() };
    let mut rows: Vec<Vec<(char, Style)>> = Vec::new();
    let mut row: Vec<(char, Style)> = Vec::new();
    let mut w = 0usize;
    // Where in `row` the last break opportunity is.
    let mut brk: Option<usize> = None;
    for (i, (c, s)) in cells.into_iter().enumerate() {
        if c == ' ' && row.is_empty() && !rows.is_empty() {
            continue;
        }
        if breaks[i] && !row.is_empty() {
            brk = Some(row.len());
        }
        let cw = c.width().unwrap_or(0);
        let limit = if rows.is_empty() { width } else { width - hang };
        if w + cw > limit && !row.is_empty() {
            if c == ' ' {
                // A space at the end of a full row: the row ends here.
                rows.push(std::mem::take(&mut row));
                w = 0;
                brk = None;
                continue;
            }
            let rest = match brk {
                Some(b) if b > 0 && b <= row.len() => row.split_off(b),
                _ => Vec::new(),
            };
            rows.push(row);
            row = rest;
            w = cell_width(&row);
            brk = None;
        }
        row.push((c, s));
        w += cw;
    }
    rows.push(row);
    rows.into_iter()
        .enumerate()
        .map(|(i, cells)| {
            let mut spans = Vec::new();
            if i > 0 {
                match &frame {
                    Some(f) if hang >= FRAME.chars().count() => spans.push(f.clone()),
                    _ if hang > 0 => spans.push(Span::raw(" ".repeat(hang))),
                    _ => {}
                }
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
    use unicode_width::UnicodeWidthStr;

    fn rows(text: &str, hang: u16, width: u16) -> Vec<String> {
        let line = StyledLine {
            hang,
            ..StyledLine::plain(text, Style::default())
        };
        wrap(&line, width).iter().map(|l| l.to_string()).collect()
    }

    fn styled(parts: &[(&str, Style)], width: u16) -> Vec<String> {
        let line = StyledLine::from(Line::from(
            parts
                .iter()
                .map(|(t, s)| Span::styled(t.to_string(), *s))
                .collect::<Vec<_>>(),
        ));
        wrap(&line, width).iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn wraps_at_spaces_and_hangs() {
        assert_eq!(rows("• one two three", 2, 9), ["• one two", "  three"]);
    }

    #[test]
    fn breaks_long_words_and_counts_wide_chars() {
        assert_eq!(rows("abcdefgh", 0, 3), ["abc", "def", "gh"]);
        assert_eq!(rows("中文字符", 0, 5), ["中文", "字符"]);
    }

    #[test]
    fn chinese_breaks_between_characters_not_at_the_last_space() {
        // Before: the run after "·" went whole to the next row, leaving "logits = W_g ·".
        let r = rows("logits = W_g · x，每个专家一个数；再变成分数", 0, 24);
        assert_eq!(r[0], "logits = W_g · x，每个专");
        assert!(r.iter().all(|l| l.width() <= 24), "{r:?}");
        // No row starts with closing punctuation.
        let r = rows("一二三四五六七八九十，好。", 0, 20);
        assert!(
            r.iter()
                .all(|l| !l.starts_with('，') && !l.starts_with('。')),
            "{r:?}"
        );
    }

    #[test]
    fn a_mixed_paragraph_keeps_latin_words_and_inline_code_whole() {
        let code = Style::default().bg(ratatui::style::Color::Rgb(40, 40, 40));
        let plain = Style::default();
        let parts = [
            ("输入 ", plain),
            ("/experts 2", code),
            (
                "：应用会用每个词元 2 个专家重新加载模型（状态栏显示 ",
                plain,
            ),
            ("2 active", code),
            (
                "），然后用 expert_weights_scale 乘以每个 probability，再看 ",
                plain,
            ),
            ("ffn_moe_weights_scaled", code),
            (
                " 这个张量。Mixture-of-Experts 的 router 在每一层都不一样。",
                plain,
            ),
        ];
        let words: Vec<&str> = parts
            .iter()
            .flat_map(|(t, _)| t.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
            .filter(|w| w.len() > 1)
            .collect();
        for width in [14u16, 20, 27, 33, 40, 61] {
            let r = styled(&parts, width);
            assert!(
                r.iter().all(|l| l.width() <= width as usize),
                "{width}: {r:?}"
            );
            let joined = r.join("\n");
            for w in words.iter().filter(|w| w.len() <= width as usize - 2) {
                assert!(
                    r.iter().any(|l| l.contains(w)),
                    "{width}: \"{w}\" was split: {joined}"
                );
            }
            for chip in ["/experts", "ffn_moe_weights_scaled"] {
                assert!(
                    r.iter().any(|l| l.contains(chip)) || chip.len() > width as usize - 2,
                    "{width}: {chip} was split: {joined}"
                );
            }
            // Nothing lost: the rows hold every character but the spaces at breaks.
            let text: String = parts.iter().map(|(t, _)| *t).collect();
            let strip = |s: &str| s.chars().filter(|c| *c != ' ').collect::<String>();
            assert_eq!(strip(&r.concat()), strip(&text), "{width}");
        }
        // A row never ends inside a chip when the chip fits the width.
        let r = styled(&[("ab cd ", plain), ("x--y_z", code)], 9);
        assert_eq!(r, ["ab cd ", "x--y_z"]);
    }

    #[test]
    fn framed_lines_keep_their_frame_on_every_row() {
        let dim = Style::default().fg(ratatui::style::Color::DarkGray);
        let line = StyledLine {
            hang: 2,
            ..StyledLine::from(Line::from(vec![
                Span::styled("│ ", dim),
                Span::raw("print(kv_cache_bytes(30, 3, 64, 2, 4096))"),
            ]))
        };
        let r: Vec<String> = wrap(&line, 20).iter().map(|l| l.to_string()).collect();
        assert!(
            r.len() > 1 && r.iter().all(|l| l.starts_with("│ ")),
            "{r:?}"
        );
        assert!(r.iter().all(|l| l.width() <= 20), "{r:?}");
    }

    #[test]
    fn empty_and_zero_width() {
        assert_eq!(rows("", 0, 10), [""]);
        assert!(rows("abc", 0, 0).is_empty());
    }
}
