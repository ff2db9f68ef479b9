//! Routing detail in memory is bounded: past the budget the oldest tokens first lose their
//! router probabilities, then their records are folded into the expert-load count; the
//! newest tokens keep everything, and the load view still counts every token.

mod app_support;

use app_support::*;
use crossterm::event::KeyCode;

/// Long replies on an 8-layer, 64-expert model: about 1.1 KB of routing a token.
fn chat_long(app: &mut moe_tutor::app::App, turns: usize) {
    let shape = Shape::of(app.model().unwrap()).unwrap();
    let words = "alpha beta gamma delta epsilon zeta eta theta iota kappa ".repeat(30);
    for i in 0..turns {
        exchange(app, Some(&shape), &format!("question {i}"), &words);
    }
}

fn tokens_in(app: &moe_tutor::app::App) -> usize {
    app.messages().iter().map(|m| m.tokens.len()).sum()
}

#[test]
fn routing_detail_stays_within_its_budget() {
    let limit = 400 << 10;
    let mut app = loaded(moe_info(64, 4, 9, 1)).with_routing_budget(limit);
    chat_long(&mut app, 6);
    let n = tokens_in(&app);
    let full: usize = app
        .messages()
        .iter()
        .flat_map(|m| &m.tokens)
        .filter_map(|t| t.routing.as_ref())
        .filter(|r| !r.is_compact())
        .map(|r| r.payload_bytes())
        .sum();
    let held = app.conversation().budget().bytes();
    assert!(n > 1500, "{n} tokens");
    assert!(held <= limit, "{held} bytes held, budget {limit}");
    // The count matches the records actually held.
    let counted: usize = app
        .messages()
        .iter()
        .flat_map(|m| &m.tokens)
        .filter_map(|t| t.routing.as_ref())
        .map(|r| r.payload_bytes())
        .sum();
    assert_eq!(counted, held);
    assert!(full > 0, "the newest tokens keep their full records");
    let newest = app.messages().last().unwrap().tokens.last().unwrap();
    assert!(!newest.routing.as_ref().unwrap().is_compact());

    // The first token's record was folded away; the routing pane says so.
    press(&mut app, KeyCode::F(2));
    for _ in 0..40 {
        alt(&mut app, KeyCode::Up);
    }
    let first = app.selected().unwrap();
    assert_eq!((first.message, first.token), (0, 0));
    assert!(app.token(first).unwrap().routing.is_none());
    let term = draw(&app, 100, 30);
    assert!(screen_contains(&term, "folded into the expert load"));

    // The load view still counts every routed token: folded plus held.
    press(&mut app, KeyCode::F(4));
    let term = draw(&app, 120, 30);
    let generated_and_prompt = n;
    assert!(
        screen_contains(
            &term,
            &format!("{generated_and_prompt} tokens of this conversation")
        ),
        "{}",
        rows(&term).join("\n")
    );
}

#[test]
fn a_compacted_token_keeps_its_choice_and_says_why() {
    // A budget that compacts but does not need to fold.
    let mut app = loaded(moe_info(64, 4, 9, 1)).with_routing_budget(400 << 10);
    chat_long(&mut app, 3);
    let compacted = app
        .token_refs()
        .find(|r| {
            app.token(*r)
                .and_then(|t| t.routing.as_ref())
                .is_some_and(|r| r.is_compact())
        })
        .expect("some token was compacted");
    assert!(
        app.messages()[0].tokens[0].routing.is_some(),
        "nothing folded"
    );
    press(&mut app, KeyCode::F(2));
    // Walk back to the compacted token.
    while app.selected() != Some(compacted) {
        alt(&mut app, KeyCode::Left);
    }
    let term = draw(&app, 100, 30);
    assert!(screen_contains(&term, "router probabilities were dropped"));
    // Its layer rows still mark the k chosen experts and nothing else.
    let row = rows(&term)
        .into_iter()
        .find(|r| r.contains("▶L1"))
        .expect("layer 1 row");
    assert_eq!(row.matches('◆').count(), 4, "{row}");
    assert!(!row.contains('✗'), "{row}");
}
