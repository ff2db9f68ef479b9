//! The lesson list overlay (Ctrl+L): every lesson with its progress, the selected one's
//! summary below.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};
use unicode_width::UnicodeWidthStr;

use super::{plain, tr, OK};
use crate::app::views::palette::{CHOSEN, DIM, ERROR, INFO, TITLE};
use crate::app::views::wrap::wrap;
use crate::app::App;
use crate::i18n::tr_with;
use crate::lessons::LessonEntry;
use crate::text::sanitize;

/// The lesson list overlay.
pub fn render_list(app: &App, area: Rect, buf: &mut Buffer) {
    let lang = app.lang();
    let l = app.lessons();
    let w = area.width.saturating_sub(4).min(100);
    let h = area.height.saturating_sub(2);
    if w < 10 || h < 4 {
        return;
    }
    let popup = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    Clear.render(popup, buf);
    let keys = tr("lesson.list_keys", lang);
    let block = Block::bordered()
        .title(Span::styled(tr("lesson.list_title", lang), TITLE))
        .title_bottom(Line::styled(keys, DIM).right_aligned());
    let inner = block.inner(popup);
    block.render(popup, buf);
    let mut rows: Vec<Line<'static>> = Vec::new();
    if let Some(e) = &l.library().dir_error {
        rows.push(Line::styled(e.clone(), ERROR));
    } else if l.library().entries.is_empty() {
        rows.push(Line::styled(tr("lesson.list_none", lang), INFO));
    }
    let open_id = l.active().map(|a| a.lesson.id.as_str());
    let title_w = l
        .library()
        .lessons()
        .map(|x| x.title.get(lang).width())
        .max()
        .unwrap_or(0)
        .min(inner.width.saturating_sub(16) as usize);
    for (i, e) in l.library().entries.iter().enumerate() {
        let selected = i == l.list_selected();
        let marker = if selected { "▶ " } else { "  " };
        let line = match e {
            LessonEntry::Ok(x) => {
                let n = x.steps.len();
                let p = l.progress().lessons.get(&x.id);
                let (state, style) = match p {
                    _ if open_id == Some(x.id.as_str()) => (
                        tr_with(
                            "lesson.list_open",
                            lang.code(),
                            &[("k", &l.active().map_or(0, |a| a.step + 1)), ("n", &n)],
                        ),
                        CHOSEN,
                    ),
                    Some(p) if p.completed => (tr("lesson.list_done", lang), OK),
                    Some(p) => (
                        tr_with(
                            "lesson.list_step",
                            lang.code(),
                            &[("k", &(p.step + 1)), ("n", &n)],
                        ),
                        INFO,
                    ),
                    None => (tr_with("lesson.list_steps", lang.code(), &[("n", &n)]), DIM),
                };
                let title = x.title.get(lang);
                let pad = " ".repeat(title_w.saturating_sub(title.width()));
                Line::from(vec![
                    Span::styled(marker, CHOSEN),
                    Span::styled(
                        format!("{title}{pad}  "),
                        if selected { CHOSEN } else { Style::default() },
                    ),
                    Span::styled(state, style),
                ])
            }
            LessonEntry::Broken { path, errors } => {
                // File names and the validator's messages quote the file: sanitised.
                let name = path
                    .file_name()
                    .map(|n| sanitize(&n.to_string_lossy()))
                    .unwrap_or_default();
                let why = errors
                    .first()
                    .map(|e| {
                        tr_with(
                            "lesson.list_line",
                            lang.code(),
                            &[("line", &e.line), ("why", &sanitize(&e.message))],
                        )
                    })
                    .unwrap_or_default();
                Line::from(vec![
                    Span::styled(marker, CHOSEN),
                    Span::styled(
                        format!(
                            "{name}  {}",
                            tr_with("lesson.list_broken", lang.code(), &[("why", &why)])
                        ),
                        ERROR,
                    ),
                ])
            }
        };
        rows.extend(wrap(&line.into(), inner.width));
    }
    if let Some(x) = l
        .library()
        .entries
        .get(l.list_selected())
        .and_then(|e| e.lesson())
    {
        rows.push(Line::default());
        rows.extend(wrap(&plain(x.summary.get(lang), DIM), inner.width));
    }
    let sel_row = l.list_selected();
    let skip = (sel_row + 1).saturating_sub(inner.height as usize);
    let visible: Vec<Line<'static>> = rows
        .into_iter()
        .skip(skip)
        .take(inner.height as usize)
        .collect();
    Paragraph::new(visible).render(inner, buf);
}
