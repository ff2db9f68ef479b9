//! Prompt and decode speed of the engine itself (the thread the app talks to, with its
//! Rust sampling, token events and, when on, routing capture), capture off and on,
//! interleaved so that both see the same machine.

use std::path::{Path, PathBuf};

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

use super::{BenchOptions, CompareModel};
use crate::engine::{EngineCommand, EngineEvent, EngineHandle, GenerateRequest, LoadOptions};
use crate::sampling::SamplingParams;
use crate::transcript::{ChatMessage, GenStats, Role, StopReason};

/// Best prompt and decode rates of one configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Speed {
    pub prompt_tps: f64,
    /// Decode after a two-token prompt: what llama-bench's `tg` measures (from an empty
    /// cache).
    pub decode_tps: f64,
    /// Decode right after the full prompt (`prompt_tokens` already in the cache), as in a
    /// chat; compared with llama-bench's `tg` at that depth.
    pub decode_deep_tps: f64,
    /// Prompt tokens per prefill (BOS included).
    pub prompt_tokens: u32,
    /// Tokens generated in the best decode run.
    pub gen_tokens: u32,
    /// Per generated token in the best decode run from the short prompt: milliseconds
    /// inside llama.cpp's decode, in the sampler, and in all (the rest is the engine's own
    /// work).
    pub llama_ms_per_token: f64,
    pub sample_ms_per_token: f64,
    pub ms_per_token: f64,
}

impl Speed {
    /// Per generated token, milliseconds outside llama.cpp and the sampler: routing
    /// records, candidate texts, events.
    pub fn engine_ms_per_token(&self) -> f64 {
        (self.ms_per_token - self.llama_ms_per_token - self.sample_ms_per_token).max(0.0)
    }

    /// A reply after the full prompt: prompt speed and decode at depth.
    fn add_deep(&mut self, s: &GenStats) {
        if s.prompt_ms > 0.0 && s.cached_tokens == 0 {
            let pp = s.prompt_tokens as f64 * 1000.0 / s.prompt_ms;
            if pp > self.prompt_tps {
                self.prompt_tps = pp;
                self.prompt_tokens = s.prompt_tokens;
            }
        }
        // A reply that ended at once says little about decode speed.
        if s.generated_tokens >= 8 {
            self.decode_deep_tps = self.decode_deep_tps.max(s.decode_tokens_per_s());
        }
    }

    /// A reply after the two-token prompt: decode from an (almost) empty cache.
    fn add_flat(&mut self, s: &GenStats) {
        if s.generated_tokens >= 8 && s.decode_tokens_per_s() > self.decode_tps {
            let n = s.generated_tokens as f64;
            self.decode_tps = s.decode_tokens_per_s();
            self.gen_tokens = s.generated_tokens;
            self.llama_ms_per_token = s.llama_ms / n;
            self.sample_ms_per_token = s.sample_ms / n;
            self.ms_per_token = s.generate_ms / n;
        }
    }
}

struct Engine {
    handle: EngineHandle,
    rx: UnboundedReceiver<EngineEvent>,
    generation: u64,
}

impl Engine {
    fn load(opts: &BenchOptions, capture: bool) -> Result<Engine, String> {
        Engine::load_file(
            opts,
            &opts.model,
            opts.lora.clone(),
            opts.experts_used,
            capture,
        )
    }

    /// An engine on `model` (with `lora`, `experts_used`), otherwise as `opts` says.
    fn load_file(
        opts: &BenchOptions,
        model: &Path,
        lora: Option<PathBuf>,
        experts_used: Option<u32>,
        capture: bool,
    ) -> Result<Engine, String> {
        let mut load = LoadOptions::new(model);
        load.capture = capture;
        load.threads = opts.threads.max(1);
        load.experts_used = experts_used;
        load.lora = lora;
        load.n_ctx = (opts.prompt_tokens * 2 + opts.gen_tokens + 64).max(512);
        let (tx, mut rx) = unbounded_channel();
        let handle = EngineHandle::spawn(load, tx).map_err(|e| format!("engine: {e}"))?;
        match rx.blocking_recv() {
            Some(EngineEvent::Loaded(_)) => {}
            Some(EngineEvent::LoadFailed(e)) | Some(EngineEvent::Crashed { message: e, .. }) => {
                return Err(e)
            }
            _ => return Err("the engine stopped while loading".into()),
        }
        Ok(Engine {
            handle,
            rx,
            generation: 0,
        })
    }

    /// One reply from an empty KV cache; returns its timing.
    fn reply(&mut self, prompt: &str, max_tokens: u32) -> Result<GenStats, String> {
        self.generation += 1;
        let generation = self.generation;
        self.handle.send(EngineCommand::Reset);
        self.handle.send(EngineCommand::Generate {
            generation,
            request: GenerateRequest {
                messages: vec![ChatMessage {
                    role: Role::User,
                    content: prompt.into(),
                }],
                raw: true,
                max_tokens,
                params: SamplingParams::default(),
            },
        });
        loop {
            match self.rx.blocking_recv() {
                Some(EngineEvent::Done {
                    generation: g,
                    reason,
                    stats,
                }) if g == generation => {
                    if reason == StopReason::ContextFull {
                        return Err("the context filled up during the benchmark".into());
                    }
                    return Ok(stats);
                }
                Some(EngineEvent::Error {
                    generation: g,
                    message,
                }) if g == generation => return Err(message),
                Some(EngineEvent::Crashed { message, .. }) => {
                    return Err(format!("the engine crashed: {message}"))
                }
                Some(_) => {}
                None => return Err("the engine thread stopped".into()),
            }
        }
    }
}

