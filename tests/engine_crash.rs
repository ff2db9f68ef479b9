//! A panic in the engine thread while it handles a request is an event, not the end of the
//! engine: `Crashed` for that request, an error for requests until a reload, and after
//! `Reload` the engine loads and generates again. The panic comes from the test hook
//! `MOE_TUTOR_FAULT=engine_panic_on_generate` (debug builds; first request only).
//! One test in this binary: it sets the variable for the whole process.

mod common;

use common::{params, recv, user};
use moe_tutor::engine::{EngineCommand, EngineEvent};

#[test]
fn an_engine_panic_is_reported_and_a_reload_brings_the_model_back() {
    std::env::set_var("MOE_TUTOR_FAULT", "engine_panic_on_generate");
    let mut e = common::start(common::load_options(&common::tiny_moe())).expect("load");

    e.generate(1, vec![user("Hello")], params(0.0, 1.0, 1), 4);
    let (generation, message) = loop {
        match recv(&mut e.rx) {
            EngineEvent::Crashed {
                generation,
                message,
            } => break (generation, message),
            EngineEvent::Done { .. } => panic!("the request finished instead of crashing"),
            _ => {}
        }
    };
    assert_eq!(generation, Some(1));
    assert!(message.contains("MOE_TUTOR_FAULT"), "{message}");

    // No model now: a request gets an error, not silence.
    let r = e.chat(2, vec![user("Hello")], params(0.0, 1.0, 1), 4);
    assert!(
        r.error
            .as_deref()
            .is_some_and(|m| m.contains("no model is loaded")),
        "{r:?}"
    );

    // A reload loads the model again, and it answers.
    e.handle.send(EngineCommand::Reload { experts_used: None });
    match recv(&mut e.rx) {
        EngineEvent::Loaded(info) => assert_eq!(info.n_expert, 8),
        other => panic!("expected Loaded, got {other:?}"),
    }
    let r = e.chat(3, vec![user("Hello")], params(0.0, 1.0, 1), 4);
    assert!(r.error.is_none(), "{r:?}");
    assert!(r.reason.is_some() && !r.prompt.is_empty(), "{r:?}");
}
