//! The token strip in both colour modes: snapshots of the text, and the colours checked on
//! a few cells against the palette.

mod app_support;

use app_support::*;
use crossterm::event::KeyCode;
use moe_tutor::app::views::palette::{entropy_color, expert_color};
use moe_tutor::app::App;
use moe_tutor::routing::LayerSummary;
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use ratatui::Terminal;

fn app() -> App {
    let info = moe_info(16, 4, 6, 1);
    let shape = Shape::of(&info);
    let mut app = loaded(info);
    exchange(
        &mut app,
        shape.as_ref(),
        "Name three colours",
        "Red, green and blue.",
    );
    alt(&mut app, KeyCode::PageDown); // layer slot 1 = model layer 2
    alt(&mut app, KeyCode::Left);
    alt(&mut app, KeyCode::Left);
    app
}

/// The bg colour of the first cell of the strip's selected token, and the summary the
/// colour should encode.
fn selected_cell(app: &App, term: &Terminal<TestBackend>) -> (Color, LayerSummary) {
    let (_, tok) = app.selected_token().expect("selection");
    let summary = LayerSummary::of(
        &tok.routing
            .as_ref()
            .expect("routing")
            .layer(1)
            .expect("layer"),
    );
    let rows = rows(term);
    let marker_row = rows
        .iter()
        .position(|r| r.contains('▔'))
        .expect("marker row");
    let x = rows[marker_row]
        .chars()
        .position(|c| c == '▔')
        .expect("marker x") as u16;
    let cell = &term.backend().buffer()[(x, marker_row as u16 - 1)];
    (cell.bg, summary)
}

#[test]
fn top_expert_80x24() {
    let app = app();
    let term = draw(&app, 80, 24);
    let (bg, s) = selected_cell(&app, &term);
    assert_eq!(bg, expert_color(s.top_expert.expect("top")));
    insta::assert_snapshot!(term.backend());
}

#[test]
fn top_expert_160x48() {
    let app = app();
    let term = draw(&app, 160, 48);
    let (bg, s) = selected_cell(&app, &term);
    assert_eq!(bg, expert_color(s.top_expert.expect("top")));
    insta::assert_snapshot!(term.backend());
}

#[test]
fn entropy_80x24() {
    let mut app = app();
    press(&mut app, KeyCode::F(3));
    let term = draw(&app, 80, 24);
    let (bg, s) = selected_cell(&app, &term);
    assert_eq!(bg, entropy_color(s.normalized_entropy));
    assert!(screen_contains(&term, "confident"));
    insta::assert_snapshot!(term.backend());
}

#[test]
fn entropy_160x48() {
    let mut app = app();
    press(&mut app, KeyCode::F(3));
    let term = draw(&app, 160, 48);
    let (bg, s) = selected_cell(&app, &term);
    assert_eq!(bg, entropy_color(s.normalized_entropy));
    insta::assert_snapshot!(term.backend());
}

#[test]
fn legend_swatches_use_the_expert_colours() {
    let app = app();
    let term = draw(&app, 80, 24);
    let rows = rows(&term);
    let y = rows
        .iter()
        .position(|r| r.starts_with("colour = top expert"))
        .expect("legend");
    let x = rows[y]
        .find(": e")
        .map(|b| rows[y][..b].chars().count() + 2)
        .expect("swatch");
    let label: String = rows[y].chars().skip(x).take_while(|c| *c != ' ').collect();
    let id: u16 = label.trim_start_matches('e').parse().expect("expert id");
    assert_eq!(
        term.backend().buffer()[(x as u16, y as u16)].bg,
        expert_color(id)
    );
}

#[test]
fn tokens_without_routing_are_uncoloured() {
    let mut app = loaded(moe_info(16, 4, 6, 1));
    exchange(&mut app, None, "Hi", "Hello");
    let term = draw(&app, 80, 24);
    let rows = rows(&term);
    let y = rows
        .iter()
        .position(|r| r.starts_with("Hi│"))
        .expect("strip row");
    assert_eq!(term.backend().buffer()[(0, y as u16)].bg, Color::Reset);
}
