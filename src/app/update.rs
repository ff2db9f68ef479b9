//! The only code that changes [`App`]: actions (from keys, slash commands and lessons) and
//! engine events. Each action goes first to the open overlay, then to the lessons, then to
//! the chat.

mod chat;
mod events;
mod history;

use crossterm::event::KeyEvent;

use super::commands::CellRule;
use super::keymap::Action;
use super::App;
use crate::engine::api::EngineCommand;
use crate::i18n::{tr, tr_with};

impl App {
    /// Map a key through the keymap and apply it. Returns commands for the engine.
    pub fn handle_key(&mut self, key: KeyEvent) -> Vec<EngineCommand> {
        match self.keymap().action_for(key) {
            Some(action) => self.update(action),
            None => Vec::new(),
        }
    }

    /// Apply one action. Returns commands for the engine.
    pub fn update(&mut self, action: Action) -> Vec<EngineCommand> {
        let mut cmds = self.apply(action);
        cmds.extend(self.lens_follow());
        self.lesson_tick();
        self.persist();
        cmds
    }

    fn apply(&mut self, action: Action) -> Vec<EngineCommand> {
        self.dirty = true;
        if self.notice().is_some_and(|n| !n.is_error) {
            self.clear_notice();
        }
        if action != Action::Interrupt {
            self.quit_armed = false;
        }
        if let Some(cmds) = self.overlay_action(&action) {
            return cmds;
        }
        if let Some(cmds) = self.lesson_action(&action) {
            return cmds;
        }
        match action {
            Action::Send => return self.send(),
            Action::SendText { text, max_tokens } => return self.send_text(&text, max_tokens),
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
                self.clear_notice();
            }
            Action::Interrupt | Action::Quit => return self.quit_or_interrupt(&action),
            Action::Regenerate => return self.regenerate(),
            Action::EditLast => self.edit_last(),
            Action::ScrollUp => self.layout.scroll_up(),
            Action::ScrollDown => self.layout.scroll_down(),
            Action::PrevToken => self.cursor.step_token(false, &self.chat),
            Action::NextToken => self.cursor.step_token(true, &self.chat),
            Action::PrevTurn => self.cursor.step_turn(false, &self.chat),
            Action::NextTurn => self.cursor.step_turn(true, &self.chat),
            Action::NewestToken => self.cursor.follow_newest(),
            Action::PrevLayer => self.step_layer(false),
            Action::NextLayer => self.step_layer(true),
            Action::SelectLayer(layer) => self.select_layer(layer),
            Action::SelectReplyToken(n) => self.select_reply_token(n),
            Action::CyclePane => self.layout.cycle_pane(),
            Action::ShowPane(pane) => self.layout.show(pane),
            Action::ToggleStripMode => self.layout.toggle_strip_mode(),
            Action::TogglePreference => {
                let has_pref = self
                    .selected_token()
                    .and_then(|(_, t)| t.routing.as_ref())
                    .is_some_and(|r| !r.preference.is_empty());
                self.layout.cycle_routing_view(has_pref);
            }
            Action::CycleShading => self.cycle_shading(),
            Action::CellLeft | Action::CellRight => {
                let n = self.model().map_or(0, |m| m.n_expert as usize);
                if n == 0 {
                    self.info(tr("notice.no_experts", self.lang().code()));
                } else {
                    self.cursor.step_expert(action == Action::CellRight, n);
                }
            }
            Action::CellUp => self.step_layer(false),
            Action::CellDown => self.step_layer(true),
            Action::CellKnockout => return self.intervene_cell(CellRule::Knockout),
            Action::CellForce => return self.intervene_cell(CellRule::Force),
            Action::CellClear => return self.intervene_cell(CellRule::Clear),
            Action::ToggleLessonFold => {
                if self.lesson_open() {
                    self.layout.toggle_lesson_fold();
                } else {
                    self.info(tr("notice.no_lesson_open", self.lang().code()));
                }
            }
            Action::TemperatureDown => return self.step_temperature(-1.0),
            Action::TemperatureUp => return self.step_temperature(1.0),
            Action::TopPDown => return self.step_top_p(-1.0),
            Action::TopPUp => return self.step_top_p(1.0),
            Action::SetSampling(p) => return self.set_params(p),
            Action::ToggleHelp => self.open_help(),
            Action::Conversations => self.open_browser(),
            Action::Experiments => self.open_experiments(None),
            Action::Models => self.open_models(),
            Action::Lens => return self.toggle_lens(),
            Action::CloseOverlay => self.overlay = None,
            Action::BranchCandidate => return self.branch_candidate(),
            Action::PrevBranch => self.step_branch(false),
            Action::NextBranch => self.step_branch(true),
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

    /// The shading key: the mode after the one the routing pane shows for this token.
    fn cycle_shading(&mut self) {
        let use_pref = self.show_preference();
        let shown = self
            .selected_token()
            .and_then(|(_, t)| t.routing.as_ref())
            .map_or(crate::app::Shading::Probability, |r| {
                crate::app::ShadingChoice::of(self.layout.shading(), r, use_pref).mode
            });
        self.layout.cycle_shading(shown);
    }

    fn step_layer(&mut self, forward: bool) {
        let n = self.moe_layer_count();
        if n == 0 {
            self.info(tr("notice.no_moe_layers", self.lang().code()));
            return;
        }
        self.cursor.step_layer(forward, n);
    }

    /// Mark model layer `layer` (as the routing pane labels it: dense lead layers count).
    fn select_layer(&mut self, layer: u32) {
        let lead = self.model().map_or(0, |m| m.n_dense_lead);
        self.cursor
            .set_layer_slot(layer.saturating_sub(lead) as usize);
    }

    /// Select token `n` of the last reply that has tokens (its last one if it is shorter).
    fn select_reply_token(&mut self, n: u32) {
        let msgs = self.chat.messages();
        let reply = msgs
            .iter()
            .rposition(|m| m.role == crate::transcript::Role::Assistant && !m.tokens.is_empty());
        if let Some(message) = reply {
            let len = msgs[message].tokens.len();
            let r = super::TokenRef {
                message,
                token: (n as usize).min(len - 1),
            };
            self.cursor.select(r, &self.chat);
        }
    }

    pub(crate) fn set_params(
        &mut self,
        params: crate::sampling::SamplingParams,
    ) -> Vec<EngineCommand> {
        let params = params.clamped();
        if params == self.params {
            return Vec::new();
        }
        self.params = params;
        vec![EngineCommand::SetSampling(params)]
    }

    fn step_temperature(&mut self, dir: f32) -> Vec<EngineCommand> {
        let mut p = self.params;
        p.temperature += dir * crate::sampling::SamplingParams::TEMPERATURE_STEP;
        let cmds = self.set_params(p);
        if cmds.is_empty() {
            let t = format!("{:.2}", self.params.temperature);
            self.info(tr_with(
                "notice.temperature_stays",
                self.lang().code(),
                &[("t", &t)],
            ));
        }
        cmds
    }

    fn step_top_p(&mut self, dir: f32) -> Vec<EngineCommand> {
        let mut p = self.params;
        p.top_p += dir * crate::sampling::SamplingParams::TOP_P_STEP;
        let cmds = self.set_params(p);
        if cmds.is_empty() {
            let p = format!("{:.2}", self.params.top_p);
            self.info(tr_with(
                "notice.top_p_stays",
                self.lang().code(),
                &[("p", &p)],
            ));
        }
        cmds
    }
}
