//! What `model list` and `model info` report about one model (all shards of a split file
//! together): parameters and bytes by tensor group, active parameters per token, and the
//! memory a context length needs, estimated the way llama.cpp sizes its buffers.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::gguf::{type_shares, GgufFile, MoeParams, TypeShare, Value};

/// Where a tensor's bytes go, by what the tensor does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    Attention,
    RoutedExperts,
    SharedExperts,
    Router,
    EmbeddingsOutput,
    DenseFfn,
    Other,
}

impl Group {
    /// Every group, in display order.
    pub const ALL: [Group; 7] = [
        Group::Attention,
        Group::RoutedExperts,
        Group::SharedExperts,
        Group::Router,
        Group::EmbeddingsOutput,
        Group::DenseFfn,
        Group::Other,
    ];

    /// The message-catalogue key of the group's name.
    pub fn key(self) -> &'static str {
        match self {
            Group::Attention => "model.group.attention",
            Group::RoutedExperts => "model.group.routed_experts",
            Group::SharedExperts => "model.group.shared_experts",
            Group::Router => "model.group.router",
            Group::EmbeddingsOutput => "model.group.embeddings_output",
            Group::DenseFfn => "model.group.dense_ffn",
            Group::Other => "model.group.other",
        }
    }

    /// The group of a tensor, from llama.cpp's tensor naming (`blk.N.<part>` inside layers).
    pub fn of(tensor: &str) -> Group {
        let part = match tensor.strip_prefix("blk.") {
            Some(rest) => rest.split_once('.').map_or(rest, |(_, p)| p),
            None => {
                return if tensor.starts_with("token_embd") || tensor.starts_with("output") {
                    Group::EmbeddingsOutput
                } else {
                    Group::Other
                };
            }
        };
        if part.starts_with("ffn_gate_inp") || part.starts_with("exp_probs") {
            Group::Router
        } else if part.contains("_exps") {
            Group::RoutedExperts
        } else if part.contains("_shexp") {
            Group::SharedExperts
        } else if part.starts_with("attn") {
            Group::Attention
        } else if part.starts_with("ffn_norm") {
            Group::Other
        } else if part.starts_with("ffn") {
            Group::DenseFfn
        } else {
            Group::Other
        }
    }
}

/// Parameters and bytes of one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupShare {
    pub group: Group,
    pub n_params: u64,
    pub n_bytes: u64,
}

/// The shape of the KV cache: per layer, the K and V elements one cell holds, and whether
/// the layer uses a sliding window of `window` tokens.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KvShape {
    pub k_per_layer: Vec<u64>,
    pub v_per_layer: Vec<u64>,
    pub swa_layers: Vec<bool>,
    pub window: u32,
}

/// Memory a context needs, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MemoryEstimate {
    /// Context tokens asked for.
    pub n_ctx: u32,
    /// KV cells llama.cpp allocates (the context clamped to the training length and
    /// padded to a multiple of 256, as the app creates it).
    pub n_cells: u32,
    /// Tokens per micro-batch the app uses for this vocabulary.
    pub n_batch: u32,
    pub weights: u64,
    pub kv_k: u64,
    pub kv_v: u64,
    /// The compute buffer llama.cpp reserves: an estimate (see [`Facts::memory`]).
    pub compute: u64,
    /// Logits: the output buffer and the graph's logits at a full micro-batch.
    pub output: u64,
}

impl MemoryEstimate {
    pub fn kv(&self) -> u64 {
        self.kv_k + self.kv_v
    }
    pub fn total(&self) -> u64 {
        self.weights + self.kv() + self.compute + self.output
    }
}

/// Everything discovery shows about a model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Facts {
    pub name: Option<String>,
    pub architecture: Option<String>,
    pub n_layer: Option<u32>,
    pub n_embd: Option<u32>,
    pub context_length: Option<u32>,
    pub n_vocab: Option<u32>,
    pub total_params: u64,
    pub active_params: u64,
    #[serde(skip)]
    pub moe: Option<MoeParams>,
    /// Tensor types, largest share first.
    #[serde(skip)]
    pub quant: Vec<TypeShare>,
    pub groups: Vec<GroupShare>,
    /// Bytes of tensor data (what llama.cpp maps).
    pub weight_bytes: u64,
    /// Bytes on disk, all shards.
    pub file_size: u64,
    pub shards: u32,
    #[serde(skip)]
    pub kv: Option<KvShape>,
    #[serde(skip)]
    ffn_width: u64,
    #[serde(skip)]
    n_head: u64,
}

