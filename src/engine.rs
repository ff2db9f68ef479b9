//! The engine: the one thread that owns llama.cpp. Callers talk to it through
//! [`EngineHandle`]: commands in, [`EngineEvent`]s out, each reply tagged with a generation
//! number, and a cancel flag checked between tokens and prompt batches.

pub mod api;
// The modules allowed unsafe code (the crate denies it elsewhere): the eval
// callback and tensor reads, and the few raw llama.cpp / libc calls the crate wrapper
// does not offer. Every block carries a SAFETY comment.
#[allow(unsafe_code)]
mod capture;
mod check_cache;
mod fault;
#[allow(unsafe_code)]
mod ffi;
pub(crate) mod model;
mod preflight;
pub mod probe;
mod routing_build;
// llama.cpp's RPC backend (`--rpc`, `rpc-server`): three ggml-rpc entry points and the
// registry calls around them, each block with a SAFETY comment.
#[allow(unsafe_code)]
pub mod rpc;
pub mod threads;
mod utf8;
mod worker;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

use llama_cpp_2::llama_backend::LlamaBackend;
use tokio::sync::mpsc::UnboundedSender;

pub use api::*;
/// The llama.cpp context with its capture state (public for its documented guarantees;
/// experiments' teacher forcing scores token sequences with interventions through it).
pub use capture::{CaptureState, CapturedContext, RouterPlan};
pub use ffi::{leave_now, StderrRedirect};
pub use utf8::Utf8Stream;

/// llama.cpp's backend may be initialised once per process.
pub(crate) fn backend() -> Result<&'static LlamaBackend, String> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            // llama.cpp's own log lines go to tracing (the log file), never the terminal.
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init().map_err(|e| format!("llama.cpp backend: {e}"))
        })
        .as_ref()
        .map_err(|e| e.clone())
}

/// The engine thread: load and serve; after a failed load or a crash, wait for a reload.
fn run_thread(mut worker: worker::Worker, mut opts: LoadOptions) {
    let b = match backend() {
        Ok(b) => b,
        Err(e) => {
            let _ = worker.events.send(EngineEvent::LoadFailed(e));
            return;
        }
    };
    loop {
        // Commands are caught one by one inside `serve`; this catches a panic while
        // loading (no request is running then).
        let exit = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            worker::serve(b, &opts, &mut worker)
        }));
        let exit = exit.unwrap_or_else(|payload| {
            let message = worker::panic_text(payload.as_ref());
            tracing::error!("the engine panicked while loading: {message}");
            let _ = worker.events.send(EngineEvent::Crashed {
                generation: None,
                message,
            });
            worker::Exit::Down
        });
        // A reload (another experts-per-token count) loads the model again on this same
        // thread, so llama.cpp keeps one owner.
        let next = match exit {
            worker::Exit::Shutdown => None,
            worker::Exit::Reload(k) => Some(worker::Next::Reload(k)),
            worker::Exit::Switch(next) => {
                opts = *next;
                continue;
            }
            worker::Exit::Down => worker::wait_for_reload(&mut worker),
        };
        match next {
            Some(worker::Next::Reload(k)) => opts.experts_used = k,
            Some(worker::Next::Switch(path)) => opts = worker::switch_options(&opts, path),
            None => return,
        }
    }
}

/// A running engine thread.
pub struct EngineHandle {
    tx: Sender<EngineCommand>,
    cancel: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl EngineHandle {
    /// Start the engine thread; it loads the model and reports `Loaded` or `LoadFailed`.
    pub fn spawn(opts: LoadOptions, events: UnboundedSender<EngineEvent>) -> std::io::Result<Self> {
        let (tx, rx) = channel();
        let cancel = Arc::new(AtomicU64::new(0));
        let worker = worker::Worker {
            rx,
            events: events.clone(),
            cancel: cancel.clone(),
            pending: VecDeque::new(),
            interventions: None,
            lora: None,
            shutdown: false,
        };
        let thread = std::thread::Builder::new()
            .name("llama-engine".into())
            .spawn(move || run_thread(worker, opts))?;
        Ok(EngineHandle {
            tx,
            cancel,
            thread: Some(thread),
        })
    }

    /// Send a command. `Cancel` sets the cancel flag so it takes effect between tokens,
    /// without waiting behind other commands.
    pub fn send(&self, cmd: EngineCommand) {
        match cmd {
            EngineCommand::Cancel { generation } => {
                self.cancel.fetch_max(generation, Ordering::SeqCst);
            }
            other => {
                let _ = self.tx.send(other);
            }
        }
    }

    /// Stop the thread and wait for it.
    pub fn shutdown(mut self) {
        self.stop();
    }

    /// Stop the thread, waiting at most `limit` for it. The cancel flag is read between
    /// tokens, and the pinned llama.cpp wrapper offers no way to interrupt a decode in
    /// flight, so a token that a loaded machine slows to seconds would hold the caller
    /// that long. Returns whether the thread ended; when it did not, it is left running
    /// (detached) and the caller should end the process without tearing llama.cpp down
    /// under it ([`leave_now`]).
    pub fn shutdown_within(mut self, limit: std::time::Duration) -> bool {
        self.ask_to_stop();
        let Some(thread) = self.thread.take() else {
            return true;
        };
        let t0 = std::time::Instant::now();
        while !thread.is_finished() {
            if t0.elapsed() >= limit {
                tracing::warn!(
                    "the engine thread did not stop within {} ms (a decode in flight); leaving it",
                    limit.as_millis()
                );
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let _ = thread.join();
        true
    }

    /// Cancel whatever runs and queue the shutdown; the thread ends at its next check.
    fn ask_to_stop(&self) {
        self.cancel.store(u64::MAX, Ordering::SeqCst);
        let _ = self.tx.send(EngineCommand::Shutdown);
    }

    fn stop(&mut self) {
        self.ask_to_stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for EngineHandle {
    fn drop(&mut self) {
        self.stop();
    }
}
