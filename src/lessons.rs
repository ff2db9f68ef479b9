//! Guided lessons: TOML files in `lessons/` that drive the live model (see
//! `lessons/README.md` for the format).
//!
//! Plain data only, no UI: [`model`] holds a validated lesson, [`load`] parses files and
//! reports `file:line: message` diagnostics, [`condition`] is the small expression language
//! of task steps, evaluated over a [`condition::LiveState`] snapshot the app fills in, and
//! [`progress`] saves where the learner is.

pub mod cli;
pub mod condition;
pub mod load;
pub mod model;
pub mod progress;
mod raw;
mod validate;

pub use condition::{Condition, LiveState, Var};
pub use load::{check_dir, load_dir, LessonEntry, Library};
pub use model::{Lang, Lesson, Step, StepKind, Text};
pub use progress::{LessonProgress, Progress, ProgressProblem, ProgressStore};
pub use raw::{line_of, Diagnostic};

use std::path::PathBuf;

/// The lessons shipped with the source tree (`lessons/` beside `Cargo.toml`), or
/// `./lessons` when that is gone (an installed binary run from a checkout).
/// The lesson language: `--lang` if given (an unknown one is an error), else the locale.
pub fn resolve_lang(flag: Option<&str>) -> Result<Lang, String> {
    match flag {
        Some(s) => Lang::parse(s)
            .ok_or_else(|| format!("unknown language \"{s}\": use --lang en or --lang zh-CN")),
        None => Ok(Lang::from_locale()),
    }
}

pub fn default_dir() -> PathBuf {
    let built = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/lessons"));
    if built.is_dir() {
        return built;
    }
    PathBuf::from("lessons")
}
