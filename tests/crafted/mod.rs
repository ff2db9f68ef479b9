//! Crafted GGUF files: one per rule of the pre-parser's table
//! (`moe_tutor::model::gguf::rules()`), each a model that llama.cpp loads as far as the
//! assert the rule mirrors. They start from the project's tiny models and change their
//! metadata, architecture or tensors just enough to break one relation.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use moe_tutor::model::gguf::{Array, GgufFile, GgufWriter, Value};
use moe_tutor::model::tiny::{self, TinySpec};

/// One crafted file: the rule it breaks and how to write it.
pub struct Case {
    pub rule: &'static str,
    pub name: &'static str,
    build: fn() -> GgufWriter,
}

impl Case {
    pub fn write(&self, dir: &Path) -> PathBuf {
        let path = dir.join(format!("{}.gguf", self.name));
        (self.build)().write(&path).expect("write crafted model");
        path
    }
}

fn moe() -> GgufWriter {
    tiny::build(&TinySpec::default()).expect("tiny moe")
}

fn dense() -> GgufWriter {
    tiny::build(&TinySpec::dense()).expect("tiny dense")
}

fn tokens() -> Vec<String> {
    tiny::pieces().into_iter().map(|p| p.text).collect()
}

/// Rewrite `spec`'s tiny model as architecture `arch`: every `<old arch>.` key renamed,
/// tensors kept when `keep` says so, then `extra` tensors (zeros) added.
pub fn rearch(
    spec: &TinySpec,
    arch: &str,
    keep: impl Fn(&str) -> bool,
    extra: &[(String, Vec<u64>)],
) -> GgufWriter {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("src.gguf");
    tiny::write(&src, spec).expect("tiny");
    let f = GgufFile::open(&src).expect("open tiny");
    let old = format!("{}.", spec.architecture());
    let mut w = GgufWriter::new();
    for (k, v) in f.metadata() {
        let key = match k.strip_prefix(&old) {
            Some(rest) => format!("{arch}.{rest}"),
            None => k.to_string(),
        };
        w.set(key, v.clone());
    }
    w.set("general.architecture", arch);
    for t in f.tensors() {
        if keep(&t.name) {
            let bytes = f.read_tensor_bytes(t).expect("tensor bytes");
            w.add_raw(&t.name, &t.shape, t.dtype, bytes)
                .expect("copy tensor");
        }
    }
    for (name, shape) in extra {
        let n: u64 = shape.iter().product();
        let data = if name.contains("norm") {
            vec![1.0f32; n as usize]
        } else {
            vec![0.0f32; n as usize]
        };
        w.add_f32(name, shape, &data).expect("extra tensor");
    }
    w
}

pub fn per_layer(
    n_layer: u32,
    f: impl Fn(u32) -> Vec<(String, Vec<u64>)>,
) -> Vec<(String, Vec<u64>)> {
    (0..n_layer).flat_map(f).collect()
}

/// A dense llama model whose 4 heads share 3 KV heads (K and V 48 wide).
fn kv_heads_3_of_4() -> GgufWriter {
    let spec = TinySpec::dense();
    let extra = per_layer(spec.n_layer, |i| {
        ["attn_k", "attn_v"]
            .iter()
            .map(|t| (format!("blk.{i}.{t}.weight"), vec![64, 48]))
            .collect()
    });
    let mut w = rearch(
        &spec,
        "llama",
        |n| !n.contains("attn_k.") && !n.contains("attn_v."),
        &extra,
    );
    w.set("llama.attention.head_count_kv", 3u32);
    w
}

/// cohere2 (sliding-window attention always on) built from the dense tiny model.
fn cohere2(period: u32) -> GgufWriter {
    let spec = TinySpec::dense();
    let mut w = rearch(
        &spec,
        "cohere2",
        |n| !n.contains("ffn_norm") && n != "output.weight",
        &[],
    );
    w.set("cohere2.attention.sliding_window", 64u32)
        .set("cohere2.logit_scale", 1.0f32)
        .set("cohere2.attention.layer_norm_epsilon", 1e-5f32)
        .set("cohere2.attention.sliding_window_pattern", period);
    w
}

/// gemma (RoPE over `rope.dimension_count`, no head-size asserts) from the dense tiny model.
fn gemma() -> GgufWriter {
    rearch(&TinySpec::dense(), "gemma", |n| n != "output.weight", &[])
}

