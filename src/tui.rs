//! The full-screen loop: terminal setup and restore, one `select!` over keys, engine events,
//! signals and a frame clock. Draws at most ~30 times a second, and only when something
//! changed: engine events are coalesced between frames.

use std::fs::File;
use std::io::{stdout, Stdout, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use crossterm::event::{Event, EventStream, KeyEventKind};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use futures::StreamExt;
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

use crate::app::keymap::Keymap;
use crate::app::prep::worker::{PrepMsg, Preparer};
use crate::app::{views, App, AppConfig};
use crate::engine::{EngineHandle, LoadOptions, StderrRedirect};
use crate::sampling::SamplingParams;
use crate::store::Store;

pub struct TuiOptions {
    pub load: LoadOptions,
    pub params: SamplingParams,
    pub max_tokens: u32,
    /// The log file; stderr is pointed at it while the UI owns the terminal, so nothing
    /// llama.cpp prints can draw over the screen.
    pub log_file: Option<File>,
    /// The settings file as loaded (keymap, colours) and what to tell the user about it.
    pub settings: crate::config::Loaded,
    /// The lessons, their language and progress file.
    pub lessons: crate::app::LessonSetup,
    /// The default model must be prepared first (fetched, forged): the app opens at once
    /// on its preparation view, and the engine loads `load.model` once it is ready.
    pub prepare: Option<crate::model::acquire::DefaultModel>,
}

type Term = Terminal<CrosstermBackend<Stdout>>;

fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(
        stdout(),
        LeaveAlternateScreen,
        crossterm::cursor::Show,
        crossterm::event::DisableBracketedPaste
    );
}

/// A panic as the log records it: where, and the message up to its first quoted part.
/// Panic messages can quote the text being worked on (a string sliced off a character
/// boundary, an error's debug form), and logs never carry message text.
fn panic_for_log(info: &std::panic::PanicHookInfo) -> String {
    let payload = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_default();
    let place = info
        .location()
        .map(|l| format!("{}:{}", l.file(), l.line()))
        .unwrap_or_default();
    format!("{} at {place}", withhold_quoted(&payload))
}

fn withhold_quoted(message: &str) -> String {
    match message.find(['`', '\'', '"']) {
        Some(i) => format!("{} [quoted text withheld]", message[..i].trim_end()),
        None => message.to_string(),
    }
}

fn setup_terminal() -> anyhow::Result<Term> {
    enable_raw_mode().context("cannot switch the terminal to raw mode (is this a terminal?)")?;
    let previous = std::panic::take_hook();
    // Only a panic on this (the UI) thread ends the app. The engine thread catches its own
    // panics and reports them as an event the UI shows; any other thread's panic is logged.
    let ui_thread = std::thread::current().id();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().id() != ui_thread {
            let name = std::thread::current().name().map(str::to_string);
            tracing::error!("panic on thread {}: {info}", name.as_deref().unwrap_or("?"));
            return;
        }
        restore_terminal();
        tracing::error!("panic: {}", panic_for_log(info));
        // stderr goes to the log while the UI runs: say it on the terminal itself.
        let _ = writeln!(
            stdout(),
            "moe-tutor: internal error: {info}\n  (details in {})",
            crate::paths::log_file().display()
        );
        previous(info);
    }));
    execute!(
        stdout(),
        EnterAlternateScreen,
        crossterm::event::EnableBracketedPaste
    )?;
    Ok(Terminal::new(CrosstermBackend::new(stdout()))?)
}

fn paste(app: &mut App, text: &str) -> Vec<crate::engine::EngineCommand> {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let mut cmds = Vec::new();
    for c in crate::text::sanitize(text).chars() {
        let key = if c == '\n' {
            KeyEvent::new(KeyCode::Enter, KeyModifiers::ALT)
        } else {
            KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
        };
        cmds.extend(app.handle_key(key));
    }
    cmds
}

/// Run the app until the user quits, the terminal goes away, or a signal arrives.
pub fn run(opts: TuiOptions) -> anyhow::Result<()> {
    let _stderr = opts
        .log_file
        .as_ref()
        .and_then(|f| StderrRedirect::to_file(f).ok());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut terminal = setup_terminal()?;
    let result = rt.block_on(event_loop(&mut terminal, opts));
    restore_terminal();
    match result {
        // The engine is still inside a decode: leave without tearing llama.cpp down.
        Ok(Ended::EngineBusy) => crate::engine::leave_now(0),
        Ok(Ended::Clean) => Ok(()),
        Err(e) => Err(e),
    }
}

