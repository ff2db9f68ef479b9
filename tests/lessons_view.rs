//! The lesson pane beside the live panes, and the lesson list, in English and Chinese at
//! 80x24 and 160x48; a fixed lesson written by the test keeps the snapshots stable.

mod app_support;

use app_support::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use moe_tutor::app::{App, LessonSetup};
use moe_tutor::lessons::{load_dir, Lang};

const LESSON: &str = r#"id = "view"
sources = ["Shazeer et al. 2017, arXiv 1701.06538"]
[title]
en = "Routers"
zh-CN = "路由器"
[summary]
en = "How a router picks experts."
zh-CN = "路由器如何挑选专家。"

[[step]]
kind = "observe"
pane = "routing"
layer = 1
[step.text]
en = "The **routing** pane: ◆ marks the experts the router chose [1]."
zh-CN = "**路由**面板：◆ 标出路由器选中的专家 [1]。中文文本会按显示宽度正确换行，每个汉字占两列。"

[[step]]
kind = "quiz"
[step.question]
en = "How many experts run per token?"
zh-CN = "每个词元运行多少个专家？"
[[step.choice]]
correct = false
text = { en = "All of them", zh-CN = "全部" }
explain = { en = "That would be a dense layer.", zh-CN = "那是稠密层。" }
[[step.choice]]
correct = true
text = { en = "The top k", zh-CN = "前 k 个" }
explain = { en = "Right: only the k best run [1].", zh-CN = "对：只有最好的 k 个运行 [1]。" }
"#;

/// Wide characters leave a blank cell behind them: compare without spaces.
fn shows(term: &ratatui::Terminal<ratatui::backend::TestBackend>, needle: &str) -> bool {
    let needle: String = needle.chars().filter(|c| *c != ' ').collect();
    rows(term).iter().any(|r| {
        r.chars()
            .filter(|c| *c != ' ')
            .collect::<String>()
            .contains(&needle)
    })
}

fn app(lang: Lang) -> (App, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("01-view.toml"), LESSON).expect("write");
    std::fs::write(dir.path().join("02-broken.toml"), "id = 3\n").expect("write");
    let info = moe_info(16, 4, 6, 1);
    let shape = Shape::of(&info);
    let mut app = loaded(info);
    exchange(
        &mut app,
        shape.as_ref(),
        "Which experts?",
        "Experts **two** and five.",
    );
    app.setup_lessons(LessonSetup {
        library: load_dir(dir.path()),
        lang,
        store: None,
        open_list: true,
        lang_explicit: true,
    });
    (app, dir)
}

/// The quiz step with the wrong answer picked: choices, marks and the explanation.
fn quiz(lang: Lang) -> App {
    let (mut app, _dir) = app(lang);
    press(&mut app, KeyCode::Enter);
    ctrl(&mut app, 'n');
    app.handle_key(KeyEvent::new(KeyCode::Char('1'), KeyModifiers::ALT));
    app
}

#[test]
fn list_80x24_en() {
    let (app, _dir) = app(Lang::En);
    insta::assert_snapshot!(draw(&app, 80, 24).backend());
}

#[test]
fn list_80x24_zh() {
    let (app, _dir) = app(Lang::ZhCn);
    let term = draw(&app, 80, 24);
    assert!(shows(&term, "路由器 共 2 步"));
    assert!(shows(&term, "02-broken.toml 无法加载：第"));
    assert!(shows(&term, "Enter 开始"));
    insta::assert_snapshot!(term.backend());
}

#[test]
fn observe_highlights_routing_160x48_zh() {
    let (mut app, _dir) = app(Lang::ZhCn);
    press(&mut app, KeyCode::Enter);
    let term = draw(&app, 160, 48);
    assert!(shows(&term, "路由器 · 1/2 观察"));
    insta::assert_snapshot!(term.backend());
}

#[test]
fn quiz_80x24_en() {
    insta::assert_snapshot!(draw(&quiz(Lang::En), 80, 24).backend());
}

#[test]
fn quiz_160x48_en() {
    insta::assert_snapshot!(draw(&quiz(Lang::En), 160, 48).backend());
}

#[test]
fn quiz_80x24_zh() {
    insta::assert_snapshot!(draw(&quiz(Lang::ZhCn), 80, 24).backend());
}

#[test]
fn quiz_160x48_zh() {
    insta::assert_snapshot!(draw(&quiz(Lang::ZhCn), 160, 48).backend());
}

#[test]
fn f10_switches_the_language_in_place() {
    let mut app = quiz(Lang::En);
    press(&mut app, KeyCode::F(10));
    assert_eq!(app.lang(), Lang::ZhCn);
    assert!(shows(&draw(&app, 80, 24), "那是稠密层"));
}

/// A code line wider than the lesson pane wraps inside the code frame: every row between
/// `┌─` and `└─` starts with the frame's `│`, none spills under it.
#[test]
fn a_long_code_line_wraps_inside_its_frame_at_80x24() {
    let lesson = r#"id = "code"
[title]
en = "Code"
zh-CN = "代码"
[summary]
en = "s"
zh-CN = "概"
[[step]]
kind = "code"
language = "python"
code = """print(kv_cache_bytes(30, 3, 64, 2, 4096), kv_cache_bytes(30, 9, 64, 2, 8192))  # a long comment"""
[step.text]
en = "Caption."
zh-CN = "说明。"
"#;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("01-code.toml"), lesson).expect("write");
    let mut app = loaded(moe_info(16, 4, 6, 1));
    app.setup_lessons(LessonSetup {
        library: load_dir(dir.path()),
        lang: Lang::En,
        store: None,
        open_list: true,
        lang_explicit: true,
    });
    press(&mut app, KeyCode::Enter);
    let screen = rows(&draw(&app, 80, 24));
    // The lesson pane's own column: the text after its left border.
    let inner: Vec<String> = screen
        .iter()
        .map(|r| r.chars().skip(1).collect::<String>())
        .collect();
    let top = inner
        .iter()
        .position(|r| r.starts_with("┌─"))
        .expect("frame top");
    let bottom = inner
        .iter()
        .position(|r| r.starts_with("└─"))
        .expect("frame bottom");
    assert!(bottom > top + 2, "the long line wrapped: {screen:#?}");
    for r in &inner[top + 1..bottom] {
        assert!(
            r.starts_with("│ "),
            "a code row outside the frame: {r:?}\n{screen:#?}"
        );
    }
    let code: String = inner[top + 1..bottom]
        .iter()
        .map(|r| {
            r.trim_start_matches("│ ")
                .split('│')
                .next()
                .unwrap_or("")
                .trim_end()
        })
        .collect();
    let code: String = code.chars().filter(|c| *c != ' ').collect();
    assert!(
        code.contains("#alongcomment"),
        "nothing was cut: {screen:#?}"
    );
}
