//! The key table: typing is never a command, chords map, no key is bound twice.

use super::*;

fn press(code: KeyCode, mods: KeyModifiers) -> Option<Action> {
    action_for(KeyEvent::new(code, mods))
}

#[test]
fn typing_is_never_a_command() {
    for c in "abcxyzAZ09 ,./[]{}é中".chars() {
        assert_eq!(press(Char(c), KeyModifiers::NONE), Some(Action::Insert(c)));
        assert_eq!(press(Char(c), KeyModifiers::SHIFT), Some(Action::Insert(c)));
    }
}

#[test]
fn chords_map_to_actions() {
    assert_eq!(
        press(Char('r'), KeyModifiers::CONTROL),
        Some(Action::Regenerate)
    );
    assert_eq!(
        press(Char('R'), KeyModifiers::CONTROL | KeyModifiers::SHIFT),
        Some(Action::Regenerate)
    );
    assert_eq!(press(Enter, KeyModifiers::ALT), Some(Action::InsertNewline));
    assert_eq!(press(Enter, KeyModifiers::NONE), Some(Action::Send));
    assert_eq!(press(Left, KeyModifiers::ALT), Some(Action::PrevToken));
    assert_eq!(press(F(6), KeyModifiers::NONE), Some(Action::TemperatureUp));
    assert_eq!(press(Char('x'), KeyModifiers::CONTROL), None);
}

#[test]
fn no_key_is_bound_twice() {
    let mut seen = Vec::new();
    for b in KEYMAP {
        for k in b.keys {
            assert!(!seen.contains(k), "{k:?} bound twice");
            seen.push(*k);
        }
    }
}

#[test]
fn key_bar_merges_pairs() {
    let bar = key_bar();
    assert!(bar.contains(&("F5/F6".to_string(), "bar.temp")));
    assert!(bar.contains(&("Alt+←/→".to_string(), "bar.token")));
    assert!(bar.contains(&("^R".to_string(), "bar.regen")));
}

#[test]
fn actions_serialise_snake_case() {
    let s = serde_json::to_string(&Action::TemperatureUp).unwrap_or_default();
    assert_eq!(s, "\"temperature_up\"");
}
