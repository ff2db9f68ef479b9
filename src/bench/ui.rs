//! UI costs on a synthetic model of realistic size (48 layers x 128 experts, 8 used): the
//! bytes of a routing record, and the time to draw the routing heatmap and a whole frame
//! at 160x48 (into ratatui's crossterm backend writing to a sink, so the diff and the
//! escape-sequence encoding are included and only the terminal itself is left out).

use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::CrosstermBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};

use crate::app::RoutingView;
use crate::app::{views, App, AppConfig};
use crate::engine::api::EngineEvent;
use crate::routing::{Phase, TokenRouting};
use crate::sampling::{Candidate, SamplingParams, StepSnapshot};
use crate::transcript::{GenStats, ModelInfo, StopReason, TokenEvent};

pub const LAYERS: u16 = 48;
pub const EXPERTS: u16 = 128;
pub const USED: u16 = 8;
const WIDTH: u16 = 160;
const HEIGHT: u16 = 48;

/// Median draw times.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderTimes {
    /// The routing pane alone, at the size it gets when it has the right column (F2).
    pub heatmap_ms: f64,
    /// A whole frame at 160x48, chat + routing + sampling, as the app draws it.
    pub frame_ms: f64,
    /// The routing pane in its expert-load view (F4), counting every token of the
    /// conversation (4 exchanges, 1,280 tokens at 48 x 128, k 8) on each draw.
    pub load_ms: f64,
    pub frames: u32,
}

fn info() -> ModelInfo {
    ModelInfo {
        path: "/models/synthetic-48x128.gguf".into(),
        name: "synthetic 48x128".into(),
        arch: "qwen3moe".into(),
        n_layer: LAYERS as u32,
        n_ctx: 8192,
        n_vocab: 151_936,
        n_params: 30_000_000_000,
        size_bytes: 17_000_000_000,
        n_expert: EXPERTS as u32,
        n_expert_used: USED as u32,
        n_expert_shared: 0,
        n_ff_exp: 0,
        n_ff_shexp: 0,
        n_dense_lead: 0,
        has_chat_template: true,
        router_display_temperature: None,
        lora_adapter: None,
    }
}

/// A full record: every layer routed, full router probabilities, spread unevenly.
pub fn record(seed: u32) -> TokenRouting {
    let mut r = TokenRouting::new(EXPERTS, USED, (0..LAYERS).collect());
    let e = EXPERTS as usize;
    for i in 0..LAYERS as usize {
        let mut probs: Vec<f32> = (0..e)
            .map(|x| {
                let h = (x as u32 ^ seed.wrapping_mul(2_654_435_761) ^ (i as u32 * 40_503))
                    .wrapping_mul(2_246_822_519);
                0.2 + (h >> 24) as f32 / 255.0
            })
            .collect();
        let experts: Vec<u16> = (0..USED as usize)
            .map(|j| ((seed as usize * 7 + i * 13 + j * 17) % e) as u16)
            .collect();
        for (j, &x) in experts.iter().enumerate() {
            probs[x as usize] += 6.0 / (j as f32 + 1.0);
        }
        let sum: f32 = probs.iter().sum();
        probs.iter_mut().for_each(|p| *p /= sum);
        let weights: Vec<f32> = experts.iter().map(|&x| probs[x as usize]).collect();
        r.set_layer(i, &experts, &weights, &probs);
    }
    r
}

/// Bytes per token of a full 48 x 128, k = 8 record ([`TokenRouting::payload_bytes`]).
pub fn routing_bytes_per_token() -> usize {
    record(1).payload_bytes()
}

fn step(i: u32) -> StepSnapshot {
    let candidates = (0..crate::sampling::SNAPSHOT_CANDIDATES as u32)
        .map(|j| Candidate {
            token_id: 1000 + i * 31 + j,
            text: format!(" word{j}"),
            logit: 10.0 - j as f32,
            p_raw: 0.3 / (j as f32 + 1.0),
            p_temp: 0.4 / (j as f32 + 1.0),
            in_nucleus: j < 6,
        })
        .collect();
    StepSnapshot {
        params: SamplingParams::default(),
        candidates,
        nucleus_size: 6,
        chosen: 1000 + i * 31,
        chosen_prob: 0.4,
        chosen_p_raw: 0.3,
    }
}

fn token(phase: Phase, pos: u32, text: String, step: Option<StepSnapshot>) -> TokenEvent {
    TokenEvent {
        phase,
        pos,
        token_id: 1000 + pos,
        text,
        routing: Some(record(pos)),
        step,
    }
}

