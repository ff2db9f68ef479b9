//! The layout part: which side pane F2 shows, what the token strip's colours mean, what the
//! routing pane draws, and where the transcript is scrolled.

use std::cell::Cell;

use crate::pane::Pane;
use crate::routing::{dequantize_prob, TokenRouting};

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

/// How the routing pane shades its heatmap cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shading {
    /// The router's probability as it is (0..1).
    Probability,
    /// Probability times the number of experts: 1.0 is the even share 1/E.
    EvenShare,
    /// Rank within the layer: the top quarter of experts darkest.
    Rank,
}

impl Shading {
    /// The per-model rule, from the largest router probability `max_p` of the token on
    /// screen (any layer) among `n_expert` experts, as a multiple of the even share 1/E:
    /// 3x or more: the probabilities themselves vary enough to read; 1.25x to 3x: shade
    /// relative to the even share; below 1.25x the router is nearly flat (every expert
    /// within a quarter of 1/E), and only the order of its scores carries its decision.
    pub fn auto(max_p: f32, n_expert: usize) -> Shading {
        let ratio = max_p * n_expert as f32;
        if ratio >= 3.0 {
            Shading::Probability
        } else if ratio >= 1.25 {
            Shading::EvenShare
        } else {
            Shading::Rank
        }
    }

    /// The name the legend and task conditions use.
    pub fn name(self) -> &'static str {
        match self {
            Shading::Probability => "probability",
            Shading::EvenShare => "even_share",
            Shading::Rank => "rank",
        }
    }

    /// The next mode the shading key gives.
    pub fn next(self) -> Shading {
        match self {
            Shading::Probability => Shading::EvenShare,
            Shading::EvenShare => Shading::Rank,
            Shading::Rank => Shading::Probability,
        }
    }
}

/// The shading the routing pane uses for one token, and why.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShadingChoice {
    pub mode: Shading,
    /// Chosen by [`Shading::auto`] (the learner has not picked one).
    pub auto: bool,
    /// The token's largest router probability (any layer) times E.
    pub max_ratio: f32,
}

impl ShadingChoice {
    /// For token routing `r` (its router preference instead when `use_pref`), with the
    /// learner's pick if any.
    pub fn of(picked: Option<Shading>, r: &TokenRouting, use_pref: bool) -> ShadingChoice {
        let max_p = r
            .iter()
            .filter(|v| v.computed)
            .flat_map(|v| {
                if use_pref && !v.preference.is_empty() {
                    v.preference
                } else {
                    v.probs
                }
            })
            .map(|&q| dequantize_prob(q))
            .fold(0.0f32, f32::max);
        let n = usize::from(r.n_expert).max(1);
        // A compacted record has no probabilities: nothing to be relative to.
        let auto = if max_p > 0.0 {
            Shading::auto(max_p, n)
        } else {
            Shading::Probability
        };
        ShadingChoice {
            mode: picked.unwrap_or(auto),
            auto: picked.is_none(),
            max_ratio: max_p * n as f32,
        }
    }
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
    /// The shading the learner picked; `None`: chosen per model from the router's spread.
    shading: Option<Shading>,
    /// The lesson pane folded to its frame and one row (Ctrl+F).
    lesson_folded: bool,
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
            shading: None,
            lesson_folded: false,
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

    /// The shading the learner picked, if any (else the routing pane chooses).
    pub fn shading(&self) -> Option<Shading> {
        self.shading
    }

    /// The shading key: the mode after `shown` (what the pane shows now).
    pub fn cycle_shading(&mut self, shown: Shading) {
        self.shading = Some(shown.next());
    }

    pub fn lesson_folded(&self) -> bool {
        self.lesson_folded
    }

    /// Ctrl+F: fold the lesson pane to one row, or unfold it.
    pub fn toggle_lesson_fold(&mut self) {
        self.lesson_folded = !self.lesson_folded;
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
