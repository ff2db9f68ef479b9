//! Branching a reply from one of its tokens, against the real engine and a tiny GGUF MoE:
//! the second candidate of a step is written there instead, the reply goes on from it as a
//! new branch (the KV cache taken back to that position in the engine), the sampling pane
//! marks the split, and every branch survives a restart (the journal reopened by a new App).

mod app_support;
mod common;

use app_support::{draw, press, screen_contains, type_text};
use crossterm::event::KeyCode;
use moe_tutor::app::keymap::Action;
use moe_tutor::app::{App, AppConfig, Pane};
use moe_tutor::engine::api::{EngineCommand, EngineEvent};
use moe_tutor::store::{list, Store};

fn app(
    model: &std::path::Path,
    data: &std::path::Path,
    info: &moe_tutor::transcript::ModelInfo,
) -> App {
    let mut app = App::new(AppConfig {
        model_path: model.to_path_buf(),
        // Greedy: the drawn token is always candidate 1, so candidate 2 is another token.
        params: common::params(0.0, 1.0, 3),
        max_tokens: 10,
        capture: true,
    })
    .with_store(Store::in_data_dir(data));
    app.on_engine_event(EngineEvent::Loaded(Box::new(info.clone())));
    app
}

/// Send the app's commands to the engine and feed its events back until the reply ends.
fn run(app: &mut App, engine: &mut common::Engine, cmds: Vec<EngineCommand>) {
    for cmd in cmds {
        engine.handle.send(cmd);
    }
    while app.is_generating() {
        let ev = common::recv(&mut engine.rx);
        app.on_engine_event(ev);
    }
}

fn slash(app: &mut App, engine: &mut common::Engine, line: &str) {
    type_text(app, line);
    let cmds = press(app, KeyCode::Enter);
    run(app, engine, cmds);
}

fn ids(tokens: &[moe_tutor::transcript::TokenEvent]) -> Vec<u32> {
    tokens.iter().map(|t| t.token_id).collect()
}

#[test]
fn the_second_candidate_starts_a_branch_that_survives_a_restart() {
    let model = common::tiny_moe();
    let data = tempfile::tempdir().unwrap();
    let mut engine = common::start(common::load_options(&model)).expect("engine");
    let mut app = app(&model, data.path(), &engine.info);

    slash(&mut app, &mut engine, "Hello router");
    let first = app.messages()[1].clone();
    assert!(first.tokens.len() >= 3, "{:?}", first.content);
    let s = 2;
    let step = first.tokens[s].step.clone().expect("a sampling step");
    let picked = step.candidates[1].token_id;
    assert_ne!(picked, first.tokens[s].token_id, "greedy drew candidate 1");

    app.update(Action::SelectReplyToken(s as u32));
    slash(&mut app, &mut engine, "/branch 2");
    let m = &app.messages()[1];
    assert_eq!((m.branch_index(), m.branch_count()), (1, 2));
    assert_eq!(m.split(), Some(s));
    // The kept tokens are the first branch's, the picked token is at the step, and the
    // model went on from it with routing captured.
    assert_eq!(ids(&m.tokens[..s]), ids(&first.tokens[..s]));
    assert_eq!(m.tokens[s].token_id, picked);
    assert_eq!(m.tokens[s].pos, first.tokens[s].pos);
    let forced = m.tokens[s]
        .step
        .as_ref()
        .expect("the forced step keeps its distribution");
    assert_eq!(forced.chosen, picked);
    assert_eq!(forced.candidates, step.candidates);
    assert!(
        m.tokens.len() > s + 1,
        "the reply went on after the picked token"
    );
    assert!(m.tokens[s..].iter().all(|t| t.routing.is_some()));
    assert_ne!(m.content, first.content);
    let concat: String = m.tokens.iter().map(|t| t.text.as_str()).collect();
    assert!(m.content.starts_with(&concat) || concat.starts_with(&m.content));
    let second = m.clone();

    // The chat says which branch is shown; the sampling pane marks the split and what
    // the first branch wrote there.
    app.update(Action::ShowPane(Pane::Sampling));
    app.update(Action::SelectReplyToken(s as u32));
    let term = draw(&app, 120, 32);
    assert!(screen_contains(&term, "branch 2/2"));
    assert!(screen_contains(&term, "leaves the first one here"));
    assert!(screen_contains(&term, "other branches at this step:"));
    // With the first branch's experts at the marked layer (L1 of the tiny model).
    let l1 = first.tokens[s].routing.as_ref().unwrap().layer(0).unwrap();
    let experts: Vec<String> = l1.experts.iter().map(|e| format!("e{e}")).collect();
    assert!(screen_contains(
        &term,
        &format!(
            "1 {} L1 {}",
            moe_tutor::app::views::strip::token_label(&first.tokens[s].text),
            experts.join(" ")
        )
    ));

    // A typed text is forced token by token.
    app.update(Action::SelectReplyToken(s as u32));
    slash(&mut app, &mut engine, "/branch \"zebra\"");
    let m = &app.messages()[1];
    assert_eq!((m.branch_index(), m.branch_count()), (2, 3));
    let after: String = m.tokens[s..].iter().map(|t| t.text.as_str()).collect();
    assert!(after.trim_start().starts_with("zebra"), "{after:?}");
    let third = m.content.clone();
    engine.handle.shutdown();

    // A new App reopens the journal: all three branches, the third one shown.
    let journal = app.journal_path().unwrap().to_path_buf();
    drop(app);
    let conv = list::read(&journal).unwrap();
    assert_eq!(conv.skipped, 0);
    let mut app = App::new(app_support::config()).with_store(Store::in_data_dir(data.path()));
    app.update(Action::Conversations);
    press(&mut app, KeyCode::Enter);
    let m = &app.messages()[1];
    assert_eq!((m.branch_index(), m.branch_count()), (2, 3));
    assert_eq!(m.content, third);
    let texts: Vec<String> = m.all_branches().into_iter().map(|b| b.content).collect();
    assert_eq!(
        texts,
        [first.content.clone(), second.content.clone(), third]
    );
    assert_eq!(m.all_branches()[1].split, Some(s));

    // Switching branches is saved too: the next App opens on branch 1.
    type_text(&mut app, "/branches 1");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.messages()[1].content, first.content);
    drop(app);
    let mut app = App::new(app_support::config()).with_store(Store::in_data_dir(data.path()));
    app.update(Action::Conversations);
    press(&mut app, KeyCode::Enter);
    let m = &app.messages()[1];
    assert_eq!((m.branch_index(), m.branch_count()), (0, 3));
    assert_eq!(m.content, first.content);
}

