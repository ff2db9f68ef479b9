//! The lessons part: the library, the language, the progress file, the open lesson and
//! what its current step has done (a run started, a quiz answered, experiment replies).
//! `flow` steps through lessons and acts on the app only through [`Action`]s; `grid`
//! runs an experiment step on the engine; `views::lesson` draws them.
//!
//! [`Action`]: super::keymap::Action

mod flow;
mod grid;

use crate::lessons::{
    load_dir, Lang, Lesson, Library, LiveState, Progress, ProgressStore, Step, StepKind,
};
use crate::routing::Phase;
use crate::sampling::SamplingParams;
use crate::text::markdown::StyledLine;
use crate::transcript::{Role, StopReason};

use super::conversation::ReplyStatus;
use super::App;

/// What the TUI gives the app at start.
#[derive(Debug, Clone, Default)]
pub struct LessonSetup {
    pub library: Library,
    pub lang: Lang,
    /// Where progress is saved; `None`: not saved.
    pub store: Option<ProgressStore>,
    /// Start with the lesson list open (`moe-tutor lessons`).
    pub open_list: bool,
    /// `lang` was asked for (`--lang`, or the config's `language`): it wins over the
    /// language last chosen with F10.
    pub lang_explicit: bool,
}

impl LessonSetup {
    /// The shipped lessons, progress in the data directory.
    pub fn standard(lang: Lang, lang_explicit: bool, open_list: bool) -> Self {
        LessonSetup {
            library: load_dir(&crate::lessons::default_dir()),
            lang,
            store: Some(ProgressStore::default_location()),
            open_list,
            lang_explicit,
        }
    }
}

/// One run of an experiment grid.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentCell {
    pub params: SamplingParams,
    pub generation: u64,
    pub text: String,
    /// How it ended; `None` while it runs or waits.
    pub end: Option<Result<StopReason, String>>,
}

/// What the current step has done so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepState {
    /// The step's goal is met: the run finished, the task's condition held, the quiz was
    /// answered correctly, the experiment ran.
    pub done: bool,
    /// The generation of a `run` step's reply, once sent.
    pub run_generation: Option<u64>,
    /// The quiz answer picked (0-based).
    pub answer: Option<usize>,
    pub cells: Vec<ExperimentCell>,
    /// Ctrl+N was pressed on an unmet task: pressed again, it skips the task (the model
    /// may lack what the task needs, e.g. a router preference).
    pub skip_armed: bool,
}

/// The lesson being taken.
#[derive(Debug, Clone)]
pub struct ActiveLesson {
    pub lesson: Box<Lesson>,
    pub step: usize,
    pub state: StepState,
    /// Rows the lesson pane is scrolled down.
    pub scroll: u16,
    /// The step's text (and code, question) rendered from markdown in the current language.
    pub(crate) rendered: Vec<StyledLine>,
}

impl ActiveLesson {
    pub fn current(&self) -> Option<&Step> {
        self.lesson.steps.get(self.step)
    }
    pub fn rendered(&self) -> &[StyledLine] {
        &self.rendered
    }
}

#[derive(Debug, Default)]
pub struct Lessons {
    pub(crate) library: Library,
    pub(crate) lang: Lang,
    pub(crate) store: Option<ProgressStore>,
    pub(crate) progress: Progress,
    /// Selected row of the list overlay (an index into `library.entries`).
    pub(crate) list_selected: usize,
    pub(crate) active: Option<ActiveLesson>,
}

impl Lessons {
    pub fn library(&self) -> &Library {
        &self.library
    }
    pub fn lang(&self) -> Lang {
        self.lang
    }
    pub fn progress(&self) -> &Progress {
        &self.progress
    }
    pub fn list_selected(&self) -> usize {
        self.list_selected
    }
    pub fn active(&self) -> Option<&ActiveLesson> {
        self.active.as_ref()
    }
}

impl App {
    pub fn lessons(&self) -> &Lessons {
        &self.lessons
    }

    /// The lesson pane is showing.
    pub fn lesson_open(&self) -> bool {
        self.lessons.active.is_some()
    }

    /// The state task conditions are evaluated over.
    pub fn live_state(&self) -> LiveState {
        let selected = self.selected_token().map(|(_, t)| t);
        let model = self.model();
        let n_moe = self.moe_layer_count();
        let count = |role: Role, finished: bool| {
            self.messages()
                .iter()
                .filter(|m| m.role == role)
                .filter(|m| {
                    !finished || !matches!(m.status, ReplyStatus::Streaming | ReplyStatus::Failed)
                })
                .count()
        };
        LiveState {
            temperature: self.params().temperature,
            top_p: self.params().top_p,
            seed: self.params().seed,
            pane: self.pane().name(),
            strip_mode: self.strip_mode().name(),
            preference: self.show_preference(),
            layer: (n_moe > 0).then(|| {
                let lead = model.map_or(0, |m| m.n_dense_lead);
                lead + self.layer_slot() as u32
            }),
            selected_phase: match selected.map(|t| t.phase) {
                Some(Phase::Prompt) => "prompt",
                Some(Phase::Generated) => "generated",
                None => "none",
            },
            selected_pos: selected.map(|t| t.pos),
            following: self.is_following(),
            replies: count(Role::Assistant, true),
            messages: count(Role::User, false),
            generating: self.is_generating(),
            experts_used: model.map_or(0, |m| m.n_expert_used),
            experts: model.map_or(0, |m| m.n_expert),
            help_open: self.help_open(),
            lang: self.lessons.lang.code(),
            experiment_done: self.experiment_finished(),
            lens_shown: self
                .lens()
                .is_some_and(|l| matches!(l.state, super::overlay::lens::LensState::Ready(_))),
        }
    }

    /// Whether the current step is a task whose condition holds now.
    pub fn task_holds(&self) -> bool {
        match self.lessons.active.as_ref().and_then(|a| a.current()) {
            Some(Step {
                kind: StepKind::Task { condition, .. },
                ..
            }) => condition.holds(&self.live_state()),
            _ => false,
        }
    }
}

/// A problem with the lesson progress file, in the learner's language.
fn progress_problem(p: &crate::lessons::ProgressProblem, lang: &str) -> String {
    use crate::lessons::ProgressProblem as P;
    let (P::Damaged { path, why } | P::Unreadable { path, why } | P::Unsaved { path, why }) = p;
    let path = path.display();
    let args: [(&str, &dyn std::fmt::Display); 2] = [("path", &path), ("why", why)];
    match p {
        P::Damaged { .. } => crate::i18n::tr_with("notice.progress_damaged", lang, &args),
        P::Unreadable { .. } => crate::i18n::tr_with("notice.cannot_read", lang, &args),
        P::Unsaved { .. } => crate::i18n::tr_with("notice.progress_unsaved", lang, &args),
    }
}
