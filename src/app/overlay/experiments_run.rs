//! Running the overlay's grid on the chat's engine: the experiment driver gets the engine
//! events of its generations (and the reloads it asked for) before the chat; when it is
//! done the runs are compared, KL measured, files and plots written into a dated folder
//! under the data directory, and the chat's experts per token and interventions restored.

use std::path::{Path, PathBuf};

use crate::app::App;
use crate::engine::api::{EngineCommand, EngineEvent, LoadOptions};
use crate::experiments::{compare, files, plan, plots, run, teacher, Driver, ModelShape, Progress};
use crate::i18n::{tr, tr_with};

/// Where the overlay is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Form,
    Running,
    /// The runs are over; KL, files and plots are being made on a worker thread.
    Measuring,
    Results,
}

/// How far the runs are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunProgress {
    /// 1-based run in flight (0 before the first).
    pub run: usize,
    pub total: usize,
    /// Tokens of the run in flight, and the most it may have.
    pub tokens: usize,
    pub max_tokens: u32,
    /// The model is being loaded again with this k.
    pub reloading: Option<u32>,
}

/// The run in flight.
pub struct Live {
    driver: Driver,
    /// The generation numbers the runs use.
    generations: std::ops::Range<u64>,
    /// Experts per token the chat had, and the last k the model was loaded with.
    chat_k: u32,
    loaded_k: u32,
    shape: ModelShape,
    load: LoadOptions,
    /// Whether the chat uses a LoRA adapter (KL is not measured then: the teacher loads the
    /// model file alone).
    lora: bool,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("generations", &self.generations)
            .field("loaded_k", &self.loaded_k)
            .finish_non_exhaustive()
    }
}

/// A new dated folder under `root` (`20261201-051200`, `-2`, ... when taken).
fn dated_dir(root: &Path) -> PathBuf {
    let stamp = crate::store::time::file_stamp(crate::store::time::now());
    let mut dir = root.join(&stamp);
    let mut n = 2;
    while dir.exists() {
        dir = root.join(format!("{stamp}-{n}"));
        n += 1;
    }
    dir
}

fn apply(p: &mut RunProgress, ev: Progress) {
    match ev {
        Progress::Started { index, total } => {
            p.run = index + 1;
            p.total = total;
            p.tokens = 0;
            p.reloading = None;
        }
        Progress::Tokens { tokens, .. } => p.tokens = tokens,
        Progress::Reloading { experts_used } => p.reloading = Some(experts_used),
        Progress::Finished { .. } => {}
    }
}

impl App {
    /// Enter in the form: check the grid against the loaded model and start the runs.
    pub(super) fn start_experiment(&mut self) -> Vec<EngineCommand> {
        let lang = self.lang().code();
        let busy = self.chat.cannot_start(lang);
        let model = self.model().cloned();
        let lora = self.lora().is_some_and(|(_, on)| on);
        let load = LoadOptions::new(&self.config().model_path);
        let Some(e) = self.experiments_mut() else {
            return Vec::new();
        };
        let (Some(info), None) = (model, busy.as_deref()) else {
            e.error = Some(busy.unwrap_or_else(|| tr("notice.no_model_loaded", lang)));

            return Vec::new();
        };
        let shape = ModelShape::of(&info);
        let checked = e.form.grid_in(lang).and_then(|g| plan(&g, &shape));
        let p = match checked {
            Ok(p) => p,
            Err(msg) => {
                e.error = Some(msg);
                return Vec::new();
            }
        };
        let dir = dated_dir(&crate::paths::data_dir().join("experiments"));
        let total = p.runs.len();
        let max_tokens = p.grid.max_tokens;
        let first = self.chat.next_generation();
        for _ in 1..total {
            self.chat.next_generation();
        }
        let Some(e) = self.experiments_mut() else {
            return Vec::new();
        };
        let mut driver = match Driver::new(p, &dir, &info, first) {
            Ok(d) => d,
            Err(err) => {
                let path = dir.display();
                let args: [(&str, &dyn std::fmt::Display); 2] = [("path", &path), ("why", &err)];
                e.error = Some(tr_with("notice.cannot_create", lang, &args));
                return Vec::new();
            }
        };
        e.error = None;
        e.results.clear();
        e.cancelled = false;
        e.dir = Some(dir);
        e.phase = Phase::Running;
        e.progress = RunProgress {
            total,
            max_tokens,
            ..RunProgress::default()
        };
        let mut progress = Vec::new();
        let cmds = driver.start(&mut |ev| progress.push(ev));
        for ev in progress {
            apply(&mut e.progress, ev);
        }
        e.live = Some(Box::new(Live {
            driver,
            generations: first..first + total as u64,
            chat_k: info.n_expert_used,
            loaded_k: info.n_expert_used,
            shape,
            load,
            lora,
        }));
        self.info(tr("exp.started", lang));
        cmds
    }

