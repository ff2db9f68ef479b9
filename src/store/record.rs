//! The lines of a conversation journal: plain serde types, one JSON object per line.
//!
//! Self-contained on purpose (serde only): the fuzz targets compile this file and
//! `reader.rs` by path, without the rest of the crate and llama.cpp.
//!
//! A journal starts with a `start` line, then `message` lines in order. Regenerating or
//! editing takes messages back with a `truncate` line (the journal is never rewritten).
//! Version 2 adds `branches` lines: a reply branched from one of its tokens is written as
//! its `message` line (the branch shown) followed by a `branches` line holding every
//! branch. A version-1 journal has none and reads as before; a version-1 reader skips them.
//! A `model` line notes a switch of model in the middle of a conversation (the model
//! picker); readers from before it skip it as a line they do not know.

use serde::{Deserialize, Serialize};

/// Journal format version, in the `start` line.
pub const VERSION: u32 = 2;

/// One line of a journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    Start(StartRecord),
    Message(MessageRecord),
    /// Messages from index `keep` on were taken back (a regenerated reply, an edited message).
    Truncate {
        keep: usize,
    },
    /// Every branch of the reply at index `message` (format 2).
    Branches(BranchesRecord),
    /// The model was switched (the model picker) before message `at`; later replies come
    /// from `model` (its name) in file `path`.
    Model {
        model: String,
        path: String,
        at: usize,
    },
}

/// The branches of one reply, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BranchesRecord {
    /// The reply's index among the messages.
    pub message: usize,
    /// The branch shown (0-based).
    pub current: usize,
    pub branches: Vec<BranchRecord>,
}

/// One branch of a reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BranchRecord {
    pub content: String,
    #[serde(default = "complete")]
    pub status: String,
    /// The step (token index) where it left the first branch; absent for the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<usize>,
    /// The token ids of the branch (so the split can be checked when reopened).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tokens: Vec<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<RoutingSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartRecord {
    pub v: u32,
    pub id: String,
    /// Unix seconds.
    pub created: u64,
    /// The model's name and file when the conversation started.
    #[serde(default)]
    pub model: String,
}

/// Who said a message (the same names as the engine's roles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageRecord {
    pub role: Speaker,
    pub content: String,
    /// complete, stopped, max_tokens, context_full or failed.
    #[serde(default = "complete")]
    pub status: String,
    /// Unix seconds.
    #[serde(default)]
    pub time: u64,
    /// The sampling settings the reply started with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling: Option<SamplingRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<RoutingSummary>,
}

fn complete() -> String {
    "complete".to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SamplingRecord {
    pub temperature: f32,
    pub top_p: f32,
    pub seed: u64,
    pub max_tokens: u32,
}

/// How the routers treated a message's tokens: for each MoE layer, how often each expert
/// was among the chosen top-k.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RoutingSummary {
    pub tokens: u32,
    pub n_expert: u16,
    pub layers: Vec<LayerUse>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerUse {
    pub layer: u16,
    /// `counts[e]`: tokens for which expert `e` was chosen.
    pub counts: Vec<u32>,
}
