//! Saving and reopening conversations: the journal is brought up to date after every
//! action and engine event, and the saved-conversations overlay lists, searches and
//! reopens journals. Disk errors become notices; the chat goes on.

use crate::app::conversation::Message;
use crate::app::keymap::Action;
use crate::app::overlay::{Browser, Overlay};
use crate::app::App;
use crate::engine::api::EngineCommand;
use crate::i18n::{tr, tr_with};
use crate::store::{list, time, Journal, Summary};
use crate::text::sanitize;
use crate::transcript::Role;

impl App {
    /// Bring the journal up to date with the messages that are final (all but a reply
    /// still streaming). Called after every update and engine event; cheap when nothing
    /// changed.
    pub(crate) fn persist(&mut self) {
        if self.journal.store().is_none() {
            return;
        }
        let upto = match self.chat.running {
            Some(r) => r.reply.min(self.messages().len()),
            None => self.messages().len(),
        };
        let model = self
            .model()
            .map(|m| format!("{} ({})", m.name, m.path))
            .unwrap_or_default();
        let (params, max_tokens) = (self.params(), self.config().max_tokens);
        if let Err(e) = self
            .journal
            .sync(&self.chat.messages, upto, params, max_tokens, &model)
        {
            self.error(tr_with(
                "notice.save_failed",
                self.lang().code(),
                &[("why", &e)],
            ));
        }
    }

    /// Open the saved-conversations overlay.
    pub(crate) fn open_browser(&mut self) {
        let Some(store) = self.journal.store() else {
            self.info(tr("notice.not_saving", self.lang().code()));
            return;
        };
        let mut browser = Browser::default();
        match list::list(&store.conversations) {
            Ok(all) => browser.all = all,
            Err(e) => {
                let path = store.conversations.display();
                let args: [(&str, &dyn std::fmt::Display); 2] = [("path", &path), ("why", &e)];
                browser.error = Some(sanitize(&tr_with(
                    "notice.cannot_read",
                    self.lang().code(),
                    &args,
                )))
            }
        }
        self.overlay = Some(Overlay::History(browser));
    }

    /// Keys while the overlay is open: typing searches, ↑/↓ select, Enter reopens, Esc
    /// closes.
    pub(crate) fn browser_action(&mut self, action: &Action) -> Vec<EngineCommand> {
        let Some(Overlay::History(b)) = self.overlay.as_mut() else {
            return Vec::new();
        };
        let n = b.hits().len();
        match action {
            Action::Insert(c) => {
                b.query.push(*c);
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
            Action::Stop | Action::Conversations => self.overlay = None,
            Action::Quit | Action::Interrupt => {
                self.overlay = None;
                return self.update(action.clone());
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
                let path = s.path.display();
                let args: [(&str, &dyn std::fmt::Display); 2] = [("path", &path), ("why", &e)];
                self.error(tr_with("notice.cannot_open", self.lang().code(), &args));
                return Vec::new();
            }
        };
        let journal = match Journal::open(&s.path) {
            Ok(j) => Some(j),
            Err(e) => {
                let path = s.path.display();
                let args: [(&str, &dyn std::fmt::Display); 2] = [("path", &path), ("why", &e)];
                self.error(tr_with("notice.read_only", self.lang().code(), &args));
                None
            }
        };
        let mut cmds: Vec<EngineCommand> = self.chat.abandon().into_iter().collect();
        cmds.push(EngineCommand::Reset);
        let messages: Vec<Message> = conv
            .messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let status = crate::app::journal::status_from(&m.status);
                let role = Role::from(m.role);
                let mut msg = Message::new(role, sanitize(&m.content), status);
                if let Some(b) = conv.branches_of(i) {
                    msg.set_branches(crate::app::journal::bodies_of(b), b.current);
                }
                msg.rendered.set(self.chat.rendered(role, &msg.content));
                msg
            })
            .collect();
        let opened = journal.is_some();
        let n = messages.len();
        self.journal.adopt(journal, n);
        self.overlay = None;
        self.replace_transcript(messages);
        if opened {
            let lang = self.lang().code();
            let damaged = if conv.skipped > 0 {
                tr_with("notice.damaged_lines", lang, &[("n", &conv.skipped)])
            } else {
                String::new()
            };
            let when = time::human(s.created);
            let args: [(&str, &dyn std::fmt::Display); 3] =
                [("when", &when), ("n", &n), ("damaged", &damaged)];
            self.info(tr_with("notice.reopened", lang, &args));
        }
        cmds
    }

    /// `/export [FILE]`: the conversation as Markdown, by default to
    /// `<data dir>/exports/<journal name>.md`.
    pub(crate) fn export(&mut self, to: Option<&str>) {
        let Some(store) = self.journal.store().cloned() else {
            self.info(tr("notice.not_saving", self.lang().code()));
            return;
        };
        self.persist();
        let Some(path) = self.journal.path().map(|p| p.to_path_buf()) else {
            self.info(tr("notice.nothing_to_export", self.lang().code()));
            return;
        };
        let conv = match list::read(&path) {
            Ok(c) => c,
            Err(e) => {
                let path = path.display();
                let args: [(&str, &dyn std::fmt::Display); 2] = [("path", &path), ("why", &e)];
                self.error(tr_with("notice.cannot_read", self.lang().code(), &args));
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
        let lang = self.lang().code();
        match list::export(&conv, &out) {
            Ok(()) => {
                let path = out.display();
                self.info(tr_with("notice.exported", lang, &[("path", &path)]));
            }
            Err(e) => {
                let path = out.display();
                let args: [(&str, &dyn std::fmt::Display); 2] = [("path", &path), ("why", &e)];
                self.error(tr_with("notice.export_failed", lang, &args));
            }
        }
    }
}
