//! Pure views: every function here reads `&App` and draws; none changes it (the chat view
//! records its scroll geometry in a `Cell`, the one exception, so paging knows its page).
//!
//! Layout: at 120 columns and wider, chat (transcript, token strip, input) on the left and
//! routing over sampling on the right (F2 gives one of them the whole column). Narrower,
//! the chat takes the full width and F2 swaps the transcript for routing or sampling.
//! Below 40x12 only a "terminal too small" notice is drawn.

pub mod chat;
pub mod colors;
pub mod experiments;
pub mod experiments_chart;
pub mod help;
pub mod history;
pub mod input;
pub mod lens;
pub mod lesson;
pub mod models;
pub mod palette;
pub mod prep;
pub mod routing;
pub mod sampling;
pub mod stats;
pub mod status;
pub mod strip;
mod wrap;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget};
use ratatui::Frame;

use super::{App, Overlay, Pane};

pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 12;
/// From this width on, the routing and sampling panes sit beside the chat.
pub const WIDE: u16 = 120;

/// Draw the whole app.
pub fn render(app: &App, f: &mut Frame) {
    let area = f.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(area, f.buffer_mut(), app.lang().code());
        return;
    }
    let notice_h = u16::from(app.notice().is_some());
    let [main, notice, status_area, keys] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(notice_h),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let buf = f.buffer_mut();
    let mut placed = Placed::default();
    // Where the first-run preparation goes: beside the lesson, never over it.
    let prep_area;
    let cursor = if area.width >= WIDE {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)])
                .areas(main);
        match app.pane() {
            Pane::Chat | Pane::Strip | Pane::Status => {
                let [top, bottom] =
                    Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)])
                        .areas(right);
                draw_pane(app, Pane::Routing, top, buf, &mut placed);
                draw_pane(app, Pane::Sampling, bottom, buf, &mut placed);
            }
            side => draw_pane(app, side, right, buf, &mut placed),
        }
        prep_area = right;
        let (left, strip_ok) = lesson_split(app, left, buf, false);
        chat_column(app, left, buf, Pane::Chat, strip_ok, &mut placed)
    } else {
        let (main, strip_ok) = lesson_split(app, main, buf, true);
        prep_area = main;
        chat_column(app, main, buf, app.pane(), strip_ok, &mut placed)
    };
    status::render_notice(app, notice, buf);
    draw_pane(app, Pane::Status, status_area, buf, &mut placed);
    status::render_keys(app, keys, buf);
    if let Some(target) = lesson::highlight_target(app) {
        if let Some(r) = placed.rect(target) {
            lesson::highlight(r, buf, bordered(target));
        }
    }
    // The one open overlay is drawn last, over the panes.
    match app.overlay() {
        Some(Overlay::History(_)) => {
            if let Some(pos) = history::render(app, main, buf) {
                f.set_cursor_position(pos);
            }
        }
        Some(Overlay::Help { .. }) => help::render(app, main, buf),
        Some(Overlay::LessonList) => lesson::render_list(app, main, buf),
        Some(Overlay::Experiments(e)) => {
            let shape = app.model().map(crate::experiments::ModelShape::of);
            let area = experiments_area(app, main);
            let lang = app.lang().code();
            experiments::render(e, &e.run_count(shape, lang), lang, area, buf)
        }
        Some(Overlay::Prep(_)) => prep::render(app, prep_area, buf),
        Some(Overlay::Models(p)) => models::render(app, p, main, buf),
        Some(Overlay::Lens(v)) => {
            lens::render(app, v, lens_area(app, main, &placed), buf);
            if let Some(pos) = cursor {
                f.set_cursor_position(pos);
            }
        }
        None => {
            if let Some(pos) = cursor {
                f.set_cursor_position(pos);
            }
        }
    }
}

/// Where the experiments overlay goes: all of `main`, but beside (or below) an open
/// lesson, whose steps tell the learner what to read in it.
fn experiments_area(app: &App, main: Rect) -> Rect {
    if !app.lesson_open() {
        return main;
    }
    if main.width >= WIDE {
        let [_, right] =
            Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)])
                .areas(main);
        right
    } else {
        let [_, rest] =
            Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(main);
        rest
    }
}

