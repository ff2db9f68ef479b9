//! Architecture-specific relations: sliding-window patterns, the MoE gating function,
//! architectures that cannot run without experts, MLA head sizes, SSM widths.

use super::super::value::{Array, Value};
use super::{refuse, Meta, Refusal, Rule};

pub(super) const RULES: &[Rule] = &[
    Rule {
        id: "swa.pattern",
        key: "<arch>.attention.sliding_window_pattern",
        relation: "when the architecture turns sliding-window attention on, the pattern \
                   makes at least one layer a sliding-window layer",
        mirrors: "src/llama-model.cpp:8093 (KV cache creation with the context)",
        check: swa_pattern,
    },
    Rule {
        id: "swa.full_layer",
        key: "<arch>.attention.sliding_window_pattern",
        relation: "when the architecture turns sliding-window attention on, the pattern \
                   leaves at least one layer with full attention",
        mirrors: "src/llama-kv-cache.cpp:1196 (at the first decode: \
                  llm_graph_input_attn_kv_iswa::set_input, src/llama-graph.cpp:470, fills \
                  the full-attention cache's inputs, which no layer uses and so get no \
                  buffer; ggml/src/ggml-backend.cpp:194)",
        check: swa_full_layer,
    },
    Rule {
        id: "moe.gating_func",
        key: "<arch>.expert_gating_func",
        relation: "1 (softmax), 2 (sigmoid) or 3 (softmax of the weights), or absent / 0 \
                   where the architecture has a default",
        mirrors: "src/llama-graph.cpp:1258 (build_moe_ffn, with the context)",
        check: gating_func,
    },
    Rule {
        id: "moe.experts_required",
        key: "<arch>.expert_count, <arch>.experts_per_group",
        relation: "glm4moe, bailingmoe2, llada-moe, smallthinker, grovemoe and lfm2moe \
                   (with an MoE layer) have experts; grovemoe has experts_per_group > 0",
        mirrors: "src/llama-model.cpp:5305, src/llama-model.cpp:6213, \
                  src/llama-model.cpp:2836, src/llama-model.cpp:6766, \
                  src/llama-model.cpp:6789-6791, src/llama-model.cpp:6705",
        check: experts_required,
    },
    Rule {
        id: "mla.head_size",
        key: "deepseek2.attention.key_length_mla, deepseek2.rope.dimension_count",
        relation: "deepseek2: the key head size is larger than the RoPE dimensions",
        mirrors: "src/llama-model.cpp:4895",
        check: mla_head_size,
    },
    Rule {
        id: "ssm.inner_size",
        key: "<arch>.ssm.inner_size",
        relation: "mamba2, jamba, granitehybrid: ssm.inner_size == 2 x embedding_length",
        mirrors: "src/llama-model.cpp:4321, src/llama-model.cpp:4367, src/llama-model.cpp:4452",
        check: ssm_inner_size,
    },
    Rule {
        id: "embedding.dense_features",
        key: "gemma-embedding.dense_2_feat_in, gemma-embedding.dense_3_feat_out",
        relation: "0 or embedding_length",
        mirrors: "src/llama-model.cpp:1298-1299",
        check: dense_features,
    },
];

/// When an architecture switches sliding-window attention on.
#[derive(Clone, Copy)]
enum SwaWhen {
    Always,
    /// `attention.sliding_window` present and above 0.
    WindowSet,
    /// Unless `attention.sliding_window` is present and 0 (llama4).
    UnlessWindowZero,
    /// Only with this many layers (exaone4: 64).
    Layers(u32),
}

/// (architecture, when, default period, dense first) for the architectures that call
/// `set_swa_pattern` (src/llama-model.cpp:554-2291).
const SWA: &[(&str, SwaWhen, u32, bool)] = &[
    ("llama4", SwaWhen::UnlessWindowZero, 4, false),
    ("afmoe", SwaWhen::WindowSet, 4, false),
    ("modern-bert", SwaWhen::WindowSet, 3, true),
    ("plamo3", SwaWhen::WindowSet, 8, false),
    ("gemma2", SwaWhen::Always, 2, false),
    ("gemma3", SwaWhen::WindowSet, 6, false),
    ("gemma3n", SwaWhen::Always, 5, false),
    ("gemma-embedding", SwaWhen::Always, 6, false),
    ("cohere2", SwaWhen::Always, 4, false),
    ("olmo2", SwaWhen::WindowSet, 4, false),
    ("exaone4", SwaWhen::Layers(64), 4, false),
    ("exaone-moe", SwaWhen::Always, 4, false),
    ("gpt-oss", SwaWhen::Always, 2, false),
    ("smallthinker", SwaWhen::WindowSet, 4, true),
];

