//! The app saves conversations as it goes and reopens them: driven headless through keys
//! and engine events, with the journals on a real disk.

mod app_support;

use app_support::*;
use crossterm::event::{KeyCode, KeyModifiers};
use moe_tutor::app::keymap::Keymap;
use moe_tutor::app::App;
use moe_tutor::engine::api::{EngineCommand, EngineEvent};
use moe_tutor::routing::Phase;
use moe_tutor::store::{list, Journal, MessageRecord, Record, Speaker, Store};

fn saving_app(dir: &std::path::Path) -> App {
    let info = moe_info(8, 2, 3, 1);
    let mut app = App::new(config()).with_store(Store::in_data_dir(dir));
    app.on_engine_event(EngineEvent::Loaded(Box::new(info)));
    app
}

fn shape() -> Option<Shape> {
    Shape::of(&moe_info(8, 2, 3, 1))
}

fn only_journal(dir: &std::path::Path) -> std::path::PathBuf {
    let all = list::list(&dir.join("conversations")).unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    all[0].path.clone()
}

#[test]
fn every_finished_message_is_saved_with_its_settings_and_routing() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = saving_app(dir.path());
    assert!(
        app.journal_path().is_none(),
        "no file before the first message"
    );
    exchange(
        &mut app,
        shape().as_ref(),
        "Hello router",
        "Hi there, friend",
    );
    let path = only_journal(dir.path());
    assert_eq!(app.journal_path(), Some(path.as_path()));
    let conv = list::read(&path).unwrap();
    assert_eq!(conv.skipped, 0);
    assert!(conv.start.as_ref().unwrap().model.contains("tiny-moe"));
    let [user, reply] = &conv.messages[..] else {
        panic!("{:?}", conv.messages)
    };
    assert_eq!(
        (user.role, user.content.as_str()),
        (Speaker::User, "Hello router")
    );
    assert_eq!(reply.role, Speaker::Assistant);
    assert_eq!(reply.content, "Hi there, friend");
    assert_eq!(reply.status, "complete");
    let s = reply.sampling.unwrap();
    assert_eq!((s.top_p, s.max_tokens), (0.9, 256));
    let r = reply.routing.as_ref().expect("routing summary");
    assert_eq!(r.n_expert, 8);
    assert_eq!(r.layers.len(), 2);
    // Every generated token chose k = 2 experts in each MoE layer.
    for l in &r.layers {
        assert_eq!(l.counts.iter().sum::<u32>(), 2 * r.tokens);
    }
}

#[test]
fn the_user_message_is_saved_before_the_reply_ends() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = saving_app(dir.path());
    let g = send(&mut app, "Are you there?");
    app.on_engine_event(EngineEvent::Token {
        generation: g,
        token: Box::new(token(Phase::Generated, 4, " Yes", None, Some(step(" Yes")))),
    });
    // A crash now loses only the reply in flight.
    let conv = list::read(&only_journal(dir.path())).unwrap();
    assert_eq!(conv.messages.len(), 1);
    assert_eq!(conv.messages[0].content, "Are you there?");
    // Quitting mid-reply keeps what the reply had, marked stopped.
    app.handle_key(key(KeyCode::Char('q'), KeyModifiers::CONTROL));
    assert!(app.should_quit());
    let conv = list::read(&only_journal(dir.path())).unwrap();
    assert_eq!(conv.messages.len(), 2);
    assert_eq!(conv.messages[1].content, " Yes");
    assert_eq!(conv.messages[1].status, "stopped");
}

