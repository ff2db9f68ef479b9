//! Saving and reopening conversations: every finished message goes into the journal as
//! soon as it is final (a user message when sent, a reply when it ends), regenerating or
//! editing appends a `truncate` line, and the saved-conversations overlay lists, searches
//! and reopens journals. Disk errors become notices; the chat goes on.

use super::super::keymap::Action;
use super::super::state::{App, Browser, Message, ReplyStatus};
use super::plain_lines;
use crate::engine::api::EngineCommand;
use crate::store::{
    self, list, time, Journal, MessageRecord, Record, SamplingRecord, Speaker, Summary,
};
use crate::text::sanitize;
use crate::transcript::Role;

impl App {
    /// Bring the journal up to date with the messages that are final (all but a reply
    /// still streaming). Called after every update and engine event; cheap when nothing
    /// changed.
    pub(crate) fn persist(&mut self) {
        if self.store.is_none() {
            return;
        }
        let upto = match self.running {
            Some(r) => r.reply.min(self.messages.len()),
            None => self.messages.len(),
        };
        if let Err(e) = self.persist_upto(upto) {
            self.error(format!("could not save the conversation: {e}"));
        }
    }

    fn persist_upto(&mut self, upto: usize) -> std::io::Result<()> {
        if upto < self.saved {
            if let Some(j) = self.journal.as_mut() {
                j.append(&Record::Truncate { keep: upto })?;
            }
            self.saved = upto;
        }
        if upto == self.saved {
            return Ok(());
        }
        if self.journal.is_none() {
            let Some(store) = &self.store else {
                return Ok(());
            };
            let model = self
                .model
                .as_ref()
                .map(|m| format!("{} ({})", m.name, m.path))
                .unwrap_or_default();
            self.journal = Some(Journal::create(&store.conversations, time::now(), &model)?);
        }
        while self.saved < upto {
            let record = self.record_of(self.saved);
            if let (Some(j), Some(r)) = (self.journal.as_mut(), record) {
                j.append(&Record::Message(r))?;
            }
            self.saved += 1;
        }
        Ok(())
    }

    fn record_of(&self, i: usize) -> Option<MessageRecord> {
        let m = self.messages.get(i)?;
        let params = m
            .tokens
            .iter()
            .find_map(|t| t.step.as_ref().map(|s| s.params))
            .unwrap_or(self.params);
        let status = match m.status {
            ReplyStatus::Complete => "complete",
            ReplyStatus::Streaming | ReplyStatus::Stopped => "stopped",
            ReplyStatus::MaxTokens => "max_tokens",
            ReplyStatus::ContextFull => "context_full",
            ReplyStatus::Failed => "failed",
        };
        Some(MessageRecord {
            role: m.role.into(),
            content: m.content.clone(),
            status: status.into(),
            time: time::now(),
            sampling: Some(SamplingRecord {
                temperature: params.temperature,
                top_p: params.top_p,
                seed: params.seed,
                max_tokens: self.config.max_tokens,
            }),
            routing: store::routing_summary(&m.tokens),
        })
    }

    /// A new conversation: the next message starts a new journal.
    pub(crate) fn close_journal(&mut self) {
        self.journal = None;
        self.saved = 0;
    }

    /// Open the saved-conversations overlay.
    pub(crate) fn open_browser(&mut self) {
        let Some(store) = &self.store else {
            self.info("conversations are not being saved in this session");
            return;
        };
        let mut browser = Browser::default();
        match list::list(&store.conversations) {
            Ok(all) => browser.all = all,
            Err(e) => {
                browser.error = Some(sanitize(&format!(
                    "cannot read {}: {e}",
                    store.conversations.display()
                )))
            }
        }
        self.browser = Some(browser);
    }