/// How the event loop ended.
enum Ended {
    Clean,
    /// The engine thread had not stopped by the quit deadline.
    EngineBusy,
}

/// How long quitting waits for the engine thread to finish the token in flight. Beside
/// busy processes one token has taken seconds (every thread barrier waits for a core);
/// past this the process leaves without it, so quitting stays within a second.
const ENGINE_STOP_LIMIT: Duration = Duration::from_millis(600);

/// Watches stdin for a hang-up on a thread of its own and resolves the returned receiver
/// when it comes (the pseudo-terminal's other end closed). `poll` with no requested events
/// reports only hang-up, error and invalid-descriptor conditions, so ordinary input is
/// left for crossterm to read and the thread sleeps in the kernel between checks. The
/// thread ends when `stop` is set (checked every 200 ms) or after reporting.
fn watch_hangup(stop: Arc<AtomicBool>) -> tokio::sync::oneshot::Receiver<()> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("stdin-hangup".into())
        .spawn(move || {
            let stdin = std::io::stdin();
            let gone = PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL;
            while !stop.load(Ordering::Relaxed) {
                let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::empty())];
                let hung_up = match poll(&mut fds, PollTimeout::from(200u16)) {
                    Ok(0) | Err(nix::errno::Errno::EINTR) => false,
                    Ok(_) => fds[0].revents().is_some_and(|r| r.intersects(gone)),
                    Err(_) => true,
                };
                if hung_up {
                    let _ = tx.send(());
                    return;
                }
            }
        });
    if spawned.is_err() {
        tracing::warn!("could not start the stdin hang-up watcher");
    }
    rx
}

/// Debug builds only: `MOE_TUTOR_DEBUG_PANIC=1` panics after the first frame, so a test
/// can check that a panic gives the terminal back.
fn debug_panic() {
    #[cfg(debug_assertions)]
    if std::env::var_os("MOE_TUTOR_DEBUG_PANIC").is_some() {
        panic!("MOE_TUTOR_DEBUG_PANIC is set: a deliberate panic");
    }
}

