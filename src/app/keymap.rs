//! Keys -> [`Action`]s. One table ([`KEYMAP`]) drives the key handling, the help overlay
//! and the key bar, so they cannot drift apart.
//!
//! The input box always has focus, so every binding uses a key that typing never produces:
//! function keys, Ctrl/Alt chords, Esc, and the editing keys the input itself handles.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use serde::{Deserialize, Serialize};

mod keys;

use crate::i18n::tr_with;
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
    /// Routing heatmap shading: probability -> relative to the even share -> rank.
    CycleShading,
    /// The routing pane's cell cursor: one expert left / right, one layer up / down.
    CellLeft,
    CellRight,
    CellUp,
    CellDown,
    /// Knock the cell's expert out of its layer / force it in / clear both (the same
    /// path as `/knockout`, `/force`).
    CellKnockout,
    CellForce,
    CellClear,
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
    /// Fold the lesson pane to one row (the panes below get its rows), or unfold it.
    ToggleLessonFold,
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
    /// A new branch of the reply at the selected step, from the most likely candidate no
    /// branch has written there yet (`/branch N` picks any candidate).
    BranchCandidate,
    /// Show the reply's previous / next branch.
    PrevBranch,
    NextBranch,
    /// Open the experiments overlay: a grid of runs, their results side by side, charts.
    Experiments,
    /// Open the model picker: the models on this machine; Enter switches to one.
    Models,
    /// Open / close the layer lens of the selected token.
    Lens,
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

    /// The section's heading, as a message key (`crate::i18n::tr`).
    pub fn title(self) -> &'static str {
        match self {
            Section::Chat => "section.chat",
            Section::Tokens => "section.tokens",
            Section::Panes => "section.panes",
            Section::Sampling => "section.sampling",
            Section::Lessons => "section.lessons",
            Section::Editing => "section.editing",
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
    b(Action::ToggleHelp, &[k(F(1))], "keys.toggle_help", Some("bar.help"), S::Panes),
    b(Action::Send, &[k(Enter)], "keys.send", Some("bar.send"), S::Chat),
    b(Action::Stop, &[k(Esc)], "keys.stop", Some("bar.stop"), S::Chat),
    b(Action::PrevToken, &[alt(Left), ctrl(Left)], "keys.prev_token", Some("bar.token"), S::Tokens),
    b(Action::NextToken, &[alt(Right), ctrl(Right)], "keys.next_token", Some("bar.token"), S::Tokens),
    b(Action::CyclePane, &[k(F(2))], "keys.cycle_pane", Some("bar.pane"), S::Panes),
    b(Action::Regenerate, &[ctrl(Char('r'))], "keys.regenerate", Some("bar.regen"), S::Chat),
    b(Action::EditLast, &[ctrl(Char('e'))], "keys.edit_last", Some("bar.edit"), S::Chat),
    b(Action::PrevLayer, &[alt(PageUp), alt(Char(','))], "keys.prev_layer", Some("bar.layer"), S::Tokens),
    b(Action::NextLayer, &[alt(PageDown), alt(Char('.'))], "keys.next_layer", Some("bar.layer"), S::Tokens),
    b(Action::TemperatureDown, &[k(F(5))], "keys.temperature_down", Some("bar.temp"), S::Sampling),
    b(Action::TemperatureUp, &[k(F(6))], "keys.temperature_up", Some("bar.temp"), S::Sampling),
    b(Action::TopPDown, &[k(F(7))], "keys.top_p_down", Some("bar.top_p"), S::Sampling),
    b(Action::TopPUp, &[k(F(8))], "keys.top_p_up", Some("bar.top_p"), S::Sampling),
    b(Action::ToggleStripMode, &[k(F(3))], "keys.toggle_strip_mode", Some("bar.colour"), S::Panes),
    b(Action::TogglePreference, &[k(F(4))], "keys.toggle_preference", None, S::Panes),
    b(Action::CycleShading, &[alt(Char('s'))], "keys.cycle_shading", None, S::Panes),
    b(Action::CellLeft, &[shift(Left)], "keys.cell_left", None, S::Panes),
    b(Action::CellRight, &[shift(Right)], "keys.cell_right", None, S::Panes),
    b(Action::CellUp, &[shift(Up)], "keys.cell_up", None, S::Panes),
    b(Action::CellDown, &[shift(Down)], "keys.cell_down", None, S::Panes),
    b(Action::CellKnockout, &[alt(Char('k'))], "keys.cell_knockout", None, S::Panes),
    b(Action::CellForce, &[alt(Char('f'))], "keys.cell_force", None, S::Panes),
    b(Action::CellClear, &[alt(Char('c'))], "keys.cell_clear", None, S::Panes),
    b(Action::PrevTurn, &[alt(Up), ctrl(Up)], "keys.prev_turn", None, S::Tokens),
    b(Action::NextTurn, &[alt(Down), ctrl(Down)], "keys.next_turn", None, S::Tokens),
    b(Action::NewestToken, &[alt(End), ctrl(End)], "keys.newest_token", None, S::Tokens),
    b(Action::Lens, &[alt(Char('l'))], "keys.lens", None, S::Tokens),
    b(Action::BranchCandidate, &[alt(Char('b'))], "keys.branch_candidate", None, S::Tokens),
    b(Action::PrevBranch, &[alt(Char('['))], "keys.prev_branch", None, S::Tokens),
    b(Action::NextBranch, &[alt(Char(']'))], "keys.next_branch", None, S::Tokens),
    b(Action::ScrollUp, &[k(PageUp)], "keys.scroll_up", None, S::Chat),
    b(Action::ScrollDown, &[k(PageDown)], "keys.scroll_down", None, S::Chat),
    b(Action::Interrupt, &[ctrl(Char('c'))], "keys.interrupt", None, S::Chat),
    b(Action::Quit, &[ctrl(Char('q'))], "keys.quit", Some("bar.quit"), S::Chat),
    b(Action::Conversations, &[k(F(9)), ctrl(Char('o'))], "keys.conversations", Some("bar.history"), S::Chat),
    b(Action::Experiments, &[k(F(11)), alt(Char('x'))], "keys.experiments", None, S::Chat),
    b(Action::Models, &[alt(Char('m'))], "keys.models", None, S::Chat),
    b(Action::ToggleLessons, &[ctrl(Char('l'))], "keys.toggle_lessons", Some("bar.lessons"), S::Lessons),
    b(Action::LessonNext, &[ctrl(Char('n'))], "keys.lesson_next", None, S::Lessons),
    b(Action::LessonBack, &[ctrl(Char('p'))], "keys.lesson_back", None, S::Lessons),
    b(Action::LessonScrollUp, &[ctrl(Char('u'))], "keys.lesson_scroll_up", None, S::Lessons),
    b(Action::LessonScrollDown, &[ctrl(Char('d'))], "keys.lesson_scroll_down", None, S::Lessons),
    b(Action::ToggleLessonFold, &[ctrl(Char('f'))], "keys.lesson_fold", None, S::Lessons),
    b(Action::Answer(1), &[alt(Char('1'))], "keys.answer", None, S::Lessons),
    b(Action::Answer(2), &[alt(Char('2'))], "keys.answer", None, S::Lessons),
    b(Action::Answer(3), &[alt(Char('3'))], "keys.answer", None, S::Lessons),
    b(Action::Answer(4), &[alt(Char('4'))], "keys.answer", None, S::Lessons),
    b(Action::SwitchLang, &[k(F(10))], "keys.switch_lang", None, S::Lessons),
    b(Action::InsertNewline, &[alt(Enter), shift(Enter), ctrl(Char('j'))], "keys.insert_newline", None, S::Editing),
    b(Action::CursorLeft, &[k(Left)], "keys.cursor_left", None, S::Editing),
    b(Action::CursorRight, &[k(Right)], "keys.cursor_right", None, S::Editing),
    b(Action::CursorUp, &[k(Up)], "keys.cursor_up", None, S::Editing),
    b(Action::CursorDown, &[k(Down)], "keys.cursor_down", None, S::Editing),
    b(Action::CursorHome, &[k(Home), ctrl(Char('a'))], "keys.cursor_home", None, S::Editing),
    b(Action::CursorEnd, &[k(End)], "keys.cursor_end", None, S::Editing),
    b(Action::Backspace, &[k(Backspace)], "keys.backspace", None, S::Editing),
    b(Action::Delete, &[k(KeyCode::Delete)], "keys.delete", None, S::Editing),
];

