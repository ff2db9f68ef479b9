//! The engine thread: owns the llama.cpp model and context, serves commands one at a time,
//! and streams events back. The UI never waits on it.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use tokio::sync::mpsc::UnboundedSender;

mod branch;
mod forced;
mod lens;
mod session;

use super::api::*;
use super::capture::{CaptureState, CapturedContext, RouterPlan};
use crate::sampling::SamplingParams;
use crate::text::sanitize;
use session::Session;

pub(super) const N_BATCH: u32 = 512;

/// The most logits one decode may ask llama.cpp for: 16M floats, 64 MiB.
pub(super) const MAX_LOGIT_FLOATS: usize = 16 << 20;

/// Tokens per batch (and micro-batch) for a vocabulary of `n_vocab` tokens. Capture asks
/// for every prompt token's output (llama.cpp routes only those through the last layer),
/// and llama.cpp sizes its logits for a whole batch twice over: the output buffer
/// (n_vocab x outputs) and the compute graph it reserves for a full micro-batch. At 512
/// tokens a 151k vocabulary would take 311 MB each; this keeps each within 64 MiB.
pub(super) fn prompt_batch(n_vocab: u32) -> u32 {
    let fit = MAX_LOGIT_FLOATS / (n_vocab.max(1) as usize);
    fit.clamp(1, N_BATCH as usize) as u32
}

/// Everything a running engine needs besides the model and context.
pub(super) struct Worker {
    pub rx: Receiver<EngineCommand>,
    pub events: UnboundedSender<EngineEvent>,
    pub cancel: Arc<AtomicU64>,
    pub pending: VecDeque<EngineCommand>,
    /// Interventions that arrived mid-reply, applied before the next decode.
    pub interventions: Option<crate::routing::Interventions>,
    /// A LoRA switch that arrived mid-reply, applied before the next decode.
    pub lora: Option<bool>,
    pub shutdown: bool,
}

impl Worker {
    pub(super) fn emit(&self, ev: EngineEvent) {
        // The receiver is gone only when the caller is shutting down; nothing to do then.
        let _ = self.events.send(ev);
    }

    pub(super) fn cancelled(&self, generation: u64) -> bool {
        self.cancel.load(Ordering::SeqCst) >= generation
    }

    /// Take commands that arrived while busy: sampling changes apply at once, the rest wait.
    pub(super) fn drain(&mut self, params: &mut SamplingParams) {
        loop {
            match self.rx.try_recv() {
                Ok(EngineCommand::SetSampling(p)) => *params = p.clamped(),
                Ok(EngineCommand::SetInterventions(i)) => self.interventions = Some(i),
                Ok(EngineCommand::SetLora(on)) => self.lora = Some(on),
                Ok(EngineCommand::Shutdown) | Err(TryRecvError::Disconnected) => {
                    self.shutdown = true;
                    return;
                }
                Ok(other) => self.pending.push_back(other),
                Err(TryRecvError::Empty) => return,
            }
        }
    }

    pub(super) fn next_command(&mut self) -> Option<EngineCommand> {
        if let Some(c) = self.pending.pop_front() {
            return Some(c);
        }
        self.rx.recv().ok()
    }
}

/// Why [`serve`] returned.
pub(super) enum Exit {
    Shutdown,
    /// Load again with these experts per token.
    Reload(Option<u32>),
    /// Load another model (its file passed the checks).
    Switch(Box<LoadOptions>),
    /// Loading failed (`LoadFailed` was sent) or a command panicked (`Crashed` was sent):
    /// the model and context are gone; wait for a reload.
    Down,
}

fn load_failed(w: &Worker, message: String) -> Exit {
    tracing::warn!("load failed: {message}");
    w.emit(EngineEvent::LoadFailed(message));
    Exit::Down
}

/// The text of a panic's payload.
pub(super) fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// What to load after a failed load or a crash.
pub(super) enum Next {
    Reload(Option<u32>),
    Switch(PathBuf),
}

