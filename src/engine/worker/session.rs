//! One loaded model's conversation state on the engine thread: the context and its KV
//! cache, prompt prefill in batches, and the token-by-token reply.

use std::collections::VecDeque;
use std::time::Instant;

use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::{AddBos, LlamaModel};
use llama_cpp_2::token::LlamaToken;

use super::{Worker, N_BATCH};
use crate::engine::api::*;
use crate::engine::capture::CapturedContext;
use crate::engine::ffi::apply_chat_template;
use crate::engine::routing_build::routing_for_token;
use crate::engine::utf8::Utf8Stream;
use crate::routing::Phase;
use crate::sampling::{sample, SamplingParams, SplitMix64};
use crate::text::sanitize;
use crate::transcript::*;

pub(super) struct Session<'m> {
    pub model: &'m LlamaModel,
    pub ctx: CapturedContext<'m>,
    /// Tokens whose keys and values are in the KV cache, in order.
    pub cached: Vec<LlamaToken>,
    pub info: ModelInfo,
    pub template: Option<String>,
    pub batch: LlamaBatch<'static>,
    pub adapter: Option<llama_cpp_2::model::LlamaLoraAdapter>,
    /// The adapter is merged into the weights: off = applied at -1, on = not applied.
    pub lora_merged: bool,
    pub lora_on: bool,
    /// The KV cache was computed under another adapter setting: decode everything again
    /// on the next request.
    pub stale: bool,
    /// Whether other processes keep the cores busy; `None` when the thread count stays
    /// fixed (`MOE_TUTOR_ADAPT_THREADS=0`, or one thread anyway).
    pub contention: Option<crate::engine::threads::Contention>,
}

enum Outcome {
    Stop(StopReason),
    Failed(String),
}

