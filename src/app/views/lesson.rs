//! The lesson pane (the open lesson's current step, above the chat) and the lesson list
//! overlay (Ctrl+L). Interface words follow the lesson language.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

use super::palette::{CHOSEN, DIM, ERROR, INFO, TITLE};
use super::wrap::wrap;
use crate::app::lessons::{ActiveLesson, ExperimentCell};
use crate::app::App;
use crate::lessons::{Lang, StepKind};
use crate::pane::Pane;
use crate::text::markdown::StyledLine;

mod fit;
mod list;

pub use fit::{pane_rows, LessonRows};
pub use list::render_list;

/// The border colour of whatever an observe step points at.
pub const HIGHLIGHT: Style = Style::new()
    .fg(ratatui::style::Color::Magenta)
    .add_modifier(Modifier::BOLD);
const OK: Style = Style::new().fg(ratatui::style::Color::Green);

/// The catalogue's message `key` in the lesson language.
fn tr(key: &str, lang: Lang) -> String {
    crate::i18n::tr(key, lang.code())
}

/// A pane's name as the learner reads it ("routing" / "路由").
pub(crate) fn pane_word(pane: Pane, lang: Lang) -> String {
    tr(&format!("pane.{}", pane.name()), lang)
}

/// What the current observe step points at, if it is one.
pub fn highlight_target(app: &App) -> Option<Pane> {
    match app.lessons().active()?.current()?.kind {
        StepKind::Observe { pane, .. } => Some(pane),
        _ => None,
    }
}

/// Recolour the border (or, for a borderless row, the text) of `area`.
pub fn highlight(area: Rect, buf: &mut Buffer, bordered: bool) {
    let area = area.intersection(buf.area);
    if area.is_empty() {
        return;
    }
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            let edge = y == area.top()
                || y + 1 == area.bottom()
                || x == area.left()
                || x + 1 == area.right();
            if !bordered || edge {
                let cell = &mut buf[(x, y)];
                let style = cell.style().patch(HIGHLIGHT);
                cell.set_style(style);
            }
        }
    }
}

fn plain(text: impl Into<String>, style: Style) -> StyledLine {
    StyledLine::plain(text, style)
}

fn status_line(lang: Lang, done: bool, waiting: &str) -> StyledLine {
    if done {
        plain(tr("lesson.done_next", lang), OK)
    } else {
        plain(tr(waiting, lang), INFO)
    }
}

fn reply_cell(c: &ExperimentCell, lang: Lang) -> String {
    let text: String = c.text.split_whitespace().collect::<Vec<_>>().join(" ");
    match &c.end {
        None if text.is_empty() => "…".to_string(),
        None => format!("{text}▌"),
        Some(Err(e)) => format!("{text} ({e})"),
        Some(Ok(_)) if text.is_empty() => tr("lesson.empty_reply", lang),
        Some(Ok(_)) => text,
    }
}

/// Every row of the step below its text, before wrapping.
fn step_lines(a: &ActiveLesson, lang: Lang) -> Vec<StyledLine> {
    let mut out = Vec::new();
    let Some(step) = a.current() else {
        return out;
    };
    let st = &a.state;
    out.push(StyledLine::default());
    match &step.kind {
        StepKind::Prose | StepKind::Code { .. } => out.push(plain(tr("lesson.next", lang), DIM)),
        StepKind::Run {
            prompt,
            params,
            max_tokens,
        } => {
            out.push(plain(format!("» {}", prompt.get(lang)), CHOSEN));
            out.push(plain(
                format!(
                    "T {:.2} · top_p {:.2} · seed {} · max {max_tokens}",
                    params.temperature, params.top_p, params.seed
                ),
                DIM,
            ));
            if st.run_generation.is_none() {
                out.push(plain(tr("lesson.send", lang), INFO));
            } else {
                out.push(status_line(lang, st.done, "lesson.writing"));
            }
        }
        StepKind::Observe { pane, layer, .. } => {
            let mut s = format!("◆ {}", tr("lesson.look_at", lang));
            s.push_str(&pane_word(*pane, lang));
            if let Some(l) = layer {
                s.push_str(&format!(" · L{l}"));
            }
            out.push(plain(s, HIGHLIGHT));
            out.push(plain(tr("lesson.next", lang), DIM));
        }
        StepKind::Task { condition, hint } => {
            out.push(plain(
                format!("{} {condition}", tr("lesson.goal", lang)),
                CHOSEN,
            ));
            out.push(status_line(lang, st.done, "lesson.waiting"));
            if let (Some(h), false) = (hint, st.done) {
                out.push(plain(
                    format!("{} {}", tr("lesson.hint", lang), h.get(lang)),
                    DIM,
                ));
            }
        }
        StepKind::Quiz { choices, .. } => {
            for (i, c) in choices.iter().enumerate() {
                let picked = st.answer == Some(i);
                let mark = match (picked, c.correct) {
                    (true, true) => "✓",
                    (true, false) => "✗",
                    _ => " ",
                };
                let style = match (picked, c.correct) {
                    (true, true) => OK,
                    (true, false) => ERROR,
                    _ => Style::default(),
                };
                let mut l = plain(format!("{mark} Alt+{}  {}", i + 1, c.text.get(lang)), style);
                l.hang = 9;
                out.push(l);
            }
            if let Some(c) = st.answer.and_then(|i| choices.get(i)) {
                out.push(StyledLine::default());
                out.push(plain(
                    c.explain.get(lang),
                    if c.correct { OK } else { INFO },
                ));
            }
            if st.done {
                out.push(plain(tr("lesson.next", lang), DIM));
            }
        }
        StepKind::ExperimentFile { file, grid } => {
            let what = crate::text::sanitize(&format!("» {} ({file})", grid.prompt));
            out.push(plain(what, CHOSEN));
            let next = if st.done {
                tr("lesson.next", lang)
            } else {
                tr("lesson.open_grid", lang)
            };
            out.push(plain(next, INFO));
        }
        StepKind::Experiment {
            prompt, max_tokens, ..
        } => {
            out.push(plain(format!("» {}", prompt.get(lang)), CHOSEN));
            if st.cells.is_empty() {
                out.push(plain(
                    format!("{} (max {max_tokens})", tr("lesson.run_grid", lang)),
                    INFO,
                ));
            } else {
                out.push(plain(
                    format!(
                        "{:>5} {:>5} {:>5}  {}",
                        "T",
                        "top_p",
                        "seed",
                        tr("lesson.reply", lang)
                    ),
                    DIM,
                ));
                for c in &st.cells {
                    let mut l = plain(
                        format!(
                            "{:>5.2} {:>5.2} {:>5}  {}",
                            c.params.temperature,
                            c.params.top_p,
                            c.params.seed,
                            reply_cell(c, lang)
                        ),
                        Style::default(),
                    );
                    l.hang = 19;
                    out.push(l);
                }
                out.push(status_line(lang, st.done, "lesson.running"));
            }
        }
    }
    out
}

