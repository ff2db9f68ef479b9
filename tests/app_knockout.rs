//! `/knockout`: the app validates the request, tells the engine, and marks the knocked-out
//! experts in the routing pane.

mod app_support;

use app_support::*;
use crossterm::event::KeyCode;
use moe_tutor::engine::api::EngineCommand;

fn command(app: &mut moe_tutor::app::App, line: &str) -> Vec<EngineCommand> {
    type_text(app, line);
    press(app, KeyCode::Enter)
}

#[test]
fn knockout_sends_the_set_and_marks_the_routing_pane() {
    let info = moe_info(8, 2, 3, 1);
    let mut app = loaded(info.clone());
    let cmds = command(&mut app, "/knockout 1 3 5");
    let want: std::collections::BTreeMap<u32, Vec<u16>> = [(1, vec![3, 5])].into();
    assert!(
        matches!(cmds.as_slice(), [EngineCommand::SetInterventions(i)] if i.knockout == want),
        "{cmds:?}"
    );
    assert_eq!(app.interventions().knockout, want);
    exchange(
        &mut app,
        Shape::of(&info).as_ref(),
        "hello there",
        "general kenobi",
    );
    press(&mut app, KeyCode::F(2));
    let term = draw(&app, 100, 30);
    let row = rows(&term)
        .into_iter()
        .find(|r| r.contains("L1 "))
        .expect("layer 1 row");
    assert_eq!(row.matches('✗').count(), 2, "{row}");
    // The status bar says an intervention is active.
    let wide = draw(&app, 160, 30);
    assert!(screen_contains(&wide, "✗ 2 experts out in 1 layer"));
    let cleared = command(&mut app, "/knockout clear");
    assert!(matches!(cleared.as_slice(), [EngineCommand::SetInterventions(i)] if i.is_empty()));
    let term = draw(&app, 160, 30);
    assert!(!screen_contains(&term, "✗"));
}

#[test]
fn knockout_refuses_what_cannot_work() {
    let mut app = loaded(moe_info(8, 2, 3, 1));
    for bad in [
        "/knockout",
        "/knockout 9 1",
        "/knockout 1 8",
        "/knockout 1 0 1 2 3 4 5 6",
    ] {
        assert!(command(&mut app, bad).is_empty(), "{bad} was accepted");
        assert!(app.notice().is_some());
    }
    let mut dense = loaded(dense_info());
    assert!(command(&mut dense, "/knockout 1 2").is_empty());
}

#[test]
fn force_restrict_and_a_refusal_roll_back() {
    let info = moe_info(8, 2, 3, 1);
    let mut app = loaded(info.clone());
    let cmds = command(&mut app, "/force 1 2");
    assert!(
        matches!(cmds.as_slice(), [EngineCommand::SetInterventions(i)] if i.forced(1) == [2]),
        "{cmds:?}"
    );
    // Checked against the model before anything is sent: k = 2 needs two allowed experts.
    let cmds = command(&mut app, "/restrict 2 5");
    assert!(cmds.is_empty());
    assert!(app.notice().unwrap().text.contains("needs k = 2"));
    assert!(app.interventions().restricted_to(2).is_empty());
    let cmds = command(&mut app, "/knockout all 7");
    assert!(
        matches!(cmds.as_slice(), [EngineCommand::SetInterventions(i)]
            if i.knocked_out(1) == [7] && i.knocked_out(2) == [7] && i.forced(1) == [2]),
        "{cmds:?}"
    );
    exchange(
        &mut app,
        Shape::of(&info).as_ref(),
        "hello there",
        "general kenobi",
    );
    press(&mut app, KeyCode::F(2));
    let term = draw(&app, 160, 30);
    assert!(screen_contains(&term, "★ 1 forced"), "status bar");
    let row = rows(&term)
        .into_iter()
        .find(|r| r.contains("L1 "))
        .expect("layer 1 row");
    assert_eq!(row.matches('★').count(), 1, "{row}");
    assert_eq!(row.matches('✗').count(), 1, "{row}");
    // The engine refuses the last change (say, an unsupported gating function): the app
    // goes back to what the engine still applies.
    app.on_engine_event(moe_tutor::engine::api::EngineEvent::InterventionsRefused {
        message: "gating function not supported".into(),
    });
    assert!(app.interventions().knocked_out(1).is_empty());
    assert_eq!(app.interventions().forced(1), &[2]);
    assert!(app.notice().unwrap().is_error);
}
