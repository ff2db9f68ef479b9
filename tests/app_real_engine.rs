//! The app driven against the real engine and a real tiny GGUF MoE (written by the
//! project's own generator, run by llama.cpp): what the TUI loop does, minus the terminal.

mod app_support;
mod common;

use app_support::{draw, press, rows, screen_contains, type_text};
use crossterm::event::KeyCode;
use moe_tutor::app::ReplyStatus;
use moe_tutor::app::{App, AppConfig};
use moe_tutor::engine::api::{EngineCommand, EngineEvent};
use moe_tutor::routing::Phase;
use moe_tutor::transcript::Role;

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

#[test]
fn a_real_reply_fills_the_transcript_routing_and_sampling() {
    let path = common::tiny_moe();
    let mut engine = common::start(common::load_options(&path)).expect("engine");
    let mut app = App::new(AppConfig {
        model_path: path.clone(),
        params: common::params(0.8, 0.9, 3),
        max_tokens: 12,
        capture: true,
    });
    app.on_engine_event(EngineEvent::Loaded(Box::new(engine.info.clone())));

    type_text(&mut app, "Hello router");
    let cmds = press(&mut app, KeyCode::Enter);
    run(&mut app, &mut engine, cmds);

    let m = app.messages();
    assert_eq!(m.len(), 2);
    assert_eq!(m[1].role, Role::Assistant);
    assert!(matches!(
        m[1].status,
        ReplyStatus::Complete | ReplyStatus::MaxTokens
    ));
    assert!(
        !m[0].tokens.is_empty(),
        "prompt tokens land on the user turn"
    );
    assert!(m[0].tokens.iter().all(|t| t.phase == Phase::Prompt));
    assert!(!m[1].tokens.is_empty());
    assert!(m[1]
        .tokens
        .iter()
        .all(|t| t.routing.is_some() && t.step.is_some()));
    let concat: String = m[1].tokens.iter().map(|t| t.text.as_str()).collect();
    assert_eq!(concat, m[1].content);

    let term = draw(&app, 160, 48);
    for line in rows(&term) {
        println!("{line}");
    }
    assert!(screen_contains(&term, "L0 dense (no router)"));
    assert!(screen_contains(&term, "▶L1"));
    assert!(screen_contains(&term, "nucleus:"));
    assert!(screen_contains(&term, "tok/s"));

    // Walk back to the prompt: the last layer of most prompt tokens was not computed.
    press(&mut app, KeyCode::F(2));
    for _ in 0..3 {
        app_support::alt(&mut app, KeyCode::Up);
    }
    app_support::alt(&mut app, KeyCode::Right);
    let term = draw(&app, 80, 24);
    for line in rows(&term) {
        println!("{line}");
    }
    assert!(screen_contains(&term, "prompt"));

    // Regenerate: the same user turn, a fresh reply; prompt tokens are not duplicated.
    let n_prompt = app.messages()[0].tokens.len();
    let cmds = app.handle_key(crossterm::event::KeyEvent::new(
        KeyCode::Char('r'),
        crossterm::event::KeyModifiers::CONTROL,
    ));
    assert!(matches!(
        cmds.as_slice(),
        [EngineCommand::Generate { generation: 2, .. }]
    ));
    run(&mut app, &mut engine, cmds);
    assert_eq!(app.messages().len(), 2);
    assert!(app.messages()[0].tokens.len() <= n_prompt);
    assert!(!app.messages()[1].tokens.is_empty());
    engine.handle.shutdown();
}

/// Every context position is held by exactly one token of exactly one message, and the
/// positions run 0, 1, 2, ... without gaps.
fn one_record_per_position(app: &App) -> Vec<usize> {
    let mut positions: Vec<u32> = app
        .messages()
        .iter()
        .flat_map(|m| m.tokens.iter().map(|t| t.pos))
        .collect();
    let n = positions.len();
    positions.sort_unstable();
    positions.dedup();
    assert_eq!(positions.len(), n, "a position holds two records");
    assert_eq!(positions.last().map(|p| *p as usize + 1), Some(n), "gaps");
    app.messages().iter().map(|m| m.tokens.len()).collect()
}

/// Drain events until the engine answers a reload.
fn reloaded(app: &mut App, engine: &mut common::Engine, cmds: Vec<EngineCommand>) {
    for cmd in cmds {
        engine.handle.send(cmd);
    }
    loop {
        let ev = common::recv(&mut engine.rx);
        let done = matches!(ev, EngineEvent::Loaded(_) | EngineEvent::LoadFailed(_));
        app.on_engine_event(ev);
        if done {
            break;
        }
    }
}

