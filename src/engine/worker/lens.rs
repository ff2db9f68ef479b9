//! Serving `EngineCommand::Lens`: the layer lens for one position (see `capture/lens.rs`
//! for what happens inside the graph).
//!
//! The lens token must be decoded at the end of the sequence (llama.cpp requires the
//! positions of a sequence to stay consecutive), so the KV cache is cut back to the context
//! the request names (its common prefix with what is cached is kept, the rest decoded),
//! the token is decoded once recording every layer's output and once per other layer with
//! that output written over the last layer's, and its cell is removed after each decode.
//! Afterwards what was cached past the cut is decoded again, so the conversation goes on
//! as without the lens.

use llama_cpp_2::token::LlamaToken;

use super::session::Session;
use super::Worker;
use crate::engine::api::EngineEvent;
use crate::engine::capture::LensMode;
use crate::routing::lens::{top_probs, LayerLens, LensCandidate, LensRow, LENS_TOP};
use crate::text::sanitize;

impl Session<'_> {
    /// Serve `EngineCommand::Lens`.
    pub fn lens(&mut self, w: &Worker, generation: u64, start: usize, tokens: &[u32]) {
        let before = self.cached.clone();
        let result = match before.get(..start) {
            Some(head) => {
                let mut all: Vec<u32> = head.iter().map(|t| t.0 as u32).collect();
                all.extend_from_slice(tokens);
                self.lens_rows(&all)
            }
            None => Err(format!(
                "the engine no longer holds the first {start} tokens of this conversation; send a message and ask again"
            )),
        };
        // Whatever happened, the next decode runs without the lens.
        self.ctx.capture(|c| c.lens.start(LensMode::Off));
        // Decode again what was cached past the lens's context, so the next request finds
        // the cache as it was (and reports the same prompt tokens as without the lens).
        if let Err(e) = self.cut_to(&before) {
            tracing::warn!("restoring the cache after a lens failed: {e}");
        }
        match result {
            Ok(lens) => w.emit(EngineEvent::Lens {
                generation,
                lens: Box::new(lens),
            }),
            Err(message) => w.emit(EngineEvent::Error {
                generation,
                message,
            }),
        }
    }

    fn lens_rows(&mut self, tokens: &[u32]) -> Result<LayerLens, String> {
        let n_vocab = self.info.n_vocab;
        let Some((&last, context)) = tokens.split_last() else {
            return Err("the lens needs a token to read".into());
        };
        if tokens.iter().any(|&t| t >= n_vocab) {
            return Err(format!(
                "the lens was asked about a token outside the vocabulary ({n_vocab})"
            ));
        }
        let n_ctx = self.ctx.n_ctx() as usize;
        if tokens.len() > n_ctx {
            return Err(format!(
                "the lens needs {} tokens of context but the context holds {n_ctx}",
                tokens.len()
            ));
        }
        if std::mem::take(&mut self.stale) {
            self.reset();
        }
        let context: Vec<LlamaToken> = context.iter().map(|&t| LlamaToken(t as i32)).collect();
        self.cut_to(&context)?;
        let pos = context.len();
        let last = LlamaToken(last as i32);

        // Every layer's output, and the real prediction (the last layer's row).
        self.ctx.capture(|c| c.lens.start(LensMode::Record));
        let real = self.decode_lens_token(last, pos)?;
        let recorded = self
            .ctx
            .capture(|c| (!c.lens.failed).then(|| std::mem::take(&mut c.lens.recorded)));
        // Layers 0..=top, each once. The graph may run fewer layers than the model
        // declares (next-token-prediction layers that a plain decode skips): the last one
        // it ran is the one the output head reads.
        let recorded = recorded
            .filter(|r| r.keys().copied().eq(0..r.len() as u32))
            .filter(|r| !r.is_empty() && r.len() <= self.info.n_layer as usize)
            .ok_or("the lens could not read every layer's output (l_out) from llama.cpp")?;
        let top_layer = recorded.len() as u32 - 1;
        let mut rows = Vec::with_capacity(recorded.len());
        for (&layer, row) in &recorded {
            let logits = if layer == top_layer {
                real.clone()
            } else {
                let mode = LensMode::Inject {
                    layer: top_layer,
                    row: row.clone(),
                };
                self.ctx.capture(|c| c.lens.start(mode));
                let logits = self.decode_lens_token(last, pos)?;
                if !self.ctx.capture(|c| c.lens.injected && !c.lens.failed) {
                    return Err(format!(
                        "the lens could not replace the last layer's output with layer {layer}'s"
                    ));
                }
                logits
            };
            rows.push(LensRow {
                layer,
                top: top_probs(&logits, LENS_TOP)
                    .into_iter()
                    .map(|(token_id, p)| LensCandidate {
                        token_id,
                        text: sanitize(&String::from_utf8_lossy(
                            &self.piece(LlamaToken(token_id as i32)),
                        )),
                        p,
                    })
                    .collect(),
            });
        }
        Ok(LayerLens {
            pos: pos as u32,
            rows,
        })
    }

    /// Make the cache hold exactly `context`: keep the common prefix, remove the rest,
    /// decode what is missing.
    fn cut_to(&mut self, context: &[LlamaToken]) -> Result<(), String> {
        let prefix = self
            .cached
            .iter()
            .zip(context)
            .take_while(|(a, b)| a == b)
            .count();
        self.truncate_cache(prefix);
        let n_batch = (self.ctx.n_batch() as usize).clamp(1, super::N_BATCH as usize);
        for chunk in context[prefix..].chunks(n_batch) {
            self.batch.clear();
            let start = self.cached.len();
            for (j, &t) in chunk.iter().enumerate() {
                self.batch
                    .add(t, (start + j) as i32, &[0], j + 1 == chunk.len())
                    .map_err(|e| format!("batch: {e}"))?;
            }
            if let Err(e) = self.ctx.decode(&mut self.batch) {
                self.reset();
                return Err(format!(
                    "llama.cpp failed to decode the lens's context: {e}"
                ));
            }
            self.cached.extend_from_slice(chunk);
        }
        Ok(())
    }

    /// Remove every cached position from `len` on.
    fn truncate_cache(&mut self, len: usize) {
        if len >= self.cached.len() {
            return;
        }
        match self.ctx.clear_kv_cache_seq(Some(0), Some(len as u32), None) {
            Ok(true) => self.cached.truncate(len),
            _ => self.reset(),
        }
    }

    /// Decode `token` at `pos` (just past the cache) with logits, read them, and remove the
    /// token's cell again so the cache holds what it held before.
    fn decode_lens_token(&mut self, token: LlamaToken, pos: usize) -> Result<Vec<f32>, String> {
        self.batch.clear();
        self.batch
            .add(token, pos as i32, &[0], true)
            .map_err(|e| format!("batch: {e}"))?;
        let decoded = self.ctx.decode(&mut self.batch);
        let logits = decoded
            .as_ref()
            .map(|_| self.ctx.get_logits_ith(0).to_vec())
            .map_err(|e| format!("llama.cpp failed to decode the lens token: {e}"));
        if decoded.is_ok() {
            self.cached.push(token);
            self.truncate_cache(pos);
        } else {
            self.reset();
        }
        logits
    }
}
