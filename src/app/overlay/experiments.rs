//! The experiments overlay (F11, `/experiment [FILE]`): a form for a grid, the runs with a
//! progress bar, the results side by side, and a chart of a metric against a swept
//! parameter with the usage difference as a heatmap. Running is in `experiments_run.rs`;
//! the form in `experiments_form.rs`; the views in `views/experiments*.rs`.

use std::path::PathBuf;

use super::experiments_form::Form;
pub use super::experiments_run::{Phase, RunProgress};
use crate::app::keymap::Action;
use crate::app::App;
use crate::engine::api::EngineCommand;
use crate::experiments::{Grid, RunResult};

/// The overlay's state. Views read its plain fields; the run in flight is private.
#[derive(Debug)]
pub struct Experiments {
    pub form: Form,
    pub phase: Phase,
    pub progress: RunProgress,
    /// Finished runs (all of them once the experiment is over).
    pub results: Vec<RunResult>,
    /// The experiment's folder (shown once the files are written).
    pub dir: Option<PathBuf>,
    pub cancelled: bool,
    /// What went wrong (a form mistake, a refusal, a failed write).
    pub error: Option<String>,
    /// The results as the chart (else the table).
    pub chart: bool,
    /// First run column shown, and rows scrolled, in the table.
    pub col: usize,
    pub row: usize,
    /// Indexes into `plots::METRICS`, the swept parameters, and the usage differences.
    pub metric: usize,
    pub param: usize,
    pub diff: usize,
    pub(super) live: Option<Box<super::experiments_run::Live>>,
    /// The measuring thread's answer: the runs with KL, and what went wrong.
    pub(super) measuring: Option<std::sync::mpsc::Receiver<(Vec<RunResult>, Vec<String>)>>,
    /// Commands for the engine produced while handling engine events.
    pub(super) outbox: Vec<EngineCommand>,
}

impl Experiments {
    pub fn new(form: Form) -> Self {
        Experiments {
            form,
            phase: Phase::Form,
            progress: RunProgress::default(),
            results: Vec::new(),
            dir: None,
            cancelled: false,
            error: None,
            chart: false,
            col: 0,
            row: 0,
            metric: 0,
            param: 0,
            diff: 0,
            live: None,
            measuring: None,
            outbox: Vec::new(),
        }
    }

    /// The number of runs the form asks for, or why it cannot be run.
    pub fn run_count(
        &self,
        shape: Option<crate::experiments::ModelShape>,
        lang: &str,
    ) -> Result<usize, String> {
        let grid = self.form.grid_in(lang)?;
        let shape = shape.ok_or_else(|| crate::i18n::tr("notice.no_model_loaded", lang))?;
        crate::experiments::plan(&grid, &shape).map(|p| p.runs.len())
    }

    /// Runs are in flight, or being measured: the overlay stays, chat input waits.
    pub fn is_running(&self) -> bool {
        matches!(self.phase, Phase::Running | Phase::Measuring)
    }

    fn results_key(&mut self, action: &Action) -> bool {
        let n = self.results.len();
        match action {
            Action::CursorLeft => self.col = self.col.saturating_sub(1),
            Action::CursorRight => self.col = (self.col + 1).min(n.saturating_sub(1)),
            Action::CursorUp | Action::ScrollUp => self.row = self.row.saturating_sub(1),
            Action::CursorDown | Action::ScrollDown => self.row += 1,
            Action::Insert('c') => self.chart = !self.chart,
            Action::Insert('m') => {
                self.metric = (self.metric + 1) % crate::experiments::plots::METRICS.len()
            }
            Action::Insert('p') => self.param += 1,
            Action::Insert('s') => self.diff += 1,
            Action::Insert('n') => {
                self.phase = Phase::Form;
                self.chart = false;
            }
            Action::Stop if self.chart => self.chart = false,
            Action::Stop => return false,
            _ => {}
        }
        true
    }
}