#[test]
fn a_version_1_journal_still_opens() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("conversations");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("20261201-000000.jsonl"),
        concat!(
            r#"{"type":"start","v":1,"id":"20261201-000000","created":1764547200,"model":"m"}"#,
            "\n",
            r#"{"type":"message","role":"user","content":"hi","status":"complete","time":1}"#,
            "\n",
            r#"{"type":"message","role":"assistant","content":"hello","status":"complete","time":2}"#,
            "\n",
        ),
    )
    .unwrap();
    let mut app = App::new(app_support::config()).with_store(Store::in_data_dir(data.path()));
    app.update(Action::Conversations);
    press(&mut app, KeyCode::Enter);
    let texts: Vec<&str> = app.messages().iter().map(|m| m.content.as_str()).collect();
    assert_eq!(texts, ["hi", "hello"]);
    assert_eq!(app.messages()[1].branch_count(), 1);
}

/// Alt+B tries the candidates of a step in order, skipping what a branch already wrote
/// there; Alt+[ and Alt+] switch between the branches.
#[test]
fn alt_b_tries_the_next_candidate_and_brackets_switch_branches() {
    let model = common::tiny_moe();
    let data = tempfile::tempdir().unwrap();
    let mut engine = common::start(common::load_options(&model)).expect("engine");
    let mut app = app(&model, data.path(), &engine.info);
    slash(&mut app, &mut engine, "Hello router");
    let first = app.messages()[1].clone();
    let s = 1;
    let cands: Vec<u32> = first.tokens[s]
        .step
        .as_ref()
        .expect("step")
        .candidates
        .iter()
        .map(|c| c.token_id)
        .collect();
    assert_eq!(
        first.tokens[s].token_id, cands[0],
        "greedy drew candidate 1"
    );
    for (want_branch, want_token) in [(1, cands[1]), (2, cands[2])] {
        app.update(Action::SelectReplyToken(s as u32));
        let cmds = app_support::alt(&mut app, KeyCode::Char('b'));
        run(&mut app, &mut engine, cmds);
        let m = &app.messages()[1];
        assert_eq!(m.branch_index(), want_branch);
        assert_eq!(m.tokens[s].token_id, want_token);
    }
    app_support::alt(&mut app, KeyCode::Char('['));
    assert_eq!(app.messages()[1].branch_index(), 1);
    assert_eq!(app.messages()[1].tokens[s].token_id, cands[1]);
    app_support::alt(&mut app, KeyCode::Char(']'));
    app_support::alt(&mut app, KeyCode::Char(']'));
    assert_eq!(app.messages()[1].branch_index(), 0, "wraps round");
    assert_eq!(app.messages()[1].content, first.content);
    engine.handle.shutdown();
}
