//! `moe-tutor model check [--lora ADAPTER] PATH`: load a model file (and an adapter) the way
//! the engine does, in this process, give it a small context and decode a short prompt
//! through it (tokenizing with
//! special tokens and turning every token back into text, as the app does). This is what
//! the child process of [`super::ModelCheck::Child`] runs: if llama.cpp aborts on the file,
//! it is this process that dies.

use std::num::NonZeroU32;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::AddBos;

use super::api::{LoadOptions, ModelCheck};

/// The prompt decoded: words, a newline and a character outside ASCII.
const PROMPT: &str = "Hello! Which experts do you pick for this question?\n专家";
const N_CTX: u32 = 256;

/// Load, decode, detokenize; a one-line summary on success, the reason otherwise.
pub fn probe(opts: &LoadOptions) -> Result<String, String> {
    let backend = super::backend()?;
    let opts = LoadOptions {
        check: ModelCheck::InProcess,
        ..opts.clone()
    };
    let (model, info) = super::model::load(backend, &opts, &|| false)?;
    let n_ctx = N_CTX.min(model.n_ctx_train().max(64));
    let threads = opts.threads.max(1);
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx))
        .with_n_batch(n_ctx)
        .with_n_ubatch(n_ctx)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let mut ctx = model
        .new_context(backend, params)
        .map_err(|e| format!("llama.cpp could not create a context: {e}"))?;
    // An adapter (`model check --lora ADAPTER PATH`) is loaded and applied as the engine
    // does, so the decode below runs through it.
    let mut adapter = super::model::load_lora_checked(&model, &opts, &|| false)?;
    if let Some(a) = adapter.as_mut() {
        ctx.lora_adapter_set(a, 1.0)
            .map_err(|e| format!("llama.cpp could not apply the LoRA adapter: {e}"))?;
    }
    let tokens = model
        .str_to_token(PROMPT, AddBos::Always)
        .map_err(|e| format!("could not tokenize a prompt: {e}"))?;
    let n = tokens.len().min(n_ctx as usize - 1);
    let mut batch = LlamaBatch::new(n.max(1), 1);
    for (i, &t) in tokens[..n].iter().enumerate() {
        // Every token's output, as with routing capture on.
        batch
            .add(t, i as i32, &[0], true)
            .map_err(|e| format!("batch: {e}"))?;
    }
    ctx.decode(&mut batch)
        .map_err(|e| format!("llama.cpp could not decode a prompt: {e}"))?;
    for &t in &tokens[..n] {
        let _ = model.token_to_piece_bytes(t, 64, true, None);
    }
    let with = if adapter.is_some() {
        ", with the LoRA adapter"
    } else {
        ""
    };
    Ok(format!(
        "{} ({}), {} layers, {n} prompt tokens decoded{with}",
        info.name, info.arch, info.n_layer
    ))
}
