//! The rows under the routing heatmap: the selected layer's mixing weights, and the
//! shared expert in words.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

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
            format!("L{}: not computed for this token", v.layer),
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

/// `head` then the items, wrapped into lines of `width` (continuations indented).
pub(super) fn pack(head: &str, items: Vec<(String, Style)>, width: usize) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let mut cur = vec![Span::styled(head.to_string(), CHOSEN)];
    let mut used = head.chars().count();
    for (text, style) in items {
        let w = text.chars().count();
        if used + w > width && cur.len() > 1 {
            lines.push(Line::from(std::mem::take(&mut cur)));
            cur.push(Span::raw("    "));
            used = 4;
        }
        used += w;
        cur.push(Span::styled(text, style));
    }
    lines.push(Line::from(cur));
    lines
}