fn type_and_send(app: &mut App, text: &str) -> u64 {
    for c in text.chars() {
        app.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
    let cmds = app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    cmds.iter()
        .find_map(|c| match c {
            crate::engine::EngineCommand::Generate { generation, .. } => Some(*generation),
            _ => None,
        })
        .unwrap_or(0)
}

/// An app showing a 48 x 128 model after `turns` exchanges of `prompt_tokens` prompt and
/// `reply_tokens` generated tokens, every token with a full routing record.
pub fn synthetic_app(turns: u32, prompt_tokens: u32, reply_tokens: u32) -> App {
    let reply = |i: usize| {
        if i % 12 == 11 {
            "\n".into()
        } else {
            format!(" reply{i}")
        }
    };
    Synthetic::new(prompt_tokens, reply_tokens, reply, turns, true).app
}

/// A synthetic conversation being built through the app's own engine-event path.
pub(super) struct Synthetic {
    pub app: App,
    /// The generation of the last request.
    pub generation: u64,
    /// The next context position.
    pub pos: u32,
    /// Tokens written into the last reply so far.
    pub written: u32,
    reply_text: fn(usize) -> String,
}

impl Synthetic {
    /// `turns` exchanges; reply token `i` reads `reply_text(i)`. With `finish` false the
    /// last reply is left streaming, so [`Synthetic::one_more`] can extend it.
    pub fn new(
        prompt_tokens: u32,
        reply_tokens: u32,
        reply_text: fn(usize) -> String,
        turns: u32,
        finish: bool,
    ) -> Synthetic {
        let mut app = App::new(AppConfig {
            model_path: "/models/synthetic-48x128.gguf".into(),
            params: SamplingParams::default(),
            max_tokens: 8192,
            capture: true,
        });
        app.on_engine_event(EngineEvent::Loaded(Box::new(info())));
        let mut s = Synthetic {
            app,
            generation: 0,
            pos: 0,
            written: 0,
            reply_text,
        };
        for turn in 0..turns {
            s.generation = type_and_send(
                &mut s.app,
                &format!("Question {turn}: why do experts specialise?"),
            );
            let tokens = (0..prompt_tokens)
                .map(|i| token(Phase::Prompt, s.pos + i, format!(" w{i}"), None))
                .collect();
            s.pos += prompt_tokens;
            s.written = 0;
            s.app.on_engine_event(EngineEvent::Prompt {
                generation: s.generation,
                tokens,
            });
            for _ in 0..reply_tokens {
                s.one_more();
            }
            if finish || turn + 1 < turns {
                s.app.on_engine_event(EngineEvent::Done {
                    generation: s.generation,
                    reason: StopReason::MaxTokens,
                    stats: GenStats {
                        prompt_tokens,
                        cached_tokens: 0,
                        generated_tokens: reply_tokens,
                        prompt_ms: 100.0,
                        generate_ms: 1000.0,
                        llama_ms: 0.0,
                        sample_ms: 0.0,
                        context_used: s.pos,
                    },
                });
            }
        }
        s
    }

    /// One more token at the end of the last reply, as the engine sends it.
    pub fn one_more(&mut self) {
        let i = self.written;
        let text = (self.reply_text)(i as usize);
        self.app.on_engine_event(EngineEvent::Token {
            generation: self.generation,
            token: Box::new(token(Phase::Generated, self.pos, text, Some(step(i)))),
        });
        self.pos += 1;
        self.written += 1;
    }
}

fn median_ms(mut v: Vec<f64>) -> f64 {
    super::quantile(&mut v, 0.5)
}

/// Move the selection one token back or forward, so consecutive frames differ.
pub(super) fn wiggle(app: &mut App, i: u32) {
    let code = if i.is_multiple_of(2) {
        KeyCode::Left
    } else {
        KeyCode::Right
    };
    app.handle_key(KeyEvent::new(code, KeyModifiers::ALT));
}

/// Press F4 (it cycles three views) until the routing pane shows `view`.
fn show_view(app: &mut App, view: RoutingView) {
    for _ in 0..3 {
        if app.routing_view() == view {
            break;
        }
        app.handle_key(KeyEvent::new(KeyCode::F(4), KeyModifiers::NONE));
    }
}

/// Median times over `frames` draws each.
pub fn render_times(frames: u32) -> RenderTimes {
    let frames = frames.max(1);
    let mut app = synthetic_app(4, 120, 200);
    // The heatmap: the routing pane given the right column of a 160x48 screen.
    let area = Rect::new(0, 0, WIDTH * 55 / 100, HEIGHT - 2);
    let mut buf = Buffer::empty(area);
    let mut heat = Vec::with_capacity(frames as usize);
    for i in 0..frames {
        wiggle(&mut app, i);
        buf.reset();
        let t = Instant::now();
        views::routing::render(&app, area, &mut buf);
        heat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    // The expert-load view of the same pane.
    let mut load = Vec::with_capacity(frames as usize);
    show_view(&mut app, RoutingView::Load);
    for i in 0..frames {
        wiggle(&mut app, i);
        buf.reset();
        let t = Instant::now();
        views::routing::render(&app, area, &mut buf);
        load.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    show_view(&mut app, RoutingView::Probabilities);
    // The whole frame, as the event loop draws it.
    let whole = Rect::new(0, 0, WIDTH, HEIGHT);
    let mut frame = Vec::with_capacity(frames as usize);
    if let Ok(mut term) = Terminal::with_options(
        CrosstermBackend::new(std::io::sink()),
        TerminalOptions {
            viewport: Viewport::Fixed(whole),
        },
    ) {
        for i in 0..frames {
            wiggle(&mut app, i);
            let t = Instant::now();
            if term.draw(|f| views::render(&app, f)).is_err() {
                break;
            }
            frame.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    RenderTimes {
        heatmap_ms: median_ms(heat),
        frame_ms: median_ms(frame),
        load_ms: median_ms(load),
        frames,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_record_fits_the_budget() {
        let r = record(3);
        assert!(r.computed.iter().all(|&c| c));
        assert_eq!(r.probs.len(), 48 * 128);
        assert!(routing_bytes_per_token() <= 8 * 1024);
    }
}
