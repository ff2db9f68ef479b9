//! Keys -> [`Action`]s. One table ([`KEYMAP`]) drives the key handling, the help overlay
//! and the key bar, so they cannot drift apart.
//!
//! The input box always has focus, so every binding uses a key that typing never produces:
//! function keys, Ctrl/Alt chords, Esc, and the editing keys the input itself handles.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use serde::{Deserialize, Serialize};

mod keys;

pub use keys::{key_label, parse_key};
use keys::{lower, short_label};

/// Everything the user can ask the app to do: what keys map to, what slash commands
/// produce, and what lessons send (a lesson acts on the app only through these). Serde
/// names are snake_case so that the key configuration can name the key actions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Send,
    InsertNewline,
    Insert(char),
    Backspace,
    Delete,
    CursorLeft,
    CursorRight,
    CursorUp,
    CursorDown,
    CursorHome,
    CursorEnd,
    /// Esc: close help, else stop the reply, else dismiss the notice.
    Stop,
    /// Ctrl-C: stop the reply; when idle, arm quitting (a second Ctrl-C quits).
    Interrupt,
    Quit,
    Regenerate,
    EditLast,
    ScrollUp,
    ScrollDown,
    PrevToken,
    NextToken,
    PrevTurn,
    NextTurn,
    NewestToken,
    PrevLayer,
    NextLayer,
    CyclePane,
    ToggleStripMode,
    TogglePreference,
    TemperatureDown,
    TemperatureUp,
    TopPDown,
    TopPUp,
    ToggleHelp,
    /// Open the saved conversations: list, search, reopen.
    Conversations,
    /// Open / close the lesson list.
    ToggleLessons,
    /// Lessons in English / Chinese.
    SwitchLang,
    /// Do the lesson step's action (run, experiment), or go on to the next step.
    LessonNext,
    LessonBack,
    LessonScrollUp,
    LessonScrollDown,
    /// Pick quiz answer n (1-based; each answer has its own binding).
    Answer(u8),
    /// Bring a pane on screen (`/pane NAME`; an observe step).
    ShowPane(crate::pane::Pane),
    /// Mark a model layer in the routing pane (`/layer N`; an observe step).
    SelectLayer(u32),
    /// Select token n of the last reply (`/token N`; an observe step).
    SelectReplyToken(u32),
    /// New sampling settings, from the next token (`/temp`, `/top_p`, `/seed`; a run step).
    SetSampling(crate::sampling::SamplingParams),
    /// Send this text as the next message, the reply cut at `max_tokens` (a run step; Enter
    /// sends the input the same way).
    SendText {
        text: String,
        max_tokens: u32,
    },
    /// Close whatever overlay is open.
    CloseOverlay,
}

impl Action {
    /// The name the key configuration uses (`regenerate`, `answer_2`); `None` for actions
    /// no key can be bound to.
    pub fn name(&self) -> Option<String> {
        match self {
            Action::Answer(n) => Some(format!("answer_{n}")),
            Action::Insert(_)
            | Action::ShowPane(_)
            | Action::SelectLayer(_)
            | Action::SelectReplyToken(_)
            | Action::SetSampling(_)
            | Action::SendText { .. } => None,
            other => serde_json::to_value(other)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string)),
        }
    }

    /// Lesson keys: they work with the help overlay open.
    pub fn is_lesson_key(&self) -> bool {
        matches!(
            self,
            Action::ToggleLessons
                | Action::SwitchLang
                | Action::LessonNext
                | Action::LessonBack
                | Action::LessonScrollUp
                | Action::LessonScrollDown
                | Action::Answer(_)
        )
    }
}

/// Where a binding is listed in the help overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Chat,
    Tokens,
    Panes,
    Sampling,
    Lessons,
    Editing,
}

