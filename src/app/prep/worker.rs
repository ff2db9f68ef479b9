//! The worker thread that prepares the default model for the app: neither the UI thread
//! (it must keep drawing and answering keys) nor the engine's (there is no engine yet).
//! It sends the preparation's events and its result to the event loop.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::mpsc::UnboundedSender;

use crate::model::acquire::{self, AcquireError, DefaultModel, PrepEvent};

/// What the worker tells the event loop.
#[derive(Debug)]
pub enum PrepMsg {
    Event(PrepEvent),
    Done(Result<PathBuf, AcquireError>),
}

/// Start preparing `cfg` on a thread of its own. `cancel` stops it; the thread ends soon
/// after (pip is killed, temporary files removed) and sends `Done(Err(Cancelled))`.
pub fn spawn(
    cfg: DefaultModel,
    cancel: Arc<AtomicBool>,
    tx: UnboundedSender<PrepMsg>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("prepare-model".into())
        .spawn(move || {
            let events = tx.clone();
            let mut on = |e: PrepEvent| {
                // Notes are for headless use; the view shows steps, bytes and pip's lines.
                if !matches!(e, PrepEvent::Note(_)) {
                    let _ = events.send(PrepMsg::Event(e));
                }
            };
            let result = acquire::ensure_model_with(
                &cfg,
                &mut acquire::Prep {
                    on: &mut on,
                    cancel: &cancel,
                },
            );
            let _ = tx.send(PrepMsg::Done(result));
        })
}

/// Wait up to `limit` for a cancelled worker to clean up (the app is quitting).
pub fn join_within(handle: JoinHandle<()>, limit: std::time::Duration) {
    let deadline = std::time::Instant::now() + limit;
    while !handle.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    if handle.is_finished() {
        let _ = handle.join();
    }
}

/// The event loop's side of the preparation: starts a worker for each attempt the app
/// asks for (the first, and each Enter after a failure or cancel), and stops the last one
/// when the app ends.
pub struct Preparer {
    cfg: DefaultModel,
    tx: UnboundedSender<PrepMsg>,
    worker: Option<JoinHandle<()>>,
    cancel: Arc<AtomicBool>,
    attempt: u32,
    started: std::time::Instant,
}

impl Preparer {
    /// Open the app's preparation view and start the first attempt. Messages arrive on
    /// the returned receiver.
    pub fn start(
        cfg: DefaultModel,
        app: &mut crate::app::App,
    ) -> (Self, tokio::sync::mpsc::UnboundedReceiver<PrepMsg>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        app.start_prep(cfg.cache_dir.clone());
        let mut p = Preparer {
            cfg,
            tx,
            worker: None,
            cancel: Arc::new(AtomicBool::new(false)),
            attempt: 0,
            started: std::time::Instant::now(),
        };
        p.follow(app);
        (p, rx)
    }

    /// Start a worker when the app asked for a new attempt; keep its view's clock.
    pub fn follow(&mut self, app: &mut crate::app::App) {
        let Some(prep) = app.prep() else { return };
        if prep.attempt != self.attempt {
            self.attempt = prep.attempt;
            self.cancel = prep.cancel_flag();
            self.started = std::time::Instant::now();
            if let Some(old) = self.worker.take() {
                // A new attempt starts only after the last one reported its end.
                let _ = old.join();
            }
            match spawn(self.cfg.clone(), self.cancel.clone(), self.tx.clone()) {
                Ok(h) => self.worker = Some(h),
                Err(e) => {
                    let lang = app.lang().code();
                    let why = crate::i18n::tr_with("notice.prep_not_started", lang, &[("why", &e)]);
                    app.on_prep_finished(Err(AcquireError::Other(why)))
                }
            }
        }
        app.prep_tick(self.started.elapsed().as_secs());
    }

    /// The app ends: cancel a running worker and give it up to `limit` to clean up (pip
    /// killed, temporary files removed; a later run removes anything left).
    pub fn stop(mut self, limit: std::time::Duration) {
        self.cancel
            .store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(h) = self.worker.take() {
            join_within(h, limit);
        }
    }
}
