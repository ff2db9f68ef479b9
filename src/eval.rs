//! Measuring a model against a reference through llama.cpp: the mean per-token KL
//! divergence KL(reference || model) of the next-token distributions over a text, and both
//! perplexities. The two models must share a vocabulary (and tokenize the text alike).
//!
//! The text is cut into windows of [`KlOptions::window`] tokens, each run from an empty
//! cache; consecutive windows overlap by one token so that every token after the first is
//! predicted exactly once.

use std::num::NonZeroU32;
use std::path::PathBuf;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::{AddBos, LlamaModel};
use llama_cpp_2::token::LlamaToken;

use crate::engine::LoadOptions;

/// What to compare.
#[derive(Debug, Clone)]
pub struct KlOptions {
    pub reference: PathBuf,
    pub model: PathBuf,
    pub text: PathBuf,
    /// Experts per token for `model` (load-time override); the reference keeps its own.
    pub experts_used: Option<u32>,
    /// A LoRA adapter applied to `model` (as the app applies the default model's).
    pub lora: Option<PathBuf>,
    /// The adapter's scale: 1 as the app applies it, 0 off. For a model forge merged the
    /// adapter into, the adapter is applied at `lora_scale - 1` (0 takes the merge out).
    pub lora_scale: f32,
    /// Most predictions scored (0 = the whole text).
    pub max_tokens: usize,
    /// Tokens per window.
    pub window: usize,
    pub threads: i32,
}

impl KlOptions {
    pub fn new(reference: PathBuf, model: PathBuf, text: PathBuf) -> Self {
        KlOptions {
            reference,
            model,
            text,
            experts_used: None,
            lora: None,
            lora_scale: 1.0,
            max_tokens: 4096,
            window: 512,
            threads: LoadOptions::new("").threads,
        }
    }
}

/// The result; its `Display` is the machine-readable line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KlReport {
    /// Mean KL(reference || model), nats per token.
    pub kl: f64,
    pub ppl_reference: f64,
    pub ppl_model: f64,
    /// Predictions scored.
    pub tokens: usize,
}

impl std::fmt::Display for KlReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "kl={:.6} ppl_reference={:.4} ppl_model={:.4} tokens={}",
            self.kl, self.ppl_reference, self.ppl_model, self.tokens
        )
    }
}

/// One model's context for scoring token sequences (shared with experiments' teacher
/// forcing).
pub(crate) struct Side<'a> {
    pub(crate) ctx: LlamaContext<'a>,
    batch: LlamaBatch<'static>,
}

pub(crate) fn load(
    backend: &LlamaBackend,
    path: &std::path::Path,
    experts_used: Option<u32>,
    threads: i32,
) -> Result<LlamaModel, String> {
    let mut o = LoadOptions::new(path);
    o.experts_used = experts_used;
    o.threads = threads;
    o.capture = false;
    crate::engine::model::load(backend, &o, &|| false).map(|(m, _)| m)
}

pub(crate) fn side<'a>(
    backend: &LlamaBackend,
    model: &'a LlamaModel,
    window: usize,
    threads: i32,
) -> Result<Side<'a>, String> {
    let n = u32::try_from(window).map_err(|_| "the window is too large")?;
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n))
        .with_n_batch(n)
        .with_n_ubatch(n)
        .with_n_threads(threads.max(1))
        .with_n_threads_batch(threads.max(1));
    let ctx = model
        .new_context(backend, params)
        .map_err(|e| format!("llama.cpp could not create a context of {window} tokens: {e}"))?;
    Ok(Side {
        ctx,
        batch: LlamaBatch::new(window, 1),
    })
}

impl Side<'_> {
    /// Decode `tokens` from an empty cache, with logits at every position.
    pub(crate) fn run(&mut self, tokens: &[LlamaToken]) -> Result<(), String> {
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
}

/// log-sum-exp of logits, in f64.
fn log_sum_exp(logits: &[f32]) -> f64 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let s: f64 = logits.iter().map(|&x| (x as f64 - max).exp()).sum();
    max + s.ln()
}

/// KL(p || q) for the distributions given by logits `a` (p) and `b` (q), in nats, with
/// the negative log-likelihoods of `next` under each.
pub fn kl_from_logits(a: &[f32], b: &[f32], next: usize) -> (f64, f64, f64) {
    let (la, lb) = (log_sum_exp(a), log_sum_exp(b));
    let mut kl = 0.0f64;
    for (&x, &y) in a.iter().zip(b) {
        let lp = x as f64 - la;
        let lq = y as f64 - lb;
        kl += lp.exp() * (lp - lq);
    }
    let nll = |v: &[f32], l: f64| v.get(next).map_or(f64::INFINITY, |&x| l - x as f64);
    (kl.max(0.0), nll(a, la), nll(b, lb))
}

fn tokenize(model: &LlamaModel, text: &str, which: &str) -> Result<Vec<LlamaToken>, String> {
    model
        .str_to_token(text, AddBos::Always)
        .map_err(|e| format!("the {which} model could not tokenize the text: {e}"))
}

/// The start of `text` that holds the first `want + 1` tokens with a margin (all of it for
/// `want` = 0). llama.cpp's pre-tokenizer crashed (stack overflow) on megabytes of text in
/// one call, and scoring needs only the beginning.
fn enough_text<'t>(model: &LlamaModel, text: &'t str, want: usize) -> Result<&'t str, String> {
    if want == 0 {
        return Ok(text);
    }
    let mut len = (want + 64) * 8;
    loop {
        if len >= text.len() {
            return Ok(text);
        }
        let mut cut = len;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        // A margin of tokens past what is scored keeps the cut from changing them.
        if tokenize(model, &text[..cut], "reference")?.len() > want + 64 {
            return Ok(&text[..cut]);
        }
        len *= 2;
    }
}

