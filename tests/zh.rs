//! The whole app in Simplified Chinese (F10 or `--lang zh-CN`): snapshots of the main views
//! at 80x24 and 160x48, and a check that no English word of the app's own is left on
//! those screens (command names, key names and the model's own text excepted).

mod app_support;
mod common;

use app_support::*;
use common::pty::Tui;
use crossterm::event::KeyCode;
use moe_tutor::app::{App, Pane};
use moe_tutor::lessons::Lang;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

/// Words that stay as they are in Chinese: what the learner types (commands, keywords),
/// key names, symbols of formulas, and the test model's name and architecture.
const KEPT: &[&str] = &[
    "Alt",
    "Ctrl",
    "Shift",
    "Enter",
    "Esc",
    "PgUp",
    "PgDn",
    "Del",
    "Home",
    "End",
    "Backspace",
    "Tab",
    "top_p",
    "seed",
    "LoRA",
    "tok",
    "ctx",
    "MoE",
    "tiny",
    "moe",
    "deepseek2",
    "even",
    "max",
    "English",
    "softmax",
    "logits",
    "help",
    "temp",
    "regen",
    "edit",
    "clear",
    "history",
    "export",
    "branch",
    "branches",
    "stats",
    "knockout",
    "force",
    "restrict",
    "experts",
    "lora",
    "pane",
    "layer",
    "experiment",
    "chat",
    "routing",
    "sampling",
    "strip",
    "status",
    "FILE",
    "csv",
    "json",
    "grid",
    "toml",
    "GRID",
    "all",
    "off",
    "text",
    "new",
    "conversations",
    "top",
    "topp",
    "temperature",
    "regenerate",
    "distinct",
    "entropy",
    "deepseek",
    // The test model's candidate tokens (model text, shown as it is).
    "the",
    "this",
    "that",
    "one",
];

fn zh(mut app: App) -> App {
    press(&mut app, KeyCode::F(10));
    assert_eq!(app.lang(), Lang::ZhCn);
    app
}

/// An MoE (16 experts, top 4, layer 0 dense) after a Chinese exchange, in Chinese.
fn chat() -> App {
    let info = moe_info(16, 4, 6, 1);
    let shape = Shape::of(&info);
    let mut app = loaded(info);
    exchange(
        &mut app,
        shape.as_ref(),
        "天空为什么是蓝色的？",
        "因为瑞利散射：短波长的蓝光被空气分子散射得更多。",
    );
    zh(app)
}

fn slash(app: &mut App, line: &str) {
    type_text(app, line);
    press(app, KeyCode::Enter);
}

/// English words (runs of 3+ ASCII letters) on screen that are not in [`KEPT`].
fn english_left(term: &Terminal<TestBackend>) -> Vec<String> {
    let mut out = Vec::new();
    for row in rows(term) {
        for word in row.split(|c: char| !c.is_ascii_alphabetic() && c != '_') {
            if word.len() >= 3 && !KEPT.contains(&word) && !out.contains(&word.to_string()) {
                out.push(word.to_string());
            }
        }
    }
    out
}

fn check(term: &Terminal<TestBackend>, must: &[&str]) {
    let left = english_left(term);
    assert!(
        left.is_empty(),
        "English left on a Chinese screen: {left:?}\n{}",
        rows(term).join("\n")
    );
    // A wide character's second cell reads as a space: compare without spaces.
    let flat: Vec<String> = rows(term).iter().map(|r| r.replace(' ', "")).collect();
    for m in must {
        let m = m.replace(' ', "");
        assert!(
            flat.iter().any(|r| r.contains(&m)),
            "missing {m:?}\n{}",
            rows(term).join("\n")
        );
    }
}

#[test]
fn chat_with_interventions_80x24() {
    let mut app = chat();
    slash(&mut app, "/knockout 1 3 5");
    slash(&mut app, "/force 2 0");
    let term = draw(&app, 80, 24);
    check(&term, &["对话", "词元"]);
    insta::assert_snapshot!(term.backend());
}

#[test]
fn chat_with_interventions_160x48() {
    let mut app = chat();
    slash(&mut app, "/knockout 1 3 5");
    slash(&mut app, "/force 2 0");
    let term = draw(&app, 160, 48);
    check(&term, &["1 层中屏蔽了 2 个专家", "★ 1 个强制"]);
    insta::assert_snapshot!(term.backend());
}

#[test]
fn routing_80x24() {
    let mut app = chat();
    press(&mut app, KeyCode::F(2));
    let term = draw(&app, 80, 24);
    check(&term, &["路由", "位置"]);
    insta::assert_snapshot!(term.backend());
}

#[test]
fn routing_160x48() {
    let mut app = chat();
    press(&mut app, KeyCode::F(2));
    let term = draw(&app, 160, 48);
    check(
        &term,
        &["路由概率", "稠密（无路由器）", "Alt+PgUp/PgDn：切换层"],
    );
    insta::assert_snapshot!(term.backend());
}

