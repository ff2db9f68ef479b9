//! The routing pane's third view (F4): expert load over every token of the conversation,
//! one row per layer, shaded by each expert's picks relative to an even share.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::{axis, columns, pack, window_start};
use crate::app::views::palette::{shade_style, CHOSEN, DIM, TITLE};
use crate::app::App;
use crate::i18n::{tr, tr_with};
use crate::routing::{ExpertLoad, LayerLoad};
use crate::transcript::ModelInfo;

/// A glyph for an expert's load relative to an even share: blank = never chosen.
fn load_shade(ratio: f32) -> char {
    match ratio {
        r if r >= 2.0 => '█',
        r if r >= 1.3 => '▓',
        r if r >= 0.75 => '▒',
        r if r >= 0.4 => '░',
        r if r > 0.0 => '·',
        _ => ' ',
    }
}

/// Expert load over every token of the conversation, one row per layer, shaded by each
/// expert's picks relative to an even share; the selected layer's busiest and idlest
/// experts below.
pub(super) fn load_lines(app: &App, model: &ModelInfo, area: Rect) -> Vec<Line<'static>> {
    let mut load = ExpertLoad::of(
        app.token_refs()
            .filter_map(|r| app.token(r))
            .filter_map(|t| t.routing.as_ref()),
    );
    load.merge(app.conversation().budget().folded());
    let n_expert = (model.n_expert as usize).max(load.n_expert).max(1);
    let lang = app.lang().code();
    let mut lines = vec![Line::from(vec![
        Span::styled(tr("load.title", lang), TITLE),
        Span::styled(
            tr_with(
                "load.header",
                lang,
                &[
                    ("t", &load.tokens()),
                    ("e", &model.n_expert),
                    ("k", &model.n_expert_used),
                ],
            ),
            DIM,
        ),
    ])];
    if load.tokens() == 0 {
        let why = if app.config().capture {
            tr("view.load_no_tokens", lang)
        } else {
            tr("view.load_capture_off", lang)
        };
        lines.push(Line::styled(why, DIM));
        return lines;
    }
    let even = 100.0 * model.n_expert_used.max(1) as f32 / n_expert as f32;
    lines.push(Line::from(vec![
        Span::styled(
            tr("load.legend_what", lang),
            Style::new().add_modifier(ratatui::style::Modifier::BOLD),
        ),
        Span::styled(
            tr_with("load.legend", lang, &[("even", &format!("{even:.0}"))]),
            DIM,
        ),
    ]));
    let n_rows = (model.n_layer as usize).max(
        load.layers
            .iter()
            .map(|l| l.layer as usize + 1)
            .max()
            .unwrap_or(0),
    );
    let label_w = format!("{}", n_rows.saturating_sub(1)).len() + 3;
    const RIGHT: usize = 6;
    let cols = columns(
        n_expert,
        (area.width as usize).saturating_sub(label_w + RIGHT),
    );
    lines.push(axis(label_w, cols));

    let sel_layer = app
        .selected_token()
        .and_then(|(_, t)| t.routing.as_ref())
        .and_then(|r| r.layers.get(app.layer_slot()).copied())
        .or_else(|| {
            load.layers
                .get(app.layer_slot().min(load.layers.len().saturating_sub(1)))
                .map(|l| l.layer)
        })
        .map(usize::from);
    let detail = sel_layer
        .and_then(|l| load.layer(l as u16))
        .map(|l| load_detail(l, area.width as usize, lang))
        .unwrap_or_default();
    let footer = detail.len() + 1;
    let avail = (area.height as usize)
        .saturating_sub(lines.len() + footer)
        .max(1);
    let start = window_start(n_rows, avail, sel_layer.unwrap_or(0));
    for layer in start..(start + avail).min(n_rows) {
        let selected = sel_layer == Some(layer);
        let mark = if selected { "▶" } else { " " };
        let label = format!("{mark}L{layer:<w$}", w = label_w - 2);
        let mut spans = vec![Span::styled(label, if selected { CHOSEN } else { DIM })];
        let Some(l) = load.layer(layer as u16) else {
            let what = if (layer as u32) < model.n_dense_lead {
                tr("view.layer_dense_lead", lang)
            } else {
                tr("load.layer_empty", lang)
            };
            spans.push(Span::styled(what, DIM));
            lines.push(Line::from(spans));
            continue;
        };
        let ratios = l.ratios();
        for c in 0..cols.count {
            let ratio = (c * cols.per..((c + 1) * cols.per).min(ratios.len()))
                .map(|e| ratios[e])
                .fold(0.0f32, f32::max);
            let g = load_shade(ratio);
            let cell = if cols.cw == 2 {
                format!("{g} ")
            } else {
                g.to_string()
            };
            spans.push(Span::styled(cell, shade_style((ratio / 2.0).min(1.0))));
        }
        let max = ratios.iter().copied().fold(0.0f32, f32::max);
        spans.push(Span::styled(format!(" {max:>4.1}x"), DIM));
        lines.push(Line::from(spans));
    }
    lines.extend(detail);
    lines.push(Line::styled(tr("load.footer", lang), DIM));
    lines
}

/// "L3: 420 tokens · busiest e5 41% e0 37% … · idlest e2 3% · 2 never chosen · max/even
/// 1.64 · CV 0.45", percentages of the layer's tokens.
fn load_detail(l: &LayerLoad, width: usize, lang: &str) -> Vec<Line<'static>> {
    let mut order: Vec<usize> = (0..l.picks.len()).collect();
    order.sort_by(|&a, &b| l.picks[b].cmp(&l.picks[a]).then(a.cmp(&b)));
    let pct = |e: usize| format!("e{e} {:.0}%  ", 100.0 * l.share(e));
    let mut items: Vec<(String, Style)> =
        vec![(tr_with("load.busiest", lang, &[("t", &l.tokens)]), DIM)];
    items.extend(order.iter().take(3).map(|&e| (pct(e), Style::default())));
    if let Some(&idle) = order.iter().rev().find(|&&e| l.picks[e] > 0) {
        if order.len() > 3 {
            items.push((tr("load.idlest", lang), DIM));
            items.push((pct(idle), Style::default()));
        }
    }
    if l.unused() > 0 {
        items.push((tr_with("load.never", lang, &[("n", &l.unused())]), DIM));
    }
    items.push((
        format!("· max/even {:.2} · CV {:.2}", l.max_over_mean(), l.cv()),
        DIM,
    ));
    pack(&format!("L{}: ", l.layer), items, width)
}