impl Section {
    pub const ALL: [Section; 6] = [
        Section::Chat,
        Section::Tokens,
        Section::Panes,
        Section::Sampling,
        Section::Lessons,
        Section::Editing,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Section::Chat => "Chat",
            Section::Tokens => "Tokens",
            Section::Panes => "Panes",
            Section::Sampling => "Sampling",
            Section::Lessons => "Lessons",
            Section::Editing => "Editing the input",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

const fn k(code: KeyCode) -> Key {
    Key {
        code,
        mods: KeyModifiers::NONE,
    }
}
const fn ctrl(code: KeyCode) -> Key {
    Key {
        code,
        mods: KeyModifiers::CONTROL,
    }
}
const fn alt(code: KeyCode) -> Key {
    Key {
        code,
        mods: KeyModifiers::ALT,
    }
}
const fn shift(code: KeyCode) -> Key {
    Key {
        code,
        mods: KeyModifiers::SHIFT,
    }
}

/// One entry of the keymap.
#[derive(Debug, Clone)]
pub struct Binding {
    pub action: Action,
    pub keys: &'static [Key],
    pub help: &'static str,
    /// Short label in the key bar (adjacent entries with the same label merge: "F5/F6 temp").
    pub bar: Option<&'static str>,
    pub section: Section,
}

const fn b(
    action: Action,
    keys: &'static [Key],
    help: &'static str,
    bar: Option<&'static str>,
    section: Section,
) -> Binding {
    Binding {
        action,
        keys,
        help,
        bar,
        section,
    }
}

use KeyCode::*;
use Section as S;

/// The key table, in key-bar priority order (the bar shows what fits, left to right).
#[rustfmt::skip]
pub const KEYMAP: &[Binding] = &[
    b(Action::ToggleHelp, &[k(F(1))], "show / hide this help", Some("help"), S::Panes),
    b(Action::Send, &[k(Enter)], "send the message (or run a /command)", Some("send"), S::Chat),
    b(Action::Stop, &[k(Esc)], "stop the reply (keeps what it has); close help", Some("stop"), S::Chat),
    b(Action::PrevToken, &[alt(Left), ctrl(Left)], "select the previous token", Some("token"), S::Tokens),
    b(Action::NextToken, &[alt(Right), ctrl(Right)], "select the next token", Some("token"), S::Tokens),
    b(Action::CyclePane, &[k(F(2))], "cycle the side pane: chat -> routing -> sampling", Some("pane"), S::Panes),
    b(Action::Regenerate, &[ctrl(Char('r'))], "regenerate the last reply", Some("regen"), S::Chat),
    b(Action::EditLast, &[ctrl(Char('e'))], "edit and resend the last message", Some("edit"), S::Chat),
    b(Action::PrevLayer, &[alt(PageUp), alt(Char(','))], "routing: previous MoE layer", Some("layer"), S::Tokens),
    b(Action::NextLayer, &[alt(PageDown), alt(Char('.'))], "routing: next MoE layer", Some("layer"), S::Tokens),
    b(Action::TemperatureDown, &[k(F(5))], "temperature - 0.1 (from the next token)", Some("temp"), S::Sampling),
    b(Action::TemperatureUp, &[k(F(6))], "temperature + 0.1", Some("temp"), S::Sampling),
    b(Action::TopPDown, &[k(F(7))], "top_p - 0.05 (from the next token)", Some("top_p"), S::Sampling),
    b(Action::TopPUp, &[k(F(8))], "top_p + 0.05", Some("top_p"), S::Sampling),
    b(Action::ToggleStripMode, &[k(F(3))], "token colours: top expert / router entropy", Some("colour"), S::Panes),
    b(Action::TogglePreference, &[k(F(4))], "routing view: probabilities / router preference / expert load", None, S::Panes),
    b(Action::PrevTurn, &[alt(Up), ctrl(Up)], "select the previous message's tokens", None, S::Tokens),
    b(Action::NextTurn, &[alt(Down), ctrl(Down)], "select the next message's tokens", None, S::Tokens),
    b(Action::NewestToken, &[alt(End), ctrl(End)], "select the newest token and follow new ones", None, S::Tokens),
    b(Action::ScrollUp, &[k(PageUp)], "scroll the conversation up", None, S::Chat),
    b(Action::ScrollDown, &[k(PageDown)], "scroll down (to the end: follow new text)", None, S::Chat),
    b(Action::Interrupt, &[ctrl(Char('c'))], "stop the reply; when idle, twice to quit", None, S::Chat),
    b(Action::Quit, &[ctrl(Char('q'))], "quit", Some("quit"), S::Chat),
    b(Action::Conversations, &[k(F(9)), ctrl(Char('o'))], "saved conversations: search, reopen", Some("history"), S::Chat),
    b(Action::ToggleLessons, &[ctrl(Char('l'))], "lessons: open / close the list (↑/↓ Enter, Del closes the lesson)", Some("lessons"), S::Lessons),
    b(Action::LessonNext, &[ctrl(Char('n'))], "lesson: do the step (run, experiment) or go on", None, S::Lessons),
    b(Action::LessonBack, &[ctrl(Char('p'))], "lesson: previous step", None, S::Lessons),
    b(Action::LessonScrollUp, &[ctrl(Char('u'))], "lesson: scroll up", None, S::Lessons),
    b(Action::LessonScrollDown, &[ctrl(Char('d'))], "lesson: scroll down", None, S::Lessons),
    b(Action::Answer(1), &[alt(Char('1'))], "quiz: pick that answer", None, S::Lessons),
    b(Action::Answer(2), &[alt(Char('2'))], "quiz: pick that answer", None, S::Lessons),
    b(Action::Answer(3), &[alt(Char('3'))], "quiz: pick that answer", None, S::Lessons),
    b(Action::Answer(4), &[alt(Char('4'))], "quiz: pick that answer", None, S::Lessons),
    b(Action::SwitchLang, &[k(F(10))], "lessons: English / Chinese", None, S::Lessons),
    b(Action::InsertNewline, &[alt(Enter), shift(Enter), ctrl(Char('j'))], "new line in the input", None, S::Editing),
    b(Action::CursorLeft, &[k(Left)], "cursor left", None, S::Editing),
    b(Action::CursorRight, &[k(Right)], "cursor right", None, S::Editing),
    b(Action::CursorUp, &[k(Up)], "cursor up a line", None, S::Editing),
    b(Action::CursorDown, &[k(Down)], "cursor down a line", None, S::Editing),
    b(Action::CursorHome, &[k(Home), ctrl(Char('a'))], "start of the line", None, S::Editing),
    b(Action::CursorEnd, &[k(End)], "end of the line", None, S::Editing),
    b(Action::Backspace, &[k(Backspace)], "delete before the cursor", None, S::Editing),
    b(Action::Delete, &[k(KeyCode::Delete)], "delete at the cursor", None, S::Editing),
];

/// The action for a key press in the default key table. Plain characters become
/// [`Action::Insert`].
pub fn action_for(key: KeyEvent) -> Option<Action> {
    DEFAULT.action_for(key)
}

/// Key-bar entries of the default key table.
pub fn key_bar() -> Vec<(String, &'static str)> {
    DEFAULT.key_bar()
}

fn common_prefix<'a>(a: &str, b: &'a str) -> &'a str {
    // Share the modifier prefix only ("Alt+"), never part of a key name ("F5"/"F6").
    match (a.rfind('+'), b.rfind('+')) {
        (Some(i), Some(j)) if a[..=i] == b[..=j] => &b[..=j],
        _ => "",
    }
}

