//! The only code that changes [`App`]: key actions, slash commands and engine events.

mod commands;
mod events;
mod history;
mod knockout;
mod lessons;
mod model_cmds;

use crossterm::event::KeyEvent;

use super::keymap::{self, Action};
use super::state::{
    App, EngineState, Message, Notice, Pane, ReplyStatus, RoutingView, Running, Scroll, StripMode,
    TokenRef,
};
use crate::engine::api::{EngineCommand, GenerateRequest};
use crate::sampling::SamplingParams;
use crate::text::markdown::StyledLine;
use crate::text::sanitize;
use crate::transcript::Role;

impl App {
    /// Map a key through the keymap and apply it. Returns commands for the engine.
    pub fn handle_key(&mut self, key: KeyEvent) -> Vec<EngineCommand> {
        match self.keymap.action_for(key) {
            // One binding answers quizzes: Alt+1..4 say which answer.
            Some(Action::Answer(_)) => match key.code {
                crossterm::event::KeyCode::Char(c) => {
                    self.update(Action::Answer(c.to_digit(10).unwrap_or(0) as u8))
                }
                _ => Vec::new(),
            },
            Some(action) => self.update(action),
            None => Vec::new(),
        }
    }

    /// Apply one action. Returns commands for the engine.
    pub fn update(&mut self, action: Action) -> Vec<EngineCommand> {
        let cmds = self.apply(action);
        self.lesson_tick();
        self.persist();
        cmds
    }

    fn apply(&mut self, action: Action) -> Vec<EngineCommand> {
        self.dirty = true;
        if self.notice.as_ref().is_some_and(|n| !n.is_error) {
            self.notice = None;
        }
        if action != Action::Interrupt {
            self.quit_armed = false;
        }
        if self.browser.is_some() {
            return self.browser_action(action);
        }
        if let Some(cmds) = self.lesson_action(action) {
            return cmds;
        }
        if self.help_open {
            match action {
                Action::ToggleHelp | Action::Stop => self.help_open = false,
                Action::ScrollUp | Action::CursorUp => {
                    self.help_scroll = self.help_scroll.saturating_sub(5)
                }
                Action::ScrollDown | Action::CursorDown => {
                    self.help_scroll = (self.help_scroll + 5).min(2 * keymap::KEYMAP.len())
                }
                Action::Quit | Action::Interrupt => return self.quit_or_interrupt(action),
                _ => {}
            }
            return Vec::new();
        }
        match action {
            Action::Send => return self.send(),
            Action::InsertNewline => self.input.insert('\n'),
            Action::Insert(c) => self.input.insert(c),
            Action::Backspace => self.input.backspace(),
            Action::Delete => self.input.delete(),
            Action::CursorLeft => self.input.left(),
            Action::CursorRight => self.input.right(),
            Action::CursorUp => self.input.up(),
            Action::CursorDown => self.input.down(),
            Action::CursorHome => self.input.home(),
            Action::CursorEnd => self.input.end(),
            Action::Stop => {
                if self.is_generating() {
                    return self.stop();
                }
                self.notice = None;
            }
            Action::Interrupt | Action::Quit => return self.quit_or_interrupt(action),
            Action::Regenerate => return self.regenerate(),
            Action::EditLast => self.edit_last(),
            Action::ScrollUp => self.scroll_up(),
            Action::ScrollDown => self.scroll_down(),
            Action::PrevToken => self.step_token(false),
            Action::NextToken => self.step_token(true),
            Action::PrevTurn => self.step_turn(false),
            Action::NextTurn => self.step_turn(true),
            Action::NewestToken => {
                self.follow = true;
                self.selection = None;
            }
            Action::PrevLayer => self.step_layer(false),
            Action::NextLayer => self.step_layer(true),
            Action::CyclePane => {
                self.pane = match self.pane {
                    Pane::Chat => Pane::Routing,
                    Pane::Routing => Pane::Sampling,
                    Pane::Sampling => Pane::Chat,
                }
            }
            Action::ToggleStripMode => {
                self.strip_mode = match self.strip_mode {
                    StripMode::TopExpert => StripMode::Entropy,
                    StripMode::Entropy => StripMode::TopExpert,
                }
            }
            Action::TogglePreference => self.cycle_routing_view(),
            Action::TemperatureDown => return self.step_temperature(-1.0),
            Action::TemperatureUp => return self.step_temperature(1.0),
            Action::TopPDown => return self.step_top_p(-1.0),
            Action::TopPUp => return self.step_top_p(1.0),
            Action::ToggleHelp => {
                self.help_open = true;
                self.help_scroll = 0;
            }
            Action::Conversations => self.open_browser(),
            // Handled by `lesson_action` above.
            Action::ToggleLessons
            | Action::SwitchLang
            | Action::LessonNext
            | Action::LessonBack
            | Action::LessonScrollUp
            | Action::LessonScrollDown
            | Action::Answer(_) => {}
        }
        Vec::new()
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

    fn quit_or_interrupt(&mut self, action: Action) -> Vec<EngineCommand> {
        if action == Action::Interrupt {
            if self.is_generating() {
                self.quit_armed = false;
                self.help_open = false;
                return self.stop();
            }
            if !self.quit_armed {
                self.quit_armed = true;
                self.info("press Ctrl-C again to quit");
                return Vec::new();
            }
        }
        self.quit = true;
        let mut cmds = Vec::new();
        if let Some(r) = self.running.take() {
            cmds.push(EngineCommand::Cancel {
                generation: r.generation,
            });
        }
        cmds.push(EngineCommand::Shutdown);
        cmds
    }

    fn send(&mut self) -> Vec<EngineCommand> {
        if self.input.is_blank() {
            return Vec::new();
        }
        let text = self.input.text().trim().to_string();
        if text.starts_with('/') && !text.starts_with("//") {
            self.input.take();
            return self.slash_command(&text);
        }
        if let Some(why) = self.cannot_start() {
            self.info(why);
            return Vec::new();
        }
        let raw = self.input.take();
        let content = sanitize(
            raw.strip_prefix('/')
                .filter(|r| r.starts_with('/'))
                .unwrap_or(&raw),
        );
        let mut msg = Message::new(Role::User, content, ReplyStatus::Complete);
        msg.rendered = plain_lines(&msg.content);
        self.messages.push(msg);
        self.start_reply()
    }

    fn cannot_start(&self) -> Option<&'static str> {
        if self.is_generating() {
            Some("a reply is running: Esc stops it")
        } else if self.model.is_none() {
            Some(match self.engine {
                EngineState::Loading => "the model is still loading",
                _ => "no model is loaded",
            })
        } else {
            None
        }
    }

