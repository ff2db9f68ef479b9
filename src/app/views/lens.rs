//! The layer lens overlay: for the selected token, one row per layer with the tokens the
//! model would predict if it stopped after that layer (the last row is its real output).
//! Drawn where the sampling pane is when the panes sit side by side (so the routing that
//! fed the prediction stays beside it), else over the transcript above the token strip.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};
use unicode_width::UnicodeWidthStr;

use super::palette::{CHOSEN, DIM, TITLE};
use super::strip::token_label;
use crate::app::overlay::lens::{LensState, LensView};
use crate::app::App;
use crate::i18n::{tr, tr_with};
use crate::routing::lens::LayerLens;

pub fn render(app: &App, view: &LensView, area: Rect, buf: &mut Buffer) {
    let lang = app.lang().code();
    Clear.render(area, buf);
    let block = Block::bordered().title(Span::styled(tr("title.lens", lang), TITLE));
    let inner = block.inner(area);
    block.render(area, buf);
    let target = view
        .target
        .and_then(|r| app.messages().get(r.message)?.tokens.get(r.token));
    let mut out = Vec::new();
    if let Some(t) = target {
        out.push(Line::styled(
            tr_with(
                "lens.predicting",
                lang,
                &[("token", &format!("{:?}", t.text)), ("pos", &t.pos)],
            ),
            DIM,
        ));
    }
    match &view.state {
        LensState::Pending { .. } => out.push(Line::styled(tr("lens.computing", lang), DIM)),
        LensState::Unavailable(why) => out.push(Line::styled(why.clone(), DIM)),
        LensState::Ready(lens) => {
            let chosen = target.map(|t| t.token_id);
            out.extend(rows(lens, chosen, inner.width as usize));
            out.push(Line::styled(tr("lens.legend", lang), DIM));
        }
    }
    Paragraph::new(out)
        .wrap(Wrap { trim: false })
        .render(inner, buf);
}

/// One line per layer: `L3  ·the 0.41  ·a 0.12 ...`, cut to `width` columns, the selected
/// token highlighted wherever it appears.
fn rows(lens: &LayerLens, chosen: Option<u32>, width: usize) -> Vec<Line<'static>> {
    lens.rows
        .iter()
        .map(|row| {
            let mut used = 0;
            let label = format!("L{:<3}", row.layer);
            used += label.width();
            let mut spans = vec![Span::styled(label, DIM)];
            for c in &row.top {
                let cell = format!(" {} {:.2}", token_label(&c.text), c.p);
                if used + cell.width() > width {
                    break;
                }
                used += cell.width();
                let style = if Some(c.token_id) == chosen {
                    CHOSEN
                } else {
                    Style::default()
                };
                spans.push(Span::styled(cell, style));
            }
            Line::from(spans)
        })
        .collect()
}