/// Compare `opts.model` with `opts.reference` over `opts.text`.
pub fn kl(opts: &KlOptions, progress: &mut dyn FnMut(&str)) -> Result<KlReport, String> {
    let text = std::fs::read_to_string(&opts.text)
        .map_err(|e| format!("cannot read text {}: {e}", opts.text.display()))?;
    if opts.window < 2 {
        return Err("the window must hold at least 2 tokens".into());
    }
    let backend = crate::engine::backend()?;
    progress("loading the reference model");
    let ref_model = load(backend, &opts.reference, None, opts.threads)?;
    progress("loading the model");
    let model = load(backend, &opts.model, opts.experts_used, opts.threads)?;
    if ref_model.n_vocab() != model.n_vocab() {
        return Err(format!(
            "the models have different vocabularies ({} and {} tokens): KL needs the same one",
            ref_model.n_vocab(),
            model.n_vocab()
        ));
    }
    let text = enough_text(&ref_model, &text, opts.max_tokens)?;
    let tokens = tokenize(&ref_model, text, "reference")?;
    if tokenize(&model, text, "compared")? != tokens {
        return Err(
            "the two models tokenize the text differently: KL needs the same vocabulary".into(),
        );
    }
    let want = match opts.max_tokens {
        0 => tokens.len().saturating_sub(1),
        n => n.min(tokens.len().saturating_sub(1)),
    };
    if want == 0 {
        return Err(format!(
            "{} holds too little text: at least 2 tokens are needed",
            opts.text.display()
        ));
    }
    let tokens = &tokens[..=want];
    let window = opts
        .window
        .min(tokens.len())
        .min(ref_model.n_ctx_train() as usize);
    let mut a = side(backend, &ref_model, window, opts.threads)?;
    let mut b = side(backend, &model, window, opts.threads)?;
    // The adapter must outlive every decode that uses it: llama.cpp keeps a pointer to it
    // (dropping it at the end of the `if` freed it under the context: a segfault).
    // For a model with its adapter merged in, the scale means the same (1 = on, 0 = off):
    // the adapter goes on top at `scale - 1`.
    let scale = match crate::engine::model::lora_merged(&opts.model) {
        true => opts.lora_scale - 1.0,
        false => opts.lora_scale,
    };
    // Checked like every adapter the app loads (pre-parser, then the child check for a
    // pair not seen before): a malformed adapter is a message, not an abort.
    let mut lora_opts = LoadOptions::new(&opts.model);
    lora_opts.lora = opts.lora.clone().filter(|_| scale != 0.0);
    lora_opts.threads = opts.threads;
    lora_opts.experts_used = opts.experts_used;
    lora_opts.capture = false;
    let mut _adapter = crate::engine::model::load_lora_checked(&model, &lora_opts, &|| false)?;
    if let Some(adapter) = _adapter.as_mut() {
        progress(&format!("applying the LoRA adapter at scale {scale}"));
        b.ctx
            .lora_adapter_set(adapter, scale)
            .map_err(|e| format!("llama.cpp could not apply the LoRA adapter: {e}"))?;
    }
    let (mut kl_sum, mut nll_a, mut nll_b, mut n) = (0.0f64, 0.0f64, 0.0f64, 0usize);
    let mut start = 0usize;
    while start + 1 < tokens.len() {
        let end = (start + window).min(tokens.len());
        let chunk = &tokens[start..end];
        a.run(chunk)?;
        b.run(chunk)?;
        for j in 0..chunk.len() - 1 {
            let next = chunk[j + 1].0 as usize;
            let (k, x, y) = kl_from_logits(
                a.ctx.get_logits_ith(j as i32),
                b.ctx.get_logits_ith(j as i32),
                next,
            );
            kl_sum += k;
            nll_a += x;
            nll_b += y;
            n += 1;
        }
        progress(&format!("scored {n}/{want} tokens"));
        start = end - 1;
    }
    let n_f = n as f64;
    Ok(KlReport {
        kl: kl_sum / n_f,
        ppl_reference: (nll_a / n_f).exp(),
        ppl_model: (nll_b / n_f).exp(),
        tokens: n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kl_of_equal_logits_is_zero_and_nll_is_right() {
        let a = [1.0f32, 2.0, 3.0];
        let (k, x, y) = kl_from_logits(&a, &a, 2);
        assert!(k.abs() < 1e-12);
        assert_eq!(x, y);
        let p3 = (3.0f64).exp() / (1.0f64.exp() + 2.0f64.exp() + 3.0f64.exp());
        assert!((x + p3.ln()).abs() < 1e-9);
    }

    #[test]
    fn kl_matches_a_hand_computed_value() {
        // p = (0.5, 0.5), q = (0.25, 0.75): KL = 0.5 ln 2 + 0.5 ln(2/3)
        let a = [0.0f32, 0.0];
        let b = [0.0f32, 3.0f32.ln()];
        let (k, _, _) = kl_from_logits(&a, &b, 0);
        let want = 0.5 * 2.0f64.ln() + 0.5 * (2.0f64 / 3.0).ln();
        assert!((k - want).abs() < 1e-6, "{k} vs {want}");
    }

    #[test]
    fn report_line_is_machine_readable() {
        let r = KlReport {
            kl: 0.321,
            ppl_reference: 15.8,
            ppl_model: 18.4,
            tokens: 4096,
        };
        assert_eq!(
            r.to_string(),
            "kl=0.321000 ppl_reference=15.8000 ppl_model=18.4000 tokens=4096"
        );
    }
}
