//! A short description of a model file for the UI and lessons: size, storage types and the
//! Mixture-of-Experts hyperparameters.

use std::collections::BTreeMap;

use super::types::GgmlType;
use super::{GgufFile, TensorInfo, ROUTER_DISPLAY_TEMPERATURE_KEY};

/// How much of the model is stored as one tensor type.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeShare {
    pub dtype: GgmlType,
    pub n_tensors: usize,
    pub n_params: u64,
    pub n_bytes: u64,
}

impl TypeShare {
    /// Average bits per weight of this share.
    pub fn bits_per_weight(&self) -> f64 {
        bits(self.n_bytes, self.n_params)
    }
}

/// Mixture-of-Experts hyperparameters (`<arch>.expert_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoeParams {
    pub expert_count: u32,
    pub expert_used_count: u32,
    pub expert_shared_count: Option<u32>,
    pub leading_dense_block_count: Option<u32>,
    pub expert_feed_forward_length: Option<u32>,
}

/// What a GGUF model file holds, with its text already sanitised for display.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSummary {
    pub name: Option<String>,
    pub architecture: Option<String>,
    pub block_count: Option<u32>,
    pub embedding_length: Option<u32>,
    pub context_length: Option<u32>,
    pub vocab_size: Option<u32>,
    pub n_params: u64,
    pub n_bytes: u64,
    /// Largest share first.
    pub by_type: Vec<TypeShare>,
    pub moe: Option<MoeParams>,
    pub router_display_temperature: Option<f32>,
}

impl ModelSummary {
    /// Average bits per weight over all tensors.
    pub fn bits_per_weight(&self) -> f64 {
        bits(self.n_bytes, self.n_params)
    }
}

fn bits(n_bytes: u64, n_params: u64) -> f64 {
    if n_params == 0 {
        0.0
    } else {
        n_bytes as f64 * 8.0 / n_params as f64
    }
}

/// Parameters and bytes per tensor type over `tensors`, largest share first (ties by type).
pub fn type_shares<'a>(tensors: impl IntoIterator<Item = &'a TensorInfo>) -> Vec<TypeShare> {
    let mut shares: BTreeMap<GgmlType, TypeShare> = BTreeMap::new();
    for t in tensors {
        let s = shares.entry(t.dtype).or_insert(TypeShare {
            dtype: t.dtype,
            n_tensors: 0,
            n_params: 0,
            n_bytes: 0,
        });
        s.n_tensors += 1;
        s.n_params = s.n_params.saturating_add(t.n_elements());
        s.n_bytes = s.n_bytes.saturating_add(t.n_bytes);
    }
    let mut by_type: Vec<TypeShare> = shares.into_values().collect();
    by_type.sort_by(|a, b| b.n_bytes.cmp(&a.n_bytes).then(a.dtype.cmp(&b.dtype)));
    by_type
}

impl GgufFile {
    /// Summarise the model for display.
    pub fn summary(&self) -> ModelSummary {
        let by_type = type_shares(self.tensors());
        let moe = match (
            self.arch_u32("expert_count"),
            self.arch_u32("expert_used_count"),
        ) {
            (Some(count), used) if count > 0 => Some(MoeParams {
                expert_count: count,
                expert_used_count: used.unwrap_or(0),
                expert_shared_count: self.arch_u32("expert_shared_count"),
                leading_dense_block_count: self.arch_u32("leading_dense_block_count"),
                expert_feed_forward_length: self.arch_u32("expert_feed_forward_length"),
            }),
            _ => None,
        };
        let vocab_size = self
            .get_array("tokenizer.ggml.tokens")
            .and_then(|a| u32::try_from(a.len()).ok());
        ModelSummary {
            name: self.get_str("general.name").map(crate::text::sanitize),
            architecture: self.architecture().map(crate::text::sanitize),
            block_count: self.arch_u32("block_count"),
            embedding_length: self.arch_u32("embedding_length"),
            context_length: self.arch_u32("context_length"),
            vocab_size,
            n_params: by_type.iter().map(|s| s.n_params).sum(),
            n_bytes: by_type.iter().map(|s| s.n_bytes).sum(),
            by_type,
            moe,
            router_display_temperature: self
                .get_f32(ROUTER_DISPLAY_TEMPERATURE_KEY)
                .filter(|t| t.is_finite() && *t > 0.0),
        }
    }
}
