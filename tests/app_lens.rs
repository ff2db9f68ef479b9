//! The layer lens overlay: what Alt+L asks of the engine, how the answer is drawn at 80x24
//! and 160x48, that it follows the selection and drops stale answers, and the whole path
//! through the real engine on the tiny MoE.

mod app_support;
mod common;

use app_support::*;
use crossterm::event::KeyCode;
use moe_tutor::app::overlay::lens::LensState;
use moe_tutor::app::App;
use moe_tutor::engine::api::{EngineCommand, EngineEvent};
use moe_tutor::routing::lens::{LayerLens, LensCandidate, LensRow};

fn app() -> App {
    let info = moe_info(16, 4, 6, 1);
    let shape = Shape::of(&info);
    let mut app = loaded(info);
    exchange(&mut app, shape.as_ref(), "Finish: once upon", " a time");
    app
}

/// The lens request in `cmds`: (generation, tokens).
fn asked(cmds: &[EngineCommand]) -> (u64, Vec<u32>) {
    match cmds {
        [EngineCommand::Lens {
            generation,
            start: 0,
            tokens,
        }] => (*generation, tokens.clone()),
        other => panic!("expected one Lens command, got {other:?}"),
    }
}

/// A made-up answer: six layers that settle on `answer` (token id `id`) from layer 3 on.
fn answer(pos: u32, answer: &str, id: u32) -> LayerLens {
    let words = [" of", " the", " and", " upon", " in"];
    let rows = (0..6)
        .map(|layer| {
            let mut top: Vec<LensCandidate> = words
                .iter()
                .enumerate()
                .map(|(i, w)| LensCandidate {
                    token_id: 900 + i as u32,
                    text: w.to_string(),
                    p: 0.05 / (i as f32 + 1.0),
                })
                .collect();
            if layer >= 3 {
                top.insert(
                    0,
                    LensCandidate {
                        token_id: id,
                        text: answer.into(),
                        p: 0.2 * layer as f32 - 0.4,
                    },
                );
                top.truncate(5);
            }
            LensRow { layer, top }
        })
        .collect();
    LayerLens { pos, rows }
}

fn opened() -> App {
    let mut app = app();
    let (generation, tokens) = asked(&alt(&mut app, KeyCode::Char('l')));
    // The newest token (" time", pos 5) is predicted from the five before it.
    assert_eq!(tokens, vec![100, 101, 102, 103, 104]);
    app.on_engine_event(EngineEvent::Lens {
        generation,
        lens: Box::new(answer(4, " time", 105)),
    });
    app
}

#[test]
fn lens_80x24() {
    let app = opened();
    let term = draw(&app, 80, 24);
    assert!(screen_contains(&term, "layer lens"));
    assert!(screen_contains(&term, "predicting \" time\" (pos 5)"));
    assert!(screen_contains(&term, "L5   ·time 0.60"));
    insta::assert_snapshot!(term.backend());
}

#[test]
fn lens_speaks_chinese() {
    let mut app = opened();
    press(&mut app, KeyCode::F(10));
    // Wide characters take two cells: read the screen without the filler spaces.
    let screen: String = rows(&draw(&app, 80, 24)).concat().replace(' ', "");
    assert!(screen.contains("逐层透镜"), "{screen}");
    assert!(screen.contains("模型若在该层停下"), "{screen}");
    assert!(app.lens().is_some(), "F10 leaves the lens open");
}

#[test]
fn lens_160x48_sits_beside_the_routing_pane() {
    let app = opened();
    let term = draw(&app, 160, 48);
    let rows = rows(&term);
    let title = rows
        .iter()
        .position(|r| r.contains("layer lens"))
        .expect("lens title");
    let routing = rows
        .iter()
        .position(|r| r.contains("routing"))
        .expect("routing title");
    assert!(routing < title, "the routing pane stays above the lens");
    insta::assert_snapshot!(term.backend());
    // With the routing pane given the whole right column (F2), the lens takes its lower part.
    let mut app = app;
    press(&mut app, KeyCode::F(2));
    let term = draw(&app, 160, 48);
    assert!(
        screen_contains(&term, "L1: e"),
        "routing's own lines stay visible"
    );
    assert!(screen_contains(&term, "layer lens"));
}

