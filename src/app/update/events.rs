//! Engine events into the app: the model loading, prompt tokens landing on the user turn
//! they were decoded for, reply tokens filling the reply, and the end of a reply. Events of
//! any generation but the running one are dropped.

use super::super::state::{App, EngineState, ReplyStatus, Running};
use crate::engine::api::EngineEvent;
use crate::text::sanitize;
use crate::transcript::{ModelInfo, StopReason, TokenEvent};

impl App {
    /// Feed one engine event in. Events of other generations than the running one are
    /// dropped.
    pub fn on_engine_event(&mut self, ev: EngineEvent) {
        self.dirty = true;
        if self.lesson_engine_event(&ev) {
            return;
        }
        self.engine_event(ev);
        self.lesson_tick();
    }

    fn engine_event(&mut self, ev: EngineEvent) {
        match ev {
            EngineEvent::Loaded(info) => self.loaded(*info),
            EngineEvent::LoadFailed(msg) => {
                self.engine = EngineState::Error;
                self.error(format!("could not load the model: {msg}"));
            }
            EngineEvent::Prompt { generation, tokens } => {
                if let Some(r) = self.live(generation) {
                    self.add_prompt(r.user, tokens);
                }
            }
            EngineEvent::PrefillProgress {
                generation,
                done,
                total,
            } => {
                if self.live(generation).is_some() {
                    self.engine = EngineState::Prefill { done, total };
                }
            }
            EngineEvent::Token { generation, token } => {
                if let Some(r) = self.live(generation) {
                    self.add_token(r.reply, *token);
                }
            }
            EngineEvent::Tail { generation, text } => {
                if let Some(r) = self.live(generation) {
                    self.add_tail(r.reply, &text);
                }
            }
            EngineEvent::Done {
                generation,
                reason,
                stats,
            } => {
                if let Some(r) = self.running.filter(|r| r.generation == generation) {
                    self.running = None;
                    self.last_stats = Some(stats);
                    self.context_used = stats.context_used;
                    self.finish(r, reason);
                }
            }
            EngineEvent::Crashed {
                generation,
                message,
            } => {
                // Like `Error` for the reply it was writing, like `LoadFailed` for the engine.
                if let Some(r) = self
                    .running
                    .filter(|r| generation.is_none_or(|g| r.generation == g))
                {
                    self.running = None;
                    if let Some(m) = self.messages.get_mut(r.reply) {
                        m.status = ReplyStatus::Failed;
                    }
                }
                self.engine = EngineState::Error;
                self.error(format!(
                    "the engine crashed: {}; /experts or a restart loads the model again",
                    sanitize(&message)
                ));
            }
            EngineEvent::Error {
                generation,
                message,
            } => {
                if let Some(r) = self.running.filter(|r| r.generation == generation) {
                    self.running = None;
                    if let Some(m) = self.messages.get_mut(r.reply) {
                        m.status = ReplyStatus::Failed;
                    }
                    self.engine = EngineState::Error;
                    self.error(format!("error: {message}"));
                }
            }
        }
        self.persist();
    }

    fn live(&self, generation: u64) -> Option<Running> {
        self.running
            .filter(|r| r.generation == generation && !r.stopping)
    }

    fn loaded(&mut self, mut info: ModelInfo) {
        info.name = sanitize(&info.name);
        info.arch = sanitize(&info.arch);
        info.path = sanitize(&info.path);
        self.lora_on = info.lora_adapter.is_some();
        self.model = Some(info);
        if matches!(self.engine, EngineState::Loading | EngineState::Error) {
            self.engine = EngineState::Ready;
        }
    }

    fn add_prompt(&mut self, user: usize, tokens: Vec<TokenEvent>) {
        let Some(msg) = self.messages.get_mut(user) else {
            return;
        };
        // Re-decoded positions (a regenerated reply) replace what was there.
        if let Some(first) = tokens.iter().map(|t| t.pos).min() {
            msg.tokens.retain(|t| t.pos < first);
        }
        msg.tokens.extend(tokens);
        self.fix_selection();
    }

    fn add_token(&mut self, reply: usize, token: TokenEvent) {
        self.engine = EngineState::Generating;
        self.context_used = self.context_used.max(token.pos + 1);
        let Some(msg) = self.messages.get_mut(reply) else {
            return;
        };
        msg.content.push_str(&token.text);
        msg.tokens.push(token);
        msg.rendered = self.markdown.render(&msg.content);
    }

    /// The end of a character the reply stopped inside of: part of the text (and of its
    /// last token, so the token strip shows it too).
    fn add_tail(&mut self, reply: usize, text: &str) {
        let Some(msg) = self.messages.get_mut(reply) else {
            return;
        };
        msg.content.push_str(text);
        if let Some(last) = msg.tokens.last_mut() {
            last.text.push_str(text);
        }
        msg.rendered = self.markdown.render(&msg.content);
    }

    fn finish(&mut self, r: Running, reason: StopReason) {
        let status = match reason {
            _ if r.stopping => ReplyStatus::Stopped,
            StopReason::EndOfText => ReplyStatus::Complete,
            StopReason::MaxTokens => ReplyStatus::MaxTokens,
            StopReason::Cancelled => ReplyStatus::Stopped,
            StopReason::ContextFull => ReplyStatus::ContextFull,
        };
        if let Some(m) = self.messages.get_mut(r.reply) {
            m.status = status;
        }
        self.engine = match status {
            ReplyStatus::Stopped => EngineState::Stopped,
            _ => EngineState::Ready,
        };
        let n_ctx = self.model.as_ref().map_or(0, |m| m.n_ctx);
        match status {
            ReplyStatus::MaxTokens => self.info(format!(
                "the reply stopped at the {}-token limit",
                self.config.max_tokens
            )),
            ReplyStatus::ContextFull => self.error(format!(
                "context full: the conversation fills all {n_ctx} tokens; start a new conversation with /clear"
            )),
            _ => {}
        }
    }
}