/// dots1 (a DeepSeek-like MoE with QK norms) with no gating function.
fn dots1_without_gating() -> GgufWriter {
    let spec = TinySpec {
        n_head_kv: 4,
        ..TinySpec::default()
    };
    let extra = per_layer(spec.n_layer, |i| {
        ["attn_q_norm", "attn_k_norm"]
            .iter()
            .map(|t| (format!("blk.{i}.{t}.weight"), vec![16]))
            .collect()
    });
    rearch(&spec, "dots1", |_| true, &extra)
}

fn glm4moe_without_experts() -> GgufWriter {
    let mut w = rearch(&TinySpec::default(), "glm4moe", |_| true, &[]);
    w.set("glm4moe.expert_count", 0u32)
        .set("glm4moe.expert_used_count", 0u32);
    w
}

fn deepseek2_rope_fills_heads() -> GgufWriter {
    let mut w = rearch(&TinySpec::default(), "deepseek2", |_| true, &[]);
    w.set("deepseek2.attention.q_lora_rank", 32u32)
        .set("deepseek2.attention.kv_lora_rank", 32u32)
        .set("deepseek2.attention.key_length", 16u32)
        .set("deepseek2.rope.dimension_count", 16u32);
    w
}

fn mamba2_narrow() -> GgufWriter {
    let mut w = rearch(&TinySpec::dense(), "mamba2", |_| true, &[]);
    w.set("mamba2.ssm.conv_kernel", 4u32)
        .set("mamba2.ssm.inner_size", 96u32)
        .set("mamba2.ssm.state_size", 16u32)
        .set("mamba2.ssm.time_step_rank", 4u32)
        .set("mamba2.ssm.group_count", 1u32);
    w
}

fn gemma_embedding_dense_2() -> GgufWriter {
    let mut w = rearch(&TinySpec::dense(), "gemma-embedding", |_| true, &[]);
    // Period 2 over 3 layers keeps both kinds of attention layer, so that only the dense
    // feature width is wrong (the default period 6 makes all 3 sliding-window layers).
    w.set("gemma-embedding.attention.sliding_window", 64u32)
        .set("gemma-embedding.attention.sliding_window_pattern", 2u32)
        .set("gemma-embedding.dense_2_feat_in", 100u32);
    w
}

fn with(base: fn() -> GgufWriter, edit: impl FnOnce(&mut GgufWriter)) -> GgufWriter {
    let mut w = base();
    edit(&mut w);
    w
}

