//! Checking a forged file after it is written: its hash, every tensor's shape, type and
//! bytes, and the `deepseek` tensor layout llama.cpp's loader asks for.

use std::path::Path;

use super::digest::{sha256_file, sha256_hex};
use super::Expected;
use crate::model::gguf::GgufFile;

/// Check that `path` is what was meant to be written.
pub(super) fn verify_written(
    path: &Path,
    sha256: &str,
    expected: &[Expected],
) -> Result<(), String> {
    let fail = |what: String| format!("forge check failed for {}: {what}", path.display());
    let on_disk = sha256_file(path)?;
    if on_disk != sha256 {
        return Err(fail(format!(
            "its sha256 is {on_disk}, {sha256} was written"
        )));
    }
    let f = GgufFile::open(path).map_err(|e| fail(e.to_string()))?;
    if f.tensors().len() != expected.len() {
        return Err(fail(format!(
            "{} tensors, want {}",
            f.tensors().len(),
            expected.len()
        )));
    }
    for (t, want) in f.tensors().iter().zip(expected) {
        if t.name != want.name || t.shape != want.shape || t.dtype != want.dtype {
            return Err(fail(format!(
                "tensor {} {:?} {} where {} {:?} {} was meant",
                t.name, t.shape, t.dtype, want.name, want.shape, want.dtype
            )));
        }
        let bytes = f.read_tensor_bytes(t).map_err(|e| fail(e.to_string()))?;
        if sha256_hex(&bytes) != want.sha256 {
            return Err(fail(format!(
                "tensor {} has other bytes than written",
                t.name
            )));
        }
    }
    check_deepseek_layout(&f).map_err(fail)
}

/// Check a `deepseek` file's tensors against its own metadata, as llama.cpp's loader
/// (`LLM_ARCH_DEEPSEEK` in llama-model.cpp) will: every layer's attention, router, routed
/// and shared experts with the shapes it asks for.
pub fn check_deepseek_layout(f: &GgufFile) -> Result<(), String> {
    if f.architecture() != Some("deepseek") {
        return Err("general.architecture is not deepseek".into());
    }
    let need = |k: &str| {
        f.arch_u32(k)
            .map(u64::from)
            .ok_or_else(|| format!("deepseek.{k} is missing"))
    };
    let n_layer = need("block_count")?;
    let n_embd = need("embedding_length")?;
    let n_head = need("attention.head_count")?;
    let n_head_kv = need("attention.head_count_kv")?;
    let n_expert = need("expert_count")?;
    let n_used = need("expert_used_count")?;
    let ffe = need("expert_feed_forward_length")?;
    let n_shared = need("expert_shared_count")?;
    let n_lead = f.arch_u32("leading_dense_block_count").unwrap_or(0);
    if n_lead != 0 {
        return Err("forged files have no leading dense blocks".into());
    }
    if n_used == 0 || n_used > n_expert || n_head == 0 {
        return Err("expert_used_count or head_count is out of range".into());
    }
    let n_vocab = f
        .get_array("tokenizer.ggml.tokens")
        .map(|a| a.len() as u64)
        .ok_or("tokenizer.ggml.tokens is missing")?;
    let gqa = n_embd / n_head * n_head_kv;
    let sh = ffe * n_shared;
    let shape = |name: &str, want: &[u64]| -> Result<(), String> {
        match f.tensor(name) {
            Some(t) if t.shape == want => Ok(()),
            Some(t) => Err(format!("{name} has shape {:?}, want {want:?}", t.shape)),
            None => Err(format!("{name} is missing")),
        }
    };
    shape("token_embd.weight", &[n_embd, n_vocab])?;
    shape("output_norm.weight", &[n_embd])?;
    if f.tensor("output.weight").is_some() {
        shape("output.weight", &[n_embd, n_vocab])?;
    }
    for i in 0..n_layer {
        let t = |s: &str| format!("blk.{i}.{s}.weight");
        shape(&t("attn_norm"), &[n_embd])?;
        shape(&t("attn_q"), &[n_embd, n_embd])?;
        shape(&t("attn_k"), &[n_embd, gqa])?;
        shape(&t("attn_v"), &[n_embd, gqa])?;
        shape(&t("attn_output"), &[n_embd, n_embd])?;
        shape(&t("ffn_norm"), &[n_embd])?;
        shape(&t("ffn_gate_inp"), &[n_embd, n_expert])?;
        shape(&t("ffn_gate_exps"), &[n_embd, ffe, n_expert])?;
        shape(&t("ffn_up_exps"), &[n_embd, ffe, n_expert])?;
        shape(&t("ffn_down_exps"), &[ffe, n_embd, n_expert])?;
        shape(&t("ffn_gate_shexp"), &[n_embd, sh])?;
        shape(&t("ffn_up_shexp"), &[n_embd, sh])?;
        shape(&t("ffn_down_shexp"), &[sh, n_embd])?;
    }
    Ok(())
}