    /// Ask for a reply to the conversation, which must end with a user message.
    fn start_reply(&mut self) -> Vec<EngineCommand> {
        let user = self.messages.len().saturating_sub(1);
        if self.messages.last().map(|m| m.role) != Some(Role::User) {
            self.info("nothing to reply to");
            return Vec::new();
        }
        let messages = self.conversation();
        self.generation += 1;
        self.messages.push(Message::new(
            Role::Assistant,
            String::new(),
            ReplyStatus::Streaming,
        ));
        self.running = Some(Running {
            generation: self.generation,
            user,
            reply: self.messages.len() - 1,
            stopping: false,
        });
        self.engine = EngineState::Prefill { done: 0, total: 0 };
        self.notice = None;
        self.scroll = Scroll::Follow;
        vec![EngineCommand::Generate {
            generation: self.generation,
            request: GenerateRequest {
                messages,
                raw: false,
                max_tokens: self.config.max_tokens,
                params: self.params,
            },
        }]
    }

    fn stop(&mut self) -> Vec<EngineCommand> {
        let Some(r) = self.running.as_mut() else {
            return Vec::new();
        };
        r.stopping = true;
        let (generation, reply) = (r.generation, r.reply);
        if let Some(m) = self.messages.get_mut(reply) {
            m.status = ReplyStatus::Stopped;
        }
        self.engine = EngineState::Stopped;
        vec![EngineCommand::Cancel { generation }]
    }

    fn regenerate(&mut self) -> Vec<EngineCommand> {
        if let Some(why) = self.cannot_start() {
            self.info(why);
            return Vec::new();
        }
        if self
            .messages
            .last()
            .is_some_and(|m| m.role == Role::Assistant)
        {
            self.messages.pop();
            self.fix_selection();
        }
        if self.messages.last().map(|m| m.role) != Some(Role::User) {
            self.info("nothing to regenerate yet");
            return Vec::new();
        }
        self.start_reply()
    }

    fn edit_last(&mut self) {
        if self.is_generating() {
            self.info("a reply is running: Esc stops it");
            return;
        }
        let Some(idx) = self.messages.iter().rposition(|m| m.role == Role::User) else {
            self.info("no message to edit yet");
            return;
        };
        if !self.input.is_blank() {
            self.info("the input is not empty: clear it before editing the last message");
            return;
        }
        let text = self.messages[idx].content.clone();
        self.input.set(text);
        self.messages.truncate(idx);
        self.running = None;
        self.fix_selection();
    }