/// The action for a key press in the default key table. Plain characters become
/// [`Action::Insert`].
pub fn action_for(key: KeyEvent) -> Option<Action> {
    DEFAULT.action_for(key)
}

/// Key-bar entries of the default key table (labels are message keys).
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

/// Help rows of one section of the default key table, in `lang`.
pub fn help_rows(section: Section, lang: &str) -> impl Iterator<Item = (String, String)> {
    DEFAULT.help_rows(section, lang).into_iter()
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
        Keymap::with_overrides_in(overrides, "en")
    }

    /// [`Keymap::with_overrides`], saying what could not be applied in `lang`.
    pub fn with_overrides_in<'a>(
        overrides: impl IntoIterator<Item = (&'a String, &'a Vec<String>)>,
        lang: &str,
    ) -> (Keymap, Vec<String>) {
        let mut map = Keymap::default();
        let mut problems = Vec::new();
        for (name, specs) in overrides {
            let action = KEYMAP
                .iter()
                .position(|b| b.action.name().as_deref() == Some(name.as_str()));
            let Some(i) = action else {
                let name = format!("{name:?}");
                problems.push(tr_with("notice.keymap_no_action", lang, &[("name", &name)]));
                continue;
            };
            let mut keys = Vec::new();
            for spec in specs {
                match keys::parse_key_in(spec, lang) {
                    Ok(k) => keys.push(k),
                    Err(why) => {
                        let args: [(&str, &dyn std::fmt::Display); 2] =
                            [("name", name), ("why", &why)];
                        problems.push(tr_with("notice.keymap_bad_key", lang, &args));
                    }
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

    /// Bindings of one help section, with all their keys joined ("Alt+← Ctrl+←") and
    /// the help in `lang`; adjacent bindings with the same help share a row (the quiz
    /// answers).
    pub fn help_rows(&self, section: Section, lang: &str) -> Vec<(String, String)> {
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
                (keys, crate::i18n::tr(help, lang))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