impl App {
    /// Open the overlay: with `grid` (a file, a lesson), else a form for the last user
    /// message and the chat's sampling settings.
    pub(crate) fn open_experiments(&mut self, grid: Option<Grid>) {
        // The first-run preparation stays open: there is no model to run a grid on yet.
        if matches!(self.overlay, Some(super::Overlay::Prep(_))) {
            self.info(crate::i18n::tr("exp.not_ready", self.lang().code()));
            return;
        }
        if let Some(super::Overlay::Experiments(e)) = &self.overlay {
            if e.is_running() {
                return;
            }
        }
        let form = match &grid {
            Some(g) => Form::from_grid(g),
            None => {
                let last = self
                    .messages()
                    .iter()
                    .rev()
                    .find(|m| m.role == crate::transcript::Role::User)
                    .map_or(String::new(), |m| m.content.clone());
                Form::new(&last, self.params())
            }
        };
        self.overlay = Some(super::Overlay::Experiments(Box::new(Experiments::new(
            form,
        ))));
    }

    /// `/experiment [FILE]`: open the overlay, with the grid of a TOML file if one is named.
    pub(crate) fn cmd_experiment(
        &mut self,
        args: &crate::app::commands::Args,
    ) -> Vec<EngineCommand> {
        if args.rest.is_empty() {
            self.open_experiments(None);
            return Vec::new();
        }
        let lang = self.lang().code();
        let grid = std::fs::read_to_string(args.rest)
            .map_err(|e| {
                let args: [(&str, &dyn std::fmt::Display); 2] = [("path", &args.rest), ("why", &e)];
                crate::i18n::tr_with("notice.cannot_read", lang, &args)
            })
            .and_then(|t| Grid::from_toml(&t));
        match grid {
            Ok(g) => self.open_experiments(Some(g)),
            Err(e) => self.error(e),
        }
        Vec::new()
    }

    /// The experiments overlay, while open.
    pub fn experiments(&self) -> Option<&Experiments> {
        match &self.overlay {
            Some(super::Overlay::Experiments(e)) => Some(e),
            _ => None,
        }
    }

    pub(super) fn experiments_mut(&mut self) -> Option<&mut Experiments> {
        match &mut self.overlay {
            Some(super::Overlay::Experiments(e)) => Some(e),
            _ => None,
        }
    }

    /// Keys while the experiments overlay is open.
    pub(super) fn experiments_action(&mut self, action: &Action) -> Vec<EngineCommand> {
        let lang = self.lang().code();
        let Some(e) = self.experiments_mut() else {
            return Vec::new();
        };
        match e.phase {
            Phase::Measuring => match action {
                Action::Send | Action::SendText { .. } | Action::Regenerate => {
                    self.error(crate::i18n::tr("exp.busy_measuring", lang));
                }
                Action::Quit | Action::Interrupt => {
                    self.overlay = None;
                    return self.quit_or_interrupt(action);
                }
                _ => {}
            },
            Phase::Running => match action {
                Action::Stop | Action::Interrupt => return self.cancel_experiment(),
                Action::Quit => {
                    let mut cmds = self.cancel_experiment();
                    cmds.extend(self.quit_or_interrupt(action));
                    return cmds;
                }
                Action::Send | Action::SendText { .. } | Action::Regenerate => {
                    self.error(crate::i18n::tr("exp.busy", lang));
                }
                _ => {}
            },
            Phase::Results => match action {
                Action::Quit | Action::Interrupt => {
                    self.overlay = None;
                    return self.quit_or_interrupt(action);
                }
                a => {
                    if !e.results_key(a) {
                        self.overlay = None;
                    }
                }
            },
            Phase::Form => match action {
                Action::Stop | Action::CloseOverlay => self.overlay = None,
                Action::Send => return self.start_experiment(),
                Action::CursorUp => e.form.focus_next(false),
                Action::CursorDown | Action::InsertNewline => e.form.focus_next(true),
                Action::Insert(c) => e.form.insert(*c),
                Action::Backspace => e.form.backspace(),
                Action::Quit | Action::Interrupt => {
                    self.overlay = None;
                    return self.quit_or_interrupt(action);
                }
                _ => {}
            },
        }
        Vec::new()
    }

    /// Commands the experiment produced while handling engine events; the event loop
    /// sends them after each batch of events.
    pub fn take_engine_commands(&mut self) -> Vec<EngineCommand> {
        self.experiments_mut()
            .map(|e| std::mem::take(&mut e.outbox))
            .unwrap_or_default()
    }

    /// Whether an experiment has finished since the overlay was opened (a lesson waits
    /// for this).
    pub fn experiment_finished(&self) -> bool {
        self.experiments()
            .is_some_and(|e| e.phase == Phase::Results && !e.results.is_empty())
    }
}
