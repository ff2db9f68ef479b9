//! Shared helpers for the app tests: synthetic engine events built from the public plain
//! data types, key presses, and rendering to a `TestBackend`.
#![allow(dead_code)]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use moe_tutor::app::{views, App, AppConfig};
use moe_tutor::engine::api::{EngineCommand, EngineEvent};
use moe_tutor::routing::{Phase, TokenRouting};
use moe_tutor::sampling::{Candidate, SamplingParams, StepSnapshot};
use moe_tutor::transcript::{GenStats, ModelInfo, StopReason, TokenEvent};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

pub fn config() -> AppConfig {
    AppConfig {
        model_path: "/models/tiny-moe.gguf".into(),
        params: SamplingParams::default(),
        max_tokens: 256,
        capture: true,
    }
}

pub fn moe_info(n_expert: u32, k: u32, n_layer: u32, dense_lead: u32) -> ModelInfo {
    ModelInfo {
        path: "/models/tiny-moe.gguf".into(),
        name: "tiny-moe".into(),
        arch: "deepseek2".into(),
        n_layer,
        n_ctx: 4096,
        n_vocab: 32000,
        n_params: 1_000_000,
        size_bytes: 4_000_000,
        n_expert,
        n_expert_used: k,
        n_expert_shared: 1,
        n_ff_exp: 0,
        n_ff_shexp: 0,
        n_dense_lead: dense_lead,
        has_chat_template: true,
        router_display_temperature: None,
        lora_adapter: None,
    }
}

pub fn dense_info() -> ModelInfo {
    ModelInfo {
        name: "tiny-dense".into(),
        arch: "llama".into(),
        n_expert: 0,
        n_expert_used: 0,
        n_expert_shared: 0,
        n_dense_lead: 0,
        ..moe_info(0, 0, 4, 0)
    }
}

/// A deterministic routing record: token `seed` picks experts spread over the range, with
/// falling weights; `skip_last` leaves the last MoE layer not computed.
pub fn routing(
    n_expert: u16,
    k: u16,
    layers: Vec<u16>,
    seed: u32,
    skip_last: bool,
) -> TokenRouting {
    let n = layers.len();
    let mut r = TokenRouting::new(n_expert, k, layers);
    for i in 0..n {
        if skip_last && i + 1 == n {
            continue;
        }
        let e = n_expert as u32;
        let experts: Vec<u16> = (0..k as u32)
            .map(|j| ((seed * 7 + i as u32 * 3 + j * (e / k as u32 + 1)) % e) as u16)
            .collect();
        let weights: Vec<f32> = (0..k).map(|j| 0.5 / (j as f32 + 1.0)).collect();
        let chosen_mass: f32 = 0.8;
        let mut probs = vec![(1.0 - chosen_mass) / (e - k as u32) as f32; e as usize];
        let sum_w: f32 = weights.iter().sum();
        for (x, w) in experts.iter().zip(&weights) {
            probs[*x as usize] = chosen_mass * w / sum_w;
        }
        r.set_layer(i, &experts, &weights, &probs);
    }
    r
}

pub fn token(
    phase: Phase,
    pos: u32,
    text: &str,
    routing: Option<TokenRouting>,
    step: Option<StepSnapshot>,
) -> TokenEvent {
    TokenEvent {
        phase,
        pos,
        token_id: pos + 100,
        text: text.into(),
        routing,
        step,
    }
}

/// A step whose nucleus (top_p 0.9) holds the first three candidates; drew the second.
pub fn step(text: &str) -> StepSnapshot {
    let texts = [text, " the", " a", " an", " this", " that", " one"];
    let raw = [0.45f32, 0.25, 0.15, 0.06, 0.04, 0.03, 0.02];
    let temp = [0.55f32, 0.25, 0.12, 0.04, 0.02, 0.01, 0.01];
    let candidates = texts
        .iter()
        .enumerate()
        .map(|(i, t)| Candidate {
            token_id: 500 + i as u32,
            text: t.to_string(),
            logit: 5.0 - i as f32,
            p_raw: raw[i],
            p_temp: temp[i],
            in_nucleus: i < 3,
        })
        .collect();
    StepSnapshot {
        params: SamplingParams::default(),
        candidates,
        nucleus_size: 3,
        chosen: 500,
        chosen_prob: 0.55 / 0.92,
        chosen_p_raw: 0.45,
    }
}

pub fn key(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
    KeyEvent::new(code, mods)
}