/// The step's rows (its text, then what to do), wrapped to `width`.
fn step_rows(a: &ActiveLesson, lang: Lang, width: u16) -> Vec<Line<'static>> {
    let mut rows: Vec<Line<'static>> = Vec::new();
    for l in a.rendered().iter().chain(step_lines(a, lang).iter()) {
        rows.extend(wrap(l, width));
    }
    rows
}

/// The key bound to `action`, as the help writes it ("Ctrl+F").
fn key_of(app: &App, action: &crate::app::Action) -> String {
    app.keymap()
        .keys_of(action)
        .first()
        .map(crate::app::keymap::key_label)
        .unwrap_or_default()
}

/// The lesson pane.
pub fn render_pane(app: &App, area: Rect, buf: &mut Buffer) {
    let Some(a) = app.lessons().active() else {
        return;
    };
    let lang = app.lang();
    let n = a.lesson.steps.len();
    let kind = a.current().map_or(String::new(), |s| {
        tr(&format!("step.{}", s.kind.name()), lang)
    });
    // An observe step names its pane in the frame, so a folded or shrunk pane still says it.
    let target = match a.current().map(|s| &s.kind) {
        Some(StepKind::Observe { pane, layer, .. }) => {
            let at = layer.map(|l| format!(" L{l}")).unwrap_or_default();
            format!("· ◆ {}{at} ", pane_word(*pane, lang))
        }
        _ => String::new(),
    };
    let title = format!(
        " {} · {}/{n} {kind} {target}",
        a.lesson.title.get(lang),
        a.step + 1
    );
    let fold = key_of(app, &crate::app::Action::ToggleLessonFold).replace("Ctrl+", "^");
    let folded = app.layout().lesson_folded();
    let keys = crate::i18n::tr_with(
        if folded {
            "lesson.keys_folded"
        } else {
            "lesson.keys"
        },
        lang.code(),
        &[("fold", &fold)],
    );
    let block = Block::bordered()
        .title(Span::styled(title, TITLE))
        .title_bottom(Line::styled(keys, DIM).right_aligned());
    let inner = block.inner(area);
    block.render(area, buf);
    let mut rows = step_rows(a, lang, inner.width);
    if folded {
        // Folded: only what the step asks for (its first row below the text).
        let ask = step_lines(a, lang)
            .into_iter()
            .find(|l| !l.line.spans.is_empty())
            .map(|l| wrap(&l, inner.width))
            .unwrap_or_default();
        rows = ask;
    }
    let max = rows.len().saturating_sub(inner.height as usize);
    let top = (a.scroll as usize).min(max);
    let more = top < max;
    let visible: Vec<Line<'static>> = rows
        .into_iter()
        .skip(top)
        .take(inner.height as usize)
        .collect();
    Paragraph::new(visible).render(inner, buf);
    if more && area.height > 0 && area.width > 20 {
        let hint = " ↓ Ctrl+D ";
        let x = area.x + 1;
        buf.set_string(x, area.bottom() - 1, hint, INFO);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys this file builds at run time (pane and step names) or passes through
    /// `status_line`: the catalogue test only sees literal `tr("…")` calls.
    #[test]
    fn built_keys_exist_in_both_languages() {
        let steps = [
            "prose",
            "code",
            "run",
            "observe",
            "task",
            "quiz",
            "experiment",
            "experiment_file",
        ];
        let mut keys: Vec<String> = Pane::ALL
            .iter()
            .map(|p| format!("pane.{}", p.name()))
            .collect();
        keys.extend(steps.iter().map(|s| format!("step.{s}")));
        keys.extend(
            ["lesson.writing", "lesson.waiting", "lesson.running"]
                .iter()
                .map(|s| s.to_string()),
        );
        for key in &keys {
            let en = tr(key, Lang::En);
            let zh = tr(key, Lang::ZhCn);
            assert!(!en.contains(key.as_str()), "{key} missing in English");
            assert!(!zh.contains(key.as_str()), "{key} missing in Chinese");
            assert_ne!(en, zh, "{key}: the Chinese is the English");
        }
        // The English pane names are the ones `/pane` takes.
        for p in Pane::ALL {
            assert_eq!(pane_word(p, Lang::En), p.name());
        }
        assert_eq!(pane_word(Pane::Routing, Lang::ZhCn), "路由");
    }
}