/// With no model loaded (after a failed load or a crash): answer requests with an error
/// until a reload or a switch (returned) or shutdown (`None`).
pub(super) fn wait_for_reload(w: &mut Worker) -> Option<Next> {
    while !w.shutdown {
        match w.next_command()? {
            EngineCommand::Reload { experts_used } => return Some(Next::Reload(experts_used)),
            EngineCommand::SwitchModel { path } => return Some(Next::Switch(path)),
            EngineCommand::Shutdown => return None,
            EngineCommand::Generate { generation, .. }
            | EngineCommand::Branch { generation, .. }
            | EngineCommand::Lens { generation, .. } => w.emit(EngineEvent::Error {
                generation,
                message: "no model is loaded; /experts or a restart loads it again".into(),
            }),
            _ => {}
        }
    }
    None
}

/// Load, then serve commands until shutdown or a reload.
pub(super) fn serve(backend: &LlamaBackend, opts: &LoadOptions, w: &mut Worker) -> Exit {
    w.interventions = None;
    w.lora = None;
    let stop = || w.shutdown || w.cancel.load(Ordering::SeqCst) == u64::MAX;
    let (model, mut info) = match super::model::load(backend, opts, &stop) {
        Ok(m) => m,
        Err(e) => return load_failed(w, e),
    };
    let mut adapter = match super::model::load_lora_checked(&model, opts, &stop) {
        Ok(a) => a,
        Err(e) => return load_failed(w, e),
    };
    let n_ctx = match opts.n_ctx {
        0 => model.n_ctx_train().min(8192),
        n => n.min(model.n_ctx_train().max(64)),
    }
    .max(64);
    let n_batch = prompt_batch(info.n_vocab);
    let cparams = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx))
        .with_n_batch(n_batch)
        .with_n_ubatch(n_batch)
        .with_n_threads(opts.threads.max(1))
        .with_n_threads_batch(opts.threads.max(1));
    // The capture callback is always installed: with capture off and no interventions it
    // declines every tensor, so llama.cpp computes each graph split in one go as without it.
    let plan = RouterPlan::from_gguf(
        &opts.model,
        info.n_layer,
        info.n_expert_used,
        info.n_dense_lead,
    );
    let state = CaptureState::new(opts.capture, plan);
    let ctx = match CapturedContext::new(&model, backend, cparams, state) {
        Ok(c) => c,
        Err(e) => {
            return load_failed(
                w,
                format!("llama.cpp could not create a context of {n_ctx} tokens: {e}"),
            )
        }
    };
    // A merged adapter is already in the weights: "on" applies nothing.
    let merged = adapter.is_some() && super::model::lora_merged(&opts.model);
    if let Some(a) = adapter.as_mut().filter(|_| !merged) {
        if let Err(e) = ctx.lora_adapter_set(a, 1.0) {
            return load_failed(
                w,
                format!("llama.cpp could not apply the LoRA adapter: {e}"),
            );
        }
    }
    if adapter.is_some() {
        info.lora_adapter = opts
            .lora
            .as_ref()
            .and_then(|p| p.file_name())
            .map(|n| sanitize(&n.to_string_lossy()));
    }
    info.n_ctx = ctx.n_ctx();
    let template = model
        .chat_template(None)
        .ok()
        .and_then(|t| t.to_string().ok());
    w.emit(EngineEvent::Loaded(Box::new(info.clone())));

    let mut session = Session {
        model: &model,
        ctx,
        cached: Vec::new(),
        info,
        template,
        batch: LlamaBatch::new(N_BATCH as usize, 1),
        adapter,
        lora_merged: merged,
        lora_on: true,
        stale: false,
        contention: contention_for(opts.threads),
    };
    while !w.shutdown {
        let Some(cmd) = w.next_command() else { break };
        if let EngineCommand::SwitchModel { path } = cmd {
            if let Some(exit) = switch_checked(w, opts, path) {
                return exit;
            }
            continue;
        }
        let generation = match &cmd {
            EngineCommand::Generate { generation, .. }
            | EngineCommand::Branch { generation, .. }
            | EngineCommand::Lens { generation, .. } => Some(*generation),
            _ => None,
        };
        // A panic while handling a command must not take the thread (and the UI's view of
        // it) down: it becomes a `Crashed` event, and everything llama.cpp touched (the
        // context, the model) is dropped on the way out, as it may be in any state.
        let step = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            handle(cmd, w, &mut session)
        }));
        match step {
            Ok(Some(exit)) => return exit,
            Ok(None) => {}
            Err(payload) => {
                let message = panic_text(payload.as_ref());
                tracing::error!("the engine panicked (generation {generation:?}): {message}");
                w.emit(EngineEvent::Crashed {
                    generation,
                    message,
                });
                return Exit::Down;
            }
        }
    }
    Exit::Shutdown
}

