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

fn lines(app: &App) -> Vec<Line<'static>> {
    let keymap = app.keymap();
    let key_w = Section::ALL
        .iter()
        .flat_map(|s| keymap.help_rows(*s))
        .map(|(k, _)| k.chars().count())
        .chain(SLASH.iter().flat_map(|c| c.help).map(|(c, _)| c.len()))
        .max()
        .unwrap_or(0)
        + 2;
    let mut out = Vec::new();
    let head = Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
    for section in Section::ALL {
        out.push(Line::styled(section.title(), head));
        for (keys, help) in keymap.help_rows(section) {
            out.push(Line::from(vec![
                Span::styled(format!("  {keys:<key_w$}"), CHOSEN),
                Span::raw(help),
            ]));
        }
        out.push(Line::default());
    }
    out.push(Line::styled(
        "Slash commands (type them into the input)",
        head,
    ));
    for (cmd, help) in SLASH.iter().flat_map(|c| c.help) {
        out.push(Line::from(vec![
            Span::styled(format!("  {cmd:<key_w$}"), CHOSEN),
            Span::raw(*help),
        ]));
    }
    out.push(Line::default());
    out.push(Line::styled("Reading the panes", head));
    for text in [
        "Token strip: each token coloured by the chosen layer's router: its top expert (F3: or its entropy, blue = confident, red = uncertain).",
        "Routing: rows are layers, columns experts; shade = router probability, ◆ = chosen (top-k); the ▶ row lists the mixing weights.",
        "Sampling: bars are the raw and after-temperature probabilities; the line marks where top_p cuts; ▶ is the token drawn.",
    ] {
        out.push(Line::from(format!("  {text}")));
    }
    out
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let w = area.width.saturating_sub(4).min(100);
    let h = area.height.saturating_sub(2);
    let popup = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    Clear.render(popup, buf);
    let block = Block::bordered()
        .title(Span::styled(" help ", TITLE))
        .title_bottom(Line::styled(" Esc / F1 close · PgUp/PgDn scroll ", DIM).right_aligned());
    Paragraph::new(lines(app))
        .wrap(Wrap { trim: false })
        .scroll((app.help_scroll().min(u16::MAX as usize) as u16, 0))
        .block(block)
        .render(popup, buf);
}