/// Decode rates of `reps` replies after a one-word prompt, capture on (as the app runs),
/// one engine loaded for them all.
pub(super) fn decode_rates(opts: &BenchOptions, reps: u32) -> Result<Vec<f64>, String> {
    let mut e = Engine::load(opts, true)?;
    e.reply(SHORT_PROMPT, 4)?;
    let mut v = Vec::new();
    for _ in 0..reps.max(1) {
        let s = e.reply(SHORT_PROMPT, opts.gen_tokens.max(8))?;
        if s.generated_tokens >= 8 {
            v.push(s.decode_tokens_per_s());
        }
    }
    Ok(v)
}

/// Whether the GGUF at `path` declares routed experts (unreadable: assume so, and let the
/// load say what is wrong).
fn has_experts(path: &Path) -> bool {
    crate::model::gguf::GgufFile::open(path)
        .map_or(true, |f| f.arch_u32("expert_count").unwrap_or(0) > 0)
}

/// The two engines and the prompt they both read.
pub(super) struct Pair {
    opts: BenchOptions,
    off: Speed,
    on: Speed,
    prompt: String,
    gen_tokens: u32,
}

/// The prompt of the decode runs that start from an (almost) empty cache.
const SHORT_PROMPT: &str = "The";

/// Text of about `words` words (plain English, so any vocabulary tokenizes it).
fn text(words: usize) -> String {
    const WORDS: &[&str] = &[
        "the", "router", "of", "each", "layer", "sends", "every", "token", "to", "a", "few",
        "experts,", "and", "their", "outputs", "are", "mixed", "by", "weight;", "most", "experts",
        "stay", "idle", "for", "any", "one", "word.",
    ];
    (0..words)
        .map(|i| WORDS[i % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

impl Pair {
    pub(super) fn load(opts: &BenchOptions) -> Result<Pair, String> {
        let mut probe = Engine::load(opts, false)?;
        // Find a text of about the wanted prompt length for this vocabulary.
        let target = opts.prompt_tokens.max(2) as usize;
        let mut words = target;
        let mut prompt = text(words);
        for _ in 0..3 {
            let got = probe.reply(&prompt, 1)?.prompt_tokens as usize;
            if got == target || got == 0 {
                break;
            }
            words = (words * target / got).max(1);
            prompt = text(words);
        }
        Ok(Pair {
            opts: opts.clone(),
            off: Speed::default(),
            on: Speed::default(),
            prompt,
            gen_tokens: opts.gen_tokens.max(1),
        })
    }

    /// `reps` replies per configuration, alternating. Only one engine is alive at a time:
    /// two llama.cpp contexts in one process each keep an OpenMP thread team, and an idle
    /// team still competes for the two cores, which the app (one engine) never sees.
    pub(super) fn round(&mut self, reps: u32) -> Result<(), String> {
        for _ in 0..reps {
            for capture in [false, true] {
                let mut e = Engine::load(&self.opts, capture)?;
                // Warm-up: page in the weights, let llama.cpp allocate its buffers.
                e.reply(&self.prompt, 4)?;
                let deep = e.reply(&self.prompt, self.gen_tokens)?;
                // One word: BOS and one token in the cache before the first decode.
                let flat = e.reply(SHORT_PROMPT, self.gen_tokens)?;
                drop(e);
                let sp = if capture { &mut self.on } else { &mut self.off };
                sp.add_deep(&deep);
                sp.add_flat(&flat);
            }
        }
        Ok(())
    }

    /// The prompt of the runs after a full prompt.
    pub(super) fn prompt(&self) -> &str {
        &self.prompt
    }

    /// Prompt tokens and generated tokens, for the peer to run the same sizes.
    pub(super) fn sizes(&self) -> (u32, u32) {
        let pp = self.off.prompt_tokens.max(self.on.prompt_tokens);
        let tg = self.off.gen_tokens.max(self.on.gen_tokens);
        (pp.max(1), if tg == 0 { self.gen_tokens } else { tg })
    }

    /// (capture off, capture on).
    pub(super) fn best(&self) -> (Speed, Speed) {
        (self.off.clone(), self.on.clone())
    }
}

/// Best decode rates (from the short prompt, and after `prompt`) of each file in `models`,
/// capture on as the app runs, `reps` rounds that visit every file in turn so that all
/// see the same machine; one engine alive at a time (see [`Pair::round`]). Returns
/// `(decode_tps, decode_deep_tps)` per model, in order.
pub(super) fn compare(
    opts: &BenchOptions,
    models: &[CompareModel],
    prompt: &str,
    reps: u32,
) -> Result<Vec<(f64, f64)>, String> {
    let gen = opts.gen_tokens.max(8);
    let mut best = vec![(0.0f64, 0.0f64); models.len()];
    for _ in 0..reps.max(1) {
        for (m, b) in models.iter().zip(best.iter_mut()) {
            // `--experts-used` applies to the MoE files; a dense one (the teacher) has none.
            let k = opts.experts_used.filter(|_| has_experts(&m.path));
            let mut e = Engine::load_file(opts, &m.path, m.lora.clone(), k, true)
                .map_err(|err| format!("{}: {err}", m.label))?;
            e.reply(prompt, 4)?;
            let deep = e.reply(prompt, gen)?;
            let flat = e.reply(SHORT_PROMPT, gen)?;
            drop(e);
            if flat.generated_tokens >= 8 {
                b.0 = b.0.max(flat.decode_tokens_per_s());
            }
            if deep.generated_tokens >= 8 {
                b.1 = b.1.max(deep.decode_tokens_per_s());
            }
        }
    }
    Ok(best)
}
