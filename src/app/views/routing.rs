//! The routing pane: for the selected token, a heatmap of layers (rows) x experts
//! (columns) shaded by router probability, the chosen top-k marked, and the mixing
//! weights of the selected layer; or (F4) the expert load over the whole conversation.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget, Wrap};

use super::palette::{CHOSEN, DIM, FORCED, KNOCKED, TITLE};
use crate::app::keymap::key_label;
use crate::app::{Action, App, RoutingView, Shading, ShadingChoice};
use crate::i18n::{tr, tr_with};
use crate::routing::interventions::LayerRules;
use crate::routing::{Phase, TokenRouting};
use crate::transcript::{ModelInfo, TokenEvent};

mod load;
mod shading;
mod weights;

use load::load_lines;
use shading::LayerScores;
pub(crate) use weights::shared_words;
use weights::{pack, weight_lines};

/// How experts map to columns: `per` experts per column, `cw` cells per column.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Columns {
    per: usize,
    cw: usize,
    count: usize,
}

fn columns(n_expert: usize, avail: usize) -> Columns {
    let n = n_expert.max(1);
    let avail = avail.max(1);
    if n * 2 <= avail {
        Columns {
            per: 1,
            cw: 2,
            count: n,
        }
    } else if n <= avail {
        Columns {
            per: 1,
            cw: 1,
            count: n,
        }
    } else {
        let per = n.div_ceil(avail);
        Columns {
            per,
            cw: 1,
            count: n.div_ceil(per),
        }
    }
}

fn message(area: Rect, buf: &mut Buffer, block: Block, lines: Vec<Line<'static>>) {
    Paragraph::new(lines)
        .wrap(Wrap { trim: true })
        .block(block)
        .render(area, buf);
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let lang = app.lang().code();
    let block = Block::bordered().title(Span::styled(tr("title.routing", lang), TITLE));
    let Some(model) = app.model() else {
        return message(
            area,
            buf,
            block,
            vec![Line::styled(tr("view.waiting_model_load", lang), DIM)],
        );
    };
    if !model.is_moe() {
        let text = tr("view.routing_dense", lang);
        return message(area, buf, block, vec![Line::from(text)]);
    }
    if app.routing_view() == RoutingView::Load {
        let inner = block.inner(area);
        block.render(area, buf);
        return Paragraph::new(load_lines(app, model, inner)).render(inner, buf);
    }
    let Some((at, token)) = app.selected_token() else {
        let text = tr("view.routing_no_tokens", lang);
        return message(area, buf, block, vec![Line::styled(text, DIM)]);
    };
    let Some(routing) = token.routing.as_ref() else {
        let why = if app.conversation().budget().was_folded(at) {
            tr("view.routing_folded", lang)
        } else if app.config().capture {
            tr("view.routing_none", lang)
        } else {
            tr("view.routing_capture_off", lang)
        };
        return message(
            area,
            buf,
            block,
            vec![header(token, model, lang), Line::styled(why, DIM)],
        );
    };
    let inner = block.inner(area);
    block.render(area, buf);
    Paragraph::new(heatmap(app, model, token, routing, inner)).render(inner, buf);
}

fn header(token: &TokenEvent, model: &ModelInfo, lang: &str) -> Line<'static> {
    let phase = if token.phase == Phase::Prompt {
        tr("view.phase_prompt", lang)
    } else {
        tr("view.phase_generated", lang)
    };
    let shared = shared_words(model, false, lang)
        .map(|w| format!(" · {w}"))
        .unwrap_or_default();
    Line::from(vec![
        Span::styled(format!("{:?}", token.text), TITLE),
        Span::styled(
            tr_with(
                "routing.header",
                lang,
                &[
                    ("pos", &token.pos),
                    ("phase", &phase),
                    ("e", &model.n_expert),
                    ("k", &model.n_expert_used),
                    ("shared", &shared),
                ],
            ),
            DIM,
        ),
    ])
}

