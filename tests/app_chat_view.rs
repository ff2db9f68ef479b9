//! Snapshots of the chat pane: a markdown reply with a fenced Rust block.

mod app_support;

use app_support::*;
use crossterm::event::KeyCode;

const REPLY: &str = "## Borrowing\n\nRust has **two** kinds of *references*:\n\n- shared `&T`\n- unique `&mut T`\n\n```rust\nfn main() {\n    let s = String::from(\"hi\");\n    println!(\"{s}\");\n}\n```\n\nThat is all.";

fn app() -> moe_tutor::app::App {
    let info = moe_info(16, 4, 6, 1);
    let shape = Shape::of(&info);
    let mut app = loaded(info);
    exchange(&mut app, shape.as_ref(), "What is borrowing? 中文", REPLY);
    type_text(&mut app, "and lifetimes?");
    app
}

#[test]
fn chat_80x24() {
    insta::assert_snapshot!(draw(&app(), 80, 24).backend());
}

#[test]
fn chat_160x48() {
    insta::assert_snapshot!(draw(&app(), 160, 48).backend());
}

#[test]
fn chat_scrolls_up_and_back_to_following() {
    let mut app = app();
    draw(&app, 80, 24);
    press(&mut app, KeyCode::PageUp);
    let term = draw(&app, 80, 24);
    assert!(screen_contains(&term, "What is borrowing?"));
    assert!(screen_contains(&term, "more below"));
    press(&mut app, KeyCode::PageDown);
    press(&mut app, KeyCode::PageDown);
    let term = draw(&app, 80, 24);
    assert!(!screen_contains(&term, "more below"));
    assert!(screen_contains(&term, "That is all."));
}

#[test]
fn code_is_highlighted_in_colour() {
    let term = draw(&app(), 160, 48);
    let buf = term.backend().buffer();
    let rows = rows(&term);
    let y = rows
        .iter()
        .position(|r| r.contains("fn main()"))
        .expect("code row") as u16;
    let x = rows[y as usize]
        .find("fn main()")
        .map(|b| rows[y as usize][..b].chars().count())
        .expect("x") as u16;
    assert!(
        matches!(buf[(x, y)].fg, ratatui::style::Color::Rgb(..)),
        "keyword coloured by syntect"
    );
}
