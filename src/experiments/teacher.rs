//! Teacher-forced KL of each run from its baseline run: two model states read the same
//! tokens and, at each reply position, their raw next-token distributions (temperature 1,
//! no cut) are compared, KL(baseline || run), averaged over the reply.
//!
//! - A run that differs from its baseline in experts per token only: both states read
//!   the baseline run's prompt and reply, the baseline's k against the run's k.
//! - A run whose interventions differ from the baseline's: both states read the **run's**
//!   prompt and reply, the baseline's state (its k, its interventions: usually none)
//!   against the run's state (its k with its interventions applied), so the figure says
//!   how far the intervention moved the model on the text it actually produced.
//! - A run that differs in sampling settings only reads 0 (they do not change the raw
//!   distributions).
//!
//! Runs after the engine has finished; the models are loaded here, and each state gets a
//! context of its own with the engine's capture callback, which applies the state's
//! interventions (and, with none, declines every tensor: plain scoring).

use std::collections::BTreeMap;
use std::num::NonZeroU32;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::{LlamaLoraAdapter, LlamaModel};
use llama_cpp_2::token::LlamaToken;

use super::driver::RunResult;
use super::grid::ModelShape;
use crate::engine::{CaptureState, CapturedContext, LoadOptions, RouterPlan};
use crate::eval::{kl_from_logits, load};
use crate::routing::Interventions;

/// One model state that scores token sequences: a context with `interventions` applied.
pub struct Scorer<'m> {
    ctx: CapturedContext<'m>,
    batch: LlamaBatch<'static>,
}

/// What one state needs: the model (loaded with its k), the interventions to apply.
pub struct State<'a, 'm> {
    pub model: &'m LlamaModel,
    pub k: u32,
    pub interventions: &'a Interventions,
    pub adapter: Option<&'a mut LlamaLoraAdapter>,
}

impl<'m> Scorer<'m> {
    /// A context of `window` tokens for `state`, its interventions checked by the same
    /// rules the engine applies (the refusal names the limit).
    pub fn new(
        backend: &LlamaBackend,
        load_opts: &LoadOptions,
        shape: &ModelShape,
        state: State<'_, 'm>,
        window: usize,
    ) -> Result<Self, String> {
        let n = u32::try_from(window).map_err(|_| "the window is too large")?;
        let threads = load_opts.threads.max(1);
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(n))
            .with_n_batch(n)
            .with_n_ubatch(n)
            .with_n_threads(threads)
            .with_n_threads_batch(threads);
        let plan =
            RouterPlan::from_gguf(&load_opts.model, shape.n_layer, state.k, shape.n_dense_lead);
        let mut capture = CaptureState::new(false, plan);
        capture.set_interventions(state.interventions.clone())?;
        let ctx = CapturedContext::new(state.model, backend, params, capture)
            .map_err(|e| format!("llama.cpp could not create a context of {window} tokens: {e}"))?;
        if let Some(adapter) = state.adapter {
            ctx.lora_adapter_set(adapter, 1.0)
                .map_err(|e| format!("llama.cpp could not apply the LoRA adapter: {e}"))?;
        }
        Ok(Scorer {
            ctx,
            batch: LlamaBatch::new(window, 1),
        })
    }

    /// Decode `tokens` from an empty cache, with logits at every position.
    pub fn run(&mut self, tokens: &[LlamaToken]) -> Result<(), String> {
        self.ctx.clear_kv_cache();
        self.batch.clear();
        for (j, &t) in tokens.iter().enumerate() {
            self.batch
                .add(t, j as i32, &[0], true)
                .map_err(|e| format!("batch: {e}"))?;
        }
        self.ctx
            .decode(&mut self.batch)
            .map_err(|e| format!("llama.cpp failed to decode: {e}"))
    }

    /// The raw logits predicting the token after position `j` of the last run.
    pub fn logits(&self, j: usize) -> &[f32] {
        self.ctx.get_logits_ith(j as i32)
    }
}

/// Per reply position of `prompt ++ reply`: KL(a || b) and the probability `b` gives the
/// token that follows. Both scorers must have run `prompt ++ reply` just before.
pub fn compare(a: &Scorer, b: &Scorer, prompt: &[u32], reply: &[u32]) -> Vec<(f64, f64)> {
    let first = prompt.len().saturating_sub(1);
    let tokens: Vec<u32> = prompt.iter().chain(reply).copied().collect();
    (first..tokens.len().saturating_sub(1))
        .map(|j| {
            let (kl, _, nll_b) = kl_from_logits(a.logits(j), b.logits(j), tokens[j + 1] as usize);
            (kl, (-nll_b).exp())
        })
        .collect()
}

/// The tokens both states read.
pub fn sequence(prompt: &[u32], reply: &[u32]) -> Vec<LlamaToken> {
    prompt
        .iter()
        .chain(reply)
        .map(|&t| LlamaToken(t as i32))
        .collect()
}

/// What every scorer of one measurement shares.
struct Ctx<'a> {
    backend: &'a LlamaBackend,
    load_opts: &'a LoadOptions,
    shape: &'a ModelShape,
    window: usize,
}

impl Ctx<'_> {
    fn scorer<'m>(
        &self,
        model: &'m LlamaModel,
        (k, interventions): (u32, &Interventions),
        lora: &mut Option<LlamaLoraAdapter>,
    ) -> Result<Scorer<'m>, String> {
        let state = State {
            model,
            k,
            interventions,
            adapter: lora.as_mut(),
        };
        Scorer::new(self.backend, self.load_opts, self.shape, state, self.window)
    }
}

