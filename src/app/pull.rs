//! `/pull NAME`: fetch a curated model in the background while the chat goes on. A worker
//! thread runs `model::pull`; its events come back over a channel that the event loop
//! drains on its frame clock ([`App::poll_pull`]); the notice line shows the progress,
//! and `/pull cancel` stops it (the `.part` file stays for the next pull to resume).
//! Tests feed [`App::on_pull_event`] and [`App::on_pull_finished`] directly.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, TryRecvError};
use std::sync::Arc;

use super::App;
use crate::i18n::tr_with;
use crate::model::pull::{
    self, find_curated, Progress, ProgressBar, PullError, PullEvent, PullOptions, PullRequest,
};

/// Where a background pull stands (plain data for the notice line).
#[derive(Debug, Clone, PartialEq)]
pub struct PullStatus {
    /// What is being fetched (a curated name).
    pub name: String,
    pub phase: PullPhase,
    pub progress: Option<Progress>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPhase {
    Asking,
    Waiting,
    Transferring,
    Verifying,
    Cancelling,
}

impl PullStatus {
    /// The notice line while it runs, in `lang`.
    pub fn line(&self, lang: &str) -> String {
        let what = match (self.phase, &self.progress) {
            (PullPhase::Asking, _) => tr_with("pull.resolving", lang, &[("file", &self.name)]),
            (PullPhase::Waiting, _) => tr_with("pull.waiting", lang, &[]),
            (PullPhase::Verifying, _) => tr_with("pull.verifying", lang, &[]),
            (PullPhase::Cancelling, _) => tr_with("pull.tui.cancelling", lang, &[]),
            (PullPhase::Transferring, Some(p)) => ProgressBar { width: 20 }.render(p, lang),
            (PullPhase::Transferring, None) => String::new(),
        };
        tr_with(
            "pull.tui.status",
            lang,
            &[("name", &self.name), ("what", &what)],
        )
    }
}

#[derive(Debug)]
enum PullMsg {
    Event(PullEvent),
    Done(Result<PathBuf, PullError>),
}

/// A pull in flight.
#[derive(Debug)]
pub struct PullTask {
    pub status: PullStatus,
    cancel: Arc<AtomicBool>,
    rx: Option<Receiver<PullMsg>>,
}

impl App {
    /// Start fetching `req` (shown as `name`) on a worker thread. Refused, with a notice,
    /// while another pull runs. The model picker calls this too.
    pub fn start_pull(&mut self, req: PullRequest, name: &str, opts: PullOptions) -> bool {
        let lang = self.lang().code();
        if self.pull.is_some() {
            self.error(tr_with("pull.tui.busy", lang, &[]));
            return false;
        }
        let cancel = Arc::new(AtomicBool::new(false));
        let (tx, rx) = channel();
        let flag = Arc::clone(&cancel);
        let spawned = std::thread::Builder::new()
            .name("model-pull".into())
            .spawn(move || {
                let events = tx.clone();
                let r = pull::pull(&req, &opts, &flag, &mut |e| {
                    let _ = events.send(PullMsg::Event(e));
                });
                let _ = tx.send(PullMsg::Done(r));
            });
        if let Err(e) = spawned {
            self.error(PullError::Io(e.to_string()).message(lang));
            return false;
        }
        self.pull = Some(PullTask {
            status: PullStatus {
                name: name.to_string(),
                phase: PullPhase::Asking,
                progress: None,
            },
            cancel,
            rx: Some(rx),
        });
        self.show_pull();
        true
    }

    /// The background pull's state, if one runs.
    pub fn pull_status(&self) -> Option<&PullStatus> {
        self.pull.as_ref().map(|t| &t.status)
    }

    /// Ask the running pull to stop (it keeps its `.part`).
    pub fn cancel_pull(&mut self) {
        if let Some(t) = self.pull.as_mut() {
            t.cancel.store(true, Ordering::Relaxed);
            t.status.phase = PullPhase::Cancelling;
        }
        self.show_pull();
    }

    /// Take in what the worker reported since the last frame.
    pub fn poll_pull(&mut self) {
        loop {
            let Some(rx) = self.pull.as_ref().and_then(|t| t.rx.as_ref()) else {
                return;
            };
            match rx.try_recv() {
                Ok(PullMsg::Event(e)) => self.on_pull_event(e),
                Ok(PullMsg::Done(r)) => self.on_pull_finished(r),
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => {
                    self.on_pull_finished(Err(PullError::Io("the pull stopped".into())));
                    return;
                }
            }
        }
    }

    pub fn on_pull_event(&mut self, e: PullEvent) {
        let Some(t) = self.pull.as_mut() else {
            return;
        };
        if t.status.phase != PullPhase::Cancelling {
            match e {
                PullEvent::Resolved { total, resume_from } => {
                    t.status.phase = PullPhase::Transferring;
                    t.status.progress = Some(Progress {
                        done: resume_from,
                        total,
                        rate: 0.0,
                    });
                }
                PullEvent::WaitingForLock => t.status.phase = PullPhase::Waiting,
                PullEvent::Restarted => {}
                PullEvent::Progress(p) => {
                    t.status.phase = PullPhase::Transferring;
                    t.status.progress = Some(p);
                }
                PullEvent::Verifying => t.status.phase = PullPhase::Verifying,
            }
        }
        self.show_pull();
    }

    pub fn on_pull_finished(&mut self, r: Result<PathBuf, PullError>) {
        let Some(t) = self.pull.take() else {
            return;
        };
        let lang = self.lang().code();
        match r {
            Ok(path) => self.info(tr_with(
                "pull.tui.done",
                lang,
                &[("name", &t.status.name), ("path", &path.display())],
            )),
            Err(e) => self.error(e.message(lang)),
        }
        self.dirty = true;
    }

    fn show_pull(&mut self) {
        let lang = self.lang().code();
        if let Some(line) = self.pull.as_ref().map(|t| t.status.line(lang)) {
            self.info(line);
        }
        self.dirty = true;
    }

    /// `/pull NAME`, `/pull REPO FILE`, `/pull cancel`, `/pull` (what can be fetched).
    pub(super) fn cmd_pull(
        &mut self,
        args: &super::commands::Args,
    ) -> Vec<crate::engine::api::EngineCommand> {
        let lang = self.lang().code();
        match args.first() {
            Some("cancel" | "stop") => self.cancel_pull(),
            Some(repo) if args.words.len() == 2 => {
                let file = args.words[1];
                self.start_pull(PullRequest::new(repo, file), file, PullOptions::from_env());
            }
            Some(name) => match find_curated(name) {
                Some(m) => {
                    self.start_pull(m.request(), &m.name, PullOptions::from_env());
                }
                None => self.error(tr_with("pull.err.unknown_name", lang, &[("name", &name)])),
            },
            None => {
                let names: Vec<String> = pull::curated_offers(lang)
                    .into_iter()
                    .map(|o| o.label)
                    .collect();
                self.info(names.join(" · "));
            }
        }
        Vec::new()
    }
}
