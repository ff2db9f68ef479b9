//! The experiments overlay driven like the TUI loop drives it, on the real engine and the
//! tiny MoE: a 2x2 grid typed into the form runs on the chat's engine, chat input is
//! refused meanwhile, four results come back side by side with their files, the chart
//! opens; Esc cancels and keeps the finished runs.

mod app_support;
mod common;

use app_support::{draw, press, screen_contains, type_text};
use crossterm::event::KeyCode;
use moe_tutor::app::overlay::experiments::Phase;
use moe_tutor::app::{App, AppConfig};
use moe_tutor::engine::api::{EngineCommand, EngineEvent};

/// One data directory for the whole binary (tests run in parallel threads).
fn data_dir() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().unwrap().keep();
        std::env::set_var("MOE_TUTOR_DATA_DIR", &d);
        d
    })
}

fn app(engine: &common::Engine) -> App {
    data_dir();
    let mut app = App::new(AppConfig {
        model_path: common::tiny_moe(),
        params: common::params(0.7, 0.9, 42),
        max_tokens: 8,
        capture: true,
    });
    app.on_engine_event(EngineEvent::Loaded(Box::new(engine.info.clone())));
    app
}

/// Replace the focused field's text.
fn set_field(app: &mut App, text: &str) {
    for _ in 0..40 {
        press(app, KeyCode::Backspace);
    }
    type_text(app, text);
}

/// Fill the form: prompt, temperatures, seeds, max tokens (fields 0, 1, 3, 6).
fn fill(app: &mut App, temps: &str, seeds: &str, max_tokens: &str) {
    set_field(app, "Hello router");
    press(app, KeyCode::Down);
    set_field(app, temps);
    press(app, KeyCode::Down);
    press(app, KeyCode::Down);
    set_field(app, seeds);
    for _ in 0..3 {
        press(app, KeyCode::Down);
    }
    set_field(app, max_tokens);
}

/// What the TUI loop does: send commands, feed events back, send what the app queued.
fn pump(
    app: &mut App,
    e: &mut common::Engine,
    cmds: Vec<EngineCommand>,
    mut each: impl FnMut(&mut App) -> Vec<EngineCommand>,
) {
    for c in cmds {
        e.handle.send(c);
    }
    while app.experiments().is_some_and(|x| x.is_running()) {
        // Measuring happens on a worker thread: the frame clock polls it.
        if app
            .experiments()
            .is_some_and(|x| x.phase == Phase::Measuring)
        {
            if !app.poll_experiment() {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            continue;
        }
        let ev = common::recv(&mut e.rx);
        app.on_engine_event(ev);
        for c in app.take_engine_commands().into_iter().chain(each(app)) {
            e.handle.send(c);
        }
    }
}

#[test]
fn a_2x2_grid_from_the_form_runs_on_the_chat_engine() {
    let mut e = common::start(common::load_options(&common::tiny_moe())).unwrap();
    let mut app = app(&e);
    press(&mut app, KeyCode::F(11));
    assert!(app.experiments().is_some(), "F11 opens the overlay");
    fill(&mut app, "0.2, 1.0", "1, 2", "4");
    assert!(screen_contains(&draw(&app, 120, 30), "runs: 4"));
    let cmds = press(&mut app, KeyCode::Enter);
    assert!(app.experiments().unwrap().is_running());
    let mut refused = false;
    pump(&mut app, &mut e, cmds, |app| {
        if !refused {
            refused = true;
            assert!(press(app, KeyCode::Enter).is_empty(), "nothing is sent");
            let n = app.notice().map(|n| n.text.clone()).unwrap_or_default();
            assert!(n.contains("an experiment is running"), "{n:?}");
        }
        Vec::new()
    });
    let x = app.experiments().unwrap();
    assert_eq!(x.phase, Phase::Results);
    assert_eq!(x.results.len(), 4);
    assert!(x.error.is_none(), "{:?}", x.error);
    assert!(x
        .results
        .iter()
        .all(|r| !r.reply_tokens.is_empty() && r.reply_tokens.len() <= 4));
    let dir = x.dir.clone().unwrap();
    assert!(dir.starts_with(data_dir().join("experiments")));
    for f in ["grid.toml", "runs.jsonl", "runs.csv", "pairs.csv"] {
        assert!(dir.join(f).exists(), "{f}");
    }
    let screen = draw(&app, 120, 30);
    assert!(screen_contains(&screen, "runs 1-4 of 4"));
    press(&mut app, KeyCode::Char('c'));
    assert!(screen_contains(
        &draw(&app, 120, 30),
        "mean_entropy against temperature"
    ));
    // The chat has its engine back: a message is sent as usual.
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Esc);
    assert!(app.experiments().is_none());
    type_text(&mut app, "hi");
    let cmds = press(&mut app, KeyCode::Enter);
    assert!(cmds
        .iter()
        .any(|c| matches!(c, EngineCommand::Generate { .. })));
}

