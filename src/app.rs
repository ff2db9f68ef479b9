//! The TUI application: state, actions, views and the event loop.
//!
//! `App` is headless: the event loop feeds it keys (`handle_key`) and engine events
//! (`on_engine_event`), sends the `EngineCommand`s it returns, and draws it with
//! [`views::render`] when [`App::needs_redraw`] says so.

pub mod keymap;
pub mod lesson;
pub mod state;
pub mod update;
pub mod views;

pub use keymap::Action;
pub use lesson::LessonSetup;
pub use state::{App, AppConfig};