#[test]
fn the_lens_follows_the_selection_and_drops_stale_answers() {
    let mut app = opened();
    let (generation, tokens) = asked(&alt(&mut app, KeyCode::Left));
    assert_eq!(tokens, vec![100, 101, 102, 103]);
    // The answer for the previous token arrives late: ignored.
    app.on_engine_event(EngineEvent::Lens {
        generation: generation - 1,
        lens: Box::new(answer(4, " time", 105)),
    });
    assert!(matches!(
        app.lens().map(|l| &l.state),
        Some(LensState::Pending { .. })
    ));
    app.on_engine_event(EngineEvent::Error {
        generation,
        message: "no luck".into(),
    });
    assert!(screen_contains(
        &draw(&app, 80, 24),
        "no lens for this token: no luck"
    ));
    assert!(app.notice().is_none(), "a lens error stays in the lens");
    // The first token has nothing before it.
    for _ in 0..4 {
        alt(&mut app, KeyCode::Left);
    }
    assert!(screen_contains(
        &draw(&app, 80, 24),
        "nothing predicts the first token"
    ));
    press(&mut app, KeyCode::Esc);
    assert!(app.lens().is_none());
    // `/lens` opens it too.
    type_text(&mut app, "/lens");
    let cmds = press(&mut app, KeyCode::Enter);
    assert!(app.lens().is_some());
    assert!(cmds.is_empty(), "the first token still has no context");
}

#[test]
fn while_a_reply_is_written_the_lens_waits_for_it() {
    let mut app = app();
    let generation = send(&mut app, "More please");
    assert!(alt(&mut app, KeyCode::Char('l')).is_empty());
    assert!(screen_contains(
        &draw(&app, 80, 24),
        "a reply is being written"
    ));
    assert_eq!(
        app.generation(),
        generation,
        "no number taken from the reply"
    );
    app.on_engine_event(EngineEvent::Done {
        generation,
        reason: moe_tutor::transcript::StopReason::EndOfText,
        stats: Default::default(),
    });
    let (_, tokens) = asked(&alt(&mut app, KeyCode::Left));
    assert_eq!(tokens, vec![100, 101, 102, 103]);
}

#[test]
fn the_real_engine_answers_the_lens_and_the_chat_goes_on() {
    let path = common::tiny_moe();
    let mut engine = common::start(common::load_options(&path)).expect("engine");
    let mut app = App::new(moe_tutor::app::AppConfig {
        model_path: path.clone(),
        params: common::params(0.0, 1.0, 3),
        max_tokens: 5,
        capture: true,
    });
    app.on_engine_event(EngineEvent::Loaded(Box::new(engine.info.clone())));
    let pump = |app: &mut App, engine: &mut common::Engine, cmds: Vec<EngineCommand>| {
        for cmd in cmds {
            engine.handle.send(cmd);
        }
        while app.is_generating()
            || matches!(
                app.lens().map(|l| &l.state),
                Some(LensState::Pending { .. })
            )
        {
            let ev = common::recv(&mut engine.rx);
            app.on_engine_event(ev);
        }
    };
    type_text(&mut app, "Hello lens");
    let cmds = press(&mut app, KeyCode::Enter);
    pump(&mut app, &mut engine, cmds);
    let (_, selected) = app.selected_token().expect("a token");
    let selected = selected.clone();
    let cmds = alt(&mut app, KeyCode::Char('l'));
    pump(&mut app, &mut engine, cmds);
    let Some(LensState::Ready(lens)) = app.lens().map(|l| l.state.clone()) else {
        panic!("no lens: {:?}", app.lens());
    };
    assert_eq!(lens.rows.len(), engine.info.n_layer as usize);
    assert_eq!(lens.pos + 1, selected.pos);
    let last = lens.rows.last().unwrap();
    assert_eq!(
        last.top[0].token_id, selected.token_id,
        "greedy drew the top"
    );
    let step = selected.step.as_ref().unwrap();
    assert!((last.top[0].p - step.chosen_p_raw).abs() < 1e-4);
    let term = draw(&app, 160, 48);
    assert!(screen_contains(&term, "L0"));
    assert!(screen_contains(&term, "L2"));
    // Close it and go on chatting: the reply is not disturbed.
    alt(&mut app, KeyCode::Char('l'));
    assert!(app.lens().is_none());
    type_text(&mut app, "Again");
    let cmds = press(&mut app, KeyCode::Enter);
    pump(&mut app, &mut engine, cmds);
    let m = app.messages();
    assert_eq!(m.len(), 4);
    assert!(!m[3].tokens.is_empty());
    assert!(!matches!(m[3].status, moe_tutor::app::ReplyStatus::Failed));
}