#[test]
fn regenerating_and_editing_take_messages_back_in_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = saving_app(dir.path());
    exchange(&mut app, None, "one", "first reply");
    exchange(&mut app, None, "two", "second reply");
    // Ctrl+R: the last reply goes, a new one comes.
    let g = match ctrl(&mut app, 'r').first() {
        Some(EngineCommand::Generate { generation, .. }) => *generation,
        other => panic!("{other:?}"),
    };
    app.on_engine_event(EngineEvent::Token {
        generation: g,
        token: Box::new(token(Phase::Generated, 9, "again", None, None)),
    });
    app.on_engine_event(EngineEvent::Done {
        generation: g,
        reason: moe_tutor::transcript::StopReason::EndOfText,
        stats: Default::default(),
    });
    let path = only_journal(dir.path());
    let texts = |p: &std::path::Path| -> Vec<String> {
        list::read(p)
            .unwrap()
            .messages
            .into_iter()
            .map(|m| m.content)
            .collect()
    };
    assert_eq!(texts(&path), ["one", "first reply", "two", "again"]);
    // Ctrl+E: the last user message goes back into the input.
    ctrl(&mut app, 'e');
    assert_eq!(texts(&path), ["one", "first reply"]);
    let raw = std::fs::read_to_string(&path).unwrap();
    assert_eq!(raw.matches("\"truncate\"").count(), 2, "{raw}");
    // /clear: the next message starts another journal.
    type_text(&mut app, "");
    while !app.input().is_blank() {
        press(&mut app, KeyCode::Backspace);
    }
    type_text(&mut app, "/clear");
    press(&mut app, KeyCode::Enter);
    exchange(&mut app, None, "fresh", "start");
    let all = list::list(&dir.path().join("conversations")).unwrap();
    assert_eq!(all.len(), 2);
}

fn write_journal(dir: &std::path::Path, created: u64, texts: &[(&str, &str)]) {
    let mut j = Journal::create(&dir.join("conversations"), created, "tiny").unwrap();
    for (user, reply) in texts {
        for (role, content) in [(Speaker::User, user), (Speaker::Assistant, reply)] {
            j.append(&Record::Message(MessageRecord {
                role,
                content: content.to_string(),
                status: "complete".into(),
                time: created,
                sampling: None,
                routing: None,
            }))
            .unwrap();
        }
    }
}

fn two_saved(dir: &std::path::Path) {
    write_journal(
        dir,
        1_779_285_792,
        &[("Which expert writes Rust?", "Expert **3** does, mostly.")],
    );
    write_journal(
        dir,
        1_779_199_000,
        &[
            ("Tell me about routers", "A router scores every expert."),
            ("And top-k?", "It keeps the k best."),
        ],
    );
}

#[test]
fn the_history_lists_searches_and_reopens_conversations() {
    let dir = tempfile::tempdir().unwrap();
    two_saved(dir.path());
    let mut app = saving_app(dir.path());
    press(&mut app, KeyCode::F(9));
    let b = app.browser().expect("open");
    assert_eq!(b.hits().len(), 2);
    insta::assert_snapshot!("history_80x24", draw(&app, 80, 24).backend());
    // Typing searches every message's text.
    type_text(&mut app, "top-k");
    assert_eq!(app.browser().unwrap().hits().len(), 1);
    insta::assert_snapshot!("history_search_80x24", draw(&app, 80, 24).backend());
    let cmds = press(&mut app, KeyCode::Enter);
    assert!(app.browser().is_none());
    assert!(cmds.iter().any(|c| matches!(c, EngineCommand::Reset)));
    let texts: Vec<&str> = app.messages().iter().map(|m| m.content.as_str()).collect();
    assert_eq!(
        texts,
        [
            "Tell me about routers",
            "A router scores every expert.",
            "And top-k?",
            "It keeps the k best."
        ]
    );
    assert!(app.notice().unwrap().text.contains("reopened"));
    // Going on appends to the same journal.
    exchange(&mut app, None, "More?", "Sure.");
    let conv = list::read(app.journal_path().unwrap()).unwrap();
    assert_eq!(conv.messages.len(), 6);
    assert_eq!(
        list::list(&dir.path().join("conversations")).unwrap().len(),
        2
    );
}