#[test]
fn expert_load_80x24() {
    let mut app = chat();
    press(&mut app, KeyCode::F(2));
    press(&mut app, KeyCode::F(4));
    let term = draw(&app, 80, 24);
    check(&term, &["专家负载"]);
    insta::assert_snapshot!(term.backend());
}

#[test]
fn expert_load_160x48() {
    let mut app = chat();
    press(&mut app, KeyCode::F(2));
    press(&mut app, KeyCode::F(4));
    let term = draw(&app, 160, 48);
    check(&term, &["专家负载", "选中次数 ÷ 均分份额", "最忙"]);
    insta::assert_snapshot!(term.backend());
}

#[test]
fn sampling_80x24() {
    let mut app = chat();
    press(&mut app, KeyCode::F(6)); // settings changed since the draw
    press(&mut app, KeyCode::F(2));
    press(&mut app, KeyCode::F(2));
    let term = draw(&app, 80, 24);
    check(&term, &["抽到", "核：", "原始（T=1）"]);
    insta::assert_snapshot!(term.backend());
}

#[test]
fn sampling_160x48() {
    let mut app = chat();
    press(&mut app, KeyCode::F(6));
    press(&mut app, KeyCode::F(2));
    press(&mut app, KeyCode::F(2));
    let term = draw(&app, 160, 48);
    check(&term, &["当前设置", "达到 top_p"]);
    insta::assert_snapshot!(term.backend());
}

#[test]
fn stats_80x24() {
    let mut app = chat();
    slash(&mut app, "/stats");
    assert_eq!(app.pane(), Pane::Stats);
    let term = draw(&app, 80, 24);
    insta::assert_snapshot!(term.backend());
}

#[test]
fn stats_160x48() {
    let mut app = chat();
    slash(&mut app, "/stats 1.25");
    let term = draw(&app, 160, 48);
    insta::assert_snapshot!(term.backend());
}

#[test]
fn help_80x24() {
    let mut app = chat();
    press(&mut app, KeyCode::F(1));
    let term = draw(&app, 80, 24);
    check(&term, &["帮助"]);
    insta::assert_snapshot!(term.backend());
}

#[test]
fn help_160x48() {
    let mut app = chat();
    press(&mut app, KeyCode::F(1));
    let term = draw(&app, 160, 48);
    check(&term, &["帮助"]);
    insta::assert_snapshot!(term.backend());
}

#[test]
fn a_wrong_command_says_how_to_call_it_in_chinese() {
    let mut app = chat();
    slash(&mut app, "/temp hot");
    let term = draw(&app, 160, 48);
    check(&term, &["用法：/temp <0..2>，例如 /temp 0.8"]);
    slash(&mut app, "/knockout");
    let term = draw(&app, 160, 48);
    check(&term, &["/knockout <层|all> <专家>"]);
}

#[test]
fn english_stays_english() {
    let info = moe_info(16, 4, 6, 1);
    let shape = Shape::of(&info);
    let mut app = loaded(info);
    exchange(&mut app, shape.as_ref(), "Hi", "Hello.");
    press(&mut app, KeyCode::F(2));
    let term = draw(&app, 160, 48);
    assert!(screen_contains(&term, "router probability"));
    assert!(!screen_contains(&term, "路由概率"));
}

/// The real binary with `--lang zh-CN` on the project's tiny MoE, in a pseudo-terminal:
/// the status, key bar, strip and routing pane are Chinese from the first frame.
#[test]
fn the_real_binary_speaks_chinese_with_lang_zh_cn() {
    let model = common::tiny_moe();
    let model = model.to_str().expect("utf-8 path");
    let mut tui = Tui::start(
        &[
            "--model",
            model,
            "--threads",
            "1",
            "--max-tokens",
            "12",
            "--lang",
            "zh-CN",
        ],
        100,
        30,
    );
    let s = tui.wait_for("the model to load", |s| s.contains("就绪"));
    assert!(!s.contains("ready"), "{s}");
    assert!(s.contains("帮助") && s.contains("发送"), "{s}");
    tui.send("你好");
    tui.send("\r");
    let s = tui.wait_for("the reply to finish", |s| {
        s.contains("tok/s") && s.contains("就绪")
    });
    assert!(s.contains("首选专家"), "{s}");
    assert!(!s.contains("top expert") && !s.contains("following"), "{s}");
    tui.send("\x1bOQ"); // F2: the routing pane
    let s = tui.wait_for("the routing pane", |s| s.contains("路由概率"));
    assert!(
        s.contains("位置") && !s.contains("router probability"),
        "{s}"
    );
    tui.send("\x11"); // Ctrl+Q
    assert!(tui.wait_exit().success());
}
