//! The conversation part: the messages with the tokens the model read and wrote, the reply
//! in flight with its generation number, and what the engine has said about itself (the
//! model, its state, the last reply's timing). Engine events land here; nothing else
//! writes the messages.

mod branches;
mod budget;
mod lines;
mod stats;
mod stream;

pub use branches::{BranchBody, Branches};
pub use budget::RoutingBudget;
pub use lines::RenderedLines;
pub use stats::{CAPACITY_STEPS, TOP_TOKENS};

use crate::engine::api::{EngineCommand, GenerateRequest};
use crate::sampling::SamplingParams;
use crate::text::markdown::{MarkdownRenderer, StreamingMarkdown, StyledLine};
use crate::text::sanitize;
use crate::transcript::{ChatMessage, GenStats, ModelInfo, Role, TokenEvent};

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
    /// Unique in the process (a clone keeps it): keys the chat view's rows.
    pub(crate) id: u64,
    pub role: Role,
    pub content: String,
    pub tokens: Vec<TokenEvent>,
    pub status: ReplyStatus,
    pub(crate) rendered: RenderedLines,
    /// The reply's other branches (a reply branched from one of its tokens).
    pub(crate) branches: Branches,
}

impl Message {
    pub(crate) fn new(role: Role, content: String, status: ReplyStatus) -> Self {
        Message {
            id: lines::fresh_id(),
            role,
            content,
            tokens: Vec::new(),
            status,
            rendered: RenderedLines::default(),
            branches: Branches::default(),
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

/// The reply in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Running {
    pub generation: u64,
    pub user: usize,
    pub reply: usize,
    /// Esc was pressed: drop further tokens, wait for `Done`.
    pub stopping: bool,
}

/// Something the conversation wants said in the notice line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Said {
    Info(String),
    Error(String),
}

#[derive(Debug)]
pub struct Conversation {
    pub(crate) messages: Vec<Message>,
    pub(crate) running: Option<Running>,
    /// The generation number of the last request sent.
    generation: u64,
    pub(crate) engine: EngineState,
    pub(crate) model: Option<ModelInfo>,
    pub(crate) last_stats: Option<GenStats>,
    pub(crate) context_used: u32,
    /// Whether the model's LoRA adapter is switched on (it loads on).
    pub(crate) lora_on: bool,
    /// The bound on routing detail held in memory.
    pub(crate) budget: RoutingBudget,
    markdown: MarkdownRenderer,
    /// The reply in flight, rendered incrementally.
    stream: StreamingMarkdown,
    /// The message whose lines were last synced from `stream`.
    stream_owner: Option<u64>,
    /// The capacity factor the expert statistics count drops at.
    stats_capacity: f64,
    stats_cache: stats::StatsCache,
}

impl Default for Conversation {
    fn default() -> Self {
        Conversation {
            messages: Vec::new(),
            running: None,
            generation: 0,
            engine: EngineState::Loading,
            model: None,
            last_stats: None,
            context_used: 0,
            lora_on: true,
            budget: RoutingBudget::default(),
            markdown: MarkdownRenderer::new(),
            stream: StreamingMarkdown::new(),
            stream_owner: None,
            stats_capacity: 1.0,
            stats_cache: stats::StatsCache::default(),
        }
    }
}

impl Conversation {
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// The generation number of the last request sent.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// A new generation number for a request (a reply, an experiment run).
    pub(crate) fn next_generation(&mut self) -> u64 {
        self.generation += 1;
        self.generation
    }

    /// The bound on routing detail held in memory (and what was folded away).
    pub fn budget(&self) -> &RoutingBudget {
        &self.budget
    }

    /// A reply is running and has not been stopped.
    pub fn is_generating(&self) -> bool {
        self.running.is_some_and(|r| !r.stopping)
    }

    /// Markdown (a lesson step's text) rendered the way replies are.
    pub(crate) fn render_markdown(&mut self, src: &str) -> Vec<StyledLine> {
        self.markdown.render(src)
    }

    /// Why a new reply cannot start now, if it cannot.
    pub(crate) fn cannot_start(&self, lang: &str) -> Option<String> {
        if self.is_generating() {
            Some(crate::i18n::tr("notice.reply_running", lang))
        } else if self.model.is_none() {
            Some(match self.engine {
                EngineState::Loading => crate::i18n::tr("notice.model_loading", lang),
                _ => crate::i18n::tr("notice.no_model_loaded", lang),
            })
        } else {
            None
        }
    }

