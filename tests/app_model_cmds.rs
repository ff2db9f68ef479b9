//! `/lora` and `/experts`: slash commands that change the loaded model.

mod app_support;

use app_support::*;
use crossterm::event::KeyCode;
use moe_tutor::engine::api::{EngineCommand, EngineEvent};

fn command(app: &mut moe_tutor::app::App, line: &str) -> Vec<EngineCommand> {
    type_text(app, line);
    press(app, KeyCode::Enter)
}

#[test]
fn lora_switches_and_the_status_bar_says_so() {
    let mut info = moe_info(8, 2, 3, 1);
    info.lora_adapter = Some("adapter.gguf".into());
    let mut app = loaded(info);
    assert_eq!(app.lora(), Some(("adapter.gguf", true)));
    assert!(screen_contains(&draw(&app, 160, 48), "LoRA on"));
    let cmds = command(&mut app, "/lora off");
    assert!(
        matches!(cmds.as_slice(), [EngineCommand::SetLora(false)]),
        "{cmds:?}"
    );
    assert!(screen_contains(&draw(&app, 160, 48), "LoRA off"));
    let cmds = command(&mut app, "/lora");
    assert!(matches!(cmds.as_slice(), [EngineCommand::SetLora(true)]));
    assert!(command(&mut app, "/lora sideways").is_empty());
}

#[test]
fn lora_without_an_adapter_is_explained() {
    let mut app = loaded(moe_info(8, 2, 3, 1));
    assert!(command(&mut app, "/lora off").is_empty());
    assert!(app.notice().is_some());
    let term = draw(&app, 160, 48);
    assert!(!screen_contains(&term, "LoRA on") && !screen_contains(&term, "LoRA off"));
}

#[test]
fn experts_reloads_and_keeps_the_conversation() {
    let info = moe_info(8, 2, 3, 1);
    let mut app = loaded(info.clone());
    exchange(&mut app, Shape::of(&info).as_ref(), "hello", "hi there");
    let cmds = command(&mut app, "/experts 4");
    assert!(
        matches!(
            cmds.as_slice(),
            [EngineCommand::Reload {
                experts_used: Some(4)
            }]
        ),
        "{cmds:?}"
    );
    let mut reloaded = info.clone();
    reloaded.n_expert_used = 4;
    app.on_engine_event(EngineEvent::Loaded(Box::new(reloaded)));
    assert_eq!(app.model().unwrap().n_expert_used, 4);
    assert_eq!(app.messages().len(), 2, "the conversation stays");
    for bad in ["/experts 0", "/experts 9", "/experts x"] {
        assert!(command(&mut app, bad).is_empty(), "{bad}");
    }
}
