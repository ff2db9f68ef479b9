//! The metadata keys and tensors of each tiny-model architecture, as the vendored
//! llama.cpp's loader (`src/llama-model.cpp`, `load_hparams` and `load_tensors`) asks for
//! them.

use super::{Builder, TinyFamily, TinySpec, EMBED_STD, WEIGHT_STD};
use crate::model::gguf::GgufWriter;

/// Standard deviation of dots1's selection bias: large enough to change which experts are
/// chosen compared with the unbiased probabilities.
const BIAS_STD: f32 = 0.3;

/// Write the architecture's hyper-parameters.
pub(super) fn metadata(w: &mut GgufWriter, s: &TinySpec, arch: &str) {
    let k = |suffix: &str| format!("{arch}.{suffix}");
    w.set("general.architecture", arch);
    let name = match (s.dense, s.mixtral, s.family) {
        (true, _, _) => "moe-tutor tiny dense",
        (_, true, _) => "moe-tutor tiny mixtral-style",
        (_, _, TinyFamily::Deepseek) => "moe-tutor tiny deepseek",
        (_, _, TinyFamily::Qwen3Moe) => "moe-tutor tiny qwen3moe",
        (_, _, TinyFamily::Dots1) => "moe-tutor tiny dots1",
        (_, _, TinyFamily::GptOss) => "moe-tutor tiny gpt-oss",
    };
    w.set("general.name", name);
    w.set("general.file_type", 1u32); // mostly F16
    w.set(k("context_length"), s.n_ctx);
    w.set(k("embedding_length"), s.n_embd);
    w.set(k("block_count"), s.n_layer);
    w.set(k("feed_forward_length"), s.n_ff);
    w.set(k("attention.head_count"), s.n_head);
    w.set(k("attention.head_count_kv"), s.n_head_kv);
    w.set(k("rope.dimension_count"), s.n_embd / s.n_head);
    w.set(k("rope.freq_base"), 10_000.0f32);
    w.set(k("attention.layer_norm_rms_epsilon"), 1e-5f32);
    if s.dense {
        return;
    }
    w.set(k("expert_count"), s.n_expert);
    w.set(k("expert_used_count"), s.n_expert_used);
    if s.mixtral {
        return;
    }
    match s.family {
        // In the order the first tiny models were written, so their bytes stay the same.
        TinyFamily::Deepseek | TinyFamily::Dots1 => {
            w.set(k("expert_shared_count"), s.n_expert_shared);
            w.set(k("expert_feed_forward_length"), s.n_ff_exp);
            if s.family == TinyFamily::Dots1 {
                w.set(k("expert_gating_func"), 2u32); // sigmoid
                w.set(k("expert_weights_norm"), true);
                w.set(k("expert_weights_scale"), 2.5f32);
            } else {
                w.set(k("expert_weights_scale"), 1.0f32);
            }
            w.set(k("leading_dense_block_count"), s.n_dense_lead);
        }
        TinyFamily::Qwen3Moe => {
            w.set(k("expert_feed_forward_length"), s.n_ff_exp);
        }
        TinyFamily::GptOss => {
            w.set(k("expert_feed_forward_length"), s.n_ff_exp);
            w.set(k("attention.sliding_window"), 16u32);
        }
    }
}

/// Write every tensor: embeddings, each layer, output.
pub(super) fn tensors(b: &mut Builder<'_>, n_vocab: u64) -> anyhow::Result<()> {
    let s = b.spec;
    let e = u64::from(s.n_embd);
    b.random("token_embd.weight", &[e, n_vocab], EMBED_STD)?;
    for i in 0..s.n_layer {
        attention(b, i)?;
        ffn(b, i)?;
    }
    b.ones("output_norm.weight", e)?;
    b.random("output.weight", &[e, n_vocab], WEIGHT_STD)?;
    Ok(())
}