    /// The conversation as the engine should see it: no empty assistant placeholders.
    pub fn request(&self) -> Vec<ChatMessage> {
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

    /// All tokens in transcript order.
    pub fn token_refs(&self) -> impl DoubleEndedIterator<Item = TokenRef> + '_ {
        self.messages.iter().enumerate().flat_map(|(i, m)| {
            (0..m.tokens.len()).map(move |t| TokenRef {
                message: i,
                token: t,
            })
        })
    }

    /// Add what the user typed (sanitised, shown as typed).
    pub(crate) fn push_user(&mut self, text: &str) {
        let mut msg = Message::new(Role::User, sanitize(text), ReplyStatus::Complete);
        msg.rendered.set(plain_lines(&msg.content));
        self.messages.push(msg);
    }

    /// Ask for a reply to the conversation, which must end with a user message.
    pub(crate) fn start_reply(
        &mut self,
        params: SamplingParams,
        max_tokens: u32,
        lang: &str,
    ) -> Result<EngineCommand, Said> {
        let user = self.messages.len().saturating_sub(1);
        if self.messages.last().map(|m| m.role) != Some(Role::User) {
            return Err(Said::Info(crate::i18n::tr("notice.nothing_to_reply", lang)));
        }

        let messages = self.request();
        let generation = self.next_generation();
        self.stream.clear();
        self.messages.push(Message::new(
            Role::Assistant,
            String::new(),
            ReplyStatus::Streaming,
        ));
        self.running = Some(Running {
            generation,
            user,
            reply: self.messages.len() - 1,
            stopping: false,
        });
        self.engine = EngineState::Prefill { done: 0, total: 0 };
        Ok(EngineCommand::Generate {
            generation,
            request: GenerateRequest {
                messages,
                raw: false,
                max_tokens,
                params,
            },
        })
    }

    /// Esc: mark the reply stopped and ask the engine to cancel it.
    pub(crate) fn stop(&mut self) -> Option<EngineCommand> {
        let r = self.running.as_mut()?;
        r.stopping = true;
        let (generation, reply) = (r.generation, r.reply);
        if let Some(m) = self.messages.get_mut(reply) {
            m.status = ReplyStatus::Stopped;
        }
        self.engine = EngineState::Stopped;
        Some(EngineCommand::Cancel { generation })
    }

    /// Forget the reply in flight; returns the cancel command for it, if one ran.
    pub(crate) fn abandon(&mut self) -> Option<EngineCommand> {
        self.running.take().map(|r| EngineCommand::Cancel {
            generation: r.generation,
        })
    }

    /// Drop the last reply so it can be written again.
    pub(crate) fn drop_last_reply(&mut self) {
        if self
            .messages
            .last()
            .is_some_and(|m| m.role == Role::Assistant)
        {
            self.messages.pop();
            self.budget.recount(&self.messages, false);
        }
    }

    /// Take the last user message back (and what followed it): its text, to edit.
    pub(crate) fn take_last_user(&mut self) -> Option<String> {
        let idx = self.messages.iter().rposition(|m| m.role == Role::User)?;
        let text = self.messages[idx].content.clone();
        self.messages.truncate(idx);
        self.running = None;
        self.budget.recount(&self.messages, false);
        Some(text)
    }

    /// Replace the transcript (a new conversation, a reopened one) and count the context
    /// from zero: the engine decodes the new history again.
    pub(crate) fn replace(&mut self, messages: Vec<Message>) {
        self.messages = messages;
        self.budget.recount(&self.messages, true);
        self.context_used = 0;
        if self.model.is_some() {
            self.engine = EngineState::Ready;
        }
    }

    /// Render saved text the way it was shown: markdown for the model, plain for the user.
    pub(crate) fn rendered(&mut self, role: Role, content: &str) -> Vec<StyledLine> {
        match role {
            Role::Assistant => self.markdown.render(content),
            _ => plain_lines(content),
        }
    }
}

/// A user message as lines (no markdown: what the user typed is shown as typed).
pub(crate) fn plain_lines(text: &str) -> Vec<StyledLine> {
    text.split('\n')
        .map(|l| StyledLine::plain(l, ratatui::style::Style::default()))
        .collect()
}
