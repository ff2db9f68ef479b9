//! The messages between the engine thread and its callers (the TUI and headless mode).
//! Plain data only: nothing here touches llama.cpp.

use std::path::PathBuf;

use crate::sampling::SamplingParams;
use crate::transcript::{ChatMessage, GenStats, ModelInfo, StopReason, TokenEvent};

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
    /// How a file is tried before this process loads it (see [`ModelCheck`]).
    pub check: ModelCheck,
    /// Layers to offload to a GPU (`--gpu-layers`); `None` leaves llama.cpp's default (every
    /// layer, where the binary has a GPU backend; none otherwise).
    pub gpu_layers: Option<u32>,
}

/// How a model file is tried before the engine loads it. Whatever the choice, the
/// pre-parser (`model::gguf`) checks the file first; this is the defence in depth for
/// what it does not know about.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum ModelCheck {
    /// Load it straight away in this process (tests, and `model check` itself).
    #[default]
    InProcess,
    /// A file not checked before is first loaded, given a context and a short prompt in a
    /// short-lived child process (`EXE model check PATH`); if llama.cpp kills that child,
    /// loading fails with a message instead of killing this process. Verdicts are kept
    /// in `cache` (a JSON file), by path, size, modification time and a hash of the header.
    Child {
        exe: PathBuf,
        cache: Option<PathBuf>,
    },
}

impl ModelCheck {
    /// The check [`LoadOptions::new`] starts with: whatever the program chose at start
    /// ([`set_default_model_check`]), else [`ModelCheck::InProcess`].
    pub fn process_default() -> ModelCheck {
        DEFAULT_CHECK.get().cloned().unwrap_or_default()
    }
}

static DEFAULT_CHECK: std::sync::OnceLock<ModelCheck> = std::sync::OnceLock::new();

static DEFAULT_GPU_LAYERS: std::sync::OnceLock<Option<u32>> = std::sync::OnceLock::new();

/// The `--gpu-layers` every [`LoadOptions::new`] of this process starts with (set once at
/// start from the global option, like the model check). Only the first call counts.
pub fn set_default_gpu_layers(n: Option<u32>) {
    let _ = DEFAULT_GPU_LAYERS.set(n);
}

/// Choose the check every [`LoadOptions::new`] of this process starts with (the binary
/// sets the child check once at start, so the TUI, `run`, `eval` and `bench` all get it).
/// Only the first call counts.
pub fn set_default_model_check(check: ModelCheck) {
    let _ = DEFAULT_CHECK.set(check);
}

