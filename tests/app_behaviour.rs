//! The app driven through its public API the way the TUI drives it: keys in, engine
//! commands out, engine events in.

mod app_support;

use app_support::*;
use crossterm::event::{KeyCode, KeyModifiers};
use moe_tutor::app::App;
use moe_tutor::app::{EngineState, Pane, ReplyStatus, RoutingView, StripMode, TokenRef};
use moe_tutor::engine::api::{EngineCommand, EngineEvent};
use moe_tutor::routing::Phase;
use moe_tutor::sampling::SamplingParams;
use moe_tutor::transcript::{GenStats, Role, StopReason};

fn moe() -> (App, Shape) {
    let info = moe_info(16, 4, 6, 1);
    let shape = Shape::of(&info).expect("moe");
    (loaded(info), shape)
}

#[test]
fn enter_sends_the_whole_conversation_with_fresh_generations() {
    let (mut app, shape) = moe();
    exchange(&mut app, Some(&shape), "Hi there", "Hello! How can I help?");
    type_text(&mut app, "Tell me\nmore");
    let cmds = press(&mut app, KeyCode::Enter);
    let [EngineCommand::Generate {
        generation,
        request,
    }] = cmds.as_slice()
    else {
        panic!("expected one Generate, got {cmds:?}");
    };
    assert_eq!(*generation, 2);
    assert!(!request.raw);
    assert_eq!(request.max_tokens, 256);
    assert_eq!(request.params, SamplingParams::default());
    let roles: Vec<Role> = request.messages.iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::User, Role::Assistant, Role::User]);
    assert_eq!(request.messages[1].content, "Hello! How can I help?");
    assert_eq!(request.messages[2].content, "Tell me\nmore");
    // The transcript gained the user message and an empty reply that is streaming.
    let m = app.messages();
    assert_eq!(m.len(), 4);
    assert_eq!(m[3].role, Role::Assistant);
    assert_eq!(m[3].status, ReplyStatus::Streaming);
    assert!(app.input().text().is_empty());
    // Enter while the reply runs sends nothing and keeps the input.
    type_text(&mut app, "again");
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    assert_eq!(app.input().text(), "again");
}

#[test]
fn nothing_is_sent_before_the_model_loads_or_for_blank_input() {
    let mut app = App::new(config());
    type_text(&mut app, "hello");
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    assert!(app.notice().is_some_and(|n| n.text.contains("loading")));
    let (mut app, _) = moe();
    type_text(&mut app, "   ");
    assert!(press(&mut app, KeyCode::Enter).is_empty());
}

#[test]
fn tokens_fill_the_reply_and_stale_generations_are_ignored() {
    let (mut app, _) = moe();
    let g = send(&mut app, "hi");
    let tok =
        |pos, text: &str| Box::new(token(Phase::Generated, pos, text, None, Some(step(text))));
    app.on_engine_event(EngineEvent::Token {
        generation: g,
        token: tok(5, "Hel"),
    });
    app.on_engine_event(EngineEvent::Token {
        generation: g + 7,
        token: tok(6, "STALE"),
    });
    app.on_engine_event(EngineEvent::Token {
        generation: g - 1,
        token: tok(6, "OLD"),
    });
    app.on_engine_event(EngineEvent::Token {
        generation: g,
        token: tok(6, "lo"),
    });
    let reply = &app.messages()[1];
    assert_eq!(reply.content, "Hello");
    assert_eq!(reply.tokens.len(), 2);
    assert_eq!(app.engine_state(), EngineState::Generating);
    // The reply stopped inside a character: the cut shows as U+FFFD at its end, on the
    // text and on the last token; a stale tail goes nowhere.
    app.on_engine_event(EngineEvent::Tail {
        generation: g + 1,
        text: "\u{FFFD}".into(),
    });
    app.on_engine_event(EngineEvent::Tail {
        generation: g,
        text: "\u{FFFD}".into(),
    });
    let reply = &app.messages()[1];
    assert_eq!(reply.content, "Hello\u{FFFD}");
    assert_eq!(reply.tokens.len(), 2);
    assert_eq!(reply.tokens[1].text, "lo\u{FFFD}");
    let stats = GenStats {
        generated_tokens: 2,
        generate_ms: 100.0,
        context_used: 7,
        ..Default::default()
    };
    app.on_engine_event(EngineEvent::Done {
        generation: g + 1,
        reason: StopReason::EndOfText,
        stats,
    });
    assert!(app.is_generating(), "a stale Done does not end the reply");
    app.on_engine_event(EngineEvent::Done {
        generation: g,
        reason: StopReason::EndOfText,
        stats,
    });
    assert!(!app.is_generating());
    assert_eq!(app.messages()[1].status, ReplyStatus::Complete);
    assert_eq!(app.context_used(), 7);
    assert_eq!(app.engine_state(), EngineState::Ready);
}

