//! `/pull` in the app: the welcome screen offers the smallest curated model, the notice
//! line follows a background pull (fed its events directly, as the worker would send them),
//! and `/pull cancel` stops it. English and Chinese.

mod app_support;

use std::path::PathBuf;

use app_support::*;
use crossterm::event::KeyCode;
use moe_tutor::model::pull::{Progress, PullError, PullEvent, PullOptions, PullRequest};

/// Options that reach nothing: a local port where no server listens.
fn nowhere() -> PullOptions {
    let dir = std::env::temp_dir().join(format!("moe-tutor-pull-view-{}", std::process::id()));
    PullOptions {
        endpoint: "http://127.0.0.1:9".into(),
        token: None,
        cache_dir: dir,
        wait_for_lock: false,
    }
}

#[test]
fn welcome_offers_the_smallest_real_moe_100x24() {
    let app = loaded(moe_info(16, 4, 6, 1));
    let term = draw(&app, 100, 24);
    assert!(
        screen_contains(
            &term,
            "watch a real MoE: fetch granite-1b-a400m (~822 MB): type /pull granite-1b-a400m"
        ),
        "{:?}",
        rows(&term)
    );
    insta::assert_snapshot!(term.backend());
}

#[test]
fn welcome_in_chinese_100x24() {
    let mut app = loaded(moe_info(16, 4, 6, 1));
    press(&mut app, KeyCode::F(10));
    let term = draw(&app, 100, 24);
    assert!(screen_contains(&term, "~822 MB"), "{:?}", rows(&term));
    insta::assert_snapshot!(term.backend());
}

fn pulling() -> moe_tutor::app::App {
    let mut app = loaded(moe_info(16, 4, 6, 1));
    assert!(app.start_pull(
        PullRequest::new("ibm/granite", "g.gguf"),
        "granite-1b-a400m",
        nowhere()
    ));
    app.on_pull_event(PullEvent::Resolved {
        total: 859_832_416,
        resume_from: 0,
    });
    app.on_pull_event(PullEvent::Progress(Progress {
        done: 343_932_967,
        total: 859_832_416,
        rate: 4.5 * 1024.0 * 1024.0,
    }));
    app
}

#[test]
fn progress_in_the_notice_line_100x24() {
    let app = pulling();
    let term = draw(&app, 100, 24);
    assert!(
        screen_contains(
            &term,
            "/pull granite-1b-a400m: [########............]  40% 328 MiB / 820 MiB"
        ),
        "{:?}",
        rows(&term)
    );
    assert!(screen_contains(&term, "4.5 MiB/s"));
    insta::assert_snapshot!(term.backend());
}

#[test]
fn cancel_finish_and_refusals() {
    let mut app = pulling();
    // A second pull while one runs is refused.
    assert!(!app.start_pull(PullRequest::new("a/b", "c.gguf"), "c", nowhere()));
    assert!(screen_contains(
        &draw(&app, 100, 24),
        "a pull is already running"
    ));
    type_text(&mut app, "/pull cancel");
    press(&mut app, KeyCode::Enter);
    assert!(screen_contains(
        &draw(&app, 100, 24),
        "stopping (the part downloaded is kept)"
    ));
    app.on_pull_finished(Err(PullError::Cancelled {
        done: 343_932_966,
        total: 859_832_416,
    }));
    assert!(app.pull_status().is_none());
    let term = draw(&app, 100, 24);
    assert!(
        screen_contains(&term, "run the same pull again to resume"),
        "{:?}",
        rows(&term)
    );

    // Unknown names are explained; a finished pull says where the file is, in Chinese too.
    type_text(&mut app, "/pull nothing-like-it");
    press(&mut app, KeyCode::Enter);
    assert!(screen_contains(
        &draw(&app, 100, 24),
        "no curated model called nothing-like-it"
    ));
    press(&mut app, KeyCode::F(10));
    assert!(app.start_pull(PullRequest::new("a/b", "c.gguf"), "c", nowhere()));
    app.on_pull_finished(Ok(PathBuf::from("/cache/models--a--b/snapshots/x/c.gguf")));
    let term = draw(&app, 120, 24);
    assert!(
        screen_contains(&term, "/cache/models--a--b/snapshots/x/c.gguf"),
        "{:?}",
        rows(&term)
    );
}

#[test]
fn a_real_failed_pull_reaches_the_notice_line() {
    let mut app = loaded(moe_info(16, 4, 6, 1));
    assert!(app.start_pull(PullRequest::new("a/b", "c.gguf"), "c", nowhere()));
    let t = std::time::Instant::now();
    while app.pull_status().is_some() && t.elapsed() < std::time::Duration::from_secs(20) {
        app.poll_pull();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(app.pull_status().is_none());
    let term = draw(&app, 100, 24);
    assert!(
        screen_contains(&term, "download failed"),
        "{:?}",
        rows(&term)
    );
}