impl LoadOptions {
    pub fn new(model: impl Into<PathBuf>) -> Self {
        LoadOptions {
            model: model.into(),
            n_ctx: 4096,
            threads: super::threads::default_threads(),
            experts_used: None,
            capture: true,
            lora: None,
            check: ModelCheck::process_default(),
            gpu_layers: DEFAULT_GPU_LAYERS.get().copied().flatten(),
        }
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

/// A new branch of a reply: the reply is taken back to one of its steps, another token is
/// written there, and generation goes on from it with the request's sampling settings.
#[derive(Debug, Clone, PartialEq)]
pub struct BranchRequest {
    /// The conversation up to the user turn the reply answers (as for `Generate`).
    pub request: GenerateRequest,
    /// The reply's tokens before the split step, kept as they were.
    pub kept: Vec<u32>,
    /// What is written at the split step instead of what was drawn.
    pub forced: Forced,
}

/// The token(s) a branch starts with.
#[derive(Debug, Clone, PartialEq)]
pub enum Forced {
    /// One token by id (another candidate of the step).
    Token(u32),
    /// Text the user typed, tokenized by the model; every one of its tokens is forced.
    Text(String),
}

/// The end-of-generation token that ended a reply (it is never shown as reply text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndToken {
    pub token_id: u32,
    /// Its text as the vocabulary spells it (e.g. `<|im_end|>`), sanitised.
    pub text: String,
}

/// Commands into the engine thread.
#[derive(Debug, Clone)]
pub enum EngineCommand {
    Generate {
        generation: u64,
        request: GenerateRequest,
    },
    /// Continue a reply as a new branch: the KV cache is taken back to the split position
    /// (what is cached past it is removed), the forced token(s) are decoded, then the
    /// reply goes on. Answered like `Generate`: `Token` events (the forced ones carry the
    /// step's real distribution with the forced token as `chosen`), then `Done`.
    Branch {
        generation: u64,
        branch: Box<BranchRequest>,
    },
    /// The layer lens for the last of `tokens` (the conversation's tokens from position
    /// `start` through the one read; positions before `start` are taken from the KV cache,
    /// which must hold them): what the model would predict after each layer. Answered by
    /// `Lens` (or `Error`). The KV cache is cut back to the tokens before the last for the
    /// lens, then what was cached past them is decoded again.
    Lens {
        generation: u64,
        start: u32,
        tokens: Vec<u32>,
    },
    /// New sampling settings; they apply from the next sampled token, also mid-reply.
    SetSampling(SamplingParams),
    /// Stop the reply of this generation as soon as possible. Callers hand this to the
    /// engine handle, which sets its cancel flag (checked between tokens and prompt
    /// batches) instead of queueing it behind other commands.
    Cancel {
        generation: u64,
    },
    /// What the routers should do differently (replaces the previous interventions; the
    /// default value restores normal routing). Applies from the next decoded token, also
    /// mid-reply. A request the model cannot honour (a bad layer or expert, too few
    /// experts left, a gating function the engine does not handle) is answered with
    /// `InterventionsRefused` and the previous interventions stay in force.
    SetInterventions(crate::routing::Interventions),
    /// Switch the loaded LoRA adapter on or off. Applies from the next decoded token; the
    /// KV cache computed under the other setting is decoded again on the next request.
    SetLora(bool),
    /// Load the model again with another number of experts per token (None: the model's
    /// own). The conversation stays with the caller; the KV cache is rebuilt on the next
    /// request. Answered by `Loaded` (or `LoadFailed`).
    Reload {
        experts_used: Option<u32>,
    },
    /// Load another model file in place of this one (the model picker). The file goes
    /// through the same checks as `--model` (the GGUF pre-parser, then the child-process
    /// model check when the engine uses it) while the current model stays loaded; a file
    /// they refuse is answered by `SwitchRefused` and the current model keeps serving.
    /// Otherwise the model is replaced, with the model's own experts per token and no LoRA
    /// adapter, and the answer is `Loaded` (or `LoadFailed`).
    SwitchModel {
        path: std::path::PathBuf,
    },
    /// Forget the KV cache (a new conversation).
    Reset,
    Shutdown,
}

/// Events out of the engine thread. Every event of a reply carries the request's
/// generation number so a caller can drop stale ones.
#[derive(Debug, Clone)]
pub enum EngineEvent {
    Loaded(Box<ModelInfo>),
    LoadFailed(String),
    /// A `SwitchModel` file was refused before loading; the model loaded before stays.
    SwitchRefused {
        path: String,
        message: String,
    },
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
    /// The end-of-generation token that ended the reply: sent just before its `Done`
    /// (`StopReason::EndOfText`), so a reply with no text can say what ended it.
    Ended {
        generation: u64,
        token: EndToken,
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
    /// The answer to `EngineCommand::Lens`.
    Lens {
        generation: u64,
        lens: Box<crate::routing::lens::LayerLens>,
    },
    /// A `SetInterventions` request was refused; the message names the limit or the
    /// gating function. The interventions in force before it still apply.
    InterventionsRefused {
        message: String,
    },
    /// The engine thread panicked while handling a command (of `generation`, when it was a
    /// request; `None` while loading). The model and context were dropped: no model is
    /// loaded until a `Reload` succeeds; requests meanwhile are answered with `Error`.
    Crashed {
        generation: Option<u64>,
        message: String,
    },
}
