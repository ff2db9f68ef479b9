//! The expert statistics pane (`/stats`) and `/stats export FILE`: snapshots at fixed sizes,
//! the capacity factor changed from the input, and exports written to real files in the
//! same CSV / JSON as `moe-tutor stats`.

mod app_support;

use app_support::*;
use crossterm::event::KeyCode;
use moe_tutor::app::conversation::TOP_TOKENS;
use moe_tutor::app::{App, Pane};
use moe_tutor::i18n::tr;
use moe_tutor::routing::expert_stats::ExpertStats;
use moe_tutor::routing::stats_export::{to_csv, STATS_COLUMNS};

fn app() -> App {
    let info = moe_info(8, 2, 4, 1);
    let shape = Shape::of(&info);
    let mut app = loaded(info);
    exchange(
        &mut app,
        shape.as_ref(),
        "Tell me about routers",
        "A router scores every expert and keeps the best two.",
    );
    exchange(
        &mut app,
        shape.as_ref(),
        "And capacity?",
        "Each expert takes a bounded share of the batch.",
    );
    app
}

fn slash(app: &mut App, line: &str) {
    type_text(app, line);
    press(app, KeyCode::Enter);
}

#[test]
fn stats_80x24() {
    let mut app = app();
    slash(&mut app, "/stats");
    assert_eq!(app.pane(), Pane::Stats);
    insta::assert_snapshot!(draw(&app, 80, 24).backend());
}

#[test]
fn stats_160x48() {
    let mut app = app();
    slash(&mut app, "/stats 1.25");
    insta::assert_snapshot!(draw(&app, 160, 48).backend());
}

#[test]
fn stats_without_routing_say_so() {
    let mut app = loaded(dense_info());
    slash(&mut app, "/pane stats");
    let term = draw(&app, 80, 24);
    assert!(screen_contains(&term, "No routing recorded yet"));
}

/// Drops shrink as the factor grows, and the pane shows the factor it counted at.
#[test]
fn the_capacity_factor_steps_and_drops_follow_it() {
    let mut app = app();
    slash(&mut app, "/stats");
    let dropped = |app: &App| -> u32 {
        let s = app.conversation().expert_stats().unwrap();
        s.layers.iter().map(|l| l.capacity.dropped_tokens).sum()
    };
    assert_eq!(app.conversation().stats_capacity(), 1.0);
    let at_1 = dropped(&app);
    slash(&mut app, "/stats");
    assert_eq!(app.conversation().stats_capacity(), 1.25);
    slash(&mut app, "/stats");
    assert_eq!(app.conversation().stats_capacity(), 2.0);
    let at_2 = dropped(&app);
    assert!(at_1 > at_2, "C=1 drops {at_1}, C=2 drops {at_2}");
    assert!(screen_contains(&draw(&app, 100, 30), "capacity factor C 2"));
    slash(&mut app, "/stats 0");
    assert!(app.notice().unwrap().is_error);
    assert_eq!(app.conversation().stats_capacity(), 2.0);
    // In Chinese the pane speaks Chinese.
    press(&mut app, KeyCode::F(10));
    let term = draw(&app, 100, 30);
    // Wide characters are drawn one to a cell pair: look for one of them.
    assert!(screen_contains(&term, "容"));
    assert!(!screen_contains(&term, "capacity factor C"));
}

#[test]
fn export_writes_the_same_csv_as_the_stats_command_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app();
    slash(&mut app, "/stats 1.25");
    let csv = dir.path().join("stats.csv");
    slash(&mut app, &format!("/stats export {}", csv.display()));
    assert!(!app.notice().unwrap().is_error, "{:?}", app.notice());
    let written = std::fs::read_to_string(&csv).unwrap();
    let expected = to_csv(&ExpertStats::compute(
        &app.conversation().routed_tokens(),
        TOP_TOKENS,
        1.25,
    ));
    assert_eq!(written, expected);
    let mut lines = written.lines();
    assert_eq!(lines.next().unwrap(), STATS_COLUMNS.join(","));
    assert_eq!(lines.count(), 3, "one row per MoE layer");

    let json = dir.path().join("stats.json");
    slash(&mut app, &format!("/stats export {}", json.display()));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["layers"].as_array().unwrap().len(), 3);
    assert_eq!(v["layers"][0]["capacity"]["factor"], 1.25);
    assert!(v["layers"][0]["usage_entropy_norm"].as_f64().unwrap() > 0.0);
}

#[test]
fn export_failures_are_clear_messages_in_both_languages() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app();
    // A folder where the file should go: the rename cannot replace it.
    let taken = dir.path().join("taken.csv");
    std::fs::create_dir(&taken).unwrap();
    slash(&mut app, &format!("/stats export {}", taken.display()));
    let n = app.notice().unwrap();
    assert!(n.is_error && n.text.contains("could not write"), "{n:?}");
    assert!(taken.is_dir());
    // No format to go by.
    slash(&mut app, "/stats export notes.txt");
    assert!(app.notice().unwrap().text.contains(".csv or .json"));
    // Under a file, no folder can be made.
    let file = dir.path().join("plain");
    std::fs::write(&file, b"x").unwrap();
    press(&mut app, KeyCode::F(10));
    slash(
        &mut app,
        &format!("/stats export {}", file.join("s.json").display()),
    );
    let n = app.notice().unwrap();
    assert!(n.is_error && n.text.contains("无法写入"), "{n:?}");
    assert!(!tr("stats.export_failed", "zh-CN").is_empty());
}
