//! Hyper-parameters every architecture shares: layer count, experts and expert groups,
//! RoPE, attention heads, and the element types of per-layer arrays
//! (`llama_model::load_hparams` and what the first graph does with them).

use super::super::value::{Value, ValueType};
use super::{refuse, Meta, Refusal, Rule, MAX_EXPERTS, MAX_LAYERS};

pub(super) const RULES: &[Rule] = &[
    Rule {
        id: "layers.count",
        key: "<arch>.block_count",
        relation: "1 <= block_count <= 512",
        mirrors: "src/llama-hparams.cpp:35 (n_head(0) aborts with no layers); \
                  src/llama-hparams.cpp:10-16 (per-layer arrays of LLAMA_MAX_LAYERS = 512)",
        check: layer_count,
    },
    Rule {
        id: "experts.max",
        key: "<arch>.expert_count",
        relation: "expert_count <= 512 (LLAMA_MAX_EXPERTS)",
        mirrors: "src/llama-model.cpp:390",
        check: experts_max,
    },
    Rule {
        id: "experts.used_le_count",
        key: "<arch>.expert_used_count",
        relation: "expert_used_count <= expert_count",
        mirrors: "src/llama-model.cpp:391, src/llama-model.cpp:401",
        check: used_le_count,
    },
    Rule {
        id: "experts.used_nonzero",
        key: "<arch>.expert_used_count",
        relation: "expert_count > 0 => expert_used_count > 0",
        mirrors: "src/llama-model.cpp:393",
        check: used_nonzero,
    },
    Rule {
        id: "experts.groups_lt_count",
        key: "<arch>.expert_group_count",
        relation: "expert_count > 0 => expert_group_count < expert_count",
        mirrors: "src/llama-model.cpp:394",
        check: groups_lt_count,
    },
    Rule {
        id: "experts.groups_divide",
        key: "<arch>.expert_group_count",
        relation: "expert_group_count > 1 => expert_count % expert_group_count == 0",
        mirrors: "src/llama-model.cpp:396",
        check: groups_divide,
    },
    Rule {
        id: "experts.group_used_nonzero",
        key: "<arch>.expert_group_used_count",
        relation: "expert_group_count > 1 => expert_group_used_count > 0",
        mirrors: "src/llama-model.cpp:397",
        check: group_used_nonzero,
    },
    Rule {
        id: "experts.group_used_lt_groups",
        key: "<arch>.expert_group_used_count",
        relation: "expert_group_count > 1 => expert_group_used_count < expert_group_count",
        mirrors: "src/llama-model.cpp:398",
        check: group_used_lt_groups,
    },
    Rule {
        id: "experts.groups_without_experts",
        key: "<arch>.expert_group_count",
        relation: "expert_count == 0 => expert_group_count == 0",
        mirrors: "src/llama-model.cpp:402",
        check: groups_without_experts,
    },
    Rule {
        id: "arrays.element_type",
        key: "<arch>.feed_forward_length, <arch>.attention.head_count(_kv), \
              <arch>.rope.dimension_sections, <arch>.swiglu_clamp_(sh)exp, xielu.*, \
              <arch>.classifier.output_labels",
        relation: "an array holds the element type llama.cpp reads it as (integers: u32, \
                   i32 or bool; floats: f32; labels: strings)",
        mirrors: "src/llama-model-loader.cpp:356-359 (per-layer arrays), \
                  src/llama-model-loader.cpp:314-317 (string lists)",
        check: array_element_types,
    },
    Rule {
        id: "rope.scaling_type",
        key: "<arch>.rope.scaling.type",
        relation: "one of none, linear, yarn, longrope",
        mirrors: "src/llama-model.cpp:445",
        check: rope_scaling_type,
    },
    Rule {
        id: "heads.kv_divides",
        key: "<arch>.attention.head_count_kv",
        relation: "in every layer with KV heads, head_count % head_count_kv == 0",
        mirrors: "ggml/src/ggml.c:3214 (ggml_mul_mat), ggml/src/ggml.c:5297 \
                  (ggml_flash_attn_ext): the attention graph built with the context",
        check: kv_heads_divide,
    },
    Rule {
        id: "rope.dimensions",
        key: "<arch>.rope.dimension_count(_swa)",
        relation: "RoPE dimensions are even and at most the key head size \
                   (attention.key_length, else embedding_length / head_count)",
        mirrors: "ggml/src/ggml-cpu/ops.cpp:5769-5770 (rope, at the first decode)",
        check: rope_dimensions,
    },
];

