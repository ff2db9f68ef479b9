//! Shared test fixtures: tiny models written once per test binary by the project's own
//! generator, and helpers to drive the engine.
#![allow(dead_code)]

pub mod pty;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use moe_tutor::engine::{EngineCommand, EngineEvent, EngineHandle, GenerateRequest, LoadOptions};
use moe_tutor::model::tiny::{self, TinySpec};
use moe_tutor::sampling::SamplingParams;
use moe_tutor::transcript::{ChatMessage, ModelInfo, Role, StopReason, TokenEvent};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

fn fixture_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("tempdir"))
        .path()
}

fn model(name: &str, spec: TinySpec) -> PathBuf {
    let path = fixture_dir().join(name);
    if !path.exists() {
        let tmp = fixture_dir().join(format!("{name}.{}.tmp", std::process::id()));
        tiny::write(&tmp, &spec).expect("write tiny model");
        std::fs::rename(&tmp, &path).expect("rename");
    }
    path
}

/// The standard tiny MoE: deepseek architecture, 3 layers (layer 0 dense), 8 experts, k = 2.
pub fn tiny_moe() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| model("tiny-moe.gguf", TinySpec::default()))
        .clone()
}

/// A tiny Mixtral-style MoE (llama architecture, renormalised top-k weights, no shared
/// expert, every layer MoE).
pub fn tiny_mixtral() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| model("tiny-mixtral.gguf", TinySpec::mixtral()))
        .clone()
}

/// A tiny `qwen3moe` (softmax, normalised top-k weights, every layer MoE).
pub fn tiny_qwen3moe() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| model("tiny-qwen3moe.gguf", TinySpec::qwen3moe()))
        .clone()
}

/// A tiny `dots1` (sigmoid gating with a selection bias, normalised and scaled weights).
pub fn tiny_dots1() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| model("tiny-dots1.gguf", TinySpec::dots1()))
        .clone()
}

/// A tiny `gpt-oss` (top-k on the logits, softmax over the chosen).
pub fn tiny_gpt_oss() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| model("tiny-gpt-oss.gguf", TinySpec::gpt_oss()))
        .clone()
}

/// A tiny dense (llama architecture) model.
pub fn tiny_dense() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        model(
            "tiny-dense.gguf",
            TinySpec {
                dense: true,
                ..TinySpec::default()
            },
        )
    })
    .clone()
}

/// A LoRA adapter for [`tiny_moe`]: low-rank updates of every layer's query projection and
/// of layer 1's routed experts' up projections, large enough to change the output.
pub fn tiny_lora() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let path = fixture_dir().join("tiny-lora.gguf");
        let mut state = 12345u64;
        let mut noise = |n: usize, scale: f32| -> Vec<f32> {
            (0..n)
                .map(|_| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 2.0 * scale
                })
                .collect()
        };
        let mut w = moe_tutor::model::gguf::GgufWriter::new();
        w.set("general.architecture", "deepseek");
        w.set("general.type", "adapter");
        w.set("adapter.type", "lora");
        w.set("adapter.lora.alpha", 4.0f32);
        let r = 4u64;
        for i in 0..3 {
            let name = format!("blk.{i}.attn_q.weight");
            w.add_f32(&format!("{name}.lora_a"), &[64, r], &noise(64 * 4, 0.5))
                .unwrap();
            w.add_f32(&format!("{name}.lora_b"), &[r, 64], &noise(4 * 64, 0.5))
                .unwrap();
        }
        let name = "blk.1.ffn_up_exps.weight";
        w.add_f32(
            &format!("{name}.lora_a"),
            &[64, r, 8],
            &noise(64 * 4 * 8, 0.5),
        )
        .unwrap();
        w.add_f32(
            &format!("{name}.lora_b"),
            &[r, 32, 8],
            &noise(4 * 32 * 8, 0.5),
        )
        .unwrap();
        w.write(&path).expect("write lora");
        path
    })
    .clone()
}

pub fn scratch_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = fixture_dir().join(name);
    std::fs::write(&path, bytes).expect("write");
    path
}

