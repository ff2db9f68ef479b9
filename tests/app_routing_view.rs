//! Snapshots of the routing pane: an MoE with a dense lead layer whose last layer was not
//! computed for a prompt token, a dense model, and 128 experts (compressed columns).

mod app_support;

use app_support::*;
use crossterm::event::KeyCode;
use moe_tutor::app::App;
use moe_tutor::app::RoutingView;
use moe_tutor::routing::Phase;

/// An MoE (16 experts, top 4, layer 0 dense) after "Why is the sky blue?" and its reply,
/// then the further exchanges given.
fn sky_chat(more: &[(&str, &str)]) -> App {
    let info = moe_info(16, 4, 6, 1);
    let shape = Shape::of(&info);
    let mut app = loaded(info);
    exchange(
        &mut app,
        shape.as_ref(),
        "Why is the sky blue?",
        "Rayleigh scattering.",
    );
    for (prompt, reply) in more {
        exchange(&mut app, shape.as_ref(), prompt, reply);
    }
    app
}

/// The same with the selection on a prompt token (whose last MoE layer was not computed).
fn moe_on_prompt_token() -> App {
    let mut app = sky_chat(&[]);
    alt(&mut app, KeyCode::Up);
    alt(&mut app, KeyCode::Up);
    alt(&mut app, KeyCode::Right);
    alt(&mut app, KeyCode::PageDown);
    app
}

#[test]
fn moe_prompt_token_80x24() {
    let mut app = moe_on_prompt_token();
    press(&mut app, KeyCode::F(2));
    insta::assert_snapshot!(draw(&app, 80, 24).backend());
}

#[test]
fn moe_prompt_token_160x48() {
    let app = moe_on_prompt_token();
    let sel = app.selected_token().map(|(_, t)| t.phase);
    assert_eq!(sel, Some(Phase::Prompt));
    insta::assert_snapshot!(draw(&app, 160, 48).backend());
}

fn dense() -> App {
    let mut app = loaded(dense_info());
    exchange(&mut app, None, "Hello", "Hi there.");
    app
}

#[test]
fn dense_model_80x24() {
    let mut app = dense();
    press(&mut app, KeyCode::F(2));
    insta::assert_snapshot!(draw(&app, 80, 24).backend());
}

#[test]
fn dense_model_160x48() {
    insta::assert_snapshot!(draw(&dense(), 160, 48).backend());
}

fn wide_moe() -> App {
    let mut info = moe_info(128, 8, 24, 0);
    info.router_display_temperature = Some(4.0);
    let shape = Shape::of(&info);
    let mut app = loaded(info);
    exchange(
        &mut app,
        shape.as_ref(),
        "Count to three",
        "One, two, three.",
    );
    for _ in 0..12 {
        alt(&mut app, KeyCode::PageDown);
    }
    app
}

#[test]
fn many_experts_80x24() {
    let mut app = wide_moe();
    press(&mut app, KeyCode::F(2));
    let term = draw(&app, 80, 24);
    assert!(screen_contains(&term, "2 experts per column"));
    insta::assert_snapshot!(term.backend());
}

#[test]
fn many_experts_160x48() {
    let mut app = wide_moe();
    press(&mut app, KeyCode::F(2)); // routing gets the whole right column
    insta::assert_snapshot!(draw(&app, 160, 48).backend());
}

#[test]
fn capture_off_says_so() {
    let mut cfg = config();
    cfg.capture = false;
    let mut app = App::new(cfg);
    app.on_engine_event(moe_tutor::engine::api::EngineEvent::Loaded(Box::new(
        moe_info(16, 4, 6, 1),
    )));
    exchange(&mut app, None, "Hi", "Hello");
    let term = draw(&app, 160, 48);
    assert!(screen_contains(&term, "Routing capture is off"));
    assert!(screen_contains(
        &term,
        "routing capture is off: tokens are not coloured"
    ));
}