    /// Collect the measuring thread's results once they are there. Returns whether the
    /// overlay changed (the event loop calls this on its frame clock).
    pub fn poll_experiment(&mut self) -> bool {
        let lang = self.lang().code();
        let Some(e) = self.experiments_mut() else {
            return false;
        };
        let got = match e.measuring.as_ref().map(|rx| rx.try_recv()) {
            Some(Ok(got)) => got,
            Some(Err(std::sync::mpsc::TryRecvError::Disconnected)) => (
                e.results.clone(),
                vec![tr("notice.measuring_stopped", lang)],
            ),
            Some(Err(std::sync::mpsc::TryRecvError::Empty)) | None => return false,
        };
        let (results, problems) = got;
        e.measuring = None;
        e.results = results;
        e.error = (!problems.is_empty()).then(|| problems.join("; "));
        e.phase = Phase::Results;
        self.dirty = true;
        self.lesson_tick();
        true
    }

    /// Esc while running: stop after the run in flight; finished runs are kept.
    pub(super) fn cancel_experiment(&mut self) -> Vec<EngineCommand> {
        let Some(e) = self.experiments_mut() else {
            return Vec::new();
        };
        e.cancelled = true;
        let mut cmds = e
            .live
            .as_mut()
            .map(|l| l.driver.cancel())
            .unwrap_or_default();
        if e.live.as_ref().is_some_and(|l| l.driver.is_done()) {
            cmds.extend(self.finish_experiment());
        }
        cmds
    }

    /// Give an engine event to the experiment in flight. Returns whether it took it.
    pub(crate) fn experiment_engine_event(&mut self, ev: &EngineEvent) -> bool {
        let Some(e) = self.experiments_mut() else {
            return false;
        };
        let Some(live) = e.live.as_mut() else {
            return false;
        };
        let ours = match ev {
            EngineEvent::Prompt { generation, .. }
            | EngineEvent::PrefillProgress { generation, .. }
            | EngineEvent::Token { generation, .. }
            | EngineEvent::Tail { generation, .. }
            | EngineEvent::Ended { generation, .. }
            | EngineEvent::Done { generation, .. }
            | EngineEvent::Error { generation, .. } => live.generations.contains(generation),
            EngineEvent::Loaded(info) => {
                live.loaded_k = info.n_expert_used;
                true
            }
            EngineEvent::LoadFailed(_) | EngineEvent::InterventionsRefused { .. } => true,
            EngineEvent::Crashed { .. }
            | EngineEvent::SwitchRefused { .. }
            | EngineEvent::Lens { .. } => false,
        };
        if !ours {
            return false;
        }
        let mut progress = Vec::new();
        let cmds = live.driver.on_event(ev, &mut |p| progress.push(p));
        for p in progress {
            apply(&mut e.progress, p);
        }
        e.outbox.extend(cmds);
        if live.driver.is_done() {
            let cmds = self.finish_experiment();
            if let Some(e) = self.experiments_mut() {
                e.outbox.extend(cmds);
            }
        }
        true
    }

    /// All runs done (or cancelled): give the engine back to the chat at once, and measure
    /// KL, write the files and draw the plots on a worker thread (the teacher reads the
    /// model file again: seconds on a real model), which [`App::poll_experiment`] collects.
    fn finish_experiment(&mut self) -> Vec<EngineCommand> {
        let lang = self.lang().code();
        let interventions = self.interventions.clone();
        let Some(e) = self.experiments_mut() else {
            return Vec::new();
        };
        let Some(mut live) = e.live.take() else {
            return Vec::new();
        };
        e.phase = Phase::Measuring;
        e.col = 0;
        e.row = 0;
        let mut results = std::mem::take(&mut live.driver.results);
        let problems: Vec<String> = live.driver.fatal.take().into_iter().collect();
        compare::against_baselines(&mut results);
        e.results = results.clone();
        let mut saved = live.driver.plan().grid.clone();
        let kl_lora = tr("exp.kl_lora", lang);
        let (tx, rx) = std::sync::mpsc::channel();
        let dir = e.dir.clone();
        let (load, shape, lora) = (live.load.clone(), live.shape, live.lora);
        let work = move || {
            let mut problems = problems;
            if lora {
                for r in results.iter_mut().filter(|r| r.spec.baseline.is_some()) {
                    r.versus.kl_note = Some(kl_lora.clone());
                }
            } else if let Err(err) = teacher::fill_kl(&mut results, &load, &shape, &mut |_| {}) {
                problems.push(err);
            }
            saved.model = run::model_ref(&load).ok();
            if let Some(dir) = &dir {
                let pairs = compare::pairs(&results);
                if let Err(err) = files::write_all(dir, &saved, &results, &pairs) {
                    problems.push(err);
                } else if let Err(err) = plots::write_all(dir, &results) {
                    problems.push(err);
                }
            }
            let _ = tx.send((results, problems));
        };
        match std::thread::Builder::new()
            .name("experiment-measure".into())
            .spawn(work)
        {
            Ok(_) => e.measuring = Some(rx),
            Err(err) => {
                e.phase = Phase::Results;
                e.error = Some(tr_with(
                    "notice.measuring_not_started",
                    lang,
                    &[("why", &err)],
                ));
            }
        }
        let mut cmds = Vec::new();
        if live.loaded_k != live.chat_k {
            cmds.push(EngineCommand::Reload {
                experts_used: Some(live.chat_k),
            });
        }
        cmds.push(EngineCommand::SetInterventions(interventions));
        cmds.push(EngineCommand::Reset);
        cmds
    }
}