fn layer_count(m: &Meta) -> Result<(), Refusal> {
    match m.u32("block_count") {
        Some(0) => Err(refuse(
            m.key("block_count"),
            "the model has 0 layers; llama.cpp needs at least one",
        )),
        Some(n) if n > MAX_LAYERS => Err(refuse(
            m.key("block_count"),
            format!("{n} layers is more than llama.cpp supports ({MAX_LAYERS})"),
        )),
        _ => Ok(()),
    }
}

/// (experts, used, groups, groups used), each 0 when absent, as llama.cpp defaults them.
fn experts(m: &Meta) -> (u32, u32, u32, u32) {
    let g = |k: &str| m.u32(k).unwrap_or(0);
    (
        g("expert_count"),
        g("expert_used_count"),
        g("expert_group_count"),
        g("expert_group_used_count"),
    )
}

fn experts_max(m: &Meta) -> Result<(), Refusal> {
    let (count, ..) = experts(m);
    if count > MAX_EXPERTS {
        return Err(refuse(
            m.key("expert_count"),
            format!("{count} experts is more than llama.cpp supports ({MAX_EXPERTS})"),
        ));
    }
    Ok(())
}

fn used_le_count(m: &Meta) -> Result<(), Refusal> {
    let (count, used, ..) = experts(m);
    if used > count {
        return Err(refuse(
            m.key("expert_used_count"),
            format!("{used} experts used per token, but the model has only {count}"),
        ));
    }
    Ok(())
}

fn used_nonzero(m: &Meta) -> Result<(), Refusal> {
    let (count, used, ..) = experts(m);
    if count > 0 && used == 0 {
        return Err(refuse(
            m.key("expert_used_count"),
            format!("the model has {count} experts but uses none per token"),
        ));
    }
    Ok(())
}

fn groups_lt_count(m: &Meta) -> Result<(), Refusal> {
    let (count, _, groups, _) = experts(m);
    if count > 0 && groups >= count {
        return Err(refuse(
            m.key("expert_group_count"),
            format!("{groups} expert groups for {count} experts; llama.cpp needs fewer groups than experts"),
        ));
    }
    Ok(())
}

fn groups_divide(m: &Meta) -> Result<(), Refusal> {
    let (count, _, groups, _) = experts(m);
    if count > 0 && groups > 1 && !count.is_multiple_of(groups) {
        return Err(refuse(
            m.key("expert_group_count"),
            format!("{count} experts do not split into {groups} equal groups"),
        ));
    }
    Ok(())
}

fn group_used_nonzero(m: &Meta) -> Result<(), Refusal> {
    let (count, _, groups, group_used) = experts(m);
    if count > 0 && groups > 1 && group_used == 0 {
        return Err(refuse(
            m.key("expert_group_used_count"),
            format!("the experts form {groups} groups but no group is used per token"),
        ));
    }
    Ok(())
}

fn group_used_lt_groups(m: &Meta) -> Result<(), Refusal> {
    let (count, _, groups, group_used) = experts(m);
    if count > 0 && groups > 1 && group_used >= groups {
        return Err(refuse(
            m.key("expert_group_used_count"),
            format!(
                "{group_used} expert groups used per token out of {groups}; llama.cpp needs fewer"
            ),
        ));
    }
    Ok(())
}

fn groups_without_experts(m: &Meta) -> Result<(), Refusal> {
    let (count, _, groups, _) = experts(m);
    if count == 0 && groups > 0 {
        return Err(refuse(
            m.key("expert_group_count"),
            format!("{groups} expert groups in a model without experts"),
        ));
    }
    Ok(())
}

/// What llama.cpp reads an array key into.
#[derive(Clone, Copy)]
enum Target {
    /// `std::array<uint32_t | int, N>`: bool, u32, i32 arrays; f32 or string abort.
    Int,
    /// `std::array<float, N>`: f32 arrays; bool, u32, i32 or string abort.
    Float,
    /// `std::vector<std::string>`: strings; u32, i32 or f32 abort.
    Strings,
}

fn aborts(target: Target, element: ValueType) -> bool {
    use ValueType as T;
    match target {
        Target::Int => matches!(element, T::F32 | T::String),
        Target::Float => matches!(element, T::Bool | T::U32 | T::I32 | T::String),
        Target::Strings => matches!(element, T::U32 | T::I32 | T::F32),
    }
}