/// Where the lens overlay goes: the sampling pane's place under the routing pane; when one
/// side pane has the whole right column, its lower part; narrower, the transcript's place
/// (the token strip below it stays visible).
fn lens_area(app: &App, main: Rect, placed: &Placed) -> Rect {
    if let Some(r) = placed.rect(Pane::Sampling) {
        return r;
    }
    let side = placed.rect(app.pane().side()).unwrap_or(main);
    if main.width < WIDE {
        return side;
    }
    let [_, bottom] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(side);
    bottom
}

/// Draw one pane into `area` and note where it went.
fn draw_pane(app: &App, pane: Pane, area: Rect, buf: &mut Buffer, placed: &mut Placed) {
    match pane {
        Pane::Chat => chat::render(app, area, buf),
        Pane::Routing => routing::render(app, area, buf),
        Pane::Sampling => sampling::render(app, area, buf),
        Pane::Strip => strip::render(app, area, buf),
        Pane::Status => status::render_status(app, area, buf),
        Pane::Stats => stats::render(app, area, buf),
    }
    placed.0.push((pane, area));
}

/// Whether a pane has a frame (a highlight recolours the frame, else the text).
fn bordered(pane: Pane) -> bool {
    !matches!(pane, Pane::Strip | Pane::Status)
}

/// Where the panes were drawn this frame (an observe step highlights one).
#[derive(Default)]
struct Placed(Vec<(Pane, Rect)>);

impl Placed {
    fn rect(&self, pane: Pane) -> Option<Rect> {
        self.0.iter().find(|(p, _)| *p == pane).map(|(_, r)| *r)
    }
}

/// With a lesson open, its pane takes the top of `area` (as many rows as
/// [`lesson::pane_rows`] gives it); returns the rest and whether the token strip may be
/// drawn there. `side_here`: the routing and sampling panes are drawn in `area` too.
fn lesson_split(app: &App, area: Rect, buf: &mut Buffer, side_here: bool) -> (Rect, bool) {
    if !app.lesson_open() {
        return (area, true);
    }
    let rows = lesson::pane_rows(app, area, side_here);
    let [top, rest] =
        Layout::vertical([Constraint::Length(rows.height), Constraint::Min(0)]).areas(area);
    lesson::render_pane(app, top, buf);
    (rest, rows.strip)
}

/// Transcript (or the pane that replaces it), token strip, input. Returns the cursor.
fn chat_column(
    app: &App,
    area: Rect,
    buf: &mut Buffer,
    pane: Pane,
    strip_ok: bool,
    placed: &mut Placed,
) -> Option<ratatui::layout::Position> {
    let input_h = input::height(app, area.width).min(area.height.saturating_sub(3));
    let strip_h = if strip_ok && area.height >= input_h + strip::HEIGHT + 5 {
        strip::HEIGHT
    } else {
        0
    };
    let [top, strip_area, input_area] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(strip_h),
        Constraint::Length(input_h),
    ])
    .areas(area);
    draw_pane(app, pane.side(), top, buf, placed);
    if strip_h > 0 {
        draw_pane(app, Pane::Strip, strip_area, buf, placed);
    }
    input::render(app, input_area, buf)
}

fn too_small(area: Rect, buf: &mut Buffer, lang: &str) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    let text = crate::i18n::tr_with(
        "small",
        lang,
        &[
            ("w", &area.width),
            ("h", &area.height),
            ("min_w", &MIN_WIDTH),
            ("min_h", &MIN_HEIGHT),
        ],
    );
    let line = crate::text::markdown::StyledLine::plain(text, palette::INFO);
    let rows: Vec<Line> = wrap::wrap(&line, area.width)
        .into_iter()
        .map(|l| {
            Line::from(
                l.spans
                    .into_iter()
                    .map(|s| s.content.trim().to_string())
                    .collect::<String>(),
            )
            .style(palette::INFO)
            .centered()
        })
        .collect();
    let h = (rows.len() as u16).min(area.height);
    let y = area.y + (area.height - h) / 2;
    Paragraph::new(rows).render(Rect::new(area.x, y, area.width, h), buf);
}