#[test]
fn prompt_tokens_belong_to_the_user_turn() {
    let (mut app, shape) = moe();
    exchange(&mut app, Some(&shape), "one two three", "ok");
    let m = app.messages();
    assert_eq!(m[0].tokens.len(), 3);
    assert!(m[0].tokens.iter().all(|t| t.phase == Phase::Prompt));
    assert_eq!(m[1].tokens.len(), 1);
}

#[test]
fn esc_cancels_and_the_reply_keeps_what_it_has() {
    let (mut app, _) = moe();
    let g = send(&mut app, "hi");
    let t = token(Phase::Generated, 3, "Par", None, None);
    app.on_engine_event(EngineEvent::Token {
        generation: g,
        token: Box::new(t.clone()),
    });
    let cmds = press(&mut app, KeyCode::Esc);
    assert!(matches!(cmds.as_slice(), [EngineCommand::Cancel { generation }] if *generation == g));
    assert_eq!(app.engine_state(), EngineState::Stopped);
    // Tokens still in flight after the stop are dropped; the Done is recorded.
    app.on_engine_event(EngineEvent::Token {
        generation: g,
        token: Box::new(t),
    });
    assert_eq!(app.messages()[1].content, "Par");
    app.on_engine_event(EngineEvent::Done {
        generation: g,
        reason: StopReason::Cancelled,
        stats: GenStats {
            context_used: 4,
            ..Default::default()
        },
    });
    assert_eq!(app.messages()[1].status, ReplyStatus::Stopped);
    assert_eq!(app.context_used(), 4);
    // Esc when idle sends nothing.
    assert!(press(&mut app, KeyCode::Esc).is_empty());
}

#[test]
fn ctrl_c_stops_a_reply_then_twice_quits() {
    let (mut app, _) = moe();
    let g = send(&mut app, "hi");
    let cmds = ctrl(&mut app, 'c');
    assert!(matches!(cmds.as_slice(), [EngineCommand::Cancel { generation }] if *generation == g));
    assert!(!app.should_quit());
    assert!(ctrl(&mut app, 'c').is_empty());
    assert!(app
        .notice()
        .is_some_and(|n| n.text.contains("Ctrl-C again")));
    assert!(!app.should_quit());
    // Another key in between disarms it.
    press(&mut app, KeyCode::Char('x'));
    ctrl(&mut app, 'c');
    assert!(!app.should_quit());
    let cmds = ctrl(&mut app, 'c');
    assert!(app.should_quit());
    assert!(matches!(cmds.last(), Some(EngineCommand::Shutdown)));
}

#[test]
fn ctrl_q_quits_at_once() {
    let (mut app, _) = moe();
    ctrl(&mut app, 'q');
    assert!(app.should_quit());
}

#[test]
fn temperature_and_top_p_keys_emit_clamped_settings() {
    let (mut app, _) = moe();
    let cmds = press(&mut app, KeyCode::F(6));
    let [EngineCommand::SetSampling(p)] = cmds.as_slice() else {
        panic!("{cmds:?}")
    };
    assert_eq!(p.temperature, 0.8);
    for _ in 0..30 {
        press(&mut app, KeyCode::F(6));
    }
    assert_eq!(app.params().temperature, 2.0);
    assert!(
        press(&mut app, KeyCode::F(6)).is_empty(),
        "no change at the maximum"
    );
    for _ in 0..40 {
        press(&mut app, KeyCode::F(5));
    }
    assert_eq!(app.params().temperature, 0.0);
    let cmds = press(&mut app, KeyCode::F(8));
    let [EngineCommand::SetSampling(p)] = cmds.as_slice() else {
        panic!("{cmds:?}")
    };
    assert_eq!(p.top_p, 0.95);
    assert_eq!(p.temperature, 0.0);
    for _ in 0..40 {
        press(&mut app, KeyCode::F(7));
    }
    assert_eq!(app.params().top_p, 0.05);
    // Mid-reply too: the change is sent at once.
    send(&mut app, "hi");
    assert!(matches!(
        press(&mut app, KeyCode::F(6)).as_slice(),
        [EngineCommand::SetSampling(_)]
    ));
}