fn array_element_types(m: &Meta) -> Result<(), Refusal> {
    let mut keys: Vec<(String, Target)> = [
        "feed_forward_length",
        "attention.head_count",
        "attention.head_count_kv",
        "rope.dimension_sections",
    ]
    .iter()
    .map(|s| (m.key(s), Target::Int))
    .collect();
    // Only these two read the pattern as a per-layer array; the others read a scalar and
    // ignore an array.
    if m.arch_is(&["mimo2", "step35"]) {
        keys.push((m.key("attention.sliding_window_pattern"), Target::Int));
    }
    for s in ["swiglu_clamp_exp", "swiglu_clamp_shexp"] {
        keys.push((m.key(s), Target::Float));
    }
    for s in ["xielu.alpha_n", "xielu.alpha_p", "xielu.beta", "xielu.eps"] {
        keys.push((s.to_string(), Target::Float));
    }
    keys.push((m.key("classifier.output_labels"), Target::Strings));
    for (key, target) in keys {
        let Some(Value::Array(a)) = m.f.get(&key) else {
            continue;
        };
        let element = a.element_type();
        if aborts(target, element) {
            let want = match target {
                Target::Int => "integers (u32, i32 or bool)",
                Target::Float => "f32 numbers",
                Target::Strings => "strings",
            };
            return Err(refuse(
                key,
                format!(
                    "it is an array of {}, but llama.cpp reads it as {want}",
                    element.name()
                ),
            ));
        }
    }
    Ok(())
}

fn rope_scaling_type(m: &Meta) -> Result<(), Refusal> {
    let Some(t) = m.str("rope.scaling.type") else {
        return Ok(());
    };
    if ["none", "linear", "yarn", "longrope"].contains(&t) {
        return Ok(());
    }
    Err(refuse(
        m.key("rope.scaling.type"),
        format!(
            "unknown RoPE scaling type '{}' (none, linear, yarn or longrope)",
            crate::text::sanitize(t)
        ),
    ))
}

fn kv_heads_divide(m: &Meta) -> Result<(), Refusal> {
    let Some(heads) = m.per_layer("attention.head_count") else {
        return Ok(());
    };
    let kv = m
        .per_layer("attention.head_count_kv")
        .unwrap_or_else(|| heads.clone());
    for (layer, (&h, &k)) in heads.iter().zip(&kv).enumerate() {
        if k > 0 && !h.is_multiple_of(k) {
            return Err(refuse(
                m.key("attention.head_count_kv"),
                format!(
                    "layer {layer} has {h} attention heads, which {k} KV heads cannot share evenly"
                ),
            ));
        }
    }
    Ok(())
}

/// Architectures llama.cpp runs without RoPE (`llama_model_rope_type`, src/llama-model.cpp:8758).
const NO_ROPE: &[&str] = &[
    "clip",
    "gpt2",
    "gptj",
    "mpt",
    "refact",
    "bloom",
    "mamba",
    "mamba2",
    "jamba",
    "jina-bert-v2",
    "t5",
    "t5encoder",
    "jais",
    "rwkv6",
    "rwkv6qwen2",
    "rwkv7",
    "arwkv7",
    "wavtokenizer-dec",
    "nemotron_h",
    "nemotron_h_moe",
    "kimi-linear",
];

fn rope_dimensions(m: &Meta) -> Result<(), Refusal> {
    if m.arch.is_none() || m.arch_is(NO_ROPE) {
        return Ok(());
    }
    let Some(&heads) = m
        .per_layer("attention.head_count")
        .as_ref()
        .and_then(|h| h.first())
    else {
        return Ok(());
    };
    if heads == 0 {
        return Ok(());
    }
    let Some(n_embd) = m.u32("embedding_length") else {
        return Ok(());
    };
    let head_k = m.u32("attention.key_length").unwrap_or(n_embd / heads);
    let n_rot = m.u32("rope.dimension_count").unwrap_or(head_k);
    let head_k_swa = m.u32("attention.key_length_swa").unwrap_or(head_k);
    let n_rot_swa = m.u32("rope.dimension_count_swa").unwrap_or(n_rot);
    for (key, rot, head) in [
        ("rope.dimension_count", n_rot, head_k),
        ("rope.dimension_count_swa", n_rot_swa, head_k_swa),
    ] {
        if rot > head {
            return Err(refuse(
                m.key(key),
                format!("RoPE over {rot} dimensions of heads only {head} wide"),
            ));
        }
        if rot % 2 == 1 {
            return Err(refuse(
                m.key(key),
                format!("RoPE over an odd number of dimensions ({rot}); it rotates pairs"),
            ));
        }
    }
    Ok(())
}