/// A comparison to make: run `run` against run `base`, reading the tokens of run `text`.
struct Job {
    run: usize,
    base: usize,
    text: usize,
}

/// Decide for every run with a baseline run what to measure: a KL now (0), a note, or a
/// job for the models, grouped by (baseline k, run k).
fn jobs(results: &mut [RunResult]) -> BTreeMap<(u32, u32), Vec<Job>> {
    let mut todo: BTreeMap<(u32, u32), Vec<Job>> = BTreeMap::new();
    for i in 0..results.len() {
        let Some(bid) = results[i].spec.baseline.clone() else {
            continue;
        };
        let Some(b) = results.iter().position(|r| r.spec.id == bid) else {
            continue;
        };
        let (run, base) = (&results[i], &results[b]);
        let key = (base.spec.experts_used, run.spec.experts_used);
        let note = if run.error.is_some() || base.error.is_some() {
            Some("the run or its baseline failed")
        } else if run.spec.interventions != base.spec.interventions {
            if run.reply_tokens.is_empty() {
                Some("the reply is empty")
            } else {
                todo.entry(key).or_default().push(Job {
                    run: i,
                    base: b,
                    text: i,
                });
                None
            }
        } else if base.reply_tokens.is_empty() {
            Some("the baseline reply is empty")
        } else if key.0 == key.1 {
            results[i].versus.kl_baseline = Some(0.0);
            None
        } else {
            todo.entry(key).or_default().push(Job {
                run: i,
                base: b,
                text: b,
            });
            None
        };
        if let Some(n) = note {
            results[i].versus.kl_note = Some(n.into());
        }
    }
    todo
}

/// Fill `versus.kl_baseline` (or `kl_note`) of every run that has a baseline run.
/// `shape` is the model as the engine loaded it (its layers; k varies per run).
pub fn fill_kl(
    results: &mut [RunResult],
    load_opts: &LoadOptions,
    shape: &ModelShape,
    progress: &mut dyn FnMut(&str),
) -> Result<(), String> {
    let todo = jobs(results);
    if todo.is_empty() {
        return Ok(());
    }
    let backend = crate::engine::backend()?;
    let window = results
        .iter()
        .map(|r| r.prompt_tokens.len() + r.reply_tokens.len())
        .max()
        .unwrap_or(2)
        .max(2);
    for ((base_k, run_k), list) in todo {
        progress(&format!(
            "teacher-forced KL: k = {run_k} against k = {base_k} over {} replies",
            list.len()
        ));
        let model_a = load(backend, &load_opts.model, Some(base_k), load_opts.threads)?;
        let model_b = if run_k == base_k {
            None
        } else {
            Some(load(
                backend,
                &load_opts.model,
                Some(run_k),
                load_opts.threads,
            )?)
        };
        let model_b = model_b.as_ref().unwrap_or(&model_a);
        let adapter =
            |m: &LlamaModel| crate::engine::model::load_lora_checked(m, load_opts, &|| false);
        let (mut lora_a, mut lora_b) = (adapter(&model_a)?, adapter(model_b)?);
        let ctx = Ctx {
            backend,
            load_opts,
            shape,
            window,
        };
        for job in list {
            let (run, base, text) = (&results[job.run], &results[job.base], &results[job.text]);
            let a = ctx.scorer(&model_a, (base_k, &base.spec.interventions), &mut lora_a);
            let b = ctx.scorer(model_b, (run_k, &run.spec.interventions), &mut lora_b);
            let (mut a, mut b) = match (a, b) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(e), _) | (_, Err(e)) => {
                    results[job.run].versus.kl_note = Some(format!("not measured: {e}"));
                    continue;
                }
            };
            let tokens = sequence(&text.prompt_tokens, &text.reply_tokens);
            a.run(&tokens)?;
            b.run(&tokens)?;
            let per = compare(&a, &b, &text.prompt_tokens, &text.reply_tokens);
            let mean = per.iter().map(|(kl, _)| kl).sum::<f64>() / per.len().max(1) as f64;
            results[job.run].versus.kl_baseline = Some(mean);
        }
    }
    Ok(())
}

/// One comparison on its own (models loaded for it): per reply position of
/// `prompt ++ reply`, KL(base || run) and the probability the run's state gives the token
/// that follows. `base` and `run` are (experts per token, interventions).
pub fn per_token(
    load_opts: &LoadOptions,
    shape: &ModelShape,
    base: (u32, &Interventions),
    run: (u32, &Interventions),
    prompt: &[u32],
    reply: &[u32],
) -> Result<Vec<(f64, f64)>, String> {
    let backend = crate::engine::backend()?;
    let window = (prompt.len() + reply.len()).max(2);
    let model_a = load(backend, &load_opts.model, Some(base.0), load_opts.threads)?;
    let model_b = load(backend, &load_opts.model, Some(run.0), load_opts.threads)?;
    let adapter = |m: &LlamaModel| crate::engine::model::load_lora_checked(m, load_opts, &|| false);
    let (mut lora_a, mut lora_b) = (adapter(&model_a)?, adapter(&model_b)?);
    let ctx = Ctx {
        backend,
        load_opts,
        shape,
        window,
    };
    let mut a = ctx.scorer(&model_a, base, &mut lora_a)?;
    let mut b = ctx.scorer(&model_b, run, &mut lora_b)?;
    let tokens = sequence(prompt, reply);
    a.run(&tokens)?;
    b.run(&tokens)?;
    Ok(compare(&a, &b, prompt, reply))
}