/// The app's context size for a request of `n_ctx` on a model trained for `train`
/// (0 = the model's own, at most 8192), as `engine::worker` computes it.
pub fn app_context(n_ctx: u32, train: Option<u32>) -> u32 {
    let train = train.unwrap_or(4096);
    match n_ctx {
        0 => train.min(8192),
        n => n.min(train.max(64)),
    }
    .max(64)
}

/// llama.cpp's micro-batch as the app sets it (`engine::worker::prompt_batch`).
fn app_batch(n_vocab: u32) -> u32 {
    let fit = (16usize << 20) / (n_vocab.max(1) as usize);
    fit.clamp(1, 512) as u32
}

fn pad256(n: u64) -> u64 {
    n.div_ceil(256) * 256
}

/// A per-layer value: one number for every layer or an array with one per layer.
fn per_layer(f: &GgufFile, key: &str, n_layer: usize) -> Option<Vec<u64>> {
    match f.get(key)? {
        Value::Array(a) if a.len() == n_layer => match a {
            crate::model::gguf::Array::U32(v) => Some(v.iter().map(|&x| u64::from(x)).collect()),
            crate::model::gguf::Array::I32(v) => Some(v.iter().map(|&x| x.max(0) as u64).collect()),
            _ => None,
        },
        v => v.as_u32().map(|x| vec![u64::from(x); n_layer]),
    }
}

fn kv_shape(f: &GgufFile) -> Option<KvShape> {
    let arch = f.architecture()?;
    let k = |s: &str| format!("{arch}.{s}");
    let n_layer = f.arch_u32("block_count")? as usize;
    let n_embd = u64::from(f.arch_u32("embedding_length")?);
    let heads = per_layer(f, &k("attention.head_count"), n_layer)?;
    let heads_kv =
        per_layer(f, &k("attention.head_count_kv"), n_layer).unwrap_or_else(|| heads.clone());
    let n_head0 = heads.first().copied().filter(|&h| h > 0)?;
    let head_k = f
        .arch_u32("attention.key_length")
        .map_or(n_embd / n_head0, u64::from);
    let head_v = f
        .arch_u32("attention.value_length")
        .map_or(n_embd / n_head0, u64::from);
    let (k_per_layer, v_per_layer) = match f.arch_u32("attention.kv_lora_rank") {
        // Multi-head latent attention: one compressed row (latent + RoPE part) per cell,
        // no separate V cache.
        Some(rank) if arch == "deepseek2" => {
            let rope = u64::from(f.arch_u32("rope.dimension_count").unwrap_or(64));
            (vec![u64::from(rank) + rope; n_layer], vec![0; n_layer])
        }
        _ => (
            heads_kv.iter().map(|&h| h * head_k).collect(),
            heads_kv.iter().map(|&h| h * head_v).collect(),
        ),
    };
    let window = f.arch_u32("attention.sliding_window").unwrap_or(0);
    // gpt-oss alternates sliding-window and full layers, starting with a window.
    let swa_layers = (0..n_layer)
        .map(|il| window > 0 && arch == "gpt-oss" && il % 2 == 0)
        .collect();
    Some(KvShape {
        k_per_layer,
        v_per_layer,
        swa_layers,
        window,
    })
}

