//! The rows under the routing heatmap: the selected layer's mixing weights, and the
//! shared expert in words.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::app::views::palette::{CHOSEN, DIM};
use crate::i18n::tr_with;
use crate::routing::TokenRouting;
use crate::transcript::ModelInfo;

/// The shared expert in words a learner reads right: one always-on FFN, and how many
/// routed experts wide it is (`long`: the full sentence; else the header's short form).
/// The GGUF's `expert_shared_count` of 8 is one FFN eight experts wide, not eight experts.
pub(crate) fn shared_words(model: &ModelInfo, long: bool, lang: &str) -> Option<String> {
    let width = model.shared_width_in_experts()?;
    let n = if (width - width.round()).abs() < 0.05 {
        format!("{}", width.round() as u32)
    } else {
        format!("{width:.1}")
    };
    let key = match (long, n == "1") {
        (false, true) => "routing.shared_one",
        (false, false) => "routing.shared_short",
        (true, true) => "routing.shared_long_one",
        (true, false) => "routing.shared_long",
    };
    Some(tr_with(key, lang, &[("n", &n)]))
}

/// "L2: e5 0.41  e1 0.33 …", packed into lines of `width`.
pub(super) fn weight_lines(
    r: &TokenRouting,
    slot: usize,
    model: &ModelInfo,
    width: usize,
    lang: &str,
) -> Vec<Line<'static>> {
    let Some(v) = r.layer(slot) else {
        return Vec::new();
    };
    if !v.computed {
        return vec![Line::styled(
            tr_with("routing.not_computed_here", lang, &[("layer", &v.layer)]),
            DIM,
        )];
    }
    let mut items: Vec<(String, Style)> = v
        .experts
        .iter()
        .zip(v.weights)
        .map(|(e, w)| (format!("e{e} {:.2}  ", w.to_f32()), Style::default()))
        .collect();
    if let Some(words) = shared_words(model, true, lang) {
        items.push((words, DIM));
    }
    pack(&format!("L{}: ", v.layer), items, width)
}

/// `head` then the items, wrapped into lines of `width` terminal columns (continuations
/// indented). Widths are display widths: a Chinese character takes two columns.
pub(super) fn pack(head: &str, items: Vec<(String, Style)>, width: usize) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let mut cur = vec![Span::styled(head.to_string(), CHOSEN)];
    let mut used = head.width();
    for (text, style) in items {
        let w = text.width();
        if used + w > width && cur.len() > 1 {
            lines.push(Line::from(std::mem::take(&mut cur)));
            cur.push(Span::raw("    "));
            used = 4;
        }
        if used + w <= width {
            used += w;
            cur.push(Span::styled(text, style));
            continue;
        }
        // Wider than a whole line (a sentence in words): break it after a space or
        // between two wide (CJK) characters.
        let mut piece = String::new();
        for seg in segments(&text) {
            let sw = seg.width();
            if used + sw > width && used > 4 {
                cur.push(Span::styled(std::mem::take(&mut piece), style));
                lines.push(Line::from(std::mem::take(&mut cur)));
                cur.push(Span::raw("    "));
                used = 4;
            }
            used += sw;
            piece.push_str(&seg);
        }
        cur.push(Span::styled(piece, style));
    }
    lines.push(Line::from(cur));
    lines
}

/// `text` cut where a line may break: after a run of spaces, and around each wide character.
fn segments(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut after_space = false;
    for c in text.chars() {
        let wide = c.width().unwrap_or(0) > 1;
        if (wide || (after_space && c != ' ')) && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(c);
        after_space = c == ' ';
        if wide {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn widths(lines: &[Line<'_>]) -> Vec<usize> {
        lines.iter().map(|l| l.width()).collect()
    }

    #[test]
    fn packs_by_display_width_and_breaks_long_words_between_characters() {
        let zh = "+ 1 个共享专家，宽度等于 8 个路由专家，始终参与".to_string();
        let items = vec![
            ("e1 0.41  ".to_string(), Style::default()),
            ("e5 0.33  ".to_string(), Style::default()),
            (zh.clone(), Style::default()),
        ];
        let lines = pack("L3: ", items, 30);
        assert!(lines.len() >= 2, "{lines:?}");
        for w in widths(&lines) {
            assert!(w <= 30, "a row {w} columns wide in 30: {lines:?}");
        }
        let all: String = lines
            .iter()
            .flat_map(|l| l.spans.iter().map(|s| s.content.to_string()))
            .collect();
        assert!(all.replace(' ', "").contains(&zh.replace(' ', "")));
        // English breaks at spaces, never inside a word.
        let en = "+ 1 shared expert, as wide as 8 routed ones, always on".to_string();
        let lines = pack("L3: ", vec![(en, Style::default())], 24);
        for l in &lines {
            assert!(l.width() <= 24, "{lines:?}");
            let text: String = l.spans.iter().map(|s| s.content.to_string()).collect();
            assert!(!text.contains("sha ") && !text.ends_with("sha"), "{text}");
        }
        let words: Vec<String> = lines
            .iter()
            .map(|l| {
                l.spans
                    .iter()
                    .map(|s| s.content.to_string())
                    .collect::<String>()
            })
            .collect();
        assert!(
            words.iter().any(|w| w.trim_end().ends_with("expert,")),
            "{words:?}"
        );
    }
}
