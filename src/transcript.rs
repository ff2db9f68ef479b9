//! The transcript's plain data: chat messages, the tokens the model read and wrote (with
//! their routing and sampling step), why a reply ended, its timing, and what the loaded
//! model is. The engine produces these; the app, the store, the views and the trace files
//! read them. Nothing here touches llama.cpp.

use serde::{Deserialize, Serialize};

use crate::routing::{Phase, TokenRouting};
use crate::sampling::StepSnapshot;

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
    /// Shared experts as the GGUF counts them (`expert_shared_count`). llama.cpp's
    /// `deepseek` graphs build them as one always-on FFN of this many experts' width.
    pub n_expert_shared: u32,
    /// Width (neurons) of one routed expert (`expert_feed_forward_length`; 0 if unknown).
    #[serde(default)]
    pub n_ff_exp: u32,
    /// Width of the always-on shared FFN (`expert_shared_feed_forward_length`, else
    /// `expert_shared_count` x `n_ff_exp`; 0 if none or unknown).
    #[serde(default)]
    pub n_ff_shexp: u32,
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

    /// The always-on shared FFN's width in routed experts (8 for a shared FFN as wide as
    /// eight routed experts), `None` for a model without one. When the widths were not
    /// recorded, the GGUF's shared-expert count (what llama.cpp multiplies by).
    pub fn shared_width_in_experts(&self) -> Option<f32> {
        match (self.n_ff_shexp, self.n_ff_exp, self.n_expert_shared) {
            (0, _, 0) => None,
            (s, e, _) if s > 0 && e > 0 => Some(s as f32 / e as f32),
            (_, _, n) if n > 0 => Some(n as f32),
            _ => Some(1.0),
        }
    }
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
