//! Architecture-specific relations: sliding-window patterns, the MoE gating function,
//! architectures that cannot run without experts, MLA head sizes, SSM widths.

use super::super::value::{Array, Value};
use super::{refuse, Meta, Refusal, Rule};

pub(super) const RULES: &[Rule] = &[
    Rule {
        id: "swa.pattern",
        key: "<arch>.attention.sliding_window_pattern",
        relation: "when the architecture turns sliding-window attention on and keeps a KV \
                   cache or none (see the SWA table), the pattern makes at least one layer \
                   a sliding-window layer",
        mirrors: "src/llama-model.cpp:8093 (KV cache creation with the context); \
                  src/llama-graph.cpp:412-413 (encoders without a cache, at the first \
                  decode, through ggml/src/ggml-backend.cpp:194)",
        check: swa_pattern,
    },
    Rule {
        id: "swa.full_layer",
        key: "<arch>.attention.sliding_window_pattern",
        relation: "when the architecture turns sliding-window attention on and keeps a KV \
                   cache or none (see the SWA table), the pattern leaves at least one layer \
                   with full attention",
        mirrors: "src/llama-kv-cache.cpp:1196 (at the first decode: \
                  llm_graph_input_attn_kv_iswa::set_input, src/llama-graph.cpp:470, fills \
                  the full-attention cache's inputs, which no layer uses and so get no \
                  buffer; ggml/src/ggml-backend.cpp:194); src/llama-graph.cpp:397-398 \
                  (encoders without a cache: the full-attention mask, the same way)",
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
#[derive(Clone, Copy, Debug)]
enum SwaWhen {
    Always,
    /// `attention.sliding_window` present and above 0.
    WindowSet,
    /// Unless `attention.sliding_window` is present and 0 (llama4).
    UnlessWindowZero,
    /// Only with this many layers (exaone4: 64).
    Layers(u32),
    /// Never: the architecture reads the window but switches sliding windows off.
    Never,
}

/// Which layers are sliding-window layers once it is on.
#[derive(Clone, Copy, Debug)]
enum SwaLayers {
    /// `llama_hparams::set_swa_pattern(period, dense_first)` (src/llama-hparams.cpp:8-18),
    /// the period from a scalar `attention.sliding_window_pattern` (an array is ignored).
    Period { default: u32, dense_first: bool },
    /// One flag per layer in `attention.sliding_window_pattern` (`get_key_or_arr` into
    /// `swa_layers`; a scalar repeats for every layer; absent is a clean refusal).
    Flags,
    /// Every attention layer (`head_count_kv` above 0; the others are recurrent).
    Attention,
}

/// What holds the attention state, which decides what llama.cpp needs of the pattern.
#[derive(Clone, Copy, Debug, PartialEq)]
enum SwaMemory {
    /// Two KV caches (`llama_kv_cache_iswa`): creating it asserts some layer is a
    /// sliding-window layer, and every decode fills both caches' inputs, so some layer
    /// must have full attention too. Both rules apply.
    KvIswa,
    /// No cache (encoders, `build_attn_inp_no_cache`): every decode fills both masks, so
    /// both kinds of layer must exist. Both rules apply.
    NoCache,
    /// Recurrent layers beside a two-cache attention (`llama_memory_hybrid_iswa`): its
    /// inputs are filled only where a layer uses them (src/llama-graph.cpp:617-628) and
    /// creating it asserts nothing (src/llama-model.cpp:8041). Exempt from both rules.
    HybridIswa,
}

/// One architecture that reads sliding-window keys, and the llama.cpp lines it mirrors.
#[derive(Clone, Copy, Debug)]
struct Swa {
    arch: &'static str,
    when: SwaWhen,
    layers: SwaLayers,
    memory: SwaMemory,
    /// Where `llama_model::load_hparams` (src/llama-model.cpp) sets it up.
    mirrors: &'static str,
}

const fn swa(
    arch: &'static str,
    when: SwaWhen,
    layers: SwaLayers,
    memory: SwaMemory,
    mirrors: &'static str,
) -> Swa {
    Swa {
        arch,
        when,
        layers,
        memory,
        mirrors,
    }
}

const fn period(default: u32) -> SwaLayers {
    SwaLayers::Period {
        default,
        dense_first: false,
    }
}

const fn period_dense_first(default: u32) -> SwaLayers {
    SwaLayers::Period {
        default,
        dense_first: true,
    }
}

use SwaMemory::{HybridIswa, KvIswa, NoCache};
use SwaWhen::{Always, Layers, Never, UnlessWindowZero, WindowSet};

/// Every architecture whose hyper-parameters llama.cpp reads sliding-window keys for
/// (llama-cpp-sys-2 0.1.139). Any other architecture never turns sliding windows on and
/// never marks a layer as one, so src/llama-model.cpp:8110 (no sliding-window layer
/// without sliding windows) holds for it.
const SWA: &[Swa] = &[
    swa(
        "llama4",
        UnlessWindowZero,
        period(4),
        KvIswa,
        "src/llama-model.cpp:543-555",
    ),
    swa(
        "afmoe",
        WindowSet,
        period(4),
        KvIswa,
        "src/llama-model.cpp:598-606",
    ),
    swa(
        "modern-bert",
        WindowSet,
        period_dense_first(3),
        NoCache,
        "src/llama-model.cpp:772-778",
    ),
    swa(
        "phi3",
        Never,
        period(1),
        KvIswa,
        "src/llama-model.cpp:1072-1082",
    ),
    swa(
        "phimoe",
        Never,
        period(1),
        KvIswa,
        "src/llama-model.cpp:1072-1082 (shared with phi3)",
    ),
    swa(
        "plamo3",
        WindowSet,
        period(8),
        KvIswa,
        "src/llama-model.cpp:1133-1139",
    ),
    swa(
        "gemma2",
        Always,
        period(2),
        KvIswa,
        "src/llama-model.cpp:1198-1202",
    ),
    swa(
        "gemma3",
        WindowSet,
        period(6),
        KvIswa,
        "src/llama-model.cpp:1227-1232",
    ),
    swa(
        "gemma3n",
        Always,
        period(5),
        KvIswa,
        "src/llama-model.cpp:1260-1263",
    ),
    swa(
        "gemma-embedding",
        Always,
        period(6),
        NoCache,
        "src/llama-model.cpp:1280-1283",
    ),
    swa(
        "cohere2",
        Always,
        period(4),
        KvIswa,
        "src/llama-model.cpp:1424-1427",
    ),
    swa(
        "olmo2",
        WindowSet,
        period(4),
        KvIswa,
        "src/llama-model.cpp:1466-1471",
    ),
    swa(
        "exaone4",
        Layers(64),
        period(4),
        KvIswa,
        "src/llama-model.cpp:1885-1890",
    ),
    swa(
        "exaone-moe",
        Always,
        period(4),
        KvIswa,
        "src/llama-model.cpp:1908-1912",
    ),
    swa(
        "gpt-oss",
        Always,
        period(2),
        KvIswa,
        "src/llama-model.cpp:2226-2231",
    ),
    swa(
        "lfm2",
        WindowSet,
        SwaLayers::Attention,
        HybridIswa,
        "src/llama-model.cpp:2258-2261",
    ),
    swa(
        "smallthinker",
        WindowSet,
        period_dense_first(4),
        KvIswa,
        "src/llama-model.cpp:2285-2292",
    ),
    swa(
        "mimo2",
        Always,
        SwaLayers::Flags,
        KvIswa,
        "src/llama-model.cpp:2482-2487",
    ),
    swa(
        "step35",
        Always,
        SwaLayers::Flags,
        KvIswa,
        "src/llama-model.cpp:2528-2547",
    ),
];

/// The SWA table as (architecture, how its memory treats the pattern, the
/// `load_hparams` lines it mirrors), for documentation and tests.
pub fn swa_architectures() -> impl Iterator<Item = (&'static str, &'static str, &'static str)> {
    SWA.iter().map(|e| {
        let rules = match (e.when, e.memory) {
            (Never, _) => "exempt: sliding windows switched off",
            (_, HybridIswa) => "exempt: hybrid memory fills only the inputs a layer uses",
            (_, KvIswa) => "KV cache: needs a sliding-window layer and a full layer",
            (_, NoCache) => "no cache: needs a sliding-window layer and a full layer",
        };
        (e.arch, rules, e.mirrors)
    })
}

fn swa_pattern(m: &Meta) -> Result<(), Refusal> {
    let Some((what, layers)) = swa_layers(m) else {
        return Ok(());
    };
    if !layers.iter().any(|&swa| swa) {
        return Err(refuse(
            m.key("attention.sliding_window_pattern"),
            format!(
                "{what} makes no layer a sliding-window layer, but the architecture turns sliding windows on"
            ),
        ));
    }
    Ok(())
}

fn swa_full_layer(m: &Meta) -> Result<(), Refusal> {
    let Some((what, layers)) = swa_layers(m) else {
        return Ok(());
    };
    if layers.iter().all(|&swa| swa) {
        return Err(refuse(
            m.key("attention.sliding_window_pattern"),
            format!(
                "{what} makes every layer a sliding-window layer; llama.cpp needs at least one with full attention"
            ),
        ));
    }
    Ok(())
}

/// For an architecture of the [`SWA`] table that turns sliding windows on and is not
/// exempt: the pattern in words and, per layer, whether it is a sliding-window layer.
fn swa_layers(m: &Meta) -> Option<(String, Vec<bool>)> {
    let n_layer = m.n_layer()?;
    let entry = SWA.iter().find(|e| m.arch == Some(e.arch))?;
    if entry.memory == HybridIswa {
        return None;
    }
    let window = m.u32("attention.sliding_window");
    let on = match entry.when {
        Always => true,
        WindowSet => window.is_some_and(|w| w > 0),
        UnlessWindowZero => window != Some(0),
        Layers(n) => n_layer == n,
        Never => false,
    };
    if !on {
        return None;
    }
    let key = m.key("attention.sliding_window_pattern");
    match entry.layers {
        SwaLayers::Period {
            default,
            dense_first,
        } => {
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
            Some((
                format!("a period of {period} over {n_layer} layers"),
                layers,
            ))
        }
        SwaLayers::Flags => {
            let n = n_layer as usize;
            let layers: Vec<bool> = match m.f.get(&key)? {
                Value::U32(v) => vec![*v != 0; n],
                Value::Array(a) if a.len() == n => match a {
                    Array::U32(v) => v.iter().map(|&x| x != 0).collect(),
                    Array::I32(v) => v.iter().map(|&x| x != 0).collect(),
                    Array::Bool(v) => v.clone(),
                    // Other element types: `arrays.element_type` or a clean refusal.
                    _ => return None,
                },
                // Absent, another length or another type: llama.cpp refuses it cleanly.
                _ => return None,
            };
            Some((format!("one flag per layer over {n_layer} layers"), layers))
        }
        // Only the hybrid lfm2 marks its attention layers; it is exempt above.
        SwaLayers::Attention => None,
    }
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
