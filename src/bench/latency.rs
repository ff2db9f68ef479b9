//! Key press to next frame while a reply streams: the real engine (capture on) streams
//! into a real `App`, drawn by a loop built like the app's own (`tui.rs`: one `select!`
//! over a 33 ms frame clock, engine events coalesced between frames, keys), into ratatui's
//! crossterm backend writing to a sink. A separate thread presses keys (Alt+←/→, which
//! move the token selection and so change the screen) at an interval that is not a
//! multiple of the frame clock, as the terminal's reader thread would deliver them.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use tokio::sync::mpsc::unbounded_channel;

use super::BenchOptions;
use crate::app::{views, App, AppConfig};
use crate::engine::{EngineCommand, EngineEvent, EngineHandle, LoadOptions};
use crate::sampling::SamplingParams;

/// The app's frame clock (`tui.rs`).
const FRAME: Duration = Duration::from_millis(33);
/// Between two key presses.
const KEY_EVERY: Duration = Duration::from_millis(47);

pub(super) struct Latency {
    pub median_ms: f64,
    pub p95_ms: f64,
    pub count: usize,
}

fn send_all(engine: &EngineHandle, cmds: Vec<EngineCommand>) {
    for c in cmds {
        engine.send(c);
    }
}

fn type_line(app: &mut App, engine: &EngineHandle, text: &str) {
    for c in text.chars() {
        let cmds = app.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        send_all(engine, cmds);
    }
    let cmds = app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    send_all(engine, cmds);
}

pub(super) fn measure(opts: &BenchOptions) -> Result<Latency, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio: {e}"))?;
    rt.block_on(run(opts))
}

async fn run(opts: &BenchOptions) -> Result<Latency, String> {
    let mut load = LoadOptions::new(&opts.model);
    load.capture = true;
    load.threads = opts.threads.max(1);
    load.experts_used = opts.experts_used;
    load.lora = opts.lora.clone();
    load.n_ctx = 2048;
    let (tx, mut engine_rx) = unbounded_channel();
    let engine = EngineHandle::spawn(load, tx).map_err(|e| format!("engine: {e}"))?;
    let mut app = App::new(AppConfig {
        model_path: opts.model.clone(),
        params: SamplingParams::default(),
        max_tokens: 256,
        capture: true,
    });
    loop {
        match engine_rx.recv().await {
            Some(EngineEvent::LoadFailed(e)) => return Err(e),
            Some(EngineEvent::Crashed { message, .. }) => return Err(message),
            Some(ev @ EngineEvent::Loaded(_)) => {
                app.on_engine_event(ev);
                break;
            }
            Some(_) => {}
            None => return Err("the engine stopped while loading".into()),
        }
    }
    let mut term = Terminal::with_options(
        CrosstermBackend::new(std::io::sink()),
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, 160, 48)),
        },
    )
    .map_err(|e| format!("terminal: {e}"))?;

    // The key presser, on its own thread like crossterm's reader.
    let (key_tx, mut key_rx) = unbounded_channel::<(KeyEvent, Instant)>();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let presser = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut i = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(KEY_EVERY);
                let code = if (i / 3).is_multiple_of(2) {
                    KeyCode::Left
                } else {
                    KeyCode::Right
                };
                i += 1;
                let key = KeyEvent::new(code, KeyModifiers::ALT);
                if key_tx.send((key, Instant::now())).is_err() {
                    break;
                }
            }
        })
    };

    let mut frame = tokio::time::interval(FRAME);
    frame.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let start = Instant::now();
    let budget = Duration::from_secs_f64(opts.latency_secs.max(0.5));
    let mut pending: Vec<Instant> = Vec::new();
    let mut lat: Vec<f64> = Vec::new();
    let mut turns = 0u32;
    let result = loop {
        if !app.is_generating() {
            if start.elapsed() >= budget || turns >= 50 {
                break Ok(());
            }
            // A fresh conversation each turn, so the context never fills.
            type_line(&mut app, &engine, "/clear");
            type_line(
                &mut app,
                &engine,
                "Tell me about the routers of each layer.",
            );
            turns += 1;
        }
        tokio::select! {
            _ = frame.tick() => {
                if app.needs_redraw() {
                    if let Err(e) = term.draw(|f| views::render(&app, f)) {
                        break Err(format!("draw: {e}"));
                    }
                    app.mark_drawn();
                    let now = Instant::now();
                    lat.extend(pending.drain(..).map(|t| (now - t).as_secs_f64() * 1000.0));
                }
            }
            ev = engine_rx.recv() => {
                let Some(ev) = ev else { break Err("the engine stopped".into()) };
                if let EngineEvent::Error { message, .. } | EngineEvent::Crashed { message, .. } = &ev {
                    break Err(message.clone());
                }
                app.on_engine_event(ev);
                while let Ok(ev) = engine_rx.try_recv() {
                    app.on_engine_event(ev);
                }
            }
            key = key_rx.recv() => {
                if let Some((key, at)) = key {
                    let streaming = app.is_generating();
                    let cmds = app.handle_key(key);
                    send_all(&engine, cmds);
                    if streaming {
                        pending.push(at);
                    }
                }
            }
        }
    };
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    drop(key_rx);
    let _ = presser.join();
    engine.shutdown();
    result?;
    let count = lat.len();
    let median_ms = super::quantile(&mut lat, 0.5);
    let p95_ms = super::quantile(&mut lat, 0.95);
    Ok(Latency {
        median_ms,
        p95_ms,
        count,
    })
}
