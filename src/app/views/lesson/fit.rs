//! How many rows the lesson pane takes of the column it shares with the chat, so that the
//! pane an observe step points at keeps the rows it needs.

use ratatui::layout::Rect;

use super::step_rows;
use crate::app::App;
use crate::lessons::StepKind;
use crate::pane::Pane;

/// Rows the observed pane needs in the column it shares with the lesson (frame, legend
/// and at least two rows of what it shows), counting the input below it; 0 when the step
/// observes nothing in that column. `side_here`: the routing and sampling panes are
/// drawn in this column (narrow screens) rather than beside it.
fn observed_reserve(app: &App, pane: Pane, width: u16, side_here: bool) -> u16 {
    let input = crate::app::views::input::height(app, width);
    match pane {
        // The strip is drawn only when the transcript keeps 5 rows above it.
        Pane::Strip => input + crate::app::views::strip::HEIGHT + 5,
        // Frame, header, two legend rows, axis, three layer rows (the observed one between
        // its neighbours), weights on two rows, footer; the expert-load view needs no more.
        Pane::Routing if side_here => 12 + input,
        // Frame, three heading rows, three candidates, the nucleus line.
        Pane::Sampling if side_here => 10 + input,
        _ => 0,
    }
}

/// How the column is shared while a lesson is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LessonRows {
    /// Rows of the lesson pane.
    pub height: u16,
    /// Whether the token strip may take its rows below (it yields them when an observed
    /// routing or sampling pane needs them).
    pub strip: bool,
}

/// The rows the lesson pane takes of `area` (the column it shares with the chat): its
/// step's text when that fits in 45% of the column, else less and scrolled; never so much
/// that the pane an observe step points at loses its rows (the token strip gives up its
/// rows first); folded (Ctrl+F), three rows.
pub fn pane_rows(app: &App, area: Rect, side_here: bool) -> LessonRows {
    const FOLDED: u16 = 3;
    let Some(a) = app.lessons().active() else {
        return LessonRows {
            height: 0,
            strip: true,
        };
    };
    let inner_w = area.width.saturating_sub(2);
    let content = (step_rows(a, app.lang(), inner_w).len() as u16).saturating_add(2);
    let mut h = if app.layout().lesson_folded() {
        FOLDED
    } else {
        content.min(area.height * 45 / 100)
    };
    let mut strip = true;
    if let Some(StepKind::Observe { pane, .. }) = a.current().map(|s| &s.kind) {
        let reserve = observed_reserve(app, *pane, area.width, side_here);
        let side = reserve > 0 && *pane != Pane::Strip;
        // With the strip kept the lesson would drop below five rows: the strip yields.
        strip = !side || area.height >= reserve + crate::app::views::strip::HEIGHT + 5;
        let reserve = reserve
            + if side && strip {
                crate::app::views::strip::HEIGHT
            } else {
                0
            };
        h = h.min(area.height.saturating_sub(reserve));
    }
    LessonRows {
        height: h.max(FOLDED).min(area.height),
        strip,
    }
}