#[test]
fn regenerate_drops_the_last_reply_and_asks_again() {
    let (mut app, shape) = moe();
    exchange(&mut app, Some(&shape), "Hi", "Hello");
    let cmds = ctrl(&mut app, 'r');
    let [EngineCommand::Generate {
        generation,
        request,
    }] = cmds.as_slice()
    else {
        panic!("{cmds:?}")
    };
    assert_eq!(*generation, 2);
    assert_eq!(request.messages.len(), 1);
    assert_eq!(request.messages[0].content, "Hi");
    assert_eq!(app.messages().len(), 2);
    assert!(app.messages()[1].content.is_empty());
    // Regenerating while running is refused.
    assert!(ctrl(&mut app, 'r').is_empty());
}

#[test]
fn edit_puts_the_last_message_back_and_enter_resends() {
    let (mut app, shape) = moe();
    exchange(&mut app, Some(&shape), "First", "One");
    exchange(&mut app, Some(&shape), "Secnod", "Two");
    assert!(ctrl(&mut app, 'e').is_empty());
    assert_eq!(app.input().text(), "Secnod");
    assert_eq!(app.messages().len(), 2);
    press(&mut app, KeyCode::Backspace);
    press(&mut app, KeyCode::Backspace);
    press(&mut app, KeyCode::Backspace);
    type_text(&mut app, "ond");
    let cmds = press(&mut app, KeyCode::Enter);
    let [EngineCommand::Generate { request, .. }] = cmds.as_slice() else {
        panic!("{cmds:?}")
    };
    let texts: Vec<&str> = request
        .messages
        .iter()
        .map(|m| m.content.as_str())
        .collect();
    assert_eq!(texts, ["First", "One", "Second"]);
}

#[test]
fn selection_follows_until_moved_and_resumes_on_newest() {
    let (mut app, shape) = moe();
    exchange(&mut app, Some(&shape), "a b c", "x y z");
    let newest = TokenRef {
        message: 1,
        token: 2,
    };
    assert_eq!(app.selected(), Some(newest));
    assert!(app.is_following());
    alt(&mut app, KeyCode::Left);
    assert_eq!(
        app.selected(),
        Some(TokenRef {
            message: 1,
            token: 1
        })
    );
    assert!(!app.is_following());
    // Moving crosses message boundaries.
    alt(&mut app, KeyCode::Left);
    alt(&mut app, KeyCode::Left);
    assert_eq!(
        app.selected(),
        Some(TokenRef {
            message: 0,
            token: 2
        })
    );
    // New tokens do not move a pinned selection.
    let g = send(&mut app, "more");
    app.on_engine_event(EngineEvent::Token {
        generation: g,
        token: Box::new(token(Phase::Generated, 40, " w", None, None)),
    });
    assert_eq!(
        app.selected(),
        Some(TokenRef {
            message: 0,
            token: 2
        })
    );
    // Turn keys jump between messages: next message's first token, then back.
    alt(&mut app, KeyCode::Down);
    assert_eq!(
        app.selected(),
        Some(TokenRef {
            message: 1,
            token: 0
        })
    );
    alt(&mut app, KeyCode::Up);
    assert_eq!(
        app.selected(),
        Some(TokenRef {
            message: 0,
            token: 0
        })
    );
    app.handle_key(key(KeyCode::Right, KeyModifiers::CONTROL));
    assert_eq!(
        app.selected(),
        Some(TokenRef {
            message: 0,
            token: 1
        })
    );
    alt(&mut app, KeyCode::End);
    assert!(app.is_following());
    assert_eq!(
        app.selected(),
        Some(TokenRef {
            message: 3,
            token: 0
        })
    );
}

#[test]
fn layer_pane_and_mode_keys() {
    let (mut app, shape) = moe();
    exchange(&mut app, Some(&shape), "a", "b");
    assert_eq!(app.layer_slot(), 0);
    for _ in 0..10 {
        alt(&mut app, KeyCode::PageDown);
    }
    assert_eq!(app.layer_slot(), 4, "5 MoE layers: slots 0..=4");
    alt(&mut app, KeyCode::Char(','));
    assert_eq!(app.layer_slot(), 3);
    assert_eq!(app.pane(), Pane::Chat);
    press(&mut app, KeyCode::F(2));
    assert_eq!(app.pane(), Pane::Routing);
    press(&mut app, KeyCode::F(2));
    assert_eq!(app.pane(), Pane::Sampling);
    press(&mut app, KeyCode::F(2));
    assert_eq!(app.pane(), Pane::Chat);
    press(&mut app, KeyCode::F(3));
    assert_eq!(app.strip_mode(), StripMode::Entropy);
    // No preference recorded: F4 skips it and goes on to the expert load view.
    press(&mut app, KeyCode::F(4));
    assert!(!app.show_preference());
    assert_eq!(app.routing_view(), RoutingView::Load);
    press(&mut app, KeyCode::F(4));
    assert_eq!(app.routing_view(), RoutingView::Probabilities);
}

