//! The graph builders' own asserts on head sizes (each `llm_build_*` that
//! `llama_model::build_graph`, src/llama-model.cpp:8134, picks for an architecture),
//! reached when the context is created.

use super::{refuse, Meta, Refusal, Rule};

pub(super) const RULES: &[Rule] = &[Rule {
    id: "graph.head_sizes",
    key: "<arch>.attention.key_length, <arch>.attention.value_length, \
              <arch>.rope.dimension_count",
    relation: "where the graph builder asserts it: value head size == key head size, \
                   and (for most of them) RoPE dimensions == head size",
    mirrors: "src/models/<arch>.cpp (e.g. src/models/llama.cpp:7-8, \
                  src/models/deepseek.cpp:7-8, src/models/qwen3moe.cpp:7-8), with the context",
    check: graph_head_sizes,
}];

/// Graph builders that assert `n_embd_head_v == n_embd_head_k` (found by reading each
/// `llm_build_*` constructor that `llama_model::build_graph`, src/llama-model.cpp:8134,
/// picks for the architecture).
const HEAD_K_EQ_V: &[&str] = &[
    "arctic",
    "baichuan",
    "bert",
    "bitnet",
    "bloom",
    "chatglm",
    "codeshell",
    "cohere2",
    "command-r",
    "dbrx",
    "deci",
    "deepseek",
    "dream",
    "eurobert",
    "falcon",
    "glm4",
    "glm4moe",
    "gpt2",
    "gptneox",
    "grok",
    "internlm2",
    "jais",
    "jais2",
    "jina-bert-v2",
    "jina-bert-v3",
    "llada",
    "llada-moe",
    "llama",
    "llama-embed",
    "llama4",
    "maincoder",
    "modern-bert",
    "mpt",
    "nemotron",
    "neo-bert",
    "nomic-bert",
    "nomic-bert-moe",
    "olmo",
    "olmo2",
    "olmoe",
    "openelm",
    "orion",
    "phi2",
    "phi3",
    "phimoe",
    "plamo",
    "qwen",
    "qwen2",
    "qwen2moe",
    "qwen2vl",
    "qwen3",
    "qwen3moe",
    "qwen3vl",
    "qwen3vlmoe",
    "refact",
    "rnd1",
    "stablelm",
    "starcoder",
    "starcoder2",
    "t5",
    "t5encoder",
    "xverse",
];

/// Of those, the builders that also assert `n_embd_head_v == n_rot`.
const HEAD_EQ_ROT: &[&str] = &[
    "arctic",
    "baichuan",
    "codeshell",
    "dbrx",
    "deci",
    "deepseek",
    "dream",
    "falcon",
    "grok",
    "internlm2",
    "jais2",
    "llada",
    "llada-moe",
    "llama",
    "llama-embed",
    "llama4",
    "maincoder",
    "nemotron",
    "olmo",
    "olmo2",
    "olmoe",
    "orion",
    "plamo",
    "qwen2",
    "qwen2moe",
    "qwen2vl",
    "qwen3",
    "qwen3moe",
    "qwen3vl",
    "qwen3vlmoe",
    "rnd1",
    "starcoder2",
    "xverse",
];

fn graph_head_sizes(m: &Meta) -> Result<(), Refusal> {
    if !m.arch_is(HEAD_K_EQ_V) {
        return Ok(());
    }
    // Sliding-window head sizes would apply to layer 0 of some of these; leave those
    // rare files to llama.cpp (and the child check).
    if m.u32("attention.key_length_swa").is_some() || m.u32("attention.value_length_swa").is_some()
    {
        return Ok(());
    }
    let heads = m
        .per_layer("attention.head_count")
        .and_then(|h| h.first().copied())
        .unwrap_or(0);
    let Some(n_embd) = m.u32("embedding_length") else {
        return Ok(());
    };
    if heads == 0 {
        return Ok(());
    }
    let head_k = m.u32("attention.key_length").unwrap_or(n_embd / heads);
    let head_v = m.u32("attention.value_length").unwrap_or(n_embd / heads);
    if head_k != head_v {
        return Err(refuse(
            m.key("attention.value_length"),
            format!("value heads of {head_v} and key heads of {head_k}; this architecture needs them equal"),
        ));
    }
    let n_rot = m.u32("rope.dimension_count").unwrap_or(head_k);
    if m.arch_is(HEAD_EQ_ROT) && n_rot != head_v {
        return Err(refuse(
            m.key("rope.dimension_count"),
            format!("RoPE over {n_rot} dimensions of heads {head_v} wide; this architecture rotates whole heads"),
        ));
    }
    Ok(())
}
