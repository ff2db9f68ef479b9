//! The bottom lines: the status bar (model, MoE shape, sampling settings, speed, context,
//! state), the notice line, and the key bar generated from the keymap.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};
use unicode_width::UnicodeWidthStr;

use super::palette::{ERROR, INFO};
use crate::app::{App, EngineState};
use crate::i18n::{tr, tr_with};

const BAR: Style = Style::new().bg(Color::Rgb(30, 40, 60)).fg(Color::Gray);

/// "deepseek2 · 16 experts, 4 active + 1 shared" or "llama · dense"; `short`: "MoE 16×4+1".
pub fn moe_shape(app: &App, short: bool) -> Option<String> {
    let m = app.model()?;
    let lang = app.lang().code();
    if !m.is_moe() {
        let dense = tr("view.layer_dense", lang);
        return Some(if short {
            dense
        } else {
            format!("{} · {dense}", m.arch)
        });
    }
    // llama.cpp builds the shared experts as one always-on FFN (the GGUF's count of 8 is
    // one FFN eight experts wide): count it as one, as the routing pane does.
    if short {
        let shared = if m.shared_width_in_experts().is_some() {
            "+1"
        } else {
            ""
        };
        return Some(format!("MoE {}×{}{shared}", m.n_expert, m.n_expert_used));
    }
    let shared = super::routing::shared_words(m, false, lang)
        .map(|w| format!(" {w}"))
        .unwrap_or_default();
    Some(tr_with(
        "status.shape",
        lang,
        &[
            ("arch", &m.arch),
            ("e", &m.n_expert),
            ("k", &m.n_expert_used),
            ("shared", &shared),
        ],
    ))
}

/// "✗ 2 experts out in 1 layer · ★ 1 forced · 3 layers restricted", when any is active.
fn interventions_summary(app: &App) -> Option<String> {
    let i = app.interventions();
    let lang = app.lang().code();
    // English needs "1 layer" / "2 layers"; Chinese has one form for both.
    let count = |n: usize, one: &str, many: &str| {
        tr_with(if n == 1 { one } else { many }, lang, &[("n", &n)])
    };
    let mut parts = Vec::new();
    let knocked: usize = i.knockout.values().map(Vec::len).sum();
    if knocked > 0 {
        let experts = count(knocked, "status.experts_one", "status.experts_many");
        let layers = count(i.knockout.len(), "status.layers_one", "status.layers_many");
        parts.push(tr_with(
            "status.knocked",
            lang,
            &[("experts", &experts), ("layers", &layers)],
        ));
    }
    let forced: usize = i.force.values().map(Vec::len).sum();
    if forced > 0 {
        parts.push(tr_with("status.forced", lang, &[("n", &forced)]));
    }
    if !i.restrict.is_empty() {
        let layers = count(i.restrict.len(), "status.layers_one", "status.layers_many");
        parts.push(tr_with("status.restricted", lang, &[("layers", &layers)]));
    }
    (!parts.is_empty()).then(|| parts.join(" · "))
}

fn state(app: &App) -> (String, Style) {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let lang = app.lang().code();
    match app.engine_state() {
        EngineState::Loading => (tr("state.loading", lang), bold.fg(Color::Yellow)),
        EngineState::Ready => (tr("state.ready", lang), bold.fg(Color::Green)),
        EngineState::Prefill { total: 0, .. } => {
            (tr("state.prefill", lang), bold.fg(Color::Yellow))
        }
        EngineState::Prefill { done, total } => (
            tr_with(
                "state.prefill_pct",
                lang,
                &[("pct", &(done as u64 * 100 / total.max(1) as u64).min(100))],
            ),
            bold.fg(Color::Yellow),
        ),
        EngineState::Generating => (tr("state.generating", lang), bold.fg(Color::Cyan)),
        EngineState::Stopped => (tr("state.stopped", lang), bold.fg(Color::Yellow)),
        EngineState::Error => (tr("state.error", lang), bold.fg(Color::Red)),
    }
}