#[test]
fn slash_commands() {
    let (mut app, shape) = moe();
    type_text(&mut app, "/temp 0.3");
    let cmds = press(&mut app, KeyCode::Enter);
    assert!(matches!(cmds.as_slice(), [EngineCommand::SetSampling(p)] if p.temperature == 0.3));
    assert!(app.input().text().is_empty());
    type_text(&mut app, "/top_p 7");
    let cmds = press(&mut app, KeyCode::Enter);
    assert!(matches!(cmds.as_slice(), [EngineCommand::SetSampling(p)] if p.top_p == 1.0));
    type_text(&mut app, "/seed 7");
    let cmds = press(&mut app, KeyCode::Enter);
    assert!(matches!(cmds.as_slice(), [EngineCommand::SetSampling(p)] if p.seed == 7));
    type_text(&mut app, "/temp hot");
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    assert!(app
        .notice()
        .is_some_and(|n| n.is_error && n.text.contains("usage")));
    type_text(&mut app, "/frobnicate");
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    assert!(app
        .notice()
        .is_some_and(|n| n.text.contains("unknown command /frobnicate")));
    type_text(&mut app, "/help");
    press(&mut app, KeyCode::Enter);
    assert!(app.help_open());
    press(&mut app, KeyCode::Esc);
    assert!(!app.help_open());

    exchange(&mut app, Some(&shape), "Hi", "Hello");
    type_text(&mut app, "/regen");
    assert!(matches!(
        press(&mut app, KeyCode::Enter).as_slice(),
        [EngineCommand::Generate { .. }]
    ));
    type_text(&mut app, "/clear");
    let cmds = press(&mut app, KeyCode::Enter);
    assert!(matches!(
        cmds.as_slice(),
        [EngineCommand::Cancel { .. }, EngineCommand::Reset]
    ));
    assert!(app.messages().is_empty());
    exchange(&mut app, Some(&shape), "Hi", "Hello");
    type_text(&mut app, "/edit");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.input().text(), "Hi");
}

#[test]
fn double_slash_sends_a_literal_slash() {
    let (mut app, _) = moe();
    type_text(&mut app, "//etc/hosts");
    let cmds = press(&mut app, KeyCode::Enter);
    let [EngineCommand::Generate { request, .. }] = cmds.as_slice() else {
        panic!("{cmds:?}")
    };
    assert_eq!(request.messages[0].content, "/etc/hosts");
}

#[test]
fn context_full_and_errors_reach_the_notice_line() {
    let (mut app, _) = moe();
    let g = send(&mut app, "hi");
    app.on_engine_event(EngineEvent::Done {
        generation: g,
        reason: StopReason::ContextFull,
        stats: GenStats::default(),
    });
    let n = app.notice().expect("notice");
    assert!(n.is_error && n.text.contains("context full") && n.text.contains("/clear"));
    let g = send(&mut app, "again");
    app.on_engine_event(EngineEvent::Error {
        generation: g,
        message: "boom\u{1b}[31m".into(),
    });
    assert_eq!(app.notice().map(|n| n.text.as_str()), Some("error: boom"));
    assert_eq!(app.engine_state(), EngineState::Error);
    let mut app = App::new(config());
    app.on_engine_event(EngineEvent::LoadFailed("no such file".into()));
    assert!(app
        .notice()
        .is_some_and(|n| n.text.contains("no such file")));
}

#[test]
fn redraw_is_requested_by_changes_only() {
    let (mut app, _) = moe();
    assert!(app.needs_redraw());
    app.mark_drawn();
    assert!(!app.needs_redraw());
    press(&mut app, KeyCode::Char('a'));
    assert!(app.needs_redraw());
}

#[test]
fn model_text_is_sanitised_on_the_way_in() {
    let mut info = moe_info(16, 4, 6, 1);
    info.name = "evil\u{1b}]0;title\u{7}name\u{202e}".into();
    let app = loaded(info);
    assert_eq!(app.model().map(|m| m.name.as_str()), Some("evilname"));
}
