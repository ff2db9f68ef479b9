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
        (_, _, TinyFamily::GraniteMoe) => "moe-tutor tiny granitemoe",
        (_, _, TinyFamily::Olmoe) => "moe-tutor tiny olmoe",
        (_, _, TinyFamily::Deepseek2) => "moe-tutor tiny deepseek2",
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
        // Experts are `feed_forward_length` wide; olmoe needs nothing more.
        TinyFamily::Olmoe => {}
        TinyFamily::GraniteMoe => {
            // The multipliers IBM's Granite 3 MoE models carry (logit_scale is required).
            w.set(k("logit_scale"), 6.0f32);
            w.set(k("embedding_scale"), 12.0f32);
            w.set(k("residual_scale"), 0.22f32);
            w.set(k("attention.scale"), 1.0 / (s.n_embd / s.n_head) as f32);
        }
        TinyFamily::Deepseek2 => {
            let m = Mla::of(s);
            // MLA as llama.cpp's converter writes it: the cache holds one compressed head
            // (`kv_lora_rank` + the RoPE part); `_mla` lengths are the decompressed heads.
            w.set(k("attention.head_count_kv"), 1u32);
            w.set(k("rope.dimension_count"), m.rope);
            w.set(k("attention.q_lora_rank"), 0u32); // V2-Lite projects queries directly
            w.set(k("attention.kv_lora_rank"), m.kv_lora);
            w.set(k("attention.key_length"), m.kv_lora + m.rope);
            w.set(k("attention.value_length"), m.kv_lora);
            w.set(k("attention.key_length_mla"), m.head_k);
            w.set(k("attention.value_length_mla"), m.head_v);
            w.set(k("expert_shared_count"), s.n_expert_shared);
            w.set(k("expert_feed_forward_length"), s.n_ff_exp);
            w.set(k("expert_weights_scale"), 1.0f32);
            w.set(k("expert_weights_norm"), false);
            w.set(k("leading_dense_block_count"), s.n_dense_lead);
        }
    }
}

/// The head sizes of a tiny `deepseek2`'s multi-head latent attention.
struct Mla {
    /// Decompressed key head: the non-RoPE part then the RoPE part.
    head_k: u32,
    head_v: u32,
    rope: u32,
    /// Width of the compressed key/value vector.
    kv_lora: u32,
}

impl Mla {
    fn of(s: &TinySpec) -> Mla {
        let head = s.n_embd / s.n_head;
        Mla {
            head_k: head,
            head_v: head,
            rope: head / 2,
            kv_lora: s.n_embd / 2,
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
    if s.moe_family() == Some(TinyFamily::Deepseek2) {
        return mla_attention(b, i);
    }
    b.random(&t("attn_q"), &[e, e], WEIGHT_STD)?;
    b.random(&t("attn_k"), &[e, kv], WEIGHT_STD)?;
    b.random(&t("attn_v"), &[e, kv], WEIGHT_STD)?;
    b.random(&t("attn_output"), &[e, e], WEIGHT_STD)?;
    match s.moe_family() {
        Some(TinyFamily::Qwen3Moe | TinyFamily::Dots1) => {
            b.ones(&t("attn_q_norm"), head)?;
            b.ones(&t("attn_k_norm"), head)?;
        }
        // OLMoE normalises queries and keys over the whole width, not per head.
        Some(TinyFamily::Olmoe) => {
            b.ones(&t("attn_q_norm"), e)?;
            b.ones(&t("attn_k_norm"), e)?;
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

/// DeepSeek-V2-Lite's attention: queries projected directly, keys and values through a
/// compressed vector with its own norm, decompressed per head by `attn_k_b` / `attn_v_b`.
fn mla_attention(b: &mut Builder<'_>, i: u32) -> anyhow::Result<()> {
    let s = b.spec;
    let t = |n: &str| format!("blk.{i}.{n}.weight");
    let m = Mla::of(s);
    let (e, heads) = (u64::from(s.n_embd), u64::from(s.n_head));
    let (hk, hv, rope, kvl) = (
        u64::from(m.head_k),
        u64::from(m.head_v),
        u64::from(m.rope),
        u64::from(m.kv_lora),
    );
    b.random(&t("attn_q"), &[e, heads * hk], WEIGHT_STD)?;
    b.random(&t("attn_kv_a_mqa"), &[e, kvl + rope], WEIGHT_STD)?;
    b.ones(&t("attn_kv_a_norm"), kvl)?;
    b.random(&t("attn_k_b"), &[hk - rope, kvl, heads], WEIGHT_STD)?;
    b.random(&t("attn_v_b"), &[kvl, hv, heads], WEIGHT_STD)?;
    b.random(&t("attn_output"), &[heads * hv, e], WEIGHT_STD)?;
    b.ones(&t("ffn_norm"), e)?;
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
    // Mixtral-style, Granite and OLMoE experts are as wide as the dense FFN.
    let width = if s.mixtral || family.is_some_and(TinyFamily::experts_use_n_ff) {
        ff
    } else {
        ffe
    };
    b.router(&t("ffn_gate_inp"), &[e, ne])?;
    b.random(&t("ffn_gate_exps"), &[e, width, ne], WEIGHT_STD)?;
    b.random(&t("ffn_up_exps"), &[e, width, ne], WEIGHT_STD)?;
    b.random(&t("ffn_down_exps"), &[width, e, ne], WEIGHT_STD)?;
    match family {
        Some(TinyFamily::Deepseek | TinyFamily::Dots1 | TinyFamily::Deepseek2) => {
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
