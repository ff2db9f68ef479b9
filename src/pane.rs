//! The app's panes by name: one list that the views, the lessons (observe steps and task
//! conditions) and the help all use, so a pane is added in one place.

use serde::{Deserialize, Serialize};

/// A part of the screen a learner can be pointed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pane {
    /// The transcript (with the token strip and input below it).
    Chat,
    /// The router heatmap of the selected token (or the expert load).
    Routing,
    /// The candidate distribution of the selected sampling step.
    Sampling,
    /// The token strip under the transcript.
    Strip,
    /// The status bar.
    Status,
    /// The conversation's expert statistics: usage, balance, co-activation, top tokens
    /// per expert, capacity drops (`/stats`; F2 goes on from it to the routing pane).
    Stats,
}

impl Pane {
    /// Every pane, in the order lesson diagnostics list them.
    pub const ALL: [Pane; 6] = [
        Pane::Routing,
        Pane::Sampling,
        Pane::Strip,
        Pane::Status,
        Pane::Chat,
        Pane::Stats,
    ];

    /// The panes F2 cycles through, in that order.
    pub const SIDE: [Pane; 3] = [Pane::Chat, Pane::Routing, Pane::Sampling];

    /// Names of [`Pane::SIDE`], for the task condition `pane == "..."` (a test checks they
    /// match).
    pub const SIDE_NAMES: &'static [&'static str] = &["chat", "routing", "sampling"];

    pub fn name(self) -> &'static str {
        match self {
            Pane::Chat => "chat",
            Pane::Routing => "routing",
            Pane::Sampling => "sampling",
            Pane::Strip => "strip",
            Pane::Status => "status",
            Pane::Stats => "stats",
        }
    }

    pub fn parse(s: &str) -> Option<Pane> {
        Self::ALL.into_iter().find(|p| p.name() == s)
    }

    /// The F2 setting that brings this pane on screen: the side panes themselves; the strip
    /// and the status bar are visible with the chat.
    pub fn side(self) -> Pane {
        match self {
            Pane::Routing | Pane::Sampling | Pane::Stats => self,
            Pane::Chat | Pane::Strip | Pane::Status => Pane::Chat,
        }
    }

    /// The side pane after this one (F2).
    pub fn next_side(self) -> Pane {
        let i = Self::SIDE
            .iter()
            .position(|p| *p == self.side())
            .unwrap_or(0);
        Self::SIDE[(i + 1) % Self::SIDE.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_side_names_match() {
        for p in Pane::ALL {
            assert_eq!(Pane::parse(p.name()), Some(p));
        }
        let side: Vec<&str> = Pane::SIDE.iter().map(|p| p.name()).collect();
        assert_eq!(side, Pane::SIDE_NAMES);
        assert_eq!(Pane::parse("nowhere"), None);
    }

    #[test]
    fn f2_cycles_the_side_panes() {
        assert_eq!(Pane::Chat.next_side(), Pane::Routing);
        assert_eq!(Pane::Routing.next_side(), Pane::Sampling);
        assert_eq!(Pane::Sampling.next_side(), Pane::Chat);
        assert_eq!(Pane::Strip.side(), Pane::Chat);
        // The stats pane is shown by name; F2 goes on from it to routing.
        assert_eq!(Pane::Stats.side(), Pane::Stats);
        assert_eq!(Pane::Stats.next_side(), Pane::Routing);
    }
}
