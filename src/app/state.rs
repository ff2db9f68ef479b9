//! Everything the app knows: the conversation with its tokens, the selection, the input,
//! the engine's state. Only `update` writes it; views read it.

mod browser;
mod input;

use std::cell::Cell;
use std::path::PathBuf;

use super::keymap::Keymap;
use crate::sampling::SamplingParams;
use crate::store::{Journal, Store};
use crate::text::markdown::{MarkdownRenderer, StyledLine};
use crate::transcript::{ChatMessage, GenStats, ModelInfo, Role, TokenEvent};

pub use browser::Browser;
pub use input::Input;

/// How the TUI starts the app.
#[derive(Debug, Clone, PartialEq)]
pub struct AppConfig {
    pub model_path: PathBuf,
    pub params: SamplingParams,
    pub max_tokens: u32,
    /// Whether the engine captures routing (off: tokens arrive without routing).
    pub capture: bool,
}

/// How a message came to be the way it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyStatus {
    Complete,
    Streaming,
    Stopped,
    MaxTokens,
    ContextFull,
    Failed,
}

/// One message of the transcript with the tokens the model read (user turn) or wrote
/// (assistant turn), and its rendered text.
#[derive(Debug, Clone)]
pub struct Message {
    pub role: Role,
    pub content: String,
    pub tokens: Vec<TokenEvent>,
    pub status: ReplyStatus,
    pub(crate) rendered: Vec<StyledLine>,
}

impl Message {
    pub(crate) fn new(role: Role, content: String, status: ReplyStatus) -> Self {
        Message {
            role,
            content,
            tokens: Vec::new(),
            status,
            rendered: Vec::new(),
        }
    }
}

/// A token of the transcript: message index and token index within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenRef {
    pub message: usize,
    pub token: usize,
}

/// What the engine is doing, as the status bar says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineState {
    Loading,
    Ready,
    Prefill { done: u32, total: u32 },
    Generating,
    Stopped,
    Error,
}

/// Which pane the F2 key shows: at narrow widths it replaces the transcript; at wide ones
/// `Chat` stacks routing over sampling and the others give one pane the whole column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Chat,
    Routing,
    Sampling,
}

/// What the token strip's colours mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StripMode {
    /// A colour per expert: the top expert in the chosen layer.
    TopExpert,
    /// Router entropy in the chosen layer: cool = confident, hot = uncertain.
    Entropy,
}

/// What the routing pane shows (F4 cycles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoutingView {
    /// The selected token's router probabilities per layer.
    Probabilities,
    /// The selected token's router preference (logits / the model's display temperature).
    Preference,
    /// Expert load over the whole conversation: how often each expert was chosen.
    Load,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub text: String,
    pub is_error: bool,
}

/// The reply in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Running {
    pub generation: u64,
    pub user: usize,
    pub reply: usize,
    /// Esc was pressed: drop further tokens, wait for `Done`.
    pub stopping: bool,
}

/// Chat scrolling: follow the end, or hold a line (from the top) still while text arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scroll {
    Follow,
    FromTop(usize),
}

/// The headless application. Drive it with `handle_key`, `update` and `on_engine_event`;
/// draw it with `app::views::render`.
#[derive(Debug)]
pub struct App {
    pub(crate) config: AppConfig,
    pub(crate) params: SamplingParams,
    pub(crate) model: Option<ModelInfo>,
    pub(crate) messages: Vec<Message>,
    pub(crate) input: Input,
    pub(crate) generation: u64,
    pub(crate) running: Option<Running>,
    pub(crate) engine: EngineState,
    pub(crate) last_stats: Option<GenStats>,
    pub(crate) context_used: u32,
    pub(crate) selection: Option<TokenRef>,
    pub(crate) follow: bool,
    pub(crate) layer: usize,
    pub(crate) strip_mode: StripMode,
    pub(crate) pane: Pane,
    pub(crate) routing_view: RoutingView,
    /// What the routers were last told to do differently.
    pub(crate) interventions: crate::routing::Interventions,
    /// Whether the model's LoRA adapter is switched on (it loads on).
    pub(crate) lora_on: bool,
    pub(crate) help_open: bool,
    pub(crate) help_scroll: usize,
    pub(crate) scroll: Scroll,
    /// Written by the chat view (the one thing a view writes): the last transcript height
    /// and how far it could scroll, so PageUp/PageDown move by a page and stop at the ends.
    pub(crate) chat_geometry: Cell<(u16, usize)>,
    pub(crate) notice: Option<Notice>,
    pub(crate) quit_armed: bool,
    pub(crate) quit: bool,
    pub(crate) dirty: bool,
    pub(crate) markdown: MarkdownRenderer,
    pub(crate) keymap: Keymap,
    /// Where conversations are saved; `None`: nothing is saved (tests, a read-only disk).
    pub(crate) store: Option<Store>,
    /// The journal of the conversation on screen, opened with its first message.
    pub(crate) journal: Option<Journal>,
    /// How many of `messages` the journal holds.
    pub(crate) saved: usize,
    /// The saved-conversations overlay, while open.
    pub(crate) browser: Option<Browser>,
    /// Lessons: the library, the list overlay, the open lesson.
    pub(crate) lessons: super::lesson::Lessons,
}

impl App {
    pub fn new(config: AppConfig) -> Self {
        App {
            params: config.params.clamped(),
            config,
            model: None,
            messages: Vec::new(),
            input: Input::default(),
            generation: 0,
            running: None,
            engine: EngineState::Loading,
            last_stats: None,
            context_used: 0,
            selection: None,
            follow: true,
            layer: 0,
            strip_mode: StripMode::TopExpert,
            pane: Pane::Chat,
            routing_view: RoutingView::Probabilities,
            interventions: Default::default(),
            lora_on: true,
            help_open: false,
            help_scroll: 0,
            scroll: Scroll::Follow,
            chat_geometry: Cell::new((0, 0)),
            notice: None,
            quit_armed: false,
            quit: false,
            dirty: true,
            markdown: MarkdownRenderer::new(),
            keymap: Keymap::default(),
            store: None,
            journal: None,
            saved: 0,
            browser: None,
            lessons: Default::default(),
        }
    }

