//! The messages between the engine thread and its callers (the TUI and headless mode).
//! Plain data only: nothing here touches llama.cpp.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::routing::{Phase, TokenRouting};
use crate::sampling::{SamplingParams, StepSnapshot};

/// Who said a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

/// What to load and how.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadOptions {
    pub model: PathBuf,
    /// Context size in tokens (0 = the model's training context, capped at 8192).
    pub n_ctx: u32,
    pub threads: i32,
    /// Override the number of experts used per token (`<arch>.expert_used_count`).
    pub experts_used: Option<u32>,
    /// Capture routing (ask llama.cpp for the router tensors).
    pub capture: bool,
    /// A llama.cpp LoRA adapter GGUF to load with the model (switched on at start).
    pub lora: Option<PathBuf>,
}

impl LoadOptions {
    pub fn new(model: impl Into<PathBuf>) -> Self {
        LoadOptions {
            model: model.into(),
            n_ctx: 4096,
            threads: std::thread::available_parallelism()
                .map(|n| n.get() as i32)
                .unwrap_or(2)
                .min(8),
            experts_used: None,
            capture: true,
            lora: None,
        }
    }
}

/// What the engine learned about the model when it loaded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub path: String,
    pub name: String,
    pub arch: String,
    pub n_layer: u32,
    pub n_ctx: u32,
    pub n_vocab: u32,
    pub n_params: u64,
    pub size_bytes: u64,
    /// Routed experts per MoE layer (0 for a dense model).
    pub n_expert: u32,
    /// Experts used per token.
    pub n_expert_used: u32,
    pub n_expert_shared: u32,
    /// Leading dense layers (no router).
    pub n_dense_lead: u32,
    pub has_chat_template: bool,
    /// Temperature to show the router's preference at (from GGUF metadata), if any.
    pub router_display_temperature: Option<f32>,
    /// The LoRA adapter loaded with the model (file name), if any; it starts switched on.
    #[serde(default)]
    pub lora_adapter: Option<String>,
}

impl ModelInfo {
    pub fn is_moe(&self) -> bool {
        self.n_expert > 0
    }
}

/// A request to generate a reply.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateRequest {
    /// The whole conversation so far; the engine reuses the KV cache for the prefix it
    /// has already decoded and decodes only the rest.
    pub messages: Vec<ChatMessage>,
    /// Send the last message's content as is, without the chat template.
    pub raw: bool,
    pub max_tokens: u32,
    pub params: SamplingParams,
}

/// Commands into the engine thread.
#[derive(Debug, Clone)]
pub enum EngineCommand {
    Generate {
        generation: u64,
        request: GenerateRequest,
    },
    /// New sampling settings; they apply from the next sampled token, also mid-reply.
    SetSampling(SamplingParams),
    /// Stop the reply of this generation as soon as possible. Callers hand this to the
    /// engine handle, which sets its cancel flag (checked between tokens and prompt
    /// batches) instead of queueing it behind other commands.
    Cancel {
        generation: u64,
    },
    /// Remove experts from selection, by model layer (replaces the previous set; an empty
    /// map restores every expert). Applies from the next decoded token, also mid-reply.
    SetKnockout(std::collections::BTreeMap<u32, Vec<u16>>),
    /// Switch the loaded LoRA adapter on or off. Applies from the next decoded token; the
    /// KV cache computed under the other setting is decoded again on the next request.
    SetLora(bool),
    /// Load the model again with another number of experts per token (None: the model's
    /// own). The conversation stays with the caller; the KV cache is rebuilt on the next
    /// request. Answered by `Loaded` (or `LoadFailed`).
    Reload {
        experts_used: Option<u32>,
    },
    /// Forget the KV cache (a new conversation).
    Reset,
    Shutdown,
}

/// One token the model read or wrote, with everything the UI shows about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenEvent {
    pub phase: Phase,
    pub pos: u32,
    pub token_id: u32,
    /// The token's text, sanitised (control characters removed). Bytes of a character
    /// split across tokens appear with the token that completes it.
    pub text: String,
    pub routing: Option<TokenRouting>,
    /// For generated tokens: the sampling step that drew it.
    pub step: Option<StepSnapshot>,
}

/// Why a reply ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    EndOfText,
    MaxTokens,
    Cancelled,
    ContextFull,
}

/// Timing of one reply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct GenStats {
    pub prompt_tokens: u32,
    /// Prompt tokens served from the KV cache (not decoded again).
    pub cached_tokens: u32,
    pub generated_tokens: u32,
    pub prompt_ms: f64,
    pub generate_ms: f64,
    /// Of `generate_ms`: time inside llama.cpp's decode, and time drawing tokens (the
    /// Rust sampler). The rest is the engine's own per-token work (routing records,
    /// candidate texts, events).
    #[serde(default)]
    pub llama_ms: f64,
    #[serde(default)]
    pub sample_ms: f64,
    /// Tokens in the context after this reply.
    pub context_used: u32,
}

impl GenStats {
    pub fn decode_tokens_per_s(&self) -> f64 {
        if self.generate_ms > 0.0 {
            self.generated_tokens as f64 * 1000.0 / self.generate_ms
        } else {
            0.0
        }
    }
}

/// Events out of the engine thread. Every event of a reply carries the request's
/// generation number so a caller can drop stale ones.
#[derive(Debug, Clone)]
pub enum EngineEvent {
    Loaded(Box<ModelInfo>),
    LoadFailed(String),
    /// Prompt tokens decoded for this request (only the part not already cached).
    Prompt {
        generation: u64,
        tokens: Vec<TokenEvent>,
    },
    /// Prefill progress: tokens decoded of the prompt so far.
    PrefillProgress {
        generation: u64,
        done: u32,
        total: u32,
    },
    Token {
        generation: u64,
        token: Box<TokenEvent>,
    },
    /// Text that ends the reply after its last token: the bytes of a character the reply
    /// stopped in the middle of, shown as U+FFFD. Sent just before `Done`, rarely.
    Tail {
        generation: u64,
        text: String,
    },
    Done {
        generation: u64,
        reason: StopReason,
        stats: GenStats,
    },
    Error {
        generation: u64,
        message: String,
    },
}