fn attention(b: &mut Builder<'_>, i: u32) -> anyhow::Result<()> {
    let s = b.spec;
    let t = |n: &str| format!("blk.{i}.{n}.weight");
    let bias = |n: &str| format!("blk.{i}.{n}.bias");
    let e = u64::from(s.n_embd);
    let head = u64::from(s.n_embd / s.n_head);
    let kv = head * u64::from(s.n_head_kv);
    b.ones(&t("attn_norm"), e)?;
    b.random(&t("attn_q"), &[e, e], WEIGHT_STD)?;
    b.random(&t("attn_k"), &[e, kv], WEIGHT_STD)?;
    b.random(&t("attn_v"), &[e, kv], WEIGHT_STD)?;
    b.random(&t("attn_output"), &[e, e], WEIGHT_STD)?;
    match s.moe_family() {
        Some(TinyFamily::Qwen3Moe | TinyFamily::Dots1) => {
            b.ones(&t("attn_q_norm"), head)?;
            b.ones(&t("attn_k_norm"), head)?;
        }
        Some(TinyFamily::GptOss) => {
            b.bias(&bias("attn_q"), &[e])?;
            b.bias(&bias("attn_k"), &[kv])?;
            b.bias(&bias("attn_v"), &[kv])?;
            b.bias(&bias("attn_output"), &[e])?;
            b.bias(&t("attn_sinks"), &[u64::from(s.n_head)])?;
            // gpt-oss normalises after attention instead of before the FFN.
            b.ones(&t("post_attention_norm"), e)?;
        }
        _ => {}
    }
    if s.moe_family() != Some(TinyFamily::GptOss) {
        b.ones(&t("ffn_norm"), e)?;
    }
    Ok(())
}

fn ffn(b: &mut Builder<'_>, i: u32) -> anyhow::Result<()> {
    let s = b.spec;
    let t = |n: &str| format!("blk.{i}.{n}.weight");
    let bias = |n: &str| format!("blk.{i}.{n}.bias");
    let e = u64::from(s.n_embd);
    let (ff, ffe, ne) = (
        u64::from(s.n_ff),
        u64::from(s.n_ff_exp),
        u64::from(s.n_expert),
    );
    let family = s.moe_family();
    let dense_here =
        s.dense || (family.is_some_and(TinyFamily::has_shared_experts) && i < s.n_dense_lead);
    if dense_here {
        b.random(&t("ffn_gate"), &[e, ff], WEIGHT_STD)?;
        b.random(&t("ffn_up"), &[e, ff], WEIGHT_STD)?;
        b.random(&t("ffn_down"), &[ff, e], WEIGHT_STD)?;
        return Ok(());
    }
    // Mixtral-style experts are as wide as the dense FFN.
    let width = if s.mixtral { ff } else { ffe };
    b.router(&t("ffn_gate_inp"), &[e, ne])?;
    b.random(&t("ffn_gate_exps"), &[e, width, ne], WEIGHT_STD)?;
    b.random(&t("ffn_up_exps"), &[e, width, ne], WEIGHT_STD)?;
    b.random(&t("ffn_down_exps"), &[width, e, ne], WEIGHT_STD)?;
    match family {
        Some(TinyFamily::Deepseek | TinyFamily::Dots1) => {
            if family == Some(TinyFamily::Dots1) {
                b.f32_random(&format!("blk.{i}.exp_probs_b.bias"), &[ne], BIAS_STD)?;
            }
            let ffs = ffe * u64::from(s.n_expert_shared);
            b.random(&t("ffn_gate_shexp"), &[e, ffs], WEIGHT_STD)?;
            b.random(&t("ffn_up_shexp"), &[e, ffs], WEIGHT_STD)?;
            b.random(&t("ffn_down_shexp"), &[ffs, e], WEIGHT_STD)?;
        }
        Some(TinyFamily::GptOss) => {
            b.bias(&bias("ffn_gate_inp"), &[ne])?;
            b.bias(&bias("ffn_gate_exps"), &[ffe, ne])?;
            b.bias(&bias("ffn_up_exps"), &[ffe, ne])?;
            b.bias(&bias("ffn_down_exps"), &[e, ne])?;
        }
        _ => {}
    }
    Ok(())
}