fn heatmap(
    app: &App,
    model: &ModelInfo,
    token: &TokenEvent,
    r: &TokenRouting,
    area: Rect,
) -> Vec<Line<'static>> {
    let n_expert = r.n_expert as usize;
    let n_rows =
        (model.n_layer as usize).max(r.layers.iter().map(|&l| l as usize + 1).max().unwrap_or(0));
    let label_w = format!("{}", n_rows.saturating_sub(1)).len() + 3;
    let cols = columns(n_expert, (area.width as usize).saturating_sub(label_w));
    let slot = app.layer_slot();
    let sel_layer = r.layers.get(slot).copied().map(usize::from);
    let use_pref = app.show_preference() && !r.preference.is_empty();

    let lang = app.lang().code();
    let mut lines = vec![header(token, model, lang)];
    let what = match (use_pref, model.router_display_temperature) {
        (true, Some(t)) => tr_with("routing.what_preference_t", lang, &[("t", &t)]),
        (true, None) => tr("routing.what_preference", lang),
        (false, _) => tr("routing.what_probability", lang),
    };
    let choice = ShadingChoice::of(app.layout().shading(), r, use_pref);
    let key = app
        .keymap()
        .keys_of(&Action::CycleShading)
        .first()
        .map(key_label)
        .unwrap_or_default();
    let mut legend = shading::legend(what, choice, &key, lang);
    if let (true, Some(last)) = (cols.per > 1, legend.last_mut()) {
        last.push_span(Span::styled(
            tr_with("routing.per_column", lang, &[("n", &cols.per)]),
            DIM,
        ));
    }
    lines.extend(legend);
    if r.incomplete {
        lines.push(Line::styled(tr("view.routing_incomplete", lang), KNOCKED));
    }
    if !app.interventions().is_empty() {
        lines.push(Line::from(vec![
            Span::styled("✗", KNOCKED),
            Span::styled(tr("routing.legend_knocked", lang), DIM),
            Span::styled("★", FORCED),
            Span::styled(tr("routing.legend_forced", lang), DIM),
        ]));
    }
    if r.is_compact() {
        lines.push(Line::styled(tr("view.routing_compact", lang), DIM));
    }

    lines.push(axis(label_w, cols));

    // The selected layer's mixing weights, wrapped to the pane.
    let weights = weight_lines(r, slot, model, area.width as usize, lang);

    // Rows, windowed around the selected layer when they do not all fit.
    let footer = weights.len() + 1;
    let avail = (area.height as usize)
        .saturating_sub(lines.len() + footer)
        .max(1);
    let start = window_start(n_rows, avail, sel_layer.unwrap_or(0));
    let grid = Grid {
        r,
        cols,
        label_w,
        use_pref,
        model,
        shading: choice.mode,
        cell: app.routing_cell().map(|(_, e)| e),
        lang,
    };
    for layer in start..(start + avail).min(n_rows) {
        lines.push(row(
            &grid,
            layer,
            sel_layer == Some(layer),
            app.interventions().rules(layer as u32),
        ));
    }
    lines.extend(weights);
    let range = if n_rows > avail {
        tr_with(
            "routing.rows_window",
            lang,
            &[
                ("from", &start),
                ("to", &((start + avail).min(n_rows) - 1)),
                ("n", &n_rows),
            ],
        )
    } else {
        tr("routing.rows_all", lang)
    };
    let mut footer = vec![Span::styled(range, DIM)];
    if let Some((layer, e)) = app.routing_cell() {
        let key = |a: Action| {
            app.keymap()
                .keys_of(&a)
                .first()
                .map(key_label)
                .unwrap_or_default()
        };
        footer.push(Span::styled(
            tr_with(
                "routing.cell_keys",
                lang,
                &[
                    ("cell", &format!("L{layer} e{e}")),
                    ("out", &key(Action::CellKnockout)),
                    ("force", &key(Action::CellForce)),
                    ("clear", &key(Action::CellClear)),
                ],
            ),
            CHOSEN,
        ));
    }
    lines.push(Line::from(footer));
    lines
}

/// The expert axis under the legend: a tick every few columns.
fn axis(label_w: usize, cols: Columns) -> Line<'static> {
    let every = if cols.cw == 2 { 4 } else { 8 };
    let mut axis = " ".repeat(label_w);
    let mut c = 0;
    while c < cols.count {
        let tick = format!("{}", c * cols.per);
        let span = every * cols.cw;
        axis.push_str(&format!("{tick:<span$}"));
        c += every;
    }
    Line::styled(axis, DIM)
}

