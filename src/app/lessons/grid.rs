//! An experiment step: a small grid of sampling settings, each run as its own one-message
//! conversation on the engine, the replies filling a table. Its engine events are taken
//! here before the chat sees them.

use super::ExperimentCell;
use crate::app::App;
use crate::engine::api::{EngineCommand, EngineEvent, GenerateRequest};
use crate::lessons::model::experiment_grid;
use crate::lessons::StepKind;
use crate::transcript::{ChatMessage, Role};

impl App {
    pub(super) fn run_experiment(&mut self) -> Vec<EngineCommand> {
        let lang = self.lessons.lang;
        let Some((
            StepKind::Experiment {
                prompt,
                temperatures,
                top_ps,
                seeds,
                max_tokens,
            },
            _,
        )) = self.current_kind()
        else {
            return Vec::new();
        };
        let grid = experiment_grid(temperatures, top_ps, seeds);
        let (prompt, max_tokens) = (prompt.get(lang).to_string(), *max_tokens);
        if self.model().is_none() || self.is_generating() {
            let why = self.chat.cannot_start(lang.code());
            self.info(why.unwrap_or_else(|| crate::i18n::tr("notice.model_busy", lang.code())));

            return Vec::new();
        }
        let mut cmds = Vec::new();
        let mut cells = Vec::new();
        for params in grid {
            let generation = self.chat.next_generation();
            cells.push(ExperimentCell {
                params,
                generation,
                text: String::new(),
                end: None,
            });
            cmds.push(EngineCommand::Generate {
                generation,
                request: GenerateRequest {
                    messages: vec![ChatMessage {
                        role: Role::User,
                        content: prompt.clone(),
                    }],
                    raw: false,
                    max_tokens,
                    params,
                },
            });
        }
        if let Some(a) = self.lessons.active.as_mut() {
            a.state.cells = cells;
        }
        cmds
    }

    fn experiment_cells(&self) -> &[ExperimentCell] {
        self.lessons
            .active
            .as_ref()
            .map_or(&[], |a| a.state.cells.as_slice())
    }

    pub fn experiment_running(&self) -> bool {
        self.experiment_cells().iter().any(|c| c.end.is_none())
    }

    pub(super) fn stop_experiment(&mut self) -> Vec<EngineCommand> {
        let last = self.experiment_cells().iter().map(|c| c.generation).max();
        if let Some(a) = self.lessons.active.as_mut() {
            for c in a.state.cells.iter_mut().filter(|c| c.end.is_none()) {
                c.end = Some(Err("stopped".into()));
            }
            a.state.done = true;
        }
        last.map(|generation| vec![EngineCommand::Cancel { generation }])
            .unwrap_or_default()
    }

    /// Engine events of experiment runs fill the table and go no further. Returns whether
    /// the event was one of them.
    pub(crate) fn lesson_engine_event(&mut self, ev: &EngineEvent) -> bool {
        let g = match ev {
            EngineEvent::Prompt { generation, .. }
            | EngineEvent::PrefillProgress { generation, .. }
            | EngineEvent::Token { generation, .. }
            | EngineEvent::Tail { generation, .. }
            | EngineEvent::Ended { generation, .. }
            | EngineEvent::Done { generation, .. }
            | EngineEvent::Error { generation, .. } => *generation,
            EngineEvent::Loaded(_)
            | EngineEvent::LoadFailed(_)
            | EngineEvent::InterventionsRefused { .. }
            | EngineEvent::SwitchRefused { .. }
            | EngineEvent::Lens { .. }
            | EngineEvent::Crashed { .. } => return false,
        };
        let Some(a) = self.lessons.active.as_mut() else {
            return false;
        };
        let Some(cell) = a.state.cells.iter_mut().find(|c| c.generation == g) else {
            return false;
        };
        match ev {
            EngineEvent::Token { token, .. } if cell.end.is_none() => {
                cell.text.push_str(&token.text)
            }
            EngineEvent::Tail { text, .. } if cell.end.is_none() => cell.text.push_str(text),
            EngineEvent::Done { reason, .. } if cell.end.is_none() => cell.end = Some(Ok(*reason)),
            EngineEvent::Error { message, .. } => cell.end = Some(Err(message.clone())),
            _ => {}
        }
        if a.state.cells.iter().all(|c| c.end.is_some()) {
            a.state.done = true;
        }
        true
    }
}
