//! The sampling pane: candidates with raw and after-temperature bars and the top_p cut.

mod app_support;

use app_support::*;
use crossterm::event::KeyCode;
use moe_tutor::app::App;

fn app() -> App {
    let info = moe_info(16, 4, 6, 1);
    let shape = Shape::of(&info);
    let mut app = loaded(info);
    exchange(&mut app, shape.as_ref(), "Finish: once upon", " a time");
    press(&mut app, KeyCode::F(6)); // settings changed since the draw
    app
}

#[test]
fn sampling_80x24() {
    let mut app = app();
    press(&mut app, KeyCode::F(2));
    press(&mut app, KeyCode::F(2));
    let term = draw(&app, 80, 24);
    assert!(screen_contains(&term, "nucleus: 3 tokens"));
    assert!(screen_contains(&term, "top_p 0.90 reached"));
    insta::assert_snapshot!(term.backend());
}

#[test]
fn sampling_160x48() {
    let mut app = app();
    for _ in 0..2 {
        press(&mut app, KeyCode::F(2)); // sampling takes the whole right column
    }
    insta::assert_snapshot!(draw(&app, 160, 48).backend());
}

#[test]
fn outside_the_nucleus_is_dimmed_and_the_draw_marked() {
    let app = app();
    let term = draw(&app, 160, 48);
    let rows = rows(&term);
    let drawn = rows
        .iter()
        .position(|r| r.contains('▶') && r.contains(" ·time"))
        .expect("drawn row");
    let cut = rows
        .iter()
        .position(|r| r.contains("top_p 0.90 reached"))
        .expect("cut line");
    let dimmed = rows
        .iter()
        .position(|r| r.contains(" ·an  "))
        .expect("row past the cut");
    assert!(drawn < cut && cut < dimmed);
    let x = rows[dimmed]
        .find("·an")
        .map(|b| rows[dimmed][..b].chars().count())
        .expect("x") as u16;
    assert_eq!(
        term.backend().buffer()[(x, dimmed as u16)].fg,
        ratatui::style::Color::DarkGray
    );
}

#[test]
fn prompt_tokens_are_read_not_sampled() {
    let mut app = app();
    alt(&mut app, KeyCode::Up);
    alt(&mut app, KeyCode::Up);
    let term = draw(&app, 160, 48);
    assert!(screen_contains(
        &term,
        "prompt tokens are read, not sampled"
    ));
}

#[test]
fn a_draw_from_below_the_shown_candidates_is_still_named() {
    let mut app = loaded(moe_info(16, 4, 6, 1));
    let g = send(&mut app, "Hi");
    let mut s = step("x");
    s.chosen = 9999;
    s.chosen_p_raw = 0.0004;
    s.nucleus_size = 40;
    let t = token(
        moe_tutor::routing::Phase::Generated,
        4,
        "rare",
        None,
        Some(s),
    );
    app.on_engine_event(moe_tutor::engine::api::EngineEvent::Token {
        generation: g,
        token: Box::new(t),
    });
    let term = draw(&app, 160, 48);
    assert!(screen_contains(
        &term,
        "\"rare\" was drawn from below the top 7 (raw <0.1%)"
    ));
    assert!(screen_contains(
        &term,
        "the nucleus reaches past the 7 candidates shown"
    ));
}