/// A LoRA switch and a reload with another k both make the engine decode the whole
/// transcript again; the records it sends land by position, so every token keeps exactly
/// one record and earlier messages keep theirs.
#[test]
fn records_stay_one_per_token_across_lora_switch_and_reload() {
    let path = common::tiny_moe();
    let mut opts = common::load_options(&path);
    opts.lora = Some(common::tiny_lora());
    let mut engine = common::start(opts).expect("engine");
    let mut app = App::new(AppConfig {
        model_path: path.clone(),
        params: common::params(0.0, 1.0, 3),
        max_tokens: 6,
        capture: true,
    });
    app.on_engine_event(EngineEvent::Loaded(Box::new(engine.info.clone())));

    type_text(&mut app, "first message");
    let cmds = press(&mut app, KeyCode::Enter);
    run(&mut app, &mut engine, cmds);
    let after_one = one_record_per_position(&app);

    type_text(&mut app, "/lora off");
    let cmds = press(&mut app, KeyCode::Enter);
    assert!(matches!(cmds.as_slice(), [EngineCommand::SetLora(false)]));
    type_text(&mut app, "second message");
    let mut all = cmds;
    all.extend(press(&mut app, KeyCode::Enter));
    run(&mut app, &mut engine, all);
    let after_two = one_record_per_position(&app);
    assert_eq!(
        after_two[..2],
        after_one[..],
        "earlier messages keep their records"
    );
    assert!(
        app.last_stats().unwrap().cached_tokens == 0,
        "decoded again"
    );

    type_text(&mut app, "/experts 4");
    let cmds = press(&mut app, KeyCode::Enter);
    assert!(matches!(cmds.as_slice(), [EngineCommand::Reload { .. }]));
    reloaded(&mut app, &mut engine, cmds);
    assert_eq!(app.model().unwrap().n_expert_used, 4);
    type_text(&mut app, "third message");
    let cmds = press(&mut app, KeyCode::Enter);
    run(&mut app, &mut engine, cmds);
    let after_three = one_record_per_position(&app);
    assert_eq!(
        after_three[..4],
        after_two[..],
        "earlier messages keep their records"
    );
    assert_eq!(app.messages().len(), 6);
    // The newest reply was routed with the new k.
    let newest = app.messages()[5].tokens.last().unwrap();
    let layer = newest.routing.as_ref().unwrap().layer(0).unwrap();
    assert_eq!(layer.experts.len(), 4);
}

/// Greedy reply to `prompt` on the model at `path`: the app after the reply.
fn greedy_reply(path: &std::path::Path, prompt: &str) -> App {
    let mut engine = common::start(common::load_options(path)).expect("engine");
    let mut app = App::new(AppConfig {
        model_path: path.to_path_buf(),
        params: common::params(0.0, 1.0, 3),
        max_tokens: 4,
        capture: false,
    });
    app.on_engine_event(EngineEvent::Loaded(Box::new(engine.info.clone())));
    type_text(&mut app, prompt);
    let cmds = press(&mut app, KeyCode::Enter);
    run(&mut app, &mut engine, cmds);
    engine.handle.shutdown();
    app
}

/// A reply the model ends before writing any text is not silent in the TUI: a notice names
/// the token that ended it (issue 15 item 4), as `run` does on stderr.
#[test]
fn an_empty_reply_shows_a_notice_naming_its_end_token() {
    let app = greedy_reply(&common::tiny_moe(), "Hi there");
    let first = app.messages()[1].tokens[0].token_id;
    assert!(!app.messages()[1].content.trim().is_empty());
    assert!(
        app.notice()
            .is_none_or(|n| !n.text.contains("reply is empty")),
        "a reply with text says nothing about it"
    );
    // Same weights, that first token declared the end of generation: greedy decoding ends
    // the turn at once.
    let dir = tempfile::tempdir().unwrap();
    let mut w =
        moe_tutor::model::tiny::build(&moe_tutor::model::tiny::TinySpec::default()).unwrap();
    w.set("tokenizer.ggml.eos_token_id", first);
    let ends = dir.path().join("ends-at-once.gguf");
    w.write(&ends).unwrap();
    let app = greedy_reply(&ends, "Hi there");
    let reply = &app.messages()[1];
    assert_eq!(reply.status, ReplyStatus::Complete);
    assert!(reply.content.is_empty() && reply.tokens.is_empty());
    let notice = app.notice().expect("a notice");
    assert!(!notice.is_error);
    assert!(notice.text.contains("reply is empty"), "{}", notice.text);
    assert!(
        notice.text.contains(&format!("token {first} ")),
        "{}",
        notice.text
    );
    let term = draw(&app, 100, 24);
    assert!(screen_contains(&term, &format!("token {first} ")));
}
