//! The help overlay (F1, /help): generated from the keymap table and the slash command
//! list, so it always says what the keys really do.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

use super::palette::{CHOSEN, DIM, TITLE};
use crate::app::commands::SLASH;
use crate::app::keymap::Section;
use crate::app::App;
use crate::i18n::tr;

fn lines(app: &App) -> Vec<Line<'static>> {
    let keymap = app.keymap();
    let lang = app.lang().code();
    let key_w = Section::ALL
        .iter()
        .flat_map(|s| keymap.help_rows(*s, lang))
        .map(|(k, _)| k.chars().count())
        .chain(SLASH.iter().flat_map(|c| c.help).map(|(c, _)| c.len()))
        .max()
        .unwrap_or(0)
        + 2;
    let mut out = Vec::new();
    let head = Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
    for section in Section::ALL {
        out.push(Line::styled(tr(section.title(), lang), head));
        for (keys, help) in keymap.help_rows(section, lang) {
            out.push(Line::from(vec![
                Span::styled(format!("  {keys:<key_w$}"), CHOSEN),
                Span::raw(help),
            ]));
        }
        out.push(Line::default());
    }
    out.push(Line::styled(tr("help.slash", lang), head));
    for (cmd, help) in SLASH.iter().flat_map(|c| c.help) {
        out.push(Line::from(vec![
            Span::styled(format!("  {cmd:<key_w$}"), CHOSEN),
            Span::raw(tr(help, lang)),
        ]));
    }
    out.push(Line::default());
    out.push(Line::styled(tr("help.reading", lang), head));
    for key in ["help.read_strip", "help.read_routing", "help.read_sampling"] {
        out.push(Line::from(format!("  {}", tr(key, lang))));
    }
    out
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let w = area.width.saturating_sub(4).min(100);
    let h = area.height.saturating_sub(2);
    let lang = app.lang().code();
    let popup = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    Clear.render(popup, buf);
    let block = Block::bordered()
        .title(Span::styled(tr("title.help", lang), TITLE))
        .title_bottom(Line::styled(tr("help.footer", lang), DIM).right_aligned());
    Paragraph::new(lines(app))
        .wrap(Wrap { trim: false })
        .scroll((app.help_scroll().min(u16::MAX as usize) as u16, 0))
        .block(block)
        .render(popup, buf);
}