pub fn render_status(app: &App, area: Rect, buf: &mut Buffer) {
    let name = match app.model() {
        Some(m) => m.name.clone(),
        None => crate::text::sanitize(
            &app.config()
                .model_path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ),
    };
    let p = app.params();
    let (st, st_style) = state(app);
    // (text, style, priority: lower survives longer)
    let mut parts: Vec<(String, Style, u8)> = vec![
        (format!(" {st} "), st_style, 0),
        (
            format!(" {name} "),
            Style::new().add_modifier(Modifier::BOLD),
            3,
        ),
    ];
    let mut shape_at = None;
    if let Some(shape) = moe_shape(app, false) {
        shape_at = Some(parts.len());
        parts.push((format!(" {shape} "), Style::default(), 4));
    }
    if let Some((_, on)) = app.lora() {
        let key = if on {
            "status.lora_on"
        } else {
            "status.lora_off"
        };
        parts.push((
            format!(" {} ", tr(key, app.lang().code())),
            Style::default(),
            2,
        ));
    }
    if let Some(text) = interventions_summary(app) {
        parts.push((format!(" {text} "), super::palette::KNOCKED, 1));
    }
    parts.push((
        format!(
            " T {:.2} · top_p {:.2} · seed {} ",
            p.temperature, p.top_p, p.seed
        ),
        Style::default(),
        0,
    ));
    if let Some(s) = app.last_stats().filter(|s| s.generated_tokens > 0) {
        parts.push((
            format!(" {:.1} tok/s ", s.decode_tokens_per_s()),
            Style::default(),
            2,
        ));
    }
    if let Some(m) = app.model() {
        parts.push((
            format!(" ctx {}/{} ", app.context_used(), m.n_ctx),
            Style::default(),
            1,
        ));
    }
    let width = area.width as usize;
    let total = |ps: &[(String, Style, u8)]| ps.iter().map(|p| p.0.width() + 1).sum::<usize>();
    if total(&parts) > width {
        // First give up the long MoE shape for the short one, then the least important.
        if let (Some(i), Some(short)) = (shape_at, moe_shape(app, true)) {
            parts[i] = (format!(" {short} "), Style::default(), 1);
        }
    }
    while total(&parts) > width && parts.len() > 1 {
        let worst = parts
            .iter()
            .enumerate()
            .max_by_key(|(i, p)| (p.2, *i))
            .map(|(i, _)| i)
            .unwrap_or(0);
        parts.remove(worst);
    }
    let mut spans = Vec::new();
    for (i, (text, style, _)) in parts.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw("│"));
        }
        spans.push(Span::styled(text, style));
    }
    Paragraph::new(Line::from(spans))
        .style(BAR)
        .render(area, buf);
}

pub fn render_notice(app: &App, area: Rect, buf: &mut Buffer) {
    if let Some(n) = app.notice() {
        let (mark, style) = if n.is_error {
            ("✗ ", ERROR)
        } else {
            ("• ", INFO)
        };
        Paragraph::new(Line::from(vec![
            Span::styled(mark, style),
            Span::styled(n.text.clone(), style),
        ]))
        .render(area, buf);
    }
}

pub fn render_keys(app: &App, area: Rect, buf: &mut Buffer) {
    let key_style = Style::new().fg(Color::Black).bg(Color::Gray);
    let label_style = Style::new().fg(Color::Gray);
    let mut spans = Vec::new();
    let mut used = 0;
    let lang = app.lang().code();
    for (keys, label) in app.keymap().key_bar() {
        let label = tr(label, lang);
        let w = keys.width() + label.width() + 3;
        if used + w > area.width as usize {
            break;
        }
        used += w;
        spans.push(Span::styled(keys, key_style));
        spans.push(Span::styled(format!(" {label}  "), label_style));
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
}
