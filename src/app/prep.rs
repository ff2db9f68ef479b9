//! First-run preparation of the default model, shown inside the app: which step runs
//! (fetch teacher, check hash, unpack, forge, verify, then the engine's load), the
//! download's bytes, rate and time left, the time so far, and when it fails or is
//! cancelled, why and the ways forward. The work runs on a worker thread
//! ([`worker::spawn`]); this state only hears its events, so it is drawn by a pure view
//! (`views::prep`) and tested without a thread.
//!
//! Keys while it is open: Esc cancels a running preparation, Enter tries again after a
//! failure or a cancel, Ctrl-Q quits (cancelling first). The lesson keys pass through, so
//! the welcome lesson beside it can be read meanwhile.

pub mod worker;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::keymap::Action;
use super::{App, Overlay};
use crate::engine::api::EngineCommand;
use crate::model::acquire::{AcquireError, PrepEvent, Step, Transfer};

/// One row of the step list: a preparation step, or the engine loading the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    Step(Step),
    Load,
}

impl Row {
    pub const ALL: [Row; 6] = [
        Row::Step(Step::FetchTeacher),
        Row::Step(Step::CheckHash),
        Row::Step(Step::Unpack),
        Row::Step(Step::Forge),
        Row::Step(Step::Verify),
        Row::Load,
    ];
}

/// Where the preparation stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// The worker is at it.
    Running,
    /// Esc was pressed; waiting for the worker to stop and clean up.
    Cancelling,
    /// The worker stopped on the cancel; nothing half-written was kept.
    Cancelled,
    /// It failed (pip missing or failing, a hash mismatch, the disk).
    Failed(AcquireError),
    /// The model is ready; the engine is loading it.
    Loading,
}

/// What the preparation view shows.
#[derive(Debug, Clone)]
pub struct Prep {
    pub phase: Phase,
    /// Rows finished so far.
    pub done: Vec<Row>,
    /// The row running now.
    pub current: Option<Row>,
    /// The download's last reading.
    pub transfer: Option<Transfer>,
    /// pip's last line.
    pub pip_line: Option<String>,
    /// Whole seconds since this attempt started.
    pub elapsed_secs: u64,
    /// Where the default model is cached (nothing half-written is left there).
    pub cache_dir: PathBuf,
    /// Counts the attempts: the event loop starts a worker whenever it grows.
    pub attempt: u32,
    cancel: Arc<AtomicBool>,
}

impl Prep {
    pub fn new(cache_dir: PathBuf) -> Self {
        Prep {
            phase: Phase::Running,
            done: Vec::new(),
            current: None,
            transfer: None,
            pip_line: None,
            elapsed_secs: 0,
            cache_dir,
            attempt: 1,
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The flag the current attempt's worker watches.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    pub fn is_finished(&self, row: Row) -> bool {
        self.done.contains(&row)
    }

    /// Take in one event of the worker.
    pub fn on_event(&mut self, e: PrepEvent) {
        match e {
            PrepEvent::Started(s) => self.current = Some(Row::Step(s)),
            PrepEvent::Finished(s) => {
                if !self.done.contains(&Row::Step(s)) {
                    self.done.push(Row::Step(s));
                }
                if self.current == Some(Row::Step(s)) {
                    self.current = None;
                }
            }
            PrepEvent::Download(t) => self.transfer = Some(t),
            PrepEvent::Pip(line) => self.pip_line = Some(crate::text::sanitize(&line)),
            PrepEvent::Note(_) => {}
        }
    }

    /// The worker ended.
    pub fn on_finished(&mut self, result: &Result<PathBuf, AcquireError>) {
        self.phase = match result {
            Ok(_) => {
                // A cached model skips steps: what came before the load is done.
                for r in Row::ALL {
                    if r != Row::Load && !self.done.contains(&r) {
                        self.done.push(r);
                    }
                }
                self.current = Some(Row::Load);
                Phase::Loading
            }
            Err(AcquireError::Cancelled) => Phase::Cancelled,
            Err(e) => Phase::Failed(e.clone()),
        };
    }

    fn cancel(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
        if self.phase == Phase::Running {
            self.phase = Phase::Cancelling;
        }
    }

    fn retry(&mut self) {
        *self = Prep {
            attempt: self.attempt + 1,
            ..Prep::new(self.cache_dir.clone())
        };
    }
}

impl App {
    /// Open the preparation view (the default model is missing). The welcome lesson
    /// opens beside it, unless a lesson already is.
    pub fn start_prep(&mut self, cache_dir: PathBuf) {
        if !self.lesson_open() {
            let _ = self.open_lesson(0);
        }
        self.overlay = Some(Overlay::Prep(Box::new(Prep::new(cache_dir))));
        self.dirty = true;
    }

    /// The preparation, while its view is open.
    pub fn prep(&self) -> Option<&Prep> {
        match &self.overlay {
            Some(Overlay::Prep(p)) => Some(p),
            _ => None,
        }
    }

    fn prep_mut(&mut self) -> Option<&mut Prep> {
        match &mut self.overlay {
            Some(Overlay::Prep(p)) => Some(p),
            _ => None,
        }
    }

    /// One event of the worker.
    pub fn on_prep_event(&mut self, e: PrepEvent) {
        if let Some(p) = self.prep_mut() {
            p.on_event(e);
            self.dirty = true;
        }
    }

    /// The worker ended; on success the model path is what the engine loads next.
    pub fn on_prep_finished(&mut self, result: Result<PathBuf, AcquireError>) {
        if let Ok(path) = &result {
            self.config.model_path = path.clone();
        }
        if let Some(p) = self.prep_mut() {
            p.on_finished(&result);
            self.dirty = true;
        }
    }

    /// The time since the attempt started, for the view (redraws when the second changes).
    pub fn prep_tick(&mut self, elapsed_secs: u64) {
        if let Some(p) = self.prep_mut() {
            if matches!(p.phase, Phase::Running | Phase::Cancelling)
                && p.elapsed_secs != elapsed_secs
            {
                p.elapsed_secs = elapsed_secs;
                self.dirty = true;
            }
        }
    }

    /// The engine answered the load the preparation led to: close the view (a failed
    /// load is said in the notice line, as for any model).
    pub(crate) fn prep_engine_event(&mut self, ev: &crate::engine::api::EngineEvent) {
        use crate::engine::api::EngineEvent;
        let loading = self.prep().is_some_and(|p| p.phase == Phase::Loading);
        if loading && matches!(ev, EngineEvent::Loaded(_) | EngineEvent::LoadFailed(_)) {
            self.overlay = None;
        }
    }

    /// Keys while the preparation view is open.
    pub(super) fn prep_action(&mut self, action: &Action) -> Option<Vec<EngineCommand>> {
        let p = self.prep_mut()?;
        match action {
            Action::Stop if p.phase == Phase::Running => p.cancel(),
            Action::Send if matches!(p.phase, Phase::Cancelled | Phase::Failed(_)) => p.retry(),
            Action::Quit | Action::Interrupt => {
                let cmds = self.quit_or_interrupt(action);
                if self.should_quit() {
                    if let Some(p) = self.prep_mut() {
                        p.cancel();
                    }
                }
                return Some(cmds);
            }
            // The lesson beside it stays usable (not the lesson list: it is an overlay).
            Action::LessonNext
            | Action::LessonBack
            | Action::LessonScrollUp
            | Action::LessonScrollDown
            | Action::SwitchLang
            | Action::Answer(_) => return None,
            _ => {}
        }
        Some(Vec::new())
    }
}
