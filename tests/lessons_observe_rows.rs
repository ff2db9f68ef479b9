//! At 80x24 with a lesson open, the pane an observe step points at keeps the rows it needs
//! (the lesson text shrinks and scrolls), for each kind of observed pane; Ctrl+F folds the
//! lesson to one row, and its frame says so.

mod app_support;

use app_support::*;
use crossterm::event::KeyCode;
use moe_tutor::app::{App, LessonSetup, RoutingView};
use moe_tutor::lessons::{load_dir, Lang};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

/// Four observe steps, each with more text than the pane keeps at 80x24.
const LESSON: &str = r#"id = "observe"
sources = ["Shazeer et al. 2017, arXiv 1701.06538"]
[title]
en = "Looking"
zh-CN = "观察"
[summary]
en = "Where to look."
zh-CN = "看哪里。"

[[step]]
kind = "observe"
pane = "routing"
layer = 1
[step.text]
en = """The **routing** pane shows, for the selected token, one row per layer and one column
per expert. ◆ marks the experts the router chose for that layer [1]. Look at layer 1: which
experts did it choose, and how strongly did the router prefer them over the others? The
shading says how strongly; the legend says which shading is in use."""
zh-CN = "**路由**面板：每层一行，每个专家一列，◆ 标出路由器在该层选中的专家 [1]。请看第 1 层：它选了哪些专家？路由器对它们的偏好有多强？深浅表示偏好强弱，图例说明使用的着色方式。"

[[step]]
kind = "observe"
pane = "sampling"
[step.text]
en = """The **sampling** pane lists the candidates the model weighed for the selected token,
before and after temperature, with the nucleus that top_p kept. The token drawn is marked.
Compare the raw column with the one after temperature: which candidates gained, which lost?"""
zh-CN = "**采样**面板列出模型为所选词元权衡过的候选词元，显示温度调整前后的概率，以及 top_p 保留的核。被抽中的词元有标记。比较两列：哪些候选变多了，哪些变少了？"

[[step]]
kind = "observe"
pane = "strip"
[step.text]
en = """The **token strip** under the transcript colours each token by the top expert of the
chosen layer. Runs of one colour are tokens the same expert handled first. Step through the
tokens with Alt+← and Alt+→ and watch the colour under the cursor change with the layer."""
zh-CN = "对话下方的**词元条**按所选层的首选专家给每个词元着色。同色的一串词元由同一个专家首先处理。用 Alt+← 和 Alt+→ 逐个查看词元。"

[[step]]
kind = "observe"
pane = "routing"
layer = 2
[step.text]
en = """Press F4 until the routing pane shows the **expert load**: how often each expert was
among the chosen over the whole conversation, against an even share. Look at layer 2: is
any expert never chosen? Is one chosen far more often than the even share would give it?"""
zh-CN = "按 F4 直到路由面板显示**专家负载**：整个对话中每个专家被选中的次数，与均分份额相比。请看第 2 层：有没有从未被选中的专家？"
"#;

fn open(step: usize) -> (App, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("01-observe.toml"), LESSON).expect("write");
    let info = moe_info(16, 4, 6, 1);
    let shape = Shape::of(&info);
    let mut app = loaded(info);
    exchange(
        &mut app,
        shape.as_ref(),
        "Which experts?",
        "Experts two and five, then seven.",
    );
    app.setup_lessons(LessonSetup {
        library: load_dir(dir.path()),
        lang: Lang::En,
        store: None,
        open_list: true,
        lang_explicit: true,
    });
    press(&mut app, KeyCode::Enter);
    for _ in 0..step {
        ctrl(&mut app, 'n');
    }
    assert!(app.lesson_open());
    (app, dir)
}

/// Rows `top..` of the screen from the first row containing `from`.
fn below(term: &Terminal<TestBackend>, from: &str) -> Vec<String> {
    let all = rows(term);
    let at = all
        .iter()
        .position(|r| r.contains(from))
        .unwrap_or_else(|| panic!("no {from:?} on screen: {all:#?}"));
    all[at..].to_vec()
}

