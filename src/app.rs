//! The TUI application: parts that own their state, the actions that change them, the
//! views that draw them, and the event loop's entry points.
//!
//! `App` is headless: the event loop feeds it keys (`handle_key`) and engine events
//! (`on_engine_event`), sends the `EngineCommand`s it returns, and draws it with
//! [`views::render`] when [`App::needs_redraw`] says so. It is composed of parts, each with
//! its own fields and methods: [`Conversation`] (messages, the reply in flight, what the
//! engine said), [`Cursor`] (selected token and layer), [`Layout`] (side pane, strip mode,
//! routing view, scroll), one [`Overlay`] at a time (help, saved conversations, lesson
//! list), [`Lessons`], the routers' [`Interventions`], and the [`Journaling`] of the
//! conversation. Only `update` (actions, slash commands, engine events) changes them;
//! lessons act through the same [`Action`]s as keys.

pub mod commands;
pub mod conversation;
pub mod cursor;
pub mod input;
pub mod journal;
pub mod keymap;
pub mod layout;
pub mod lessons;
pub mod overlay;
pub mod prep;
pub mod pull;
pub mod update;
pub mod views;

use std::path::PathBuf;

use crate::routing::Interventions;
use crate::sampling::SamplingParams;
use crate::store::Store;
use crate::text::sanitize;
use crate::transcript::{GenStats, ModelInfo, TokenEvent};

pub use crate::pane::Pane;
pub use conversation::{Conversation, EngineState, Message, RenderedLines, ReplyStatus, TokenRef};
pub use cursor::Cursor;
pub use input::Input;
pub use journal::Journaling;
pub use keymap::{Action, Keymap};
pub use layout::{Layout, RoutingView, Scroll, Shading, ShadingChoice, StripMode};
pub use lessons::{LessonSetup, Lessons};
pub use overlay::{Browser, Overlay};

/// How the TUI starts the app.
#[derive(Debug, Clone, PartialEq)]
pub struct AppConfig {
    pub model_path: PathBuf,
    pub params: SamplingParams,
    pub max_tokens: u32,
    /// Whether the engine captures routing (off: tokens arrive without routing).
    pub capture: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub text: String,
    pub is_error: bool,
}

/// The headless application. Drive it with `handle_key`, `update` and `on_engine_event`;
/// draw it with `app::views::render`.
#[derive(Debug)]
pub struct App {
    config: AppConfig,
    /// The sampling settings the next token is drawn with.
    params: SamplingParams,
    pub(crate) chat: Conversation,
    pub(crate) cursor: Cursor,
    pub(crate) layout: Layout,
    /// The one overlay open, if any: it gets the keys first and is drawn last.
    pub(crate) overlay: Option<Overlay>,
    pub(crate) lessons: Lessons,
    /// What the routers were last told to do differently.
    pub(crate) interventions: Interventions,
    /// What they did before that (restored if the engine refuses the change).
    pub(crate) interventions_before: Interventions,
    pub(crate) journal: Journaling,
    pub(crate) input: Input,
    /// A model being fetched in the background (`/pull`).
    pub(crate) pull: Option<pull::PullTask>,
    /// Folders the model picker searches besides the usual places.
    pub(crate) model_folders: Vec<std::path::PathBuf>,
    /// The model a picker switch asked for, until it has loaded (then journaled).
    pub(crate) switching_to: Option<String>,
    notice: Option<Notice>,
    keymap: Keymap,
    quit_armed: bool,
    quit: bool,
    dirty: bool,
}

impl App {
    pub fn new(config: AppConfig) -> Self {
        App {
            params: config.params.clamped(),
            config,
            chat: Conversation::default(),
            cursor: Cursor::default(),
            layout: Layout::default(),
            overlay: None,
            lessons: Lessons::default(),
            interventions: Interventions::default(),
            interventions_before: Interventions::default(),
            journal: Journaling::default(),
            input: Input::default(),
            pull: None,
            model_folders: Vec::new(),
            switching_to: None,
            notice: None,
            keymap: Keymap::default(),
            quit_armed: false,
            quit: false,
            dirty: true,
        }
    }

    /// Save conversations as journals in `store` (and list them from there).
    pub fn with_store(mut self, store: Store) -> Self {
        self.journal = Journaling::new(Some(store));
        self
    }