fn swa_pattern(m: &Meta) -> Result<(), Refusal> {
    let Some(n_layer) = m.n_layer() else {
        return Ok(());
    };
    let key = m.key("attention.sliding_window_pattern");
    // mimo2 and step35 read the pattern as one flag per layer and always use SWA.
    if m.arch_is(&["mimo2", "step35"]) {
        let any = match m.f.get(&key) {
            Some(Value::U32(v)) => *v != 0,
            Some(Value::Array(a)) if a.len() == n_layer as usize => match a {
                Array::U32(v) => v.iter().any(|&x| x != 0),
                Array::I32(v) => v.iter().any(|&x| x != 0),
                Array::Bool(v) => v.iter().any(|&x| x),
                _ => true,
            },
            _ => true,
        };
        if !any {
            return Err(refuse(
                key,
                "no layer is a sliding-window layer, but this architecture always uses them",
            ));
        }
        return Ok(());
    }
    let Some((period, layers)) = swa_layers(m, n_layer) else {
        return Ok(());
    };
    if !layers.iter().any(|&swa| swa) {
        return Err(refuse(
            key,
            format!("a period of {period} over {n_layer} layers makes no layer a sliding-window layer, but the architecture turns sliding windows on"),
        ));
    }
    Ok(())
}

/// With sliding windows on, llama.cpp keeps two caches, one for the full-attention layers
/// and one for the sliding-window layers, and fills both caches' inputs at every decode.
/// With no full-attention layer the first cache's inputs are in no graph, have no buffer,
/// and the first decode aborts. (Architectures that keep no cache are not affected.)
fn swa_full_layer(m: &Meta) -> Result<(), Refusal> {
    let Some(n_layer) = m.n_layer() else {
        return Ok(());
    };
    // Encoders and diffusion models keep no KV cache (src/llama-model.cpp:7994-8010).
    if m.arch_is(&["modern-bert", "gemma-embedding"]) {
        return Ok(());
    }
    let Some((period, layers)) = swa_layers(m, n_layer) else {
        return Ok(());
    };
    if layers.iter().all(|&swa| swa) {
        return Err(refuse(
            m.key("attention.sliding_window_pattern"),
            format!("a period of {period} over {n_layer} layers makes every layer a sliding-window layer; llama.cpp needs at least one with full attention"),
        ));
    }
    Ok(())
}

/// For an architecture of the [`SWA`] table that turns sliding windows on: the period and,
/// per layer, whether it is a sliding-window layer.
fn swa_layers(m: &Meta, n_layer: u32) -> Option<(u32, Vec<bool>)> {
    let &(_, when, default, dense_first) = SWA.iter().find(|(a, ..)| m.arch == Some(*a))?;
    let window = m.u32("attention.sliding_window");
    let on = match when {
        SwaWhen::Always => true,
        SwaWhen::WindowSet => window.is_some_and(|w| w > 0),
        SwaWhen::UnlessWindowZero => window != Some(0),
        SwaWhen::Layers(n) => n_layer == n,
    };
    if !on {
        return None;
    }
    // A scalar u32 sets the period; an array is ignored (the default stays).
    let period = m.u32("attention.sliding_window_pattern").unwrap_or(default);
    // llama_hparams::set_swa_pattern (src/llama-hparams.cpp:8-18).
    let layers = (0..n_layer)
        .map(|il| {
            period == 0
                || if dense_first {
                    il % period != 0
                } else {
                    il % period < period - 1
                }
        })
        .collect();
    Some((period, layers))
}

/// How an architecture reads `expert_gating_func` when it builds its MoE layers.
#[derive(Clone, Copy, PartialEq)]
enum Gating {
    /// Absent or 0 is replaced by a default.
    Defaulted,
    /// Required: absent is a clean error, 0 reaches the graph.
    Required,
    /// Optional with no default: absent or 0 reaches the graph.
    Raw,
}

/// src/llama-model.cpp:595-2541 and the models' `build_moe_ffn` calls.
const GATING: &[(&str, Gating)] = &[
    ("afmoe", Gating::Defaulted),
    ("deepseek2", Gating::Defaulted),
    ("glm4moe", Gating::Defaulted),
    ("glm-dsa", Gating::Defaulted),
    ("step35", Gating::Defaulted),
    ("bailingmoe2", Gating::Required),
    ("exaone-moe", Gating::Required),
    ("lfm2moe", Gating::Required),
    ("kimi-linear", Gating::Required),
    ("dots1", Gating::Raw),
    ("smallthinker", Gating::Raw),
    ("minimax-m2", Gating::Raw),
];

