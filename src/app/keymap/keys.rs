//! Key names both ways: parsing the names the key configuration uses ("ctrl+r",
//! "alt+left", "f5") and the labels the help and the key bar show ("Ctrl+R", "^R").

use crossterm::event::{KeyCode, KeyModifiers};
use KeyCode::*;

use super::Key;
use crate::i18n::tr_with;

pub(super) fn lower(code: KeyCode) -> KeyCode {
    match code {
        Char(c) => Char(c.to_ascii_lowercase()),
        other => other,
    }
}

fn code_label(code: KeyCode) -> String {
    match code {
        Char(c) => c.to_ascii_uppercase().to_string(),
        F(n) => format!("F{n}"),
        Left => "←".into(),
        Right => "→".into(),
        Up => "↑".into(),
        Down => "↓".into(),
        PageUp => "PgUp".into(),
        PageDown => "PgDn".into(),
        Esc => "Esc".into(),
        Enter => "Enter".into(),
        Backspace => "Backspace".into(),
        KeyCode::Delete => "Del".into(),
        other => format!("{other:?}"),
    }
}

/// "Ctrl+R", "Alt+←", "F5".
pub fn key_label(key: &Key) -> String {
    let mut s = String::new();
    if key.mods.contains(KeyModifiers::CONTROL) {
        s.push_str("Ctrl+");
    }
    if key.mods.contains(KeyModifiers::ALT) {
        s.push_str("Alt+");
    }
    if key.mods.contains(KeyModifiers::SHIFT) {
        s.push_str("Shift+");
    }
    s.push_str(&code_label(key.code));
    s
}

/// Compact form for the key bar: "^R", "Alt+←".
pub(super) fn short_label(key: &Key) -> String {
    if key.mods == KeyModifiers::CONTROL {
        format!("^{}", code_label(key.code))
    } else {
        key_label(key)
    }
}

/// "ctrl+r", "alt+left", "f5", "shift+enter", "esc", "pageup" -> a key. A plain character
/// is refused: typing needs it.
pub fn parse_key(spec: &str) -> Result<Key, String> {
    parse_key_in(spec, "en")
}

/// [`parse_key`], saying what is wrong in `lang`.
pub fn parse_key_in(spec: &str, lang: &str) -> Result<Key, String> {
    let quoted = format!("{spec:?}");
    let q = |name: &str| format!("{name:?}");
    let lowered = spec.trim().to_lowercase();
    let mut parts: Vec<&str> = lowered.split('+').collect();
    // "ctrl++" names the plus key.
    if lowered.ends_with("++") {
        parts.truncate(parts.len().saturating_sub(2));
        parts.push("+");
    }
    let Some(name) = parts.pop().filter(|n| !n.is_empty()) else {
        return Err(tr_with("notice.key_names_none", lang, &[("spec", &quoted)]));
    };
    let mut mods = KeyModifiers::NONE;
    for m in parts {
        mods |= match m {
            "ctrl" | "control" | "c" => KeyModifiers::CONTROL,
            "alt" | "meta" | "m" => KeyModifiers::ALT,
            "shift" | "s" => KeyModifiers::SHIFT,
            other => {
                let args = [("spec", &quoted), ("name", &q(other))];
                return Err(tr_with(
                    "notice.key_unknown_modifier",
                    lang,
                    &args.map(dynamic),
                ));
            }
        };
    }
    let code = match name {
        "enter" | "return" => Enter,
        "esc" | "escape" => Esc,
        "tab" => Tab,
        "backspace" => Backspace,
        "delete" | "del" => KeyCode::Delete,
        "insert" | "ins" => Insert,
        "home" => Home,
        "end" => End,
        "pageup" | "pgup" => PageUp,
        "pagedown" | "pgdn" => PageDown,
        "up" => Up,
        "down" => Down,
        "left" => Left,
        "right" => Right,
        "space" => Char(' '),
        f if f.len() > 1 && f.starts_with('f') => match f[1..].parse::<u8>() {
            Ok(n @ 1..=24) => F(n),
            _ => {
                let args = [("spec", &quoted), ("name", &q(name))];
                return Err(tr_with("notice.key_unknown", lang, &args.map(dynamic)));
            }
        },
        c if c.chars().count() == 1 => Char(c.chars().next().unwrap_or(' ')),
        _ => {
            let args = [("spec", &quoted), ("name", &q(name))];
            return Err(tr_with("notice.key_unknown", lang, &args.map(dynamic)));
        }
    };
    let chord = mods.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
    if matches!(code, Char(_)) && !chord {
        return Err(tr_with(
            "notice.key_plain_character",
            lang,
            &[("spec", &quoted)],
        ));
    }
    Ok(Key { code, mods })
}

/// A placeholder's value as the catalogue takes it.
fn dynamic<'a>((name, value): (&'a str, &'a String)) -> (&'a str, &'a dyn std::fmt::Display) {
    (name, value)
}
