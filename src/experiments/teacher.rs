//! Teacher-forced KL of each run from its baseline: both model settings read the same
//! tokens (the baseline run's prompt and reply), and at each reply position the raw
//! next-token distributions (temperature 1, no cut) are compared, KL(baseline || run),
//! averaged over the reply. Sampling settings do not change these distributions, so a run
//! that differs from its baseline only in temperature, top_p or seed reads 0.
//!
//! Runs after the engine has finished (the models are loaded here, through the same
//! machinery as `moe-tutor eval kl`). A run whose interventions differ from its
//! baseline's is left without a KL and says why: applying interventions needs the
//! engine's capture context, which this side of the engine cannot install.

use std::collections::BTreeMap;

use llama_cpp_2::model::LlamaModel;

use super::driver::RunResult;
use crate::engine::LoadOptions;
use crate::eval::{kl_from_logits, load, side};

/// Why a run has no KL when interventions differ from the baseline's.
pub const NOTE_INTERVENTIONS: &str =
    "teacher-forced KL under interventions needs the engine to score a token sequence with interventions applied; not measured";

/// Fill `versus.kl_baseline` (or `kl_note`) of every run that has a baseline run.
pub fn fill_kl(
    results: &mut [RunResult],
    load_opts: &LoadOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<(), String> {
    // (run index, baseline index) pairs that need a model comparison, by the run's k.
    let mut todo: BTreeMap<(u32, u32), Vec<(usize, usize)>> = BTreeMap::new();
    for i in 0..results.len() {
        let Some(bid) = results[i].spec.baseline.clone() else {
            continue;
        };
        let Some(b) = results.iter().position(|r| r.spec.id == bid) else {
            continue;
        };
        let (run, base) = (&results[i].spec, &results[b].spec);
        if run.interventions != base.interventions {
            results[i].versus.kl_note = Some(NOTE_INTERVENTIONS.into());
        } else if results[b].reply_tokens.is_empty() {
            results[i].versus.kl_note = Some("the baseline reply is empty".into());
        } else if run.experts_used == base.experts_used {
            results[i].versus.kl_baseline = Some(0.0);
        } else {
            todo.entry((base.experts_used, run.experts_used))
                .or_default()
                .push((i, b));
        }
    }
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
    for ((base_k, run_k), pairs) in todo {
        progress(&format!(
            "teacher-forced KL: k = {run_k} against k = {base_k} over {} replies",
            pairs.len()
        ));
        let model_a = load(backend, &load_opts.model, Some(base_k), load_opts.threads)?;
        let model_b = load(backend, &load_opts.model, Some(run_k), load_opts.threads)?;
        let mut a = side(backend, &model_a, window, load_opts.threads)?;
        let mut b = side(backend, &model_b, window, load_opts.threads)?;
        let mut adapters = Vec::new();
        if let Some(path) = &load_opts.lora {
            for (m, s) in [(&model_a, &mut a), (&model_b, &mut b)] {
                let mut adapter = lora(m, path)?;
                s.ctx
                    .lora_adapter_set(&mut adapter, 1.0)
                    .map_err(|e| format!("llama.cpp could not apply the LoRA adapter: {e}"))?;
                adapters.push(adapter);
            }
        }
        for (i, bi) in pairs {
            let base = &results[bi];
            let tokens: Vec<llama_cpp_2::token::LlamaToken> = base
                .prompt_tokens
                .iter()
                .chain(&base.reply_tokens)
                .map(|&t| llama_cpp_2::token::LlamaToken(t as i32))
                .collect();
            a.run(&tokens)?;
            b.run(&tokens)?;
            let first = base.prompt_tokens.len().saturating_sub(1);
            let mut sum = 0.0;
            let mut n = 0usize;
            for j in first..tokens.len() - 1 {
                let next = tokens[j + 1].0 as usize;
                let (kl, _, _) = kl_from_logits(
                    a.ctx.get_logits_ith(j as i32),
                    b.ctx.get_logits_ith(j as i32),
                    next,
                );
                sum += kl;
                n += 1;
            }
            results[i].versus.kl_baseline = Some(sum / n.max(1) as f64);
        }
        drop(adapters);
    }
    Ok(())
}

fn lora(
    model: &LlamaModel,
    path: &std::path::Path,
) -> Result<llama_cpp_2::model::LlamaLoraAdapter, String> {
    crate::engine::model::load_lora(model, path)
}
