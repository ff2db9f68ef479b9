//! The layout part: which side pane F2 shows, what the token strip's colours mean, what the
//! routing pane draws, and where the transcript is scrolled.

use std::cell::Cell;

use crate::pane::Pane;

/// What the token strip's colours mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StripMode {
    /// A colour per expert: the top expert in the chosen layer.
    TopExpert,
    /// Router entropy in the chosen layer: cool = confident, hot = uncertain.
    Entropy,
}

impl StripMode {
    /// The name task conditions use (`strip_mode == "entropy"`).
    pub fn name(self) -> &'static str {
        match self {
            StripMode::TopExpert => "top_expert",
            StripMode::Entropy => "entropy",
        }
    }
}

/// What the routing pane shows (F4 cycles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoutingView {
    /// The selected token's router probabilities per layer.
    Probabilities,
    /// The selected token's router preference (logits / the model's display temperature).
    Preference,
    /// Expert load over the whole conversation: how often each expert was chosen.
    Load,
}

/// Chat scrolling: follow the end, or hold a line (from the top) still while text arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scroll {
    Follow,
    FromTop(usize),
}

#[derive(Debug)]
pub struct Layout {
    /// The side pane F2 shows (one of [`Pane::SIDE`]).
    pane: Pane,
    strip_mode: StripMode,
    routing_view: RoutingView,
    pub(crate) scroll: Scroll,
    /// Written by the chat view (the one thing a view writes): the last transcript height
    /// and how far it could scroll, so PageUp/PageDown move by a page and stop at the ends.
    pub(crate) chat_geometry: Cell<(u16, usize)>,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            pane: Pane::Chat,
            strip_mode: StripMode::TopExpert,
            routing_view: RoutingView::Probabilities,
            scroll: Scroll::Follow,
            chat_geometry: Cell::new((0, 0)),
        }
    }
}

impl Layout {
    pub fn pane(&self) -> Pane {
        self.pane
    }
    pub fn strip_mode(&self) -> StripMode {
        self.strip_mode
    }
    pub fn routing_view(&self) -> RoutingView {
        self.routing_view
    }

    /// F2: the next side pane.
    pub fn cycle_pane(&mut self) {
        self.pane = self.pane.next_side();
    }

    /// Bring `pane` on screen (the strip and status bar are on screen with the chat).
    pub fn show(&mut self, pane: Pane) {
        self.pane = pane.side();
    }

    pub fn toggle_strip_mode(&mut self) {
        self.strip_mode = match self.strip_mode {
            StripMode::TopExpert => StripMode::Entropy,
            StripMode::Entropy => StripMode::TopExpert,
        };
    }

    /// F4: router probabilities -> router preference (when the token has one) -> expert
    /// load over the conversation -> probabilities.
    pub fn cycle_routing_view(&mut self, has_preference: bool) {
        self.routing_view = match self.routing_view {
            RoutingView::Probabilities if has_preference => RoutingView::Preference,
            RoutingView::Probabilities | RoutingView::Preference => RoutingView::Load,
            RoutingView::Load => RoutingView::Probabilities,
        };
    }

    /// Follow the end of the transcript again.
    pub fn follow_end(&mut self) {
        self.scroll = Scroll::Follow;
    }

    fn page(&self) -> (usize, usize) {
        let (height, max) = self.chat_geometry.get();
        ((height as usize).saturating_sub(2).max(1), max)
    }

    pub fn scroll_up(&mut self) {
        let (page, max) = self.page();
        let top = match self.scroll {
            Scroll::Follow => max,
            Scroll::FromTop(t) => t.min(max),
        };
        self.scroll = Scroll::FromTop(top.saturating_sub(page));
    }

    pub fn scroll_down(&mut self) {
        let (page, max) = self.page();
        if let Scroll::FromTop(t) = self.scroll {
            self.scroll = if t + page >= max {
                Scroll::Follow
            } else {
                Scroll::FromTop(t + page)
            };
        }
    }
}