/// First of `avail` rows out of `n_rows`, centred on `sel_row` when they do not all fit.
fn window_start(n_rows: usize, avail: usize, sel_row: usize) -> usize {
    if n_rows <= avail {
        0
    } else {
        sel_row.saturating_sub(avail / 2).min(n_rows - avail)
    }
}

/// What every row of the heatmap shares.
#[derive(Clone, Copy)]
struct Grid<'a> {
    r: &'a TokenRouting,
    cols: Columns,
    label_w: usize,
    use_pref: bool,
    model: &'a ModelInfo,
    shading: Shading,
    /// The cell cursor's expert (drawn on the selected row).
    cell: Option<usize>,
    lang: &'a str,
}

fn row(grid: &Grid<'_>, layer: usize, selected: bool, rules: LayerRules<'_>) -> Line<'static> {
    let Grid {
        r,
        cols,
        label_w,
        use_pref,
        model,
        shading,
        cell,
        lang,
    } = *grid;
    let mark = if selected { "▶" } else { " " };
    let label = format!("{mark}L{layer:<w$}", w = label_w - 2);
    let label_style = if selected { CHOSEN } else { DIM };
    let mut spans = vec![Span::styled(label, label_style)];
    let Some(slot) = r.layers.iter().position(|&l| l as usize == layer) else {
        let what = if (layer as u32) < model.n_dense_lead {
            tr("view.layer_dense_lead", lang)
        } else {
            tr("view.layer_dense", lang)
        };
        spans.push(Span::styled(what, DIM));
        return Line::from(spans);
    };
    let Some(view) = r.layer(slot) else {
        return Line::from(spans);
    };
    if !view.computed {
        spans.push(Span::styled(tr("view.not_computed", lang), DIM));
        return Line::from(spans);
    }
    let probs = if use_pref && !view.preference.is_empty() {
        view.preference
    } else {
        view.probs
    };
    let n_expert = r.n_expert as usize;
    let scores = LayerScores::new(probs);
    for c in 0..cols.count {
        let experts = c * cols.per..((c + 1) * cols.per).min(n_expert);
        // A compacted older record has no probabilities: its cells are blank but for ◆.
        let (g, shade) = scores.cell(shading, experts.clone());
        let chosen = experts
            .clone()
            .any(|e| view.experts.iter().any(|&x| x as usize == e));
        let out = !experts.is_empty() && experts.clone().all(|e| !rules.allows(e as u16));
        let forced = experts.clone().any(|e| rules.force.contains(&(e as u16)));
        let glyphs = match (cols.cw, chosen, out, forced) {
            (2, _, true, _) => "✗ ".into(),
            (_, _, true, _) => "✗".into(),
            (2, _, _, true) => format!("{g}★"),
            (_, _, _, true) => "★".into(),
            (2, true, _, _) => format!("{g}◆"),
            (2, false, _, _) => format!("{g} "),
            (_, true, _, _) => "◆".into(),
            (_, false, _, _) => g.to_string(),
        };
        let style = if out {
            KNOCKED
        } else if forced {
            FORCED
        } else if chosen {
            CHOSEN
        } else {
            shade
        };
        let at_cursor = selected && cell.is_some_and(|e| experts.contains(&e));
        let style = if at_cursor {
            style.add_modifier(Modifier::REVERSED)
        } else {
            style
        };
        spans.push(Span::styled(glyphs, style));
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_widen_then_compress() {
        assert_eq!(
            columns(16, 40),
            Columns {
                per: 1,
                cw: 2,
                count: 16
            }
        );
        assert_eq!(
            columns(64, 70),
            Columns {
                per: 1,
                cw: 1,
                count: 64
            }
        );
        assert_eq!(
            columns(128, 70),
            Columns {
                per: 2,
                cw: 1,
                count: 64
            }
        );
        assert_eq!(
            columns(128, 1),
            Columns {
                per: 128,
                cw: 1,
                count: 1
            }
        );
    }
}