    /// Keys while the overlay is open: typing searches, ↑/↓ select, Enter reopens, Esc
    /// closes.
    pub(crate) fn browser_action(&mut self, action: Action) -> Vec<EngineCommand> {
        let Some(b) = self.browser.as_mut() else {
            return Vec::new();
        };
        let n = b.hits().len();
        match action {
            Action::Insert(c) => {
                b.query.push(c);
                b.selected = 0;
            }
            Action::Backspace => {
                b.query.pop();
                b.selected = 0;
            }
            Action::CursorUp | Action::PrevTurn => b.selected = b.selected.saturating_sub(1),
            Action::CursorDown | Action::NextTurn => {
                b.selected = (b.selected + 1).min(n.saturating_sub(1))
            }
            Action::ScrollUp => b.selected = b.selected.saturating_sub(10),
            Action::ScrollDown => b.selected = (b.selected + 10).min(n.saturating_sub(1)),
            Action::CursorHome => b.selected = 0,
            Action::CursorEnd => b.selected = n.saturating_sub(1),
            Action::Send => {
                let hit = b.hits().get(b.selected).map(|s| (*s).clone());
                if let Some(s) = hit {
                    return self.reopen(&s);
                }
            }
            Action::Stop | Action::Conversations => self.browser = None,
            Action::Quit | Action::Interrupt => {
                self.browser = None;
                return self.update(action);
            }
            _ => {}
        }
        Vec::new()
    }

    /// Replace the conversation on screen with a saved one and go on appending to its
    /// journal. The engine forgets its KV cache; the next reply reads the whole
    /// conversation again.
    fn reopen(&mut self, s: &Summary) -> Vec<EngineCommand> {
        let conv = match list::read(&s.path) {
            Ok(c) => c,
            Err(e) => {
                self.error(format!("cannot open {}: {e}", s.path.display()));
                return Vec::new();
            }
        };
        let journal = match Journal::open(&s.path) {
            Ok(j) => Some(j),
            Err(e) => {
                self.error(format!(
                    "{} is read-only here ({e}): new messages go to a new conversation",
                    s.path.display()
                ));
                None
            }
        };
        let mut cmds = Vec::new();
        if let Some(r) = self.running.take() {
            cmds.push(EngineCommand::Cancel {
                generation: r.generation,
            });
        }
        cmds.push(EngineCommand::Reset);
        self.messages = conv
            .messages
            .iter()
            .map(|m| {
                let status = match m.status.as_str() {
                    "complete" => ReplyStatus::Complete,
                    "max_tokens" => ReplyStatus::MaxTokens,
                    "context_full" => ReplyStatus::ContextFull,
                    "failed" => ReplyStatus::Failed,
                    _ => ReplyStatus::Stopped,
                };
                let mut msg = Message::new(Role::from(m.role), sanitize(&m.content), status);
                msg.rendered = if m.role == Speaker::Assistant {
                    self.markdown.render(&msg.content)
                } else {
                    plain_lines(&msg.content)
                };
                msg
            })
            .collect();
        let opened = journal.is_some();
        self.journal = journal;
        self.saved = if opened { self.messages.len() } else { 0 };
        self.browser = None;
        self.reset_conversation_view();
        if opened {
            let damaged = if conv.skipped > 0 {
                format!(" ({} damaged lines skipped)", conv.skipped)
            } else {
                String::new()
            };
            self.info(format!(
                "reopened the conversation of {} ({} messages){damaged}",
                time::human(s.created),
                self.messages.len()
            ));
        }
        cmds
    }

    /// `/export [FILE]`: the conversation as Markdown, by default to
    /// `<data dir>/exports/<journal name>.md`.
    pub(crate) fn export(&mut self, to: Option<&str>) {
        let Some(store) = self.store.clone() else {
            self.info("conversations are not being saved in this session");
            return;
        };
        self.persist();
        let Some(path) = self.journal.as_ref().map(|j| j.path().to_path_buf()) else {
            self.info("nothing to export yet");
            return;
        };
        let conv = match list::read(&path) {
            Ok(c) => c,
            Err(e) => {
                self.error(format!("cannot read {}: {e}", path.display()));
                return;
            }
        };
        let out = match to {
            Some(p) => std::path::PathBuf::from(p),
            None => {
                let stem = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "conversation".into());
                store.exports.join(format!("{stem}.md"))
            }
        };
        match list::export(&conv, &out) {
            Ok(()) => self.info(format!("exported to {}", out.display())),
            Err(e) => self.error(format!("could not export to {}: {e}", out.display())),
        }
    }
}
