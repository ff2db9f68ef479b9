//! Views that teach, on a real tiny MoE through llama.cpp: what the model header says
//! about shared experts comes from the GGUF, and the routing pane's cell form changes the
//! routers the next reply runs through.

mod app_support;
mod common;

use moe_tutor::model::tiny::{self, TinySpec};

/// `expert_shared_count` 4 with experts 32 wide: llama.cpp builds one shared FFN 128
/// wide, and the app reports it as one expert four routed ones wide.
#[test]
fn shared_width_comes_from_the_gguf() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("wide-shared.gguf");
    let spec = TinySpec {
        n_expert_shared: 4,
        ..TinySpec::default()
    };
    tiny::write(&path, &spec).expect("write");
    let engine = common::start(common::load_options(&path)).expect("engine");
    assert_eq!(engine.info.n_expert_shared, 4);
    assert_eq!(engine.info.n_ff_exp, 32);
    assert_eq!(engine.info.n_ff_shexp, 128);
    assert_eq!(engine.info.shared_width_in_experts(), Some(4.0));
    engine.handle.shutdown();

    // qwen3moe has no shared expert at all.
    let engine = common::start(common::load_options(&common::tiny_qwen3moe())).expect("engine");
    assert_eq!(engine.info.shared_width_in_experts(), None);
    engine.handle.shutdown();
}

use app_support::{draw, loaded, moe_info, press, rows, screen_contains, type_text};
use crossterm::event::KeyCode;
use moe_tutor::app::{Action, App, AppConfig};
use moe_tutor::engine::api::{EngineCommand, EngineEvent};
use moe_tutor::routing::Phase;

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

/// Per generated token of the last reply: the experts chosen at model layer `layer`.
fn reply_picks(app: &App, layer: u16) -> Vec<Vec<u16>> {
    let reply = app.messages().last().expect("a reply");
    reply
        .tokens
        .iter()
        .filter(|t| t.phase == Phase::Generated)
        .filter_map(|t| t.routing.as_ref())
        .filter_map(|r| {
            let slot = r.layers.iter().position(|&l| l == layer)?;
            r.layer(slot).map(|v| v.experts.to_vec())
        })
        .collect()
}

/// Put the cell cursor on `expert` of the marked layer.
fn cursor_to(app: &mut App, expert: usize) {
    for _ in 0..10 {
        app.update(Action::CellLeft);
    }
    for _ in 0..expert {
        app.update(Action::CellRight);
    }
}

#[test]
fn cell_keys_change_what_the_next_reply_routes_through() {
    let path = common::tiny_moe();
    let mut engine = common::start(common::load_options(&path)).expect("engine");
    let mut app = App::new(AppConfig {
        model_path: path.clone(),
        params: common::params(0.8, 0.9, 3),
        max_tokens: 16,
        capture: true,
    });
    app.on_engine_event(EngineEvent::Loaded(Box::new(engine.info.clone())));
    type_text(&mut app, "Hello router");
    let cmds = press(&mut app, KeyCode::Enter);
    run(&mut app, &mut engine, cmds);

    // The expert layer 1 chose most often in the baseline reply.
    let base = reply_picks(&app, 1);
    assert!(base.len() >= 4, "{base:?}");
    let mut count = [0usize; 8];
    base.iter().flatten().for_each(|&e| count[e as usize] += 1);
    let busiest = (0..8).max_by_key(|&e| count[e]).unwrap();
    assert!(count[busiest] > 0);

    // The marked layer is layer 1 (the first MoE layer); the cursor goes to the expert.
    cursor_to(&mut app, busiest);
    assert_eq!(app.routing_cell(), Some((1, busiest)));
    let cmds = app.update(Action::CellKnockout);
    assert!(
        matches!(cmds.as_slice(), [EngineCommand::SetInterventions(i)]
            if i.knocked_out(1) == [busiest as u16]),
        "{cmds:?}"
    );
    assert!(
        app.notice().is_some_and(|n| !n.is_error),
        "{:?}",
        app.notice()
    );
    run(&mut app, &mut engine, cmds);
    let cmds = app.update(Action::Regenerate);
    run(&mut app, &mut engine, cmds);
    let after = reply_picks(&app, 1);
    assert!(after.len() >= 4, "{after:?}");
    assert!(
        after.iter().all(|picks| !picks.contains(&(busiest as u16))),
        "e{busiest} still chosen at layer 1: {after:?}"
    );
    // The pane marks the cell ✗ (under the cursor) and the status bar says so.
    press(&mut app, KeyCode::F(2));
    let term = draw(&app, 160, 40);
    let l1 = rows(&term)
        .into_iter()
        .find(|r| r.contains("▶L1 "))
        .expect("L1 row");
    assert_eq!(l1.matches('✗').count(), 1, "{l1}");
    assert!(screen_contains(&term, "experts out") || screen_contains(&term, "expert out"));
    assert!(screen_contains(&term, &format!("L1 e{busiest}: Alt+K out")));

    // Force another expert into the same layer: every token of the next reply has it.
    let other = (busiest + 3) % 8;
    cursor_to(&mut app, other);
    let cmds = app.update(Action::CellForce);
    assert!(
        matches!(cmds.as_slice(), [EngineCommand::SetInterventions(i)]
            if i.forced(1) == [other as u16] && i.knocked_out(1) == [busiest as u16]),
        "{cmds:?}"
    );
    run(&mut app, &mut engine, cmds);
    let cmds = app.update(Action::Regenerate);
    run(&mut app, &mut engine, cmds);
    let forced = reply_picks(&app, 1);
    assert!(!forced.is_empty());
    assert!(
        forced.iter().all(|p| p.contains(&(other as u16))),
        "e{other} not in every top-k at layer 1: {forced:?}"
    );
    // Clear takes it back out of the rules.
    let cmds = app.update(Action::CellClear);
    assert!(
        matches!(cmds.as_slice(), [EngineCommand::SetInterventions(i)]
            if i.forced(1).is_empty() && i.knocked_out(1) == [busiest as u16]),
        "{cmds:?}"
    );
    engine.handle.shutdown();
}

/// The cell keys go through the slash commands' check: what cannot work is refused with
/// the limit named, and nothing is sent.
#[test]
fn cell_keys_are_checked_like_the_slash_commands() {
    let mut app = loaded(moe_info(8, 2, 3, 1));
    // No cell yet: the message says how to pick one.
    assert!(app.update(Action::CellKnockout).is_empty());
    assert!(app
        .notice()
        .is_some_and(|n| n.is_error && n.text.contains("Shift+←/→")));
    // Knock out experts 0..6 of layer 1: the seventh leaves fewer than k = 2.
    for e in 0..6 {
        cursor_to(&mut app, e);
        assert_eq!(app.update(Action::CellKnockout).len(), 1, "e{e}");
    }
    cursor_to(&mut app, 6);
    assert!(app.update(Action::CellKnockout).is_empty());
    let notice = app.notice().expect("a refusal");
    assert!(notice.is_error, "{notice:?}");
    assert_eq!(app.interventions().knocked_out(1).len(), 6);
    // Clearing a cell with no rule says so and sends nothing.
    assert!(app.update(Action::CellClear).is_empty());
    // Down a layer: the cell moves to layer 2.
    app.update(Action::CellDown);
    assert_eq!(app.routing_cell(), Some((2, 6)));
}