/// Options for loading `path` instead of the current model: its own experts per token,
/// no LoRA adapter (one made for another model would not fit).
pub(super) fn switch_options(opts: &LoadOptions, path: PathBuf) -> LoadOptions {
    let mut next = opts.clone();
    next.model = path;
    next.experts_used = None;
    next.lora = None;
    next
}

/// Check a switch target while the current model stays loaded: `Some(Exit::Switch)` when
/// it may be loaded, else `SwitchRefused` is sent and serving goes on.
fn switch_checked(w: &Worker, opts: &LoadOptions, path: PathBuf) -> Option<Exit> {
    let next = switch_options(opts, path);
    let cancel = w.cancel.clone();
    let stop = move || cancel.load(Ordering::SeqCst) == u64::MAX;
    match super::model::check_before_switch(&next, &stop) {
        Ok(()) => Some(Exit::Switch(Box::new(next))),
        Err(message) => {
            tracing::warn!("model switch refused: {message}");
            w.emit(EngineEvent::SwitchRefused {
                path: sanitize(&next.model.display().to_string()),
                message: sanitize(&message),
            });
            None
        }
    }
}

/// Handle one command; `Some` ends [`serve`].
fn handle(cmd: EngineCommand, w: &mut Worker, session: &mut Session) -> Option<Exit> {
    match cmd {
        EngineCommand::Generate {
            generation,
            request,
        } => {
            super::fault::maybe_panic_on_generate();
            let mut params = request.params.clamped();
            session.generate(w, generation, &request, &mut params);
        }
        EngineCommand::Branch { generation, branch } => {
            let mut params = branch.request.params.clamped();
            session.branch(w, generation, &branch, &mut params);
        }
        EngineCommand::Lens {
            generation,
            start,
            tokens,
        } => session.lens(w, generation, start as usize, &tokens),
        // Settings sent while idle travel with the next request anyway.
        EngineCommand::SetSampling(_) => {}
        EngineCommand::SetInterventions(i) => session.set_interventions(w, i),
        EngineCommand::SetLora(on) => session.set_lora(on),
        EngineCommand::Reload { experts_used } => return Some(Exit::Reload(experts_used)),
        // Taken out by `serve` before it gets here (it needs the load options).
        EngineCommand::SwitchModel { .. } => {}
        EngineCommand::Reset => session.reset(),
        EngineCommand::Cancel { .. } => {}
        EngineCommand::Shutdown => return Some(Exit::Shutdown),
    }
    None
}

/// The load watch for a context of `threads` threads (see `threads::Contention`), with
/// OpenMP back to using every thread; none for one thread or with
/// `MOE_TUTOR_ADAPT_THREADS=0`.
fn contention_for(threads: i32) -> Option<super::threads::Contention> {
    super::ffi::set_openmp_parallel(true);
    let off = std::env::var("MOE_TUTOR_ADAPT_THREADS").is_ok_and(|v| v == "0");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    (!off && threads > 1).then(|| super::threads::Contention::new(cores, threads as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prompt_batch_keeps_the_logits_within_64_mib() {
        for (n_vocab, want) in [(49_152, 341), (151_936, 110), (256_000, 65)] {
            let b = prompt_batch(n_vocab);
            assert_eq!(b, want, "vocabulary {n_vocab}");
            let bytes = u64::from(n_vocab) * u64::from(b) * 4;
            assert!(bytes <= 64 << 20, "{n_vocab}: {bytes} bytes");
            // One token more would not fit.
            assert!(u64::from(n_vocab) * u64::from(b + 1) * 4 > 64 << 20);
        }
        // Small vocabularies keep the full batch; absurd ones still decode one at a time.
        assert_eq!(prompt_batch(690), N_BATCH);
        assert_eq!(prompt_batch(0), N_BATCH);
        assert_eq!(prompt_batch(u32::MAX), 1);
    }
}