impl Session<'_> {
    /// Apply interventions the model can honour; refuse the rest with a message.
    pub fn set_interventions(&mut self, w: &Worker, i: crate::routing::Interventions) {
        if let Err(message) = self.ctx.capture(|c| c.set_interventions(i)) {
            w.emit(EngineEvent::InterventionsRefused { message });
        }
    }

    /// Before a graph: compute it on all the context's threads, or on one while other
    /// processes keep the cores busy (`threads::Contention`).
    pub fn pick_threads(&mut self) {
        let Some(c) = self.contention.as_mut() else {
            return;
        };
        let Some(running) = crate::engine::threads::running_now() else {
            return;
        };
        let was = c.one_thread();
        let one = c.observe(running);
        if one != was {
            crate::engine::ffi::set_openmp_parallel(!one);
            tracing::debug!(
                "{}",
                if one {
                    "other processes keep the cores busy: computing on one thread"
                } else {
                    "the cores are free again: computing on every thread"
                }
            );
        }
    }

    pub fn reset(&mut self) {
        self.ctx.clear_kv_cache();
        self.cached.clear();
    }

    pub fn set_lora(&mut self, on: bool) {
        let Some(adapter) = self.adapter.as_mut() else {
            return;
        };
        if on == self.lora_on {
            return;
        }
        // Unmerged: on applies the adapter at 1, off removes it. Merged into the weights:
        // off applies it at -1 (subtracting it again), on removes that.
        let result = if on == self.lora_merged {
            self.ctx
                .lora_adapter_remove(adapter)
                .map_err(|e| e.to_string())
        } else {
            let scale = if on { 1.0 } else { -1.0 };
            self.ctx
                .lora_adapter_set(adapter, scale)
                .map_err(|e| e.to_string())
        };
        match result {
            Ok(()) => {
                self.lora_on = on;
                self.stale = true;
            }
            Err(e) => tracing::warn!("switching the LoRA adapter failed: {e}"),
        }
    }

    fn prompt_text(&self, req: &GenerateRequest) -> Result<String, String> {
        if req.raw {
            return Ok(req
                .messages
                .last()
                .map(|m| m.content.clone())
                .unwrap_or_default());
        }
        let template = self.template.as_deref().unwrap_or("chatml");
        apply_chat_template(template, &req.messages, true)
    }

    pub(super) fn piece(&self, token: LlamaToken) -> Vec<u8> {
        match self.model.token_to_piece_bytes(token, 64, true, None) {
            Ok(b) => b,
            Err(llama_cpp_2::TokenToStringError::InsufficientBufferSpace(n)) => self
                .model
                .token_to_piece_bytes(token, n.unsigned_abs() as usize + 1, true, None)
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    }

    pub fn generate(
        &mut self,
        w: &mut Worker,
        generation: u64,
        req: &GenerateRequest,
        params: &mut SamplingParams,
    ) {
        self.generate_from(w, generation, req, &[], VecDeque::new(), params);
    }

    /// Generate a reply that starts with `tail` (decoded after the prompt, as part of it)
    /// and whose first tokens are `forced` instead of drawn (a branch, `super::branch`).
    pub(super) fn generate_from(
        &mut self,
        w: &mut Worker,
        generation: u64,
        req: &GenerateRequest,
        tail: &[LlamaToken],
        mut forced: VecDeque<LlamaToken>,
        params: &mut SamplingParams,
    ) {
        let mut stats = GenStats::default();
        let outcome = self.run(w, generation, req, tail, &mut forced, params, &mut stats);
        stats.context_used = self.cached.len() as u32;
        match outcome {
            Outcome::Stop(reason) => w.emit(EngineEvent::Done {
                generation,
                reason,
                stats,
            }),
            Outcome::Failed(message) => {
                tracing::warn!("generation {generation} failed: {message}");
                w.emit(EngineEvent::Error {
                    generation,
                    message,
                })
            }
        }
    }

    /// Decode `tokens` (starting at the end of the cache) in batches; returns the routing
    /// of each token when capture is on. `Err(None)` = cancelled.
    fn prefill(
        &mut self,
        w: &mut Worker,
        generation: u64,
        tokens: &[LlamaToken],
    ) -> Result<Vec<TokenEvent>, Option<String>> {
        let capturing = self.ctx.capture(|c| c.enabled);
        let total = tokens.len() as u32;
        let mut out = Vec::with_capacity(tokens.len());
        let mut utf8 = Utf8Stream::new();
        let mut done = 0u32;
        // llama.cpp lowers n_batch to n_ctx for small contexts; never exceed what it took.
        let n_batch = (self.ctx.n_batch() as usize).clamp(1, N_BATCH as usize);
        for (ci, chunk) in tokens.chunks(n_batch).enumerate() {
            if self.cancelled_or_shutdown(w, generation) {
                return Err(None);
            }
            self.batch.clear();
            let start = self.cached.len();
            let last_chunk = (ci + 1) * n_batch >= tokens.len();
            for (j, &t) in chunk.iter().enumerate() {
                // Capture needs every token's output: llama.cpp skips the last layer for
                // tokens whose logits are not requested.
                let logits = capturing || (last_chunk && j + 1 == chunk.len());
                self.batch
                    .add(t, (start + j) as i32, &[0], logits)
                    .map_err(|e| Some(format!("batch: {e}")))?;
            }
            self.pick_threads();
            self.ctx
                .decode(&mut self.batch)
                .map_err(|e| Some(format!("llama.cpp failed to decode the prompt: {e}")))?;
            self.cached.extend_from_slice(chunk);
            for (j, &t) in chunk.iter().enumerate() {
                let routing = if capturing {
                    let info = &self.info;
                    self.ctx
                        .capture(|c| routing_for_token(c, j, chunk.len(), info))
                } else {
                    None
                };
                out.push(TokenEvent {
                    phase: Phase::Prompt,
                    pos: (start + j) as u32,
                    token_id: t.0 as u32,
                    text: sanitize(&utf8.push(&self.piece(t))),
                    routing,
                    step: None,
                });
            }
            done += chunk.len() as u32;
            w.emit(EngineEvent::PrefillProgress {
                generation,
                done,
                total,
            });
        }
        if let Some(last) = out.last_mut() {
            last.text.push_str(&utf8.finish());
        }
        Ok(out)
    }

    fn cancelled_or_shutdown(&self, w: &Worker, generation: u64) -> bool {
        w.shutdown || w.cancelled(generation)
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        &mut self,
        w: &mut Worker,
        generation: u64,
        req: &GenerateRequest,
        tail: &[LlamaToken],
        forced: &mut VecDeque<LlamaToken>,
        params: &mut SamplingParams,
        stats: &mut GenStats,
    ) -> Outcome {
        if std::mem::take(&mut self.stale) {
            self.reset();
        }
        let text = match self.prompt_text(req) {
            Ok(t) => t,
            Err(e) => return Outcome::Failed(e),
        };
        let tokens = match self.model.str_to_token(&text, AddBos::Always) {
            Ok(mut t) => {
                t.extend_from_slice(tail);
                t
            }
            Err(e) => return Outcome::Failed(format!("could not tokenize the prompt: {e}")),
        };
        let n_ctx = self.ctx.n_ctx() as usize;
        if tokens.is_empty() {
            return Outcome::Failed("the prompt is empty".into());
        }
        if tokens.len() >= n_ctx {
            return Outcome::Failed(format!(
                "context full: the conversation needs {} tokens but the context holds {n_ctx}; start a new conversation (/clear)",
                tokens.len()
            ));
        }
        // Reuse the KV cache for the longest common prefix; at least one token must be
        // decoded so there are logits to sample from.
        let mut prefix = self
            .cached
            .iter()
            .zip(&tokens)
            .take_while(|(a, b)| a == b)
            .count();
        prefix = prefix.min(tokens.len() - 1);
        if prefix < self.cached.len() {
            if self
                .ctx
                .clear_kv_cache_seq(Some(0), Some(prefix as u32), None)
                .is_err()
            {
                self.reset();
                prefix = 0;
            }
            self.cached.truncate(prefix);
        }
        stats.prompt_tokens = tokens.len() as u32;
        stats.cached_tokens = prefix as u32;

        let t0 = Instant::now();
        let prompt_events = match self.prefill(w, generation, &tokens[prefix..]) {
            Ok(ev) => ev,
            Err(None) => return Outcome::Stop(StopReason::Cancelled),
            Err(Some(e)) => {
                self.reset();
                return Outcome::Failed(e);
            }
        };
        stats.prompt_ms = t0.elapsed().as_secs_f64() * 1000.0;
        w.emit(EngineEvent::Prompt {
            generation,
            tokens: prompt_events,
        });

        let capturing = self.ctx.capture(|c| c.enabled);
        let mut rng = SplitMix64::new(params.seed);
        let mut utf8 = Utf8Stream::new();
        let mut logits_index = self.batch.n_tokens() - 1;
        let t1 = Instant::now();
        let result = loop {
            w.drain(params);
            if let Some(i) = w.interventions.take() {
                self.set_interventions(w, i);
            }
            if let Some(on) = w.lora.take() {
                self.set_lora(on);
            }
            if self.cancelled_or_shutdown(w, generation) {
                break StopReason::Cancelled;
            }
            if stats.generated_tokens >= req.max_tokens {
                break StopReason::MaxTokens;
            }
            if self.cached.len() >= n_ctx {
                break StopReason::ContextFull;
            }
            let t_sample = Instant::now();
            let logits = self.ctx.get_logits_ith(logits_index);
            let mut step = sample(logits, *params, &mut rng);
            let was_forced = forced.pop_front();
            if let Some(f) = was_forced {
                super::forced::force(&mut step, f, logits);
            }
            stats.sample_ms += t_sample.elapsed().as_secs_f64() * 1000.0;
            let token = LlamaToken(step.chosen as i32);
            if self.model.is_eog_token(token) {
                let text = sanitize(&String::from_utf8_lossy(&self.piece(token)));
                w.emit(EngineEvent::Ended {
                    generation,
                    token: EndToken {
                        token_id: step.chosen,
                        text,
                    },
                });
                break StopReason::EndOfText;
            }
            for c in &mut step.candidates {
                c.text = sanitize(&String::from_utf8_lossy(
                    &self.piece(LlamaToken(c.token_id as i32)),
                ));
            }
            self.batch.clear();
            let pos = self.cached.len();
            if let Err(e) = self.batch.add(token, pos as i32, &[0], true) {
                return Outcome::Failed(format!("batch: {e}"));
            }
            let t_decode = Instant::now();
            debug_stall();
            self.pick_threads();
            if let Err(e) = self.ctx.decode(&mut self.batch) {
                self.reset();
                return Outcome::Failed(format!("llama.cpp failed to decode: {e}"));
            }
            stats.llama_ms += t_decode.elapsed().as_secs_f64() * 1000.0;
            self.cached.push(token);
            logits_index = 0;
            stats.generated_tokens += 1;
            let routing = if capturing {
                let info = &self.info;
                self.ctx.capture(|c| routing_for_token(c, 0, 1, info))
            } else {
                None
            };
            let text = sanitize(&utf8.push(&self.piece(token)));
            w.emit(EngineEvent::Token {
                generation,
                token: Box::new(TokenEvent {
                    phase: Phase::Generated,
                    pos: pos as u32,
                    token_id: token.0 as u32,
                    text,
                    routing,
                    step: Some(step),
                }),
            });
        };
        stats.generate_ms = t1.elapsed().as_secs_f64() * 1000.0;
        // A reply that stopped inside a multi-byte character: show the cut, don't drop it.
        let tail = utf8.finish();
        if !tail.is_empty() {
            w.emit(EngineEvent::Tail {
                generation,
                text: sanitize(&tail),
            });
        }
        Outcome::Stop(result)
    }
}

/// Debug builds only: `MOE_TUTOR_DEBUG_DECODE_STALL_MS=N` holds each generated token's
/// decode for N ms without looking at the cancel flag, as a token does that a loaded
/// machine slows to seconds, so a test can check that quitting does not wait for it.
/// The variable is read once, not on every token.
fn debug_stall() {
    #[cfg(debug_assertions)]
    {
        static STALL: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
        let stall = STALL.get_or_init(|| {
            std::env::var("MOE_TUTOR_DEBUG_DECODE_STALL_MS")
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
        });
        if let Some(ms) = *stall {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
    }
}