/// Every crafted file, at least one per rule.
pub fn cases() -> Vec<Case> {
    macro_rules! case {
        ($rule:literal, $name:literal, $build:expr) => {
            Case {
                rule: $rule,
                name: $name,
                build: $build,
            }
        };
    }
    vec![
        case!("layers.count", "no-layers", || with(moe, |w| {
            w.set("deepseek.block_count", 0u32);
        })),
        case!("experts.max", "600-experts", || with(moe, |w| {
            w.set("deepseek.expert_count", 600u32);
        })),
        case!("experts.used_le_count", "9-of-8-used", || with(moe, |w| {
            w.set("deepseek.expert_used_count", 9u32);
        })),
        case!("experts.used_nonzero", "none-used", || with(moe, |w| {
            w.set("deepseek.expert_used_count", 0u32);
        })),
        case!("experts.groups_lt_count", "8-groups-of-8", || with(
            moe,
            |w| {
                w.set("deepseek.expert_group_count", 8u32);
            }
        )),
        case!("experts.groups_divide", "3-groups-of-8", || with(
            moe,
            |w| {
                w.set("deepseek.expert_group_count", 3u32)
                    .set("deepseek.expert_group_used_count", 1u32);
            }
        )),
        case!("experts.group_used_nonzero", "no-group-used", || with(
            moe,
            |w| {
                w.set("deepseek.expert_group_count", 2u32)
                    .set("deepseek.expert_group_used_count", 0u32);
            }
        )),
        case!("experts.group_used_lt_groups", "all-groups-used", || with(
            moe,
            |w| {
                w.set("deepseek.expert_group_count", 2u32)
                    .set("deepseek.expert_group_used_count", 2u32);
            }
        )),
        case!(
            "experts.groups_without_experts",
            "groups-in-dense",
            || with(dense, |w| {
                w.set("llama.expert_group_count", 2u32);
            })
        ),
        case!("arrays.element_type", "float-head-counts", || with(
            moe,
            |w| {
                w.set("deepseek.attention.head_count", vec![4.0f32; 3]);
            }
        )),
        case!("rope.scaling_type", "rope-scaling-bogus", || with(
            moe,
            |w| {
                w.set("deepseek.rope.scaling.type", "bogus");
            }
        )),
        case!("heads.kv_divides", "3-kv-heads-for-4", kv_heads_3_of_4),
        case!("rope.dimensions", "odd-rope", || with(gemma, |w| {
            w.set("gemma.rope.dimension_count", 15u32);
        })),
        case!("graph.head_sizes", "rope-half-heads", || with(moe, |w| {
            w.set("deepseek.rope.dimension_count", 8u32);
        })),
        case!("swa.pattern", "swa-period-1", || cohere2(1)),
        case!("swa.full_layer", "swa-every-layer", || cohere2(4)),
        case!("moe.gating_func", "dots1-no-gating", dots1_without_gating),
        case!(
            "moe.experts_required",
            "glm4moe-no-experts",
            glm4moe_without_experts
        ),
        case!(
            "mla.head_size",
            "deepseek2-all-rope",
            deepseek2_rope_fills_heads
        ),
        case!("ssm.inner_size", "mamba2-narrow", mamba2_narrow),
        case!(
            "embedding.dense_features",
            "gemma-embedding-dense",
            gemma_embedding_dense_2
        ),
        case!("vocab.tokens", "token-ids-not-text", || with(moe, |w| {
            let n = tokens().len() as u32;
            w.set("tokenizer.ggml.tokens", (0..n).collect::<Vec<u32>>());
        })),
        case!("vocab.per_token_arrays", "scores-as-text", || with(
            moe,
            |w| {
                w.set(
                    "tokenizer.ggml.scores",
                    Value::Array(Array::String(tokens())),
                );
            }
        )),
        case!("vocab.unique_tokens", "duplicate-token", || with(
            moe,
            |w| {
                let mut t = tokens();
                t[40] = t[41].clone();
                w.set("tokenizer.ggml.tokens", Value::Array(Array::String(t)));
            }
        )),
        case!("vocab.merges", "merges-not-text", || with(moe, |w| {
            w.set("tokenizer.ggml.model", "gpt2")
                .set("tokenizer.ggml.merges", vec![1u32, 2, 3]);
        })),
        case!("vocab.charsmap", "charsmap-floats", || with(moe, |w| {
            w.set("tokenizer.ggml.model", "t5")
                .set("tokenizer.ggml.precompiled_charsmap", vec![0.5f32; 8]);
        })),
        case!("vocab.wpm_byte_tokens", "bert-byte-tokens", || with(
            moe,
            |w| {
                w.set("tokenizer.ggml.model", "bert");
            }
        )),
        case!("vocab.rwkv_prefixes", "rwkv-newline-pair", || with(
            moe,
            |w| {
                let mut t = tokens();
                t[40] = "\\n\\n".into();
                w.set("tokenizer.ggml.model", "rwkv")
                    .set("tokenizer.ggml.tokens", Value::Array(Array::String(t)));
            }
        )),
        case!("vocab.present", "no-vocab", || with(moe, |w| {
            w.set("tokenizer.ggml.model", "none")
                .set("deepseek.vocab_size", tokens().len() as u32);
        })),
        case!("vocab.ugm_bos", "t5-bos-missing", || with(moe, |w| {
            w.set("tokenizer.ggml.model", "t5")
                .set("tokenizer.ggml.add_bos_token", true)
                .set("tokenizer.ggml.bos_token_id", 999_999u32);
        })),
    ]
}

/// A file only one rule refuses (`swa.full_layer`), so that with the rule skipped (the
/// debug builds' `MOE_TUTOR_FAULT=skip_rule:swa.full_layer`) it reaches llama.cpp, which
/// aborts at its first decode: a tiny cohere2 model whose 3 layers are all sliding-window
/// layers (period 4) dies in ggml-backend.cpp:194 (GGML_ASSERT(buffer)). What the
/// child-process check is for.
pub const SKIPPED_RULE: &str = "swa.full_layer";

pub fn passes_checks_but_aborts() -> GgufWriter {
    cohere2(4)
}

/// Valid twins of the crafted files that are whole models (not cut short by an early
/// assert): each must load and decode, so the crafted file's abort is its one change.
pub fn controls() -> Vec<Case> {
    vec![
        Case {
            rule: "control",
            name: "gemma",
            build: gemma,
        },
        Case {
            rule: "control",
            name: "dots1-softmax",
            build: || {
                with(dots1_without_gating, |w| {
                    w.set("dots1.expert_gating_func", 1u32);
                })
            },
        },
        Case {
            rule: "control",
            name: "dense-2-kv-heads",
            build: dense,
        },
        Case {
            rule: "control",
            name: "moe",
            build: moe,
        },
    ]
}