    /// Keep at most `bytes` of routing records in memory (older tokens are compacted,
    /// then folded into the expert-load count; the default is 64 MiB).
    pub fn with_routing_budget(mut self, bytes: usize) -> Self {
        self.chat.budget.limit = bytes;
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

    pub(crate) fn info(&mut self, text: impl AsRef<str>) {
        self.notice = Some(Notice {
            text: sanitize(text.as_ref()),
            is_error: false,
        });
    }

    pub(crate) fn error(&mut self, text: impl AsRef<str>) {
        self.notice = Some(Notice {
            text: sanitize(text.as_ref()),
            is_error: true,
        });
    }

    pub(crate) fn say(&mut self, said: conversation::Said) {
        match said {
            conversation::Said::Info(t) => self.info(t),
            conversation::Said::Error(t) => self.error(t),
        }
    }

    pub(crate) fn clear_notice(&mut self) {
        self.notice = None;
    }

    pub fn keymap(&self) -> &Keymap {
        &self.keymap
    }
    /// The saved-conversations overlay, while open.
    pub fn browser(&self) -> Option<&Browser> {
        match &self.overlay {
            Some(Overlay::History(b)) => Some(b),
            _ => None,
        }
    }
    /// The overlay open, if any.
    pub fn overlay(&self) -> Option<&Overlay> {
        self.overlay.as_ref()
    }
    /// The journal file of the conversation on screen, once it has one.
    pub fn journal_path(&self) -> Option<&std::path::Path> {
        self.journal.path()
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
    pub fn conversation(&self) -> &Conversation {
        &self.chat
    }
    pub fn model(&self) -> Option<&ModelInfo> {
        self.chat.model.as_ref()
    }
    pub fn messages(&self) -> &[Message] {
        self.chat.messages()
    }
    pub fn input(&self) -> &Input {
        &self.input
    }
    pub fn engine_state(&self) -> EngineState {
        self.chat.engine
    }
    pub fn notice(&self) -> Option<&Notice> {
        self.notice.as_ref()
    }
    pub fn pane(&self) -> Pane {
        self.layout.pane()
    }
    pub fn layout(&self) -> &Layout {
        &self.layout
    }
    pub fn strip_mode(&self) -> StripMode {
        self.layout.strip_mode()
    }
    /// The loaded LoRA adapter's name and whether it is on.
    pub fn lora(&self) -> Option<(&str, bool)> {
        self.model()
            .and_then(|m| m.lora_adapter.as_deref())
            .map(|name| (name, self.chat.lora_on))
    }
    /// What the routers were last told to do differently.
    pub fn interventions(&self) -> &Interventions {
        &self.interventions
    }
    pub fn help_open(&self) -> bool {
        matches!(self.overlay, Some(Overlay::Help { .. }))
    }
    pub fn lesson_list_open(&self) -> bool {
        matches!(self.overlay, Some(Overlay::LessonList))
    }
    pub fn last_stats(&self) -> Option<&GenStats> {
        self.chat.last_stats.as_ref()
    }
    pub fn context_used(&self) -> u32 {
        self.chat.context_used
    }
    /// The generation number of the last request sent.
    pub fn generation(&self) -> u64 {
        self.chat.generation()
    }
    /// A reply is running and has not been stopped.
    pub fn is_generating(&self) -> bool {
        self.chat.is_generating()
    }
    /// Whether the selection follows the newest token.
    pub fn is_following(&self) -> bool {
        self.cursor.is_following()
    }
    pub fn show_preference(&self) -> bool {
        self.layout.routing_view() == RoutingView::Preference
    }
    pub fn routing_view(&self) -> RoutingView {
        self.layout.routing_view()
    }

    pub fn token(&self, r: TokenRef) -> Option<&TokenEvent> {
        self.chat.token(r)
    }

    /// The selected token: the user's pick, or the newest while following.
    pub fn selected(&self) -> Option<TokenRef> {
        self.cursor.selected(&self.chat)
    }

    pub fn selected_token(&self) -> Option<(TokenRef, &TokenEvent)> {
        let r = self.selected()?;
        Some((r, self.chat.token(r)?))
    }

    /// Number of MoE layers (router rows) the strip and the routing pane step through.
    pub fn moe_layer_count(&self) -> usize {
        if let Some(r) = self.selected_token().and_then(|(_, t)| t.routing.as_ref()) {
            return r.n_layers();
        }
        match self.model() {
            Some(m) if m.is_moe() => m.n_layer.saturating_sub(m.n_dense_lead) as usize,
            _ => 0,
        }
    }

    /// The MoE layer slot the strip colours by and the routing pane highlights.
    pub fn layer_slot(&self) -> usize {
        self.cursor.layer_slot(self.moe_layer_count())
    }

    /// All tokens in transcript order.
    pub fn token_refs(&self) -> impl DoubleEndedIterator<Item = TokenRef> + '_ {
        self.chat.token_refs()
    }
}