#[test]
fn esc_cancels_and_keeps_the_finished_runs() {
    let mut e = common::start(common::load_options(&common::tiny_moe())).unwrap();
    let mut app = app(&e);
    type_text(&mut app, "/experiment");
    press(&mut app, KeyCode::Enter);
    assert!(app.experiments().is_some(), "/experiment opens the overlay");
    fill(&mut app, "0.7", "1, 2, 3", "40");
    let cmds = press(&mut app, KeyCode::Enter);
    let mut sent = false;
    pump(&mut app, &mut e, cmds, |app| {
        let p = &app.experiments().unwrap().progress;
        if p.run == 2 && p.tokens >= 1 && !sent {
            sent = true;
            let cmds = press(app, KeyCode::Esc);
            assert!(
                matches!(cmds[..], [EngineCommand::Cancel { .. }]),
                "{cmds:?}"
            );
            return cmds;
        }
        Vec::new()
    });
    let x = app.experiments().unwrap();
    assert!(sent && x.cancelled);
    assert_eq!(
        x.results.len(),
        1,
        "the first run is kept, the cancelled one is not"
    );
    assert!(screen_contains(&draw(&app, 120, 30), "(cancelled)"));
}

#[test]
fn a_sweep_of_k_reloads_and_gives_the_chat_its_k_back() {
    let mut e = common::start(common::load_options(&common::tiny_moe())).unwrap();
    let mut app = app(&e);
    press(&mut app, KeyCode::F(11));
    fill(&mut app, "0.7", "1", "3");
    // Field 4, experts per token: k 2 (the model's) and 3.
    for _ in 0..2 {
        press(&mut app, KeyCode::Up);
    }
    type_text(&mut app, "2, 3");
    let cmds = press(&mut app, KeyCode::Enter);
    pump(&mut app, &mut e, cmds, |_| Vec::new());
    let x = app.experiments().unwrap();
    assert!(x.error.is_none(), "{:?}", x.error);
    let ks: Vec<u32> = x.results.iter().map(|r| r.spec.experts_used).collect();
    assert_eq!(ks, [2, 3]);
    // Teacher-forced KL of the k = 3 run from the k = 2 baseline, measured in the TUI too.
    let kl = x.results[1]
        .versus
        .kl_baseline
        .expect("KL for the k change");
    assert!(kl > 0.0, "{kl}");
    // The model was loaded again with k = 3 for the second run; the chat gets k = 2 back.
    loop {
        let ev = common::recv(&mut e.rx);
        let loaded = matches!(ev, EngineEvent::Loaded(_));
        app.on_engine_event(ev);
        if loaded {
            break;
        }
    }
    assert_eq!(app.model().map(|m| m.n_expert_used), Some(2));
}

#[test]
fn experiment_file_loads_a_grid_into_the_form() {
    let mut app = app_support::loaded(app_support::moe_info(8, 2, 3, 1));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grid.toml");
    std::fs::write(
        &path,
        "prompt = \"Name three fruits.\"\ntemperature = [0.2, 1.0]\nseed = [1, 2]\n\
         [[interventions]]\nname = \"none\"\n[[interventions]]\nname = \"ko\"\nknockout = [\"1:3\", \"all:5\"]\n",
    )
    .unwrap();
    type_text(&mut app, &format!("/experiment {}", path.display()));
    press(&mut app, KeyCode::Enter);
    let x = app.experiments().expect("open");
    let g = x.form.grid().unwrap();
    assert_eq!(g.prompt, "Name three fruits.");
    assert_eq!(g.seed, vec![1, 2]);
    assert_eq!(g.interventions[1].rules["knockout"], ["1:3", "all:5"]);
    assert!(screen_contains(&draw(&app, 120, 30), "runs: 8"));
    press(&mut app, KeyCode::Esc);
    type_text(&mut app, "/experiment /no/such/grid.toml");
    press(&mut app, KeyCode::Enter);
    assert!(app.experiments().is_none());
    let n = app.notice().map(|n| n.text.clone()).unwrap_or_default();
    assert!(n.contains("cannot read /no/such/grid.toml"), "{n}");
}
