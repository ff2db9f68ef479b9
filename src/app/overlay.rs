//! Overlays: at most one is open. The open one gets the keys before anything else and is
//! drawn over the panes (`views::render` matches on the same enum), so key routing and
//! draw order cannot disagree. A new overlay is a variant here, its key handler, and its
//! view.

mod browser;
pub mod experiments;
pub mod experiments_form;
mod experiments_run;
pub mod lens;
pub mod models;

pub use browser::Browser;
pub use experiments::Experiments;
pub use models::ModelPicker;

use super::keymap::{self, Action};
use super::App;
use crate::engine::api::EngineCommand;

#[derive(Debug)]
pub enum Overlay {
    /// The key and command reference (F1), scrolled this many rows.
    Help { scroll: usize },
    /// Saved conversations: search, reopen (F9).
    History(Browser),
    /// The lesson list (Ctrl+L).
    LessonList,
    /// Experiments: a grid's form, its runs, their results and charts (F11, /experiment).
    Experiments(Box<Experiments>),
    /// First-run preparation of the default model (see `app::prep`).
    Prep(Box<super::prep::Prep>),
    /// The model picker (Alt+M, /models).
    Models(Box<ModelPicker>),
    /// The layer lens of the selected token (Alt+L, `/lens`; see `overlay::lens`).
    Lens(Box<lens::LensView>),
}

impl App {
    /// Keys while an overlay is open. `None`: the overlay lets this action through to the
    /// lessons and the chat.
    pub(super) fn overlay_action(&mut self, action: &Action) -> Option<Vec<EngineCommand>> {
        match self.overlay.as_mut()? {
            Overlay::Help { scroll } => match action {
                Action::ToggleHelp | Action::Stop => self.overlay = None,
                Action::ScrollUp | Action::CursorUp => *scroll = scroll.saturating_sub(5),
                Action::ScrollDown | Action::CursorDown => {
                    *scroll = (*scroll + 5).min(2 * keymap::KEYMAP.len())
                }
                Action::Quit | Action::Interrupt => {
                    self.overlay = None;
                    return Some(self.quit_or_interrupt(action));
                }
                // Lesson keys work with the help open (a task may ask for it).
                a if a.is_lesson_key() => return None,
                _ => {}
            },
            Overlay::History(_) => return Some(self.browser_action(action)),
            Overlay::LessonList => return Some(self.lesson_list_action(action)),
            // Lesson keys go through unless runs are in flight (a lesson step opens it).
            Overlay::Experiments(e) if action.is_lesson_key() && !e.is_running() => return None,
            Overlay::Experiments(_) => return Some(self.experiments_action(action)),
            Overlay::Prep(_) => return self.prep_action(action),
            Overlay::Models(_) => return Some(self.models_action(action)),
            Overlay::Lens(_) => match action {
                Action::Lens | Action::Stop | Action::CloseOverlay => self.overlay = None,
                // Everything else works as without it (moving the selection asks again).
                _ => return None,
            },
        }
        Some(Vec::new())
    }

    pub(crate) fn open_help(&mut self) {
        self.overlay = Some(Overlay::Help { scroll: 0 });
    }

    /// How far the help overlay is scrolled (0 when it is closed).
    pub fn help_scroll(&self) -> usize {
        match self.overlay {
            Some(Overlay::Help { scroll }) => scroll,
            _ => 0,
        }
    }
}
