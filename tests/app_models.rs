//! The model picker: opened by Alt+M and `/models`, drawn at 80x24 and 160x48 (English and
//! Chinese), and a switch through the real engine between two tiny models, with the
//! `model` line in the conversation's journal and a refused file keeping the old model.

mod app_support;
mod common;

use std::path::{Path, PathBuf};

use app_support::*;
use crossterm::event::KeyCode;
use moe_tutor::app::overlay::Overlay;
use moe_tutor::app::App;
use moe_tutor::engine::api::{EngineCommand, EngineEvent};
use moe_tutor::model::discover::{self, Entry, Locations, SourceKind};
use moe_tutor::store::{list, Store};

/// A folder of three tiny models (two MoE, one dense) and a corrupt file.
fn folder(dir: &Path) -> Locations {
    let copy = |from: PathBuf, name: &str| {
        let to = dir.join(name);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    };
    copy(common::tiny_moe(), "tiny/tiny-moe.gguf");
    copy(common::tiny_qwen3moe(), "tiny/tiny-qwen3moe.gguf");
    copy(common::tiny_dense(), "dense/tiny-dense.gguf");
    std::fs::write(dir.join("broken.gguf"), b"not a model").unwrap();
    Locations {
        folders: vec![(SourceKind::Folder, dir.to_path_buf())],
        hf_hub: Vec::new(),
        ollama: Vec::new(),
    }
}

/// Entries with the problem's path made the same on every machine.
fn entries(dir: &Path) -> Vec<Entry> {
    let mut e = discover::discover(&folder(dir));
    for x in &mut e {
        if x.found.is_err() {
            x.path = PathBuf::from("/models/broken.gguf");
        }
    }
    e
}

const FREE: Option<u64> = Some(8_000_000_000);

fn picker_app(dir: &Path) -> App {
    let mut app = loaded(moe_info(8, 2, 3, 1));
    app.open_model_picker(entries(dir), FREE);
    app
}

#[test]
fn alt_m_and_slash_models_open_the_picker_and_esc_closes_it() {
    let mut app = loaded(moe_info(8, 2, 3, 1));
    alt(&mut app, KeyCode::Char('m'));
    // The search runs on a worker thread; the picker says so until its answer is in.
    let Some(Overlay::Models(p)) = app.overlay() else {
        panic!("the picker is not open")
    };
    assert!(p.searching.is_some());
    assert!(screen_contains(
        &draw(&app, 80, 24),
        "Looking for GGUF models"
    ));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !app.poll_models() {
        assert!(
            std::time::Instant::now() < deadline,
            "the search never ended"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let Some(Overlay::Models(p)) = app.overlay() else {
        panic!("the picker closed")
    };
    assert!(p.searching.is_none());
    press(&mut app, KeyCode::Esc);
    assert!(app.overlay().is_none());
    type_text(&mut app, "/models");
    press(&mut app, KeyCode::Enter);
    assert!(matches!(app.overlay(), Some(Overlay::Models(_))));
}

#[test]
fn picker_80x24() {
    let dir = tempfile::tempdir().unwrap();
    let app = picker_app(dir.path());
    insta::assert_snapshot!(draw(&app, 80, 24).backend());
}

#[test]
fn picker_160x48() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = picker_app(dir.path());
    press(&mut app, KeyCode::Down);
    insta::assert_snapshot!(draw(&app, 160, 48).backend());
}

#[test]
fn picker_160x48_in_chinese() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = picker_app(dir.path());
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::F(10));
    assert_eq!(app.lang().code(), "zh-CN");
    app.open_model_picker(entries(dir.path()), FREE);
    insta::assert_snapshot!(draw(&app, 160, 48).backend());
}

#[test]
fn a_broken_entry_is_refused_in_the_picker() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = picker_app(dir.path());
    let Some(Overlay::Models(p)) = app.overlay() else {
        panic!("the picker is not open")
    };
    let broken = p.entries.iter().position(|e| e.found.is_err()).unwrap();
    for _ in 0..broken {
        press(&mut app, KeyCode::Down);
    }
    let cmds = press(&mut app, KeyCode::Enter);
    assert!(cmds.is_empty(), "{cmds:?}");
    let n = app.notice().expect("a notice");
    assert!(n.is_error && n.text.contains("broken.gguf"), "{n:?}");
}

fn next_load_event(e: &mut common::Engine) -> EngineEvent {
    loop {
        let ev = common::recv(&mut e.rx);
        if matches!(
            ev,
            EngineEvent::Loaded(_) | EngineEvent::LoadFailed(_) | EngineEvent::SwitchRefused { .. }
        ) {
            return ev;
        }
    }
}