pub struct Engine {
    pub handle: EngineHandle,
    pub rx: UnboundedReceiver<EngineEvent>,
    pub info: ModelInfo,
}

pub fn load_options(path: &Path) -> LoadOptions {
    let mut o = LoadOptions::new(path);
    o.threads = 1;
    o.n_ctx = 512;
    o
}

pub fn start(opts: LoadOptions) -> Result<Engine, String> {
    let (tx, mut rx) = unbounded_channel();
    let handle = EngineHandle::spawn(opts, tx).map_err(|e| e.to_string())?;
    match recv(&mut rx) {
        EngineEvent::Loaded(info) => Ok(Engine {
            handle,
            rx,
            info: *info,
        }),
        EngineEvent::LoadFailed(e) => Err(e),
        other => Err(format!("unexpected first event {other:?}")),
    }
}

pub fn recv(rx: &mut UnboundedReceiver<EngineEvent>) -> EngineEvent {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        match rx.try_recv() {
            Ok(ev) => return ev,
            Err(tokio::sync::mpsc::error::TryRecvError::Empty) => {
                assert!(std::time::Instant::now() < deadline, "engine timed out");
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => panic!("engine channel closed: {e}"),
        }
    }
}

pub fn user(text: &str) -> ChatMessage {
    ChatMessage {
        role: Role::User,
        content: text.into(),
    }
}

pub fn params(temperature: f32, top_p: f32, seed: u64) -> SamplingParams {
    SamplingParams {
        temperature,
        top_p,
        seed,
    }
}

/// What one reply produced.
#[derive(Debug, Default)]
pub struct Reply {
    pub prompt: Vec<TokenEvent>,
    pub tokens: Vec<TokenEvent>,
    pub reason: Option<StopReason>,
    pub stats: Option<moe_tutor::transcript::GenStats>,
    pub error: Option<String>,
}

impl Reply {
    pub fn text(&self) -> String {
        self.tokens.iter().map(|t| t.text.as_str()).collect()
    }
    pub fn ids(&self) -> Vec<u32> {
        self.tokens.iter().map(|t| t.token_id).collect()
    }
}

impl Engine {
    pub fn generate(
        &mut self,
        generation: u64,
        messages: Vec<ChatMessage>,
        params: SamplingParams,
        max_tokens: u32,
    ) {
        self.handle.send(EngineCommand::Generate {
            generation,
            request: GenerateRequest {
                messages,
                raw: false,
                max_tokens,
                params,
            },
        });
    }

    /// Collect events of `generation` until it ends; `on_token` sees each generated token
    /// as it arrives (to send commands mid-reply).
    pub fn collect(&mut self, generation: u64, mut on_token: impl FnMut(&Engine, usize)) -> Reply {
        let mut reply = Reply::default();
        loop {
            match recv(&mut self.rx) {
                EngineEvent::Prompt {
                    generation: g,
                    tokens,
                } if g == generation => reply.prompt = tokens,
                EngineEvent::Token {
                    generation: g,
                    token,
                } if g == generation => {
                    reply.tokens.push(*token);
                    on_token(self, reply.tokens.len());
                }
                EngineEvent::Done {
                    generation: g,
                    reason,
                    stats,
                } if g == generation => {
                    reply.reason = Some(reason);
                    reply.stats = Some(stats);
                    return reply;
                }
                EngineEvent::Error {
                    generation: g,
                    message,
                } if g == generation => {
                    reply.error = Some(message);
                    return reply;
                }
                EngineEvent::Crashed { message, .. } => {
                    reply.error = Some(format!("crashed: {message}"));
                    return reply;
                }
                _ => {}
            }
        }
    }

    pub fn chat(
        &mut self,
        generation: u64,
        messages: Vec<ChatMessage>,
        params: SamplingParams,
        max_tokens: u32,
    ) -> Reply {
        self.generate(generation, messages, params, max_tokens);
        self.collect(generation, |_, _| {})
    }
}