/// A model with a display temperature and one generated token whose layer slot i
/// prefers expert i strongly.
fn with_preference() -> App {
    let mut info = moe_info(16, 4, 6, 1);
    info.router_display_temperature = Some(4.0);
    let mut app = loaded(info);
    let g = send(&mut app, "Hi");
    let mut r = routing(16, 4, (1..6).collect(), 3, false);
    for i in 0..5 {
        let mut pref = vec![0.01f32; 16];
        pref[i] = 0.85;
        r.set_preference(i, &pref);
    }
    let t = token(Phase::Generated, 9, "Yo", Some(r), Some(step("Yo")));
    app.on_engine_event(moe_tutor::engine::api::EngineEvent::Token {
        generation: g,
        token: Box::new(t),
    });
    app
}

#[test]
fn router_preference_is_labelled_as_such() {
    let mut app = with_preference();
    press(&mut app, KeyCode::F(2));
    assert!(screen_contains(&draw(&app, 80, 24), "router probability"));
    press(&mut app, KeyCode::F(4));
    assert!(app.show_preference());
    let term = draw(&app, 80, 24);
    assert!(screen_contains(
        &term,
        "router preference (softmax of logits / 4)"
    ));
    // Layer slot 0 prefers expert 0 strongly: a full shade there.
    assert!(screen_contains(&term, "▶L1 █"));
}

/// F4's third view: expert load over the whole conversation, one row per layer.
fn moe_load() -> App {
    let mut app = sky_chat(&[("And sunsets?", "Longer paths scatter the blue away.")]);
    press(&mut app, KeyCode::F(4)); // no preference recorded: straight to load
    assert_eq!(app.routing_view(), RoutingView::Load);
    app
}

#[test]
fn expert_load_counts_every_routed_token() {
    let app = moe_load();
    // What the view must show, counted here from the tokens themselves.
    let mut picks = [0u32; 16];
    let mut routed = 0;
    for r in app.token_refs() {
        let Some(rt) = app.token(r).and_then(|t| t.routing.as_ref()) else {
            continue;
        };
        let v = rt.layer(0).expect("layer slot 0");
        if v.computed {
            routed += 1;
            for &e in v.experts {
                picks[e as usize] += 1;
            }
        }
    }
    assert!(routed > 10, "{routed}");
    let term = draw(&app, 160, 48);
    assert!(screen_contains(&term, "expert load"));
    assert!(screen_contains(
        &term,
        &format!("{routed} tokens · busiest")
    ));
    let busiest = (0..16)
        .max_by_key(|&e| (picks[e], std::cmp::Reverse(e)))
        .unwrap();
    let pct = 100.0 * picks[busiest] as f32 / routed as f32;
    assert!(
        screen_contains(&term, &format!("busiest e{busiest} {pct:.0}%")),
        "e{busiest} {pct:.0}%"
    );
    // The dense lead layer has no router.
    assert!(screen_contains(&term, "L0 dense (no router)"));
}

#[test]
fn expert_load_80x24() {
    let mut app = moe_load();
    press(&mut app, KeyCode::F(2));
    insta::assert_snapshot!(draw(&app, 80, 24).backend());
}

#[test]
fn expert_load_160x48() {
    insta::assert_snapshot!(draw(&moe_load(), 160, 48).backend());
}

#[test]
fn f4_cycles_probabilities_preference_load() {
    let mut app = with_preference();
    let mut seen = vec![app.routing_view()];
    for _ in 0..3 {
        press(&mut app, KeyCode::F(4));
        seen.push(app.routing_view());
    }
    assert_eq!(
        seen,
        [
            RoutingView::Probabilities,
            RoutingView::Preference,
            RoutingView::Load,
            RoutingView::Probabilities
        ]
    );
}

/// A token whose capture went wrong says so instead of passing as a complete record.
#[test]
fn an_incomplete_capture_is_marked() {
    let info = moe_info(8, 2, 3, 1);
    let mut app = loaded(info.clone());
    exchange(
        &mut app,
        Shape::of(&info).as_ref(),
        "hello there",
        "general kenobi",
    );
    press(&mut app, KeyCode::F(2));
    assert!(!screen_contains(&draw(&app, 100, 30), "capture incomplete"));
    let generation = send(&mut app, "again");
    let mut r = routing(8, 2, vec![1, 2], 5, false);
    r.incomplete = true;
    app.on_engine_event(moe_tutor::engine::api::EngineEvent::Token {
        generation,
        token: Box::new(token(Phase::Generated, 40, " x", Some(r), Some(step(" x")))),
    });
    assert!(screen_contains(&draw(&app, 100, 30), "capture incomplete"));
}
