//! The status bar, notice line and key bar in the states a user meets: loading, prefill,
//! generating, an error notice; plus the help overlay and tiny terminals.

mod app_support;

use app_support::*;
use crossterm::event::KeyCode;
use moe_tutor::app::App;
use moe_tutor::engine::api::EngineEvent;
use moe_tutor::routing::Phase;
use moe_tutor::transcript::{GenStats, StopReason};

#[test]
fn loading_80x24() {
    let app = App::new(config());
    let term = draw(&app, 80, 24);
    assert!(screen_contains(&term, "loading"));
    insta::assert_snapshot!(term.backend());
}

fn context_full() -> App {
    let info = moe_info(16, 4, 6, 1);
    let shape = Shape::of(&info);
    let mut app = loaded(info);
    exchange(&mut app, shape.as_ref(), "Hello", "Hi!");
    let g = send(&mut app, "Write a long story");
    app.on_engine_event(EngineEvent::Done {
        generation: g,
        reason: StopReason::ContextFull,
        stats: GenStats {
            context_used: 4096,
            ..Default::default()
        },
    });
    app
}

#[test]
fn context_full_notice_80x24() {
    let term = draw(&context_full(), 80, 24);
    assert!(screen_contains(&term, "context full"));
    insta::assert_snapshot!(term.backend());
}

#[test]
fn context_full_notice_160x48() {
    insta::assert_snapshot!(draw(&context_full(), 160, 48).backend());
}

#[test]
fn prefill_and_generating_states() {
    let mut app = loaded(moe_info(16, 4, 6, 1));
    let g = send(&mut app, "hi");
    app.on_engine_event(EngineEvent::PrefillProgress {
        generation: g,
        done: 40,
        total: 100,
    });
    assert!(screen_contains(&draw(&app, 80, 24), "prefill 40%"));
    app.on_engine_event(EngineEvent::Token {
        generation: g,
        token: Box::new(token(Phase::Generated, 100, "Hi", None, Some(step("Hi")))),
    });
    let term = draw(&app, 80, 24);
    assert!(screen_contains(&term, "generating"));
    assert!(screen_contains(&term, "Esc stops the reply"));
    assert!(screen_contains(&term, "ctx 101/4096"));
    press(&mut app, KeyCode::Esc);
    assert!(screen_contains(&draw(&app, 80, 24), "stopped"));
}

fn help() -> App {
    let mut app = loaded(moe_info(16, 4, 6, 1));
    press(&mut app, KeyCode::F(1));
    app
}

#[test]
fn help_80x24() {
    insta::assert_snapshot!(draw(&help(), 80, 24).backend());
}

#[test]
fn help_160x48() {
    insta::assert_snapshot!(draw(&help(), 160, 48).backend());
}

#[test]
fn help_lists_every_binding_of_the_keymap() {
    use moe_tutor::app::keymap::{key_label, KEYMAP};
    let mut app = help();
    let mut seen = String::new();
    for _ in 0..12 {
        seen.extend(rows(&draw(&app, 160, 48)).into_iter().map(|r| r + "\n"));
        press(&mut app, KeyCode::PageDown);
    }
    for b in KEYMAP {
        let help = moe_tutor::i18n::tr(b.help, "en");
        assert!(seen.contains(&help), "help misses {:?}", b.action);
        assert!(
            seen.contains(&key_label(&b.keys[0])),
            "help misses key of {:?}",
            b.action
        );
    }
}

#[test]
fn tiny_terminals_show_a_notice_and_never_panic() {
    let app = help();
    for (w, h) in [(0, 0), (1, 1), (0, 5), (5, 0), (20, 5), (39, 24), (80, 11)] {
        let term = draw(&app, w, h);
        if w >= 20 {
            assert!(screen_contains(&term, "too small"), "{w}x{h}");
        }
    }
    insta::assert_snapshot!("tiny_20x5", draw(&app, 20, 5).backend());
    insta::assert_snapshot!("tiny_1x1", draw(&app, 1, 1).backend());
    // (TestBackend cannot print a 0x0 buffer; drawing it is the test.)
    assert_eq!(draw(&app, 0, 0).backend().buffer().area.area(), 0);
}

#[test]
fn every_size_from_small_to_large_renders() {
    let info = moe_info(64, 6, 28, 1);
    let shape = Shape::of(&info);
    let mut app = loaded(info);
    exchange(
        &mut app,
        shape.as_ref(),
        "一二三 four five",
        "Six **seven**\n\n```rust\nlet x = 8;\n```",
    );
    type_text(
        &mut app,
        "a long line of input text that wraps\nand more\n中文中文中文中文中文中文中文中文中文中文",
    );
    for pane in 0..3 {
        for w in (38..=170).step_by(11) {
            for h in (10..=50).step_by(7) {
                draw(&app, w, h);
            }
        }
        if pane == 1 {
            press(&mut app, KeyCode::F(1));
        }
        press(&mut app, KeyCode::F(2));
    }
}
