//! The model picker overlay: each model found, with the lines `moe-tutor model list`
//! prints for it, the selected one marked; download offers (when any) below.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

use super::palette::{CHOSEN, DIM, TITLE};
use crate::app::overlay::ModelPicker;
use crate::app::App;
use crate::i18n::{tr, tr_with};
use crate::model::inspect::list_line;

/// Rows each entry takes (its `model list` lines plus a blank one).
fn entry_lines(p: &ModelPicker, i: usize, n_ctx: u32, lang: &str) -> Vec<Line<'static>> {
    let selected = i == p.selected;
    let Some(e) = p.entries.get(i) else {
        // Past the models found: a download offer, one row.
        let Some(offer) = i.checked_sub(p.entries.len()).and_then(|o| p.offers.get(o)) else {
            return Vec::new();
        };
        let mark = if selected { "▶ " } else { "  " };
        let style = if selected {
            CHOSEN.add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        return vec![Line::from(vec![
            Span::styled(mark, CHOSEN),
            Span::styled(crate::text::sanitize(&offer.label), style),
        ])];
    };
    let text = list_line(e, n_ctx, p.free, lang);
    let mut out = Vec::new();
    for (n, l) in text.lines().enumerate() {
        let line = if n == 0 {
            let mark = if selected { "▶ " } else { "  " };
            let style = if selected {
                CHOSEN.add_modifier(Modifier::BOLD)
            } else if e.found.is_err() {
                DIM
            } else {
                Style::new().add_modifier(Modifier::BOLD)
            };
            Line::from(vec![
                Span::styled(mark, CHOSEN),
                Span::styled(l.to_string(), style),
            ])
        } else if e.found.is_err() {
            Line::styled(format!("  {l}"), DIM)
        } else {
            Line::from(format!("  {l}"))
        };
        out.push(line);
    }
    out
}

pub fn render(app: &App, p: &ModelPicker, area: Rect, buf: &mut Buffer) {
    let w = area.width.saturating_sub(4).min(110);
    let h = area.height.saturating_sub(2);
    if w < 10 || h < 4 {
        return;
    }
    let lang = app.lang().code();
    let popup = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    Clear.render(popup, buf);
    let n_ctx = app.model().map_or(0, |m| m.n_ctx);
    let mut lines = Vec::new();
    if let Some(m) = app.model() {
        let args: [(&str, &dyn std::fmt::Display); 1] = [("name", &m.name)];
        lines.push(Line::styled(tr_with("models.current", lang, &args), DIM));
        lines.push(Line::default());
    }
    if p.searching.is_some() {
        lines.push(Line::from(tr("models.searching", lang)));
    } else if p.entries.is_empty() {
        lines.push(Line::from(tr("models.empty", lang)));
    }
    // Scroll so that the selected entry is on screen: entries before it are dropped
    // while the rows up to its end do not fit.
    let inner_h = usize::from(h.saturating_sub(2));
    let rows = p.entries.len() + p.offers.len();
    let heights: Vec<usize> = (0..rows)
        .map(|i| entry_lines(p, i, n_ctx, lang).len())
        .collect();
    let mut first = 0;
    let upto = |first: usize| -> usize {
        lines.len()
            + heights[first..=p.selected.min(heights.len().saturating_sub(1))]
                .iter()
                .sum::<usize>()
    };
    while !heights.is_empty() && first < p.selected && upto(first) > inner_h {
        first += 1;
    }
    for i in first..rows {
        if i == p.entries.len() && i > 0 {
            lines.push(Line::default());
        }
        lines.extend(entry_lines(p, i, n_ctx, lang));
    }
    let block = Block::bordered()
        .title(Span::styled(tr("title.models", lang), TITLE))
        .title_bottom(Line::styled(tr("models.footer", lang), DIM).right_aligned());
    Paragraph::new(lines).block(block).render(popup, buf);
}