fn gating_func(m: &Meta) -> Result<(), Refusal> {
    let Some(&(_, how)) = GATING.iter().find(|(a, _)| m.arch == Some(*a)) else {
        return Ok(());
    };
    if m.u32("expert_count").unwrap_or(0) == 0 {
        return Ok(());
    }
    let key = m.key("expert_gating_func");
    let v = m.u32("expert_gating_func");
    let ok = match (v, how) {
        (Some(1..=3), _) => true,
        (Some(0) | None, Gating::Defaulted) => true,
        // Absent and required: llama.cpp refuses the file cleanly.
        (None, Gating::Required) => true,
        _ => false,
    };
    if ok {
        return Ok(());
    }
    let what = match v {
        Some(n) => format!("gating function {n} is unknown"),
        None => "no gating function is given".to_string(),
    };
    Err(refuse(
        key,
        format!("{what}; this architecture needs 1 (softmax), 2 (sigmoid) or 3 (softmax of the weights)"),
    ))
}

fn experts_required(m: &Meta) -> Result<(), Refusal> {
    let needs = match m.arch {
        Some("glm4moe" | "bailingmoe2" | "llada-moe" | "grovemoe") => true,
        Some("smallthinker") => m.n_layer().is_some(),
        Some("lfm2moe") => {
            let lead = m.u32("leading_dense_block_count").unwrap_or(0);
            m.n_layer().is_some_and(|n| n > lead)
        }
        _ => false,
    };
    if !needs {
        return Ok(());
    }
    if m.u32("expert_count").unwrap_or(0) == 0 || m.u32("expert_used_count").unwrap_or(0) == 0 {
        return Err(refuse(
            m.key("expert_count"),
            "this architecture's MoE layers need experts (expert_count and expert_used_count above 0)",
        ));
    }
    if m.arch_is(&["grovemoe"]) && m.u32("experts_per_group").unwrap_or(0) == 0 {
        return Err(refuse(
            m.key("experts_per_group"),
            "grovemoe needs experts_per_group above 0",
        ));
    }
    Ok(())
}

fn mla_head_size(m: &Meta) -> Result<(), Refusal> {
    if !m.arch_is(&["deepseek2"]) {
        return Ok(());
    }
    let heads = m
        .per_layer("attention.head_count")
        .and_then(|h| h.first().copied())
        .unwrap_or(0);
    let n_embd = m.u32("embedding_length").unwrap_or(0);
    let head_k = m
        .u32("attention.key_length")
        .or((heads > 0).then(|| n_embd / heads.max(1)))
        .unwrap_or(0);
    let (k_mla, v_mla) = (
        m.u32("attention.key_length_mla").unwrap_or(0),
        m.u32("attention.value_length_mla").unwrap_or(0),
    );
    let head = if k_mla > 0 && v_mla > 0 {
        k_mla
    } else {
        head_k
    };
    let n_rot = m.u32("rope.dimension_count").unwrap_or(head_k);
    if head <= n_rot {
        return Err(refuse(
            m.key(if k_mla > 0 && v_mla > 0 {
                "attention.key_length_mla"
            } else {
                "attention.key_length"
            }),
            format!("key heads of {head} leave nothing beside {n_rot} RoPE dimensions"),
        ));
    }
    Ok(())
}

fn ssm_inner_size(m: &Meta) -> Result<(), Refusal> {
    if !m.arch_is(&["mamba2", "jamba", "granitehybrid"]) {
        return Ok(());
    }
    let (Some(inner), Some(n_embd)) = (m.u32("ssm.inner_size"), m.u32("embedding_length")) else {
        return Ok(());
    };
    if u64::from(inner) != 2 * u64::from(n_embd) {
        return Err(refuse(
            m.key("ssm.inner_size"),
            format!("{inner} is not twice the embedding width {n_embd}, the only ratio llama.cpp supports"),
        ));
    }
    Ok(())
}

fn dense_features(m: &Meta) -> Result<(), Refusal> {
    if !m.arch_is(&["gemma-embedding"]) {
        return Ok(());
    }
    let n_embd = m.u32("embedding_length").unwrap_or(0);
    for k in ["dense_2_feat_in", "dense_3_feat_out"] {
        if let Some(v) = m.u32(k) {
            if v != 0 && v != n_embd {
                return Err(refuse(
                    m.key(k),
                    format!("{v} must be 0 or the embedding width {n_embd}"),
                ));
            }
        }
    }
    Ok(())
}