/// Help rows of one section of the default key table.
pub fn help_rows(section: Section) -> impl Iterator<Item = (String, &'static str)> {
    DEFAULT.help_rows(section).into_iter()
}

static DEFAULT: std::sync::LazyLock<Keymap> = std::sync::LazyLock::new(Keymap::default);

/// The key table in use: [`KEYMAP`] with the user's rebindings (from the config file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    /// `keys[i]`: the keys of `KEYMAP[i]`.
    keys: Vec<Vec<Key>>,
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap {
            keys: KEYMAP.iter().map(|b| b.keys.to_vec()).collect(),
        }
    }
}

impl Keymap {
    /// The default table with `overrides` (action name -> key names) applied: each named
    /// action gets exactly the keys given, and those keys leave any other action. Returns
    /// what could not be applied, one message per problem.
    pub fn with_overrides<'a>(
        overrides: impl IntoIterator<Item = (&'a String, &'a Vec<String>)>,
    ) -> (Keymap, Vec<String>) {
        let mut map = Keymap::default();
        let mut problems = Vec::new();
        for (name, specs) in overrides {
            let action = KEYMAP
                .iter()
                .position(|b| b.action.name().as_deref() == Some(name.as_str()));
            let Some(i) = action else {
                problems.push(format!("keymap: no action called {name:?}"));
                continue;
            };
            let mut keys = Vec::new();
            for spec in specs {
                match parse_key(spec) {
                    Ok(k) => keys.push(k),
                    Err(why) => problems.push(format!("keymap: {name}: {why}")),
                }
            }
            for (j, other) in map.keys.iter_mut().enumerate() {
                if j != i {
                    other.retain(|k| !keys.contains(k));
                }
            }
            map.keys[i] = keys;
        }
        (map, problems)
    }

    /// The action for a key press, if any. Plain characters become [`Action::Insert`].
    pub fn action_for(&self, key: KeyEvent) -> Option<Action> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        let exact = Key {
            code: key.code,
            mods: key.modifiers,
        };
        let loose = Key {
            code: lower(key.code),
            mods: key.modifiers - KeyModifiers::SHIFT,
        };
        for want in [exact, loose] {
            if let Some(i) = self.keys.iter().position(|ks| ks.contains(&want)) {
                return KEYMAP.get(i).map(|b| b.action.clone());
            }
        }
        match key.code {
            Char(c) => {
                let chord = key
                    .modifiers
                    .intersection(KeyModifiers::CONTROL | KeyModifiers::ALT);
                // Ctrl+Alt+char is AltGr on some platforms: a typed character.
                let typed = chord.is_empty() || chord == KeyModifiers::CONTROL | KeyModifiers::ALT;
                (typed && !c.is_control()).then_some(Action::Insert(c))
            }
            Tab => Some(Action::Insert(' ')),
            _ => None,
        }
    }

    /// The keys bound to `action` (none if it was unbound).
    pub fn keys_of(&self, action: &Action) -> &[Key] {
        KEYMAP
            .iter()
            .position(|b| b.action == *action)
            .and_then(|i| self.keys.get(i))
            .map_or(&[], |k| k.as_slice())
    }

    /// Key-bar entries ("F5/F6", "temp"), merged where adjacent bindings share a label.
    pub fn key_bar(&self) -> Vec<(String, &'static str)> {
        let mut out: Vec<(String, &'static str)> = Vec::new();
        for (bind, keys) in KEYMAP.iter().zip(&self.keys) {
            let (Some(label), Some(key)) = (bind.bar, keys.first()) else {
                continue;
            };
            let keys = short_label(key);
            match out.last_mut() {
                Some((prev, l)) if *l == label => {
                    // "Alt+←" + "Alt+→" -> "Alt+←/→"
                    let common = common_prefix(prev, &keys);
                    let tail = keys[common.len()..].to_string();
                    prev.push('/');
                    prev.push_str(&tail);
                }
                _ => out.push((keys, label)),
            }
        }
        out
    }

    /// Bindings of one help section, with all their keys joined ("Alt+← Ctrl+←");
    /// adjacent bindings with the same help text share a row (the quiz answers).
    pub fn help_rows(&self, section: Section) -> Vec<(String, &'static str)> {
        let mut rows: Vec<(Vec<String>, &'static str)> = Vec::new();
        for (b, keys) in KEYMAP.iter().zip(&self.keys) {
            if b.section != section {
                continue;
            }
            let keys: Vec<String> = keys.iter().map(key_label).collect();
            match rows.last_mut() {
                Some((prev, help)) if *help == b.help => prev.extend(keys),
                _ => rows.push((keys, b.help)),
            }
        }
        rows.into_iter()
            .map(|(keys, help)| {
                let keys = if keys.is_empty() {
                    "(unbound)".to_string()
                } else {
                    keys.join(" ")
                };
                (keys, help)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
