//! What the app's structure guarantees: one slash-command table that dispatch and help both
//! read, quiz answers that follow the key configuration, and observe steps that move the
//! view through actions.

mod app_support;

use app_support::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use moe_tutor::app::commands::SLASH;
use moe_tutor::app::keymap::{Action, Keymap};
use moe_tutor::app::{App, LessonSetup, Pane};
use moe_tutor::lessons::{load_dir, Lang};

/// Every name in the table dispatches (never "unknown command"), and the help overlay
/// lists every row of the table; a name outside the table is unknown.
#[test]
fn every_slash_command_dispatches_and_is_in_the_help() {
    for cmd in SLASH {
        for name in cmd.names {
            let mut app = loaded(moe_info(8, 2, 3, 1));
            type_text(&mut app, name);
            press(&mut app, KeyCode::Enter);
            let said = app.notice().map(|n| n.text.clone()).unwrap_or_default();
            assert!(
                !said.contains("unknown command"),
                "{name} is in the table but does not dispatch: {said}"
            );
        }
    }
    let mut app = loaded(moe_info(8, 2, 3, 1));
    type_text(&mut app, "/no-such-command");
    press(&mut app, KeyCode::Enter);
    assert!(app.notice().unwrap().text.contains("unknown command"));

    let mut app = loaded(moe_info(8, 2, 3, 1));
    press(&mut app, KeyCode::F(1));
    let mut seen = String::new();
    // Page through the whole help overlay.
    for _ in 0..40 {
        seen.push_str(&rows(&draw(&app, 160, 48)).join("\n"));
        press(&mut app, KeyCode::PageDown);
    }
    for cmd in SLASH {
        for (example, help) in cmd.help {
            let help = moe_tutor::i18n::tr(help, "en");
            assert!(seen.contains(example), "help lacks {example}");
            assert!(seen.contains(&help), "help lacks {help:?}");
        }
    }
}

const QUIZ: &str = r#"id = "q"
sources = ["none"]
[title]
en = "Quiz"
zh-CN = "测验"
[summary]
en = "A quiz."
zh-CN = "测验。"

[[step]]
kind = "quiz"
[step.text]
en = "Pick."
zh-CN = "选。"
[step.question]
en = "Which one?"
zh-CN = "哪个？"
[[step.choice]]
correct = false
text = { en = "One", zh-CN = "一" }
explain = { en = "No.", zh-CN = "不。" }
[[step.choice]]
correct = true
text = { en = "Two", zh-CN = "二" }
explain = { en = "Yes.", zh-CN = "是。" }
"#;

fn with_lesson(app: &mut App, id: &str, toml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(format!("01-{id}.toml")), toml).expect("write");
    app.setup_lessons(LessonSetup {
        library: load_dir(dir.path()),
        lang: Lang::En,
        store: None,
        open_list: true,
        lang_explicit: true,
    });
    press(app, KeyCode::Enter);
    dir
}

/// A quiz answer bound to a key that is not a digit picks that answer (the answer used
/// to be read from the pressed key's digit, so any other key answered 0).
#[test]
fn quiz_answers_follow_rebound_keys() {
    let overrides: Vec<(String, Vec<String>)> = vec![
        ("answer_2".into(), vec!["f11".into()]),
        ("answer_1".into(), vec!["ctrl+k".into()]),
    ];
    let (keymap, problems) = Keymap::with_overrides(overrides.iter().map(|(a, k)| (a, k)));
    assert!(problems.is_empty(), "{problems:?}");
    let mut app = loaded(moe_info(8, 2, 3, 1)).with_keymap(keymap);
    let _dir = with_lesson(&mut app, "q", QUIZ);
    app.handle_key(KeyEvent::new(KeyCode::Char('k'), KeyModifiers::CONTROL));
    let state = &app.lessons().active().expect("lesson").state;
    assert_eq!(state.answer, Some(0));
    assert!(!state.done);
    press(&mut app, KeyCode::F(11));
    let state = &app.lessons().active().expect("lesson").state;
    assert_eq!(state.answer, Some(1));
    assert!(state.done, "answer 2 is the right one");
    // Alt+2 no longer answers: its binding moved to F11.
    assert_eq!(
        app.keymap()
            .action_for(KeyEvent::new(KeyCode::Char('2'), KeyModifiers::ALT)),
        None
    );
    assert_eq!(
        app.keymap().keys_of(&Action::Answer(2)).len(),
        1,
        "exactly the configured key"
    );
}

const OBSERVE: &str = r#"id = "o"
sources = ["none"]
[title]
en = "Look"
zh-CN = "看"
[summary]
en = "Look."
zh-CN = "看。"

[[step]]
kind = "observe"
pane = "sampling"
layer = 2
token = 1
[step.text]
en = "Look at the sampling pane."
zh-CN = "看采样面板。"
"#;

/// An observe step closes the help, shows its pane, marks its layer and selects its token,
/// the way the learner's own keys would.
#[test]
fn observe_steps_move_the_view_through_actions() {
    let info = moe_info(8, 2, 4, 1);
    let shape = Shape::of(&info);
    let mut app = loaded(info);
    exchange(
        &mut app,
        shape.as_ref(),
        "hello there",
        "general kenobi you are",
    );
    assert!(app.is_following());
    let _dir = with_lesson(&mut app, "o", OBSERVE);
    assert_eq!(app.pane(), Pane::Sampling);
    assert_eq!(app.layer_slot(), 1, "layer 2 with one dense lead layer");
    assert!(!app.is_following());
    let sel = app.selected().expect("a token");
    assert_eq!(sel.message, 1);
    assert_eq!(sel.token, 1);
    assert!(!app.help_open());
}

/// `/pane` and `/layer` do by name what F2 and Alt+PgUp/PgDn do step by step (the same
/// actions observe steps send).
#[test]
fn pane_and_layer_commands() {
    let mut app = loaded(moe_info(8, 2, 6, 1));
    type_text(&mut app, "/pane sampling");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.pane(), Pane::Sampling);
    type_text(&mut app, "/pane strip");
    press(&mut app, KeyCode::Enter);
    assert_eq!(
        app.pane(),
        Pane::Chat,
        "the strip is on screen with the chat"
    );
    type_text(&mut app, "/pane nowhere");
    press(&mut app, KeyCode::Enter);
    assert!(app.notice().unwrap().text.contains("usage: /pane"));
    type_text(&mut app, "/layer 4");
    press(&mut app, KeyCode::Enter);
    assert_eq!(
        app.layer_slot(),
        3,
        "model layer 4 is MoE slot 3 after one dense layer"
    );
    type_text(&mut app, "/layer 0");
    press(&mut app, KeyCode::Enter);
    assert!(
        app.notice().unwrap().text.contains("1..5"),
        "layer 0 is dense"
    );
    assert_eq!(app.layer_slot(), 3);
}