/// The lesson pane is still on screen, shrunk: its frame and the observed pane's name.
fn lesson_frame(term: &Terminal<TestBackend>, target: &str) {
    let all = rows(term);
    assert!(
        all[0].contains("Looking") && all[0].contains(target),
        "{all:#?}"
    );
    assert!(
        all.iter().any(|r| r.contains("^F fold")),
        "the frame shows the fold key: {all:#?}"
    );
}

#[test]
fn routing_rows_are_on_screen() {
    let (app, _dir) = open(0);
    let term = draw(&app, 80, 24);
    lesson_frame(&term, "◆ routing L1");
    let pane = below(&term, "┌ routing");
    // The observed layer's heatmap row, with the chosen experts marked, and the next one.
    let l1 = pane.iter().find(|r| r.contains("▶L1 ")).expect("L1 row");
    assert!(l1.contains('◆'), "{l1}");
    assert!(pane.iter().any(|r| r.contains(" L2 ")), "{pane:#?}");
    assert!(
        pane.iter().any(|r| r.contains("L1: e")),
        "weights: {pane:#?}"
    );
    insta::assert_snapshot!(term.backend());
}

#[test]
fn sampling_rows_are_on_screen() {
    let (app, _dir) = open(1);
    let term = draw(&app, 80, 24);
    lesson_frame(&term, "◆ sampling");
    let pane = below(&term, "┌ sampling");
    assert!(pane.iter().any(|r| r.contains("raw (T=1)")), "{pane:#?}");
    // At least three candidates with their two probabilities.
    let candidates = pane.iter().filter(|r| r.matches('%').count() >= 2).count();
    assert!(candidates >= 3, "{pane:#?}");
    insta::assert_snapshot!(term.backend());
}

#[test]
fn strip_rows_are_on_screen() {
    let (app, _dir) = open(2);
    let term = draw(&app, 80, 24);
    lesson_frame(&term, "◆ strip");
    let pane = below(&term, " tokens · L1");
    assert!(pane.len() > 3, "{pane:#?}");
    assert!(pane[3].contains("colour = top expert at L1"), "{pane:#?}");
    insta::assert_snapshot!(term.backend());
}

#[test]
fn load_rows_are_on_screen() {
    let (mut app, _dir) = open(3);
    press(&mut app, KeyCode::F(4));
    assert_eq!(app.routing_view(), RoutingView::Load);
    let term = draw(&app, 80, 24);
    lesson_frame(&term, "◆ routing L2");
    let pane = below(&term, "┌ routing");
    assert!(pane.iter().any(|r| r.contains("expert load")), "{pane:#?}");
    let l2 = pane.iter().find(|r| r.contains("▶L2 ")).expect("L2 row");
    assert!(l2.contains('x'), "the row's max/even figure: {l2}");
    assert!(
        pane.iter().any(|r| r.contains("tokens · busiest")),
        "{pane:#?}"
    );
    insta::assert_snapshot!(term.backend());
}

#[test]
fn ctrl_f_folds_the_lesson_to_one_row() {
    let (mut app, _dir) = open(0);
    let before = rows(&draw(&app, 80, 24))
        .iter()
        .position(|r| r.contains("┌ routing"))
        .unwrap();
    ctrl(&mut app, 'f');
    let term = draw(&app, 80, 24);
    let all = rows(&term);
    assert!(all[0].contains("Looking"), "{all:#?}");
    assert!(all[1].contains("look at: routing · L1"), "{all:#?}");
    assert!(all[2].contains("^F unfold"), "{all:#?}");
    assert!(all[3].contains("┌ routing"), "{all:#?}");
    assert!(before > 3);
    ctrl(&mut app, 'f');
    assert!(!app.layout().lesson_folded());
    insta::assert_snapshot!(term.backend());
}