impl Facts {
    /// Facts of a model stored in `shards` (the first holds the metadata).
    pub fn from_shards(shards: &[GgufFile]) -> Option<Facts> {
        let first = shards.first()?;
        let summary = first.summary();
        let quant = type_shares(shards.iter().flat_map(|s| s.tensors()));
        let mut groups: BTreeMap<Group, GroupShare> = BTreeMap::new();
        for t in shards.iter().flat_map(|s| s.tensors()) {
            let g = Group::of(&t.name);
            let gs = groups.entry(g).or_insert(GroupShare {
                group: g,
                n_params: 0,
                n_bytes: 0,
            });
            gs.n_params = gs.n_params.saturating_add(t.n_elements());
            gs.n_bytes = gs.n_bytes.saturating_add(t.n_bytes);
        }
        let total_params: u64 = quant.iter().map(|s| s.n_params).sum();
        let weight_bytes: u64 = quant.iter().map(|s| s.n_bytes).sum();
        let routed = groups.get(&Group::RoutedExperts).map_or(0, |g| g.n_params);
        let active_params = match &summary.moe {
            Some(m) if m.expert_count > 0 => {
                let used = u64::from(m.expert_used_count.min(m.expert_count));
                total_params - routed + routed * used / u64::from(m.expert_count)
            }
            _ => total_params,
        };
        let used = summary.moe.as_ref().map_or(1, |m| m.expert_used_count);
        let ffn_width = u64::from(first.arch_u32("feed_forward_length").unwrap_or(0)).max(
            u64::from(used)
                * u64::from(
                    summary
                        .moe
                        .as_ref()
                        .and_then(|m| m.expert_feed_forward_length)
                        .unwrap_or(0),
                ),
        );
        Some(Facts {
            name: summary.name,
            architecture: summary.architecture,
            n_layer: summary.block_count,
            n_embd: summary.embedding_length,
            context_length: summary.context_length,
            n_vocab: summary.vocab_size,
            total_params,
            active_params,
            moe: summary.moe,
            quant,
            groups: groups.into_values().collect(),
            weight_bytes,
            file_size: shards.iter().map(|s| s.file_len()).sum(),
            shards: shards.len() as u32,
            kv: kv_shape(first),
            ffn_width,
            n_head: u64::from(first.arch_u32("attention.head_count").unwrap_or(1)),
        })
    }

    /// Whether the model routes tokens to experts.
    pub fn is_moe(&self) -> bool {
        self.moe.as_ref().is_some_and(|m| m.expert_count > 0)
    }

    /// The memory the app needs for a context of `n_ctx` tokens (0 = the model's own).
    ///
    /// Weights are the tensor bytes. The KV cache is exact for the layouts llama.cpp uses
    /// (f16 K and V, `n_cells` cells; one latent row for DeepSeek-V2's MLA; windowed
    /// layers of gpt-oss hold `window + n_batch` cells padded to 256). The compute buffer
    /// is an estimate of what llama.cpp reserves: per micro-batch token, a few `n_embd` rows
    /// and the widest FFN activation in f32 with the flash-attention mask over every cell
    /// (f32 and its f16 copy; llama.cpp turns flash attention on for CPUs), or, when larger,
    /// the graph's logits (`n_vocab x n_batch` f32) with two `n_embd` rows: llama.cpp's
    /// allocator reuses the attention's memory for the logits.
    /// The output buffer is counted apart (`output`): the app asks for every prompt token's
    /// output, so it grows to `n_vocab x n_batch` f32 once a prompt is decoded.
    /// `tests/model_memory.rs` checks the KV cache and the compute buffer against what
    /// llama.cpp reports.
    pub fn memory(&self, n_ctx: u32) -> MemoryEstimate {
        let cells = app_context(n_ctx, self.context_length);
        let n_cells = pad256(u64::from(cells));
        let n_vocab = self.n_vocab.unwrap_or(32000);
        // llama.cpp clamps the batch to the context.
        let n_batch = app_batch(n_vocab).min(n_cells as u32);
        let (mut kv_k, mut kv_v) = (0u64, 0u64);
        if let Some(kv) = &self.kv {
            let swa_cells = pad256((u64::from(kv.window) + u64::from(n_batch)).min(n_cells));
            for il in 0..kv.k_per_layer.len() {
                let c = if kv.swa_layers.get(il).copied().unwrap_or(false) {
                    swa_cells
                } else {
                    n_cells
                };
                kv_k += 2 * c * kv.k_per_layer[il];
                kv_v += 2 * c * kv.v_per_layer.get(il).copied().unwrap_or(0);
            }
        }
        let b = u64::from(n_batch);
        let n_embd = u64::from(self.n_embd.unwrap_or(0));
        let per_token = 4 * n_embd + self.ffn_width + self.n_head;
        let mask = 6 * n_cells * b;
        let logits = 4 * b * u64::from(n_vocab);
        MemoryEstimate {
            n_ctx,
            n_cells: n_cells as u32,
            n_batch,
            weights: self.weight_bytes,
            kv_k,
            kv_v,
            output: logits,
            compute: (mask + 4 * b * per_token).max(logits + 8 * b * n_embd),
        }
    }
}
