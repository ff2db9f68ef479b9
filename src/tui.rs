//! The full-screen loop: terminal setup and restore, one `select!` over keys, engine events,
//! signals and a frame clock. Draws at most ~30 times a second, and only when something
//! changed: engine events are coalesced between frames.

use std::fs::File;
use std::io::{stdout, Stdout};
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
use tokio::sync::mpsc::unbounded_channel;

use crate::app::{views, App, AppConfig};
use crate::engine::{EngineHandle, LoadOptions, StderrRedirect};
use crate::sampling::SamplingParams;

pub struct TuiOptions {
    pub load: LoadOptions,
    pub params: SamplingParams,
    pub max_tokens: u32,
    /// The log file; stderr is pointed at it while the UI owns the terminal, so nothing
    /// llama.cpp prints can draw over the screen.
    pub log_file: Option<File>,
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

fn setup_terminal() -> anyhow::Result<Term> {
    enable_raw_mode().context("cannot switch the terminal to raw mode (is this a terminal?)")?;
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        tracing::error!("panic: {info}");
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
    result
}

async fn event_loop(terminal: &mut Term, opts: TuiOptions) -> anyhow::Result<()> {
    let (tx, mut engine_rx) = unbounded_channel();
    let engine = EngineHandle::spawn(opts.load.clone(), tx)?;
    let mut app = App::new(AppConfig {
        model_path: opts.load.model.clone(),
        params: opts.params,
        max_tokens: opts.max_tokens,
        capture: opts.load.capture,
    });
    let mut keys = EventStream::new();
    let mut frame = tokio::time::interval(Duration::from_millis(33));
    frame.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut force_redraw = true;
    loop {
        tokio::select! {
            _ = frame.tick() => {
                if force_redraw || app.needs_redraw() {
                    terminal.draw(|f| views::render(&app, f))?;
                    app.mark_drawn();
                    force_redraw = false;
                }
            }
            ev = engine_rx.recv() => {
                let Some(ev) = ev else { break };
                app.on_engine_event(ev);
                // Coalesce everything already queued; the frame clock draws once.
                while let Ok(ev) = engine_rx.try_recv() {
                    app.on_engine_event(ev);
                }
            }
            key = keys.next() => match key {
                Some(Ok(Event::Key(k))) if k.kind != KeyEventKind::Release => {
                    for cmd in app.handle_key(k) {
                        engine.send(cmd);
                    }
                }
                Some(Ok(Event::Paste(text))) => {
                    // A paste is typed into the input, newlines included, never sent.
                    for cmd in paste(&mut app, &text) {
                        engine.send(cmd);
                    }
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
        }
        if app.should_quit() {
            break;
        }
    }
    engine.shutdown();
    Ok(())
}