#[test]
fn the_history_closes_with_esc_and_says_when_nothing_matches() {
    let dir = tempfile::tempdir().unwrap();
    two_saved(dir.path());
    let mut app = saving_app(dir.path());
    type_text(&mut app, "/history");
    press(&mut app, KeyCode::Enter);
    type_text(&mut app, "zebra");
    assert!(screen_contains(
        &draw(&app, 80, 24),
        "no conversation contains that"
    ));
    press(&mut app, KeyCode::Esc);
    assert!(app.browser().is_none());
    assert!(app.messages().is_empty());
    // Tiny terminals draw without panicking.
    press(&mut app, KeyCode::F(9));
    for (w, h) in [(1, 1), (20, 5), (40, 12), (45, 13)] {
        draw(&app, w, h);
    }
}

#[test]
fn a_reopened_journal_with_escapes_is_shown_clean() {
    let dir = tempfile::tempdir().unwrap();
    write_journal(
        dir.path(),
        1_000,
        &[(
            "hi\u{1b}]0;pwned\u{7}",
            "\u{1b}]52;c;ZXZpbA==\u{7}clean\u{1b}[2J\u{202e}",
        )],
    );
    let mut app = saving_app(dir.path());
    press(&mut app, KeyCode::F(9));
    press(&mut app, KeyCode::Enter);
    let texts: Vec<&str> = app.messages().iter().map(|m| m.content.as_str()).collect();
    assert_eq!(texts, ["hi", "clean"]);
}

#[test]
fn export_writes_markdown_to_the_exports_folder() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = saving_app(dir.path());
    type_text(&mut app, "/export");
    press(&mut app, KeyCode::Enter);
    assert!(app.notice().unwrap().text.contains("nothing to export"));
    exchange(&mut app, None, "Hello", "World");
    type_text(&mut app, "/export");
    press(&mut app, KeyCode::Enter);
    let notice = app.notice().unwrap().text.clone();
    assert!(notice.starts_with("exported to "), "{notice}");
    let out = std::path::PathBuf::from(notice.trim_start_matches("exported to "));
    assert!(out.starts_with(dir.path().join("exports")));
    let md = std::fs::read_to_string(out).unwrap();
    assert!(md.contains("## You\n\n") && md.contains("Hello") && md.contains("World"));
}

#[test]
fn a_store_that_cannot_be_written_is_a_notice_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the conversations folder should be.
    std::fs::write(dir.path().join("conversations"), "x").unwrap();
    let mut app = saving_app(dir.path());
    exchange(&mut app, None, "Hello", "World");
    let n = app.notice().expect("notice");
    assert!(n.is_error && n.text.contains("could not save"), "{n:?}");
    assert_eq!(app.messages().len(), 2);
    press(&mut app, KeyCode::F(9));
    assert!(screen_contains(&draw(&app, 80, 24), "cannot read"));
}

#[test]
fn keys_can_be_rebound_from_the_config() {
    let mut over = std::collections::BTreeMap::new();
    over.insert("conversations".to_string(), vec!["ctrl+h".to_string()]);
    over.insert("regenerate".to_string(), vec!["f9".to_string()]);
    over.insert("no_such_action".to_string(), vec!["f10".to_string()]);
    over.insert("quit".to_string(), vec!["q".to_string()]);
    let (keymap, problems) = Keymap::with_overrides(&over);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems.iter().any(|p| p.contains("no_such_action")));
    assert!(problems.iter().any(|p| p.contains("typing needs it")));
    let dir = tempfile::tempdir().unwrap();
    two_saved(dir.path());
    let mut app = saving_app(dir.path()).with_keymap(keymap);
    // F9 now regenerates (nothing to regenerate yet), Ctrl+H opens the history.
    press(&mut app, KeyCode::F(9));
    assert!(app.browser().is_none());
    ctrl(&mut app, 'h');
    assert!(app.browser().is_some());
    // The help shows the new keys.
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::F(1));
    let screen = rows(&draw(&app, 160, 48)).join("\n");
    assert!(screen.contains("Ctrl+H"), "{screen}");
}