    pub(crate) fn fix_selection(&mut self) {
        if self.selection.is_some_and(|r| self.token(r).is_none()) {
            self.selection = None;
            self.follow = true;
        }
    }

    fn scroll_up(&mut self) {
        let (height, max) = self.chat_geometry.get();
        let page = (height as usize).saturating_sub(2).max(1);
        let top = match self.scroll {
            Scroll::Follow => max,
            Scroll::FromTop(t) => t.min(max),
        };
        self.scroll = Scroll::FromTop(top.saturating_sub(page));
    }

    fn scroll_down(&mut self) {
        let (height, max) = self.chat_geometry.get();
        let page = (height as usize).saturating_sub(2).max(1);
        if let Scroll::FromTop(t) = self.scroll {
            self.scroll = if t + page >= max {
                Scroll::Follow
            } else {
                Scroll::FromTop(t + page)
            };
        }
    }

    fn select(&mut self, r: TokenRef) {
        self.follow = self.newest_token() == Some(r);
        self.selection = (!self.follow).then_some(r);
    }

    fn step_token(&mut self, forward: bool) {
        let Some(cur) = self.selected() else {
            return;
        };
        let next = if forward {
            self.token_refs()
                .find(|r| (r.message, r.token) > (cur.message, cur.token))
        } else {
            self.token_refs()
                .rev()
                .find(|r| (r.message, r.token) < (cur.message, cur.token))
        };
        self.select(next.unwrap_or(cur));
    }

    fn step_turn(&mut self, forward: bool) {
        let Some(cur) = self.selected() else {
            return;
        };
        let has_tokens = |i: &usize| self.messages.get(*i).is_some_and(|m| !m.tokens.is_empty());
        let target = if forward {
            (cur.message + 1..self.messages.len()).find(has_tokens)
        } else if cur.token > 0 {
            Some(cur.message)
        } else {
            (0..cur.message).rev().find(has_tokens)
        };
        if let Some(message) = target {
            self.select(TokenRef { message, token: 0 });
        }
    }

    fn step_layer(&mut self, forward: bool) {
        let n = self.moe_layer_count();
        if n == 0 {
            self.info("this model has no MoE layers");
            return;
        }
        let cur = self.layer_slot();
        self.layer = if forward {
            (cur + 1).min(n - 1)
        } else {
            cur.saturating_sub(1)
        };
    }

    /// F4: router probabilities -> router preference (when the token has one) -> expert
    /// load over the conversation -> probabilities.
    fn cycle_routing_view(&mut self) {
        let has_pref = self
            .selected_token()
            .and_then(|(_, t)| t.routing.as_ref())
            .is_some_and(|r| !r.preference.is_empty());
        self.routing_view = match self.routing_view {
            RoutingView::Probabilities if has_pref => RoutingView::Preference,
            RoutingView::Probabilities | RoutingView::Preference => RoutingView::Load,
            RoutingView::Load => RoutingView::Probabilities,
        };
    }

    pub(crate) fn set_params(&mut self, params: SamplingParams) -> Vec<EngineCommand> {
        let params = params.clamped();
        if params == self.params {
            return Vec::new();
        }
        self.params = params;
        vec![EngineCommand::SetSampling(params)]
    }

    fn step_temperature(&mut self, dir: f32) -> Vec<EngineCommand> {
        let mut p = self.params;
        p.temperature += dir * SamplingParams::TEMPERATURE_STEP;
        let cmds = self.set_params(p);
        if cmds.is_empty() {
            self.info(format!(
                "temperature stays at {:.2} (range 0..2)",
                self.params.temperature
            ));
        }
        cmds
    }

    fn step_top_p(&mut self, dir: f32) -> Vec<EngineCommand> {
        let mut p = self.params;
        p.top_p += dir * SamplingParams::TOP_P_STEP;
        let cmds = self.set_params(p);
        if cmds.is_empty() {
            self.info(format!(
                "top_p stays at {:.2} (range 0.05..1)",
                self.params.top_p
            ));
        }
        cmds
    }
}

/// A user message as lines (no markdown: what the user typed is shown as typed).
pub(crate) fn plain_lines(text: &str) -> Vec<StyledLine> {
    text.split('\n')
        .map(|l| StyledLine::plain(l, ratatui::style::Style::default()))
        .collect()
}