#[test]
fn enter_switches_the_real_engine_and_the_journal_notes_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut engine = common::start(common::load_options(&common::tiny_moe())).expect("load");
    let mut app = App::new(config()).with_store(Store::in_data_dir(data.path()));
    app.on_engine_event(EngineEvent::Loaded(Box::new(engine.info.clone())));
    let shape = Shape::of(&engine.info);
    exchange(&mut app, shape.as_ref(), "Hello", "Hi there");
    let journal = app.journal_path().expect("journal").to_path_buf();

    // MoE models come first, by name: tiny/tiny-moe.gguf, then tiny/tiny-qwen3moe.gguf.
    app.open_model_picker(entries(dir.path()), FREE);
    press(&mut app, KeyCode::Down);
    let cmds = press(&mut app, KeyCode::Enter);
    assert!(app.overlay().is_none());
    let [EngineCommand::SwitchModel { path }] = &cmds[..] else {
        panic!("{cmds:?}")
    };
    assert!(path.ends_with("tiny/tiny-qwen3moe.gguf"), "{path:?}");
    engine.handle.send(cmds[0].clone());
    let ev = next_load_event(&mut engine);
    assert!(
        matches!(&ev, EngineEvent::Loaded(i) if i.arch == "qwen3moe"),
        "{ev:?}"
    );
    app.on_engine_event(ev);
    assert_eq!(app.model().map(|m| m.arch.as_str()), Some("qwen3moe"));
    let conv = list::read(&journal).expect("read journal");
    assert_eq!(conv.skipped, 0);
    assert_eq!(conv.models.len(), 1, "{:?}", conv.models);
    assert_eq!(conv.models[0].0, 2, "the switch came after two messages");
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(
        text.lines()
            .any(|l| l.contains(r#""type":"model""#) && l.contains("qwen3moe")),
        "{text}"
    );

    // A file the engine's checks refuse: a notice, and the qwen3moe model stays.
    let bad = common::scratch_file("picked-bad.gguf", b"GGUF and nothing else");
    engine.handle.send(EngineCommand::SwitchModel { path: bad });
    let ev = next_load_event(&mut engine);
    assert!(matches!(ev, EngineEvent::SwitchRefused { .. }), "{ev:?}");
    app.on_engine_event(ev);
    assert_eq!(app.model().map(|m| m.arch.as_str()), Some("qwen3moe"));
    let n = app.notice().expect("notice");
    assert!(n.is_error && n.text.contains("picked-bad.gguf"), "{n:?}");
    assert_eq!(list::read(&journal).unwrap().models.len(), 1);
}

/// The curated real models are offered below the models found, smallest first, in the
/// learner's language; Enter on one starts the same background pull as `/pull NAME`.
#[test]
fn the_picker_offers_curated_models_and_enter_starts_a_pull() {
    // Point the hub at a local port where nothing listens, and its cache at a temporary
    // folder, so the pull fails fast and writes nothing outside it.
    let cache = tempfile::tempdir().unwrap();
    std::env::set_var("HF_ENDPOINT", "http://127.0.0.1:9");
    std::env::set_var("HF_HUB_CACHE", cache.path());
    let offers = moe_tutor::app::overlay::models::download_offers("en");
    assert!(offers.len() >= 3, "{offers:?}");
    assert_eq!(offers[0].name, "granite-1b-a400m");
    assert!(offers[0].label.contains("~822 MB"), "{offers:?}");
    let zh = moe_tutor::app::overlay::models::download_offers("zh-CN");
    assert_ne!(zh[0].label, offers[0].label);

    let dir = tempfile::tempdir().unwrap();
    let mut app = picker_app(dir.path());
    let Some(Overlay::Models(p)) = app.overlay() else {
        panic!("the picker is not open")
    };
    let found = p.entries.len();
    assert!(screen_contains(
        &draw(&app, 160, 48),
        "fetch granite-1b-a400m"
    ));
    for _ in 0..found {
        press(&mut app, KeyCode::Down);
    }
    let Some(Overlay::Models(p)) = app.overlay() else {
        panic!("the picker closed")
    };
    assert_eq!(p.selected, found, "the first offer is selected");
    assert!(screen_contains(
        &draw(&app, 160, 48),
        "▶ watch a real MoE: fetch granite-1b-a400m"
    ));
    let cmds = press(&mut app, KeyCode::Enter);
    assert!(cmds.is_empty(), "a pull is not an engine command: {cmds:?}");
    assert!(app.overlay().is_none());
    assert!(app.pull_status().is_some(), "the pull started");
    let t = std::time::Instant::now();
    while app.pull_status().is_some() && t.elapsed() < std::time::Duration::from_secs(20) {
        app.poll_pull();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(app.pull_status().is_none(), "the pull never ended");
    assert!(screen_contains(&draw(&app, 100, 24), "download failed"));
}
