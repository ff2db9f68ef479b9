//! `EngineCommand::SwitchModel` through the real engine: a good file replaces the model
//! without restarting the engine thread; a file the checks refuse is answered with
//! `SwitchRefused` and the model loaded before keeps answering.

mod common;

use moe_tutor::engine::{EngineCommand, EngineEvent};

fn next_load_event(e: &mut common::Engine) -> EngineEvent {
    loop {
        let ev = common::recv(&mut e.rx);
        if matches!(
            ev,
            EngineEvent::Loaded(_) | EngineEvent::LoadFailed(_) | EngineEvent::SwitchRefused { .. }
        ) {
            return ev;
        }
    }
}

#[test]
fn a_good_file_replaces_the_model_and_a_refused_one_keeps_it() {
    let mut e = common::start(common::load_options(&common::tiny_moe())).expect("load");
    assert_eq!(e.info.arch, "deepseek");

    e.handle.send(EngineCommand::SwitchModel {
        path: common::tiny_qwen3moe(),
    });
    match next_load_event(&mut e) {
        EngineEvent::Loaded(info) => {
            assert_eq!(info.arch, "qwen3moe");
            assert!(info.path.ends_with("tiny-qwen3moe.gguf"), "{}", info.path);
        }
        other => panic!("expected Loaded, got {other:?}"),
    }

    let bad = common::scratch_file("not-a-model.gguf", b"GGUF but not really a model file");
    e.handle.send(EngineCommand::SwitchModel { path: bad });
    match next_load_event(&mut e) {
        EngineEvent::SwitchRefused { path, message } => {
            assert!(path.ends_with("not-a-model.gguf"), "{path}");
            assert!(message.contains("not-a-model.gguf"), "{message}");
        }
        other => panic!("expected SwitchRefused, got {other:?}"),
    }

    // The qwen3moe model is still loaded and answers.
    let reply = e.chat(
        7,
        vec![common::user("hello")],
        common::params(0.0, 1.0, 1),
        4,
    );
    assert!(reply.error.is_none(), "{:?}", reply.error);
    assert!(!reply.tokens.is_empty());
    // qwen3moe routes in every layer (the deepseek model's layer 0 was dense).
    assert!(reply.tokens[0].routing.is_some());
}
