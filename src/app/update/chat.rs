//! Chat actions: send a message (or run a slash command), stop, regenerate, edit the last
//! message, start over, quit.

use crate::app::keymap::Action;
use crate::app::App;
use crate::engine::api::EngineCommand;
use crate::i18n::tr;

impl App {
    /// Enter: run the input as a slash command, or send it as a message.
    pub(super) fn send(&mut self) -> Vec<EngineCommand> {
        if self.input.is_blank() {
            return Vec::new();
        }
        let text = self.input.text().trim().to_string();
        if text.starts_with('/') && !text.starts_with("//") {
            self.input.take();
            return self.slash_command(&text);
        }
        if let Some(why) = self.chat.cannot_start(self.lang().code()) {
            self.info(why);
            return Vec::new();
        }
        let raw = self.input.take();
        let content = raw
            .strip_prefix('/')
            .filter(|r| r.starts_with('/'))
            .unwrap_or(&raw)
            .to_string();
        self.chat.push_user(&content);
        self.start_reply(self.config().max_tokens)
    }

    /// Send `text` as the next message (what Enter does with the input), leaving what the
    /// learner has typed in the input alone.
    pub(super) fn send_text(&mut self, text: &str, max_tokens: u32) -> Vec<EngineCommand> {
        if let Some(why) = self.chat.cannot_start(self.lang().code()) {
            self.info(why);
            return Vec::new();
        }
        self.chat.push_user(text);
        self.start_reply(max_tokens)
    }

    /// Ask for a reply to the conversation, which must end with a user message.
    fn start_reply(&mut self, max_tokens: u32) -> Vec<EngineCommand> {
        let lang = self.lang().code();
        match self.chat.start_reply(self.params(), max_tokens, lang) {
            Ok(cmd) => {
                self.clear_notice();
                self.layout.follow_end();
                vec![cmd]
            }
            Err(said) => {
                self.say(said);
                Vec::new()
            }
        }
    }

    pub(super) fn stop(&mut self) -> Vec<EngineCommand> {
        self.chat.stop().into_iter().collect()
    }

    pub(crate) fn quit_or_interrupt(&mut self, action: &Action) -> Vec<EngineCommand> {
        if *action == Action::Interrupt {
            if self.is_generating() {
                self.quit_armed = false;
                if self.help_open() {
                    self.overlay = None;
                }
                return self.stop();
            }
            if !self.quit_armed {
                self.quit_armed = true;
                self.info(tr("notice.ctrl_c_again", self.lang().code()));
                return Vec::new();
            }
        }
        self.quit = true;
        let mut cmds: Vec<EngineCommand> = self.chat.abandon().into_iter().collect();
        cmds.push(EngineCommand::Shutdown);
        cmds
    }

    pub(super) fn regenerate(&mut self) -> Vec<EngineCommand> {
        if let Some(why) = self.chat.cannot_start(self.lang().code()) {
            self.info(why);
            return Vec::new();
        }
        self.chat.drop_last_reply();
        self.cursor.fix(&self.chat);
        if self.messages().last().map(|m| m.role) != Some(crate::transcript::Role::User) {
            self.info(tr("notice.nothing_to_regenerate", self.lang().code()));
            return Vec::new();
        }
        self.start_reply(self.config().max_tokens)
    }

    pub(super) fn edit_last(&mut self) {
        if self.is_generating() {
            self.info(tr("notice.reply_running", self.lang().code()));
            return;
        }
        if !self
            .messages()
            .iter()
            .any(|m| m.role == crate::transcript::Role::User)
        {
            self.info(tr("notice.nothing_to_edit", self.lang().code()));
            return;
        }
        if !self.input.is_blank() {
            self.info(tr("notice.input_not_empty", self.lang().code()));
            return;
        }
        if let Some(text) = self.chat.take_last_user() {
            self.input.set(text);
        }
        self.cursor.fix(&self.chat);
    }

    /// Start a new conversation: stop any reply, forget messages and the KV cache.
    pub(crate) fn clear(&mut self) -> Vec<EngineCommand> {
        let mut cmds: Vec<EngineCommand> = self.chat.abandon().into_iter().collect();
        cmds.push(EngineCommand::Reset);
        self.journal.close();
        self.replace_transcript(Vec::new());
        self.info(tr("notice.new_conversation", self.lang().code()));
        cmds
    }

    /// After the transcript was replaced: select and follow the newest token, scroll to the
    /// end, and count the context from zero (the engine decodes the new history again).
    pub(crate) fn replace_transcript(&mut self, messages: Vec<crate::app::Message>) {
        self.chat.replace(messages);
        self.cursor.follow_newest();
        self.layout.follow_end();
    }
}