    /// Save conversations as journals in `store` (and list them from there).
    pub fn with_store(mut self, store: Store) -> Self {
        self.store = Some(store);
        self
    }

    /// Use this key table (the default one with the user's rebindings).
    pub fn with_keymap(mut self, keymap: Keymap) -> Self {
        self.keymap = keymap;
        self
    }

    /// Show a message in the notice line (e.g. what loading the config found).
    pub fn notify(&mut self, text: &str, is_error: bool) {
        if is_error {
            self.error(text);
        } else {
            self.info(text);
        }
        self.dirty = true;
    }

    pub fn keymap(&self) -> &Keymap {
        &self.keymap
    }
    /// The saved-conversations overlay, while open.
    pub fn browser(&self) -> Option<&Browser> {
        self.browser.as_ref()
    }
    /// The journal file of the conversation on screen, once it has one.
    pub fn journal_path(&self) -> Option<&std::path::Path> {
        self.journal.as_ref().map(|j| j.path())
    }

    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// Whether anything changed since the last [`App::mark_drawn`].
    pub fn needs_redraw(&self) -> bool {
        self.dirty
    }

    pub fn mark_drawn(&mut self) {
        self.dirty = false;
    }

    pub fn config(&self) -> &AppConfig {
        &self.config
    }
    pub fn params(&self) -> SamplingParams {
        self.params
    }
    pub fn model(&self) -> Option<&ModelInfo> {
        self.model.as_ref()
    }
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }
    pub fn input(&self) -> &Input {
        &self.input
    }
    pub fn engine_state(&self) -> EngineState {
        self.engine
    }
    pub fn notice(&self) -> Option<&Notice> {
        self.notice.as_ref()
    }
    pub fn pane(&self) -> Pane {
        self.pane
    }
    pub fn strip_mode(&self) -> StripMode {
        self.strip_mode
    }
    /// The loaded LoRA adapter's name and whether it is on.
    pub fn lora(&self) -> Option<(&str, bool)> {
        self.model
            .as_ref()
            .and_then(|m| m.lora_adapter.as_deref())
            .map(|name| (name, self.lora_on))
    }
    /// What the routers were last told to do differently.
    pub fn interventions(&self) -> &crate::routing::Interventions {
        &self.interventions
    }
    pub fn help_open(&self) -> bool {
        self.help_open
    }
    pub fn last_stats(&self) -> Option<&GenStats> {
        self.last_stats.as_ref()
    }
    pub fn context_used(&self) -> u32 {
        self.context_used
    }
    /// The generation number of the last request sent.
    pub fn generation(&self) -> u64 {
        self.generation
    }
    /// A reply is running and has not been stopped.
    pub fn is_generating(&self) -> bool {
        self.running.is_some_and(|r| !r.stopping)
    }
    /// Whether the selection follows the newest token.
    pub fn is_following(&self) -> bool {
        self.follow
    }
    pub fn show_preference(&self) -> bool {
        self.routing_view == RoutingView::Preference
    }
    pub fn routing_view(&self) -> RoutingView {
        self.routing_view
    }

    /// The conversation as the engine should see it: no empty assistant placeholders.
    pub fn conversation(&self) -> Vec<ChatMessage> {
        self.messages
            .iter()
            .filter(|m| !(m.role == Role::Assistant && m.content.is_empty()))
            .map(|m| ChatMessage {
                role: m.role,
                content: m.content.clone(),
            })
            .collect()
    }

    pub fn token(&self, r: TokenRef) -> Option<&TokenEvent> {
        self.messages.get(r.message)?.tokens.get(r.token)
    }

    /// The newest token of the transcript.
    pub fn newest_token(&self) -> Option<TokenRef> {
        self.messages
            .iter()
            .enumerate()
            .rev()
            .find(|(_, m)| !m.tokens.is_empty())
            .map(|(i, m)| TokenRef {
                message: i,
                token: m.tokens.len() - 1,
            })
    }

    /// The selected token: the user's pick, or the newest while following.
    pub fn selected(&self) -> Option<TokenRef> {
        if self.follow {
            return self.newest_token();
        }
        self.selection
            .filter(|r| self.token(*r).is_some())
            .or_else(|| self.newest_token())
    }

    pub fn selected_token(&self) -> Option<(TokenRef, &TokenEvent)> {
        let r = self.selected()?;
        Some((r, self.token(r)?))
    }

    /// Number of MoE layers (router rows) the strip and the routing pane step through.
    pub fn moe_layer_count(&self) -> usize {
        if let Some(r) = self.selected_token().and_then(|(_, t)| t.routing.as_ref()) {
            return r.n_layers();
        }
        match &self.model {
            Some(m) if m.is_moe() => m.n_layer.saturating_sub(m.n_dense_lead) as usize,
            _ => 0,
        }
    }

    /// The MoE layer slot the strip colours by and the routing pane highlights.
    pub fn layer_slot(&self) -> usize {
        self.layer.min(self.moe_layer_count().saturating_sub(1))
    }

    /// All tokens in transcript order.
    pub fn token_refs(&self) -> impl DoubleEndedIterator<Item = TokenRef> + '_ {
        self.messages.iter().enumerate().flat_map(|(i, m)| {
            (0..m.tokens.len()).map(move |t| TokenRef {
                message: i,
                token: t,
            })
        })
    }
}