pub fn press(app: &mut App, code: KeyCode) -> Vec<EngineCommand> {
    app.handle_key(key(code, KeyModifiers::NONE))
}

pub fn alt(app: &mut App, code: KeyCode) -> Vec<EngineCommand> {
    app.handle_key(key(code, KeyModifiers::ALT))
}

pub fn ctrl(app: &mut App, c: char) -> Vec<EngineCommand> {
    app.handle_key(key(KeyCode::Char(c), KeyModifiers::CONTROL))
}

pub fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        if c == '\n' {
            alt(app, KeyCode::Enter);
        } else {
            press(app, KeyCode::Char(c));
        }
    }
}

/// Type a message, press Enter; returns the generation number it was sent with.
pub fn send(app: &mut App, text: &str) -> u64 {
    type_text(app, text);
    let cmds = press(app, KeyCode::Enter);
    match cmds.first() {
        Some(EngineCommand::Generate { generation, .. }) => *generation,
        other => panic!("expected Generate, got {other:?}"),
    }
}

/// Routing config of a model for the helpers: (n_expert, k, moe layer indices).
pub struct Shape {
    pub n_expert: u16,
    pub k: u16,
    pub layers: Vec<u16>,
}

impl Shape {
    pub fn of(info: &ModelInfo) -> Option<Shape> {
        info.is_moe().then(|| Shape {
            n_expert: info.n_expert as u16,
            k: info.n_expert_used as u16,
            layers: (info.n_dense_lead as u16..info.n_layer as u16).collect(),
        })
    }
}

/// Feed a whole exchange: prompt tokens (words of `prompt`), reply tokens (chunks of
/// `reply`), Done.
pub fn exchange(app: &mut App, shape: Option<&Shape>, prompt: &str, reply: &str) {
    let generation = send(app, prompt);
    let start = app.context_used();
    let route = |seed: u32, skip: bool| {
        shape.map(|s| routing(s.n_expert, s.k, s.layers.clone(), seed, skip))
    };
    let mut pos = start;
    let mut tokens = Vec::new();
    for (i, w) in split_tokens(prompt).into_iter().enumerate() {
        tokens.push(token(Phase::Prompt, pos, &w, route(i as u32, true), None));
        pos += 1;
    }
    app.on_engine_event(EngineEvent::PrefillProgress {
        generation,
        done: pos - start,
        total: pos - start,
    });
    app.on_engine_event(EngineEvent::Prompt { generation, tokens });
    let mut generated = 0;
    for (i, w) in split_tokens(reply).into_iter().enumerate() {
        let t = token(
            Phase::Generated,
            pos,
            &w,
            route(100 + i as u32, false),
            Some(step(&w)),
        );
        app.on_engine_event(EngineEvent::Token {
            generation,
            token: Box::new(t),
        });
        pos += 1;
        generated += 1;
    }
    let stats = GenStats {
        prompt_tokens: pos - start - generated,
        cached_tokens: 0,
        generated_tokens: generated,
        prompt_ms: 10.0,
        generate_ms: generated as f64 * 40.0,
        llama_ms: 0.0,
        sample_ms: 0.0,
        context_used: pos,
    };
    app.on_engine_event(EngineEvent::Done {
        generation,
        reason: StopReason::EndOfText,
        stats,
    });
}

/// Split text into token-like pieces: words with their leading space, newlines alone.
pub fn split_tokens(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in text.chars() {
        let start_new = c == '\n'
            || c == ' '
            || out
                .last()
                .is_none_or(|l| l.ends_with('\n') || l.chars().count() >= 6);
        if start_new {
            out.push(String::new());
        }
        if let Some(l) = out.last_mut() {
            l.push(c);
        }
    }
    out
}

pub fn loaded(info: ModelInfo) -> App {
    let mut app = App::new(config());
    app.on_engine_event(EngineEvent::Loaded(Box::new(info)));
    app
}

pub fn draw(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    term.draw(|f| views::render(app, f)).expect("draw");
    term
}

/// The rendered screen as plain text rows.
pub fn rows(term: &Terminal<TestBackend>) -> Vec<String> {
    let buf = term.backend().buffer();
    (0..buf.area.height)
        .map(|y| {
            let mut s = String::new();
            for x in 0..buf.area.width {
                s.push_str(buf[(x, y)].symbol());
            }
            s
        })
        .collect()
}

pub fn screen_contains(term: &Terminal<TestBackend>, needle: &str) -> bool {
    rows(term).iter().any(|r| r.contains(needle))
}