async fn event_loop(terminal: &mut Term, opts: TuiOptions) -> anyhow::Result<Ended> {
    let (tx, mut engine_rx) = unbounded_channel();
    let mut engine_tx = Some(tx);
    let mut engine = match opts.prepare {
        Some(_) => None,
        None => engine_tx
            .take()
            .map(|tx| EngineHandle::spawn(opts.load.clone(), tx))
            .transpose()?,
    };
    let mut app = App::new(AppConfig {
        model_path: opts.load.model.clone(),
        params: opts.params,
        max_tokens: opts.max_tokens,
        capture: opts.load.capture,
    })
    .with_store(Store::in_data_dir(&crate::paths::data_dir()));
    app.setup_lessons(opts.lessons);
    app.set_model_folders(opts.settings.config.models.folders.clone());
    // The key table's problems are told in the language the lessons settled on.
    let lang = app.lang().code();
    let (keymap, mut notices) = Keymap::with_overrides_in(&opts.settings.config.keymap, lang);
    notices.splice(0..0, opts.settings.notices.iter().map(|n| n.text(lang)));
    let mut app = app.with_keymap(keymap);
    if !notices.is_empty() {
        app.notify(&notices.join("; "), true);
    }
    let (mut preparer, mut prep_rx) = match opts.prepare.clone() {
        Some(cfg) => {
            let (p, rx) = Preparer::start(cfg, &mut app);
            (Some(p), Some(rx))
        }
        None => (None, None),
    };
    let colors =
        crate::config::color_depth(opts.settings.config.theme.colors, |k| std::env::var(k).ok());
    let mut keys = EventStream::new();
    let mut frame = tokio::time::interval(Duration::from_millis(33));
    frame.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    // The terminal closing without a SIGHUP (it was not our controlling terminal) shows
    // only as a hang-up on stdin, which crossterm's reader does not report (it retries
    // the failing read forever): watch for it here.
    let stop_watch = Arc::new(AtomicBool::new(false));
    let mut hangup = watch_hangup(stop_watch.clone());
    let mut watching = true;
    let mut force_redraw = true;
    loop {
        tokio::select! {
            _ = frame.tick() => {
                // An experiment's KL and files are made on a worker thread: collect them.
                app.poll_experiment();
                // A `/pull` download reports through a channel: take in its progress.
                app.poll_pull();
                app.poll_models();
                if let Some(p) = preparer.as_mut() {
                    p.follow(&mut app);
                }
                if force_redraw || app.needs_redraw() {
                    terminal.draw(|f| {
                        views::render(&app, f);
                        views::colors::adapt(f.buffer_mut(), colors);
                    })?;
                    app.mark_drawn();
                    force_redraw = false;
                    debug_panic();
                }
            }
            ev = engine_rx.recv() => {
                let Some(ev) = ev else { break };
                app.on_engine_event(ev);
                // Coalesce everything already queued; the frame clock draws once.
                while let Ok(ev) = engine_rx.try_recv() {
                    app.on_engine_event(ev);
                }
                // An experiment answers events with commands (its next run).
                send_all(engine.as_ref(), app.take_engine_commands());
            }
            msg = recv_prep(&mut prep_rx) => match msg {
                Some(PrepMsg::Event(e)) => app.on_prep_event(e),
                Some(PrepMsg::Done(result)) => {
                    if let Ok(path) = &result {
                        let mut load = opts.load.clone();
                        load.model = path.clone();
                        if let Some(tx) = engine_tx.take() {
                            engine = Some(EngineHandle::spawn(load, tx)?);
                        }
                    }
                    app.on_prep_finished(result);
                }
                None => prep_rx = None,
            },
            key = keys.next() => match key {
                Some(Ok(Event::Key(k))) if k.kind != KeyEventKind::Release => {
                    let cmds = app.handle_key(k);
                    send_all(engine.as_ref(), cmds);
                    if let Some(p) = preparer.as_mut() {
                        p.follow(&mut app);
                    }
                }
                Some(Ok(Event::Paste(text))) => {
                    // A paste is typed into the input, newlines included, never sent.
                    let cmds = paste(&mut app, &text);
                    send_all(engine.as_ref(), cmds);
                }
                Some(Ok(Event::Resize(..))) => {
                    terminal.autoresize()?;
                    force_redraw = true;
                }
                Some(Ok(_)) => {}
                // The terminal is gone (pty closed): leave at once.
                Some(Err(_)) | None => break,
            },
            _ = sigterm.recv() => break,
            _ = sighup.recv() => break,
            // A watcher that could not start ends without sending: stop polling it (a
            // finished oneshot must not be polled again).
            hup = &mut hangup, if watching => match hup {
                Ok(()) => break,
                Err(_) => watching = false,
            },
        }
        if app.should_quit() {
            break;
        }
    }
    stop_watch.store(true, Ordering::Relaxed);
    let quit_at = std::time::Instant::now();
    if let Some(p) = preparer {
        p.stop(Duration::from_millis(1500));
    }
    let stopped = engine.is_none_or(|e| e.shutdown_within(ENGINE_STOP_LIMIT));
    tracing::info!(
        "quit: engine {} after {} ms",
        if stopped { "stopped" } else { "still busy" },
        quit_at.elapsed().as_millis()
    );
    Ok(if stopped {
        Ended::Clean
    } else {
        Ended::EngineBusy
    })
}

/// Commands for the engine; none is running yet while the default model is prepared.
fn send_all(engine: Option<&EngineHandle>, cmds: Vec<crate::engine::EngineCommand>) {
    if let Some(engine) = engine {
        for cmd in cmds {
            engine.send(cmd);
        }
    }
}

/// The preparation's next message; pending forever once there is none to wait for.
async fn recv_prep(rx: &mut Option<UnboundedReceiver<PrepMsg>>) -> Option<PrepMsg> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn panic_messages_lose_their_quoted_text_in_the_log() {
        assert_eq!(
            super::withhold_quoted(
                "byte index 3 is not a char boundary; it is inside 'é' (bytes 2..4) of `héllo secret`"
            ),
            "byte index 3 is not a char boundary; it is inside [quoted text withheld]"
        );
        assert_eq!(
            super::withhold_quoted("index out of bounds: the len is 3 but the index is 5"),
            "index out of bounds: the len is 3 but the index is 5"
        );
    }
}
