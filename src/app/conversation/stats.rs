//! The conversation's expert statistics (`routing::expert_stats`): computed over every
//! token of the transcript that still has a routing record (the branches shown), at the
//! capacity factor the learner chose, and kept until the transcript or the factor changes
//! (the stats pane draws every frame; the statistics are recomputed only when needed).

use std::cell::RefCell;
use std::rc::Rc;

use super::Conversation;
use crate::routing::expert_stats::{ExpertStats, RoutedToken};

/// Tokens listed per expert.
pub const TOP_TOKENS: usize = 5;

/// The capacity factors `/stats` steps through.
pub const CAPACITY_STEPS: [f64; 3] = [1.0, 1.25, 2.0];

/// What the statistics were computed from: the transcript's shape and the factor.
type Key = (usize, usize, usize, u64, u64);

#[derive(Debug, Default)]
pub(crate) struct StatsCache(RefCell<Option<(Key, Rc<ExpertStats>)>>);

impl Conversation {
    /// The capacity factor the statistics count drops at.
    pub fn stats_capacity(&self) -> f64 {
        self.stats_capacity
    }

    /// Count drops at `factor` from now on (it must be above 0).
    pub(crate) fn set_stats_capacity(&mut self, factor: f64) -> bool {
        if !factor.is_finite() || factor <= 0.0 {
            return false;
        }
        self.stats_capacity = factor;
        true
    }

    /// The factor after the current one in [`CAPACITY_STEPS`].
    pub(crate) fn next_stats_capacity(&self) -> f64 {
        let i = CAPACITY_STEPS
            .iter()
            .position(|&c| c > self.stats_capacity + 1e-9)
            .unwrap_or(0);
        CAPACITY_STEPS[i]
    }

    /// Every token of the transcript with a routing record, in order.
    pub fn routed_tokens(&self) -> Vec<RoutedToken> {
        self.messages
            .iter()
            .flat_map(|m| &m.tokens)
            .filter_map(RoutedToken::from_event)
            .filter(|t| !t.layers.is_empty())
            .collect()
    }

    /// The conversation's expert statistics at the chosen capacity factor; `None` when no
    /// token has routing (no reply yet, a dense model, capture off).
    pub fn expert_stats(&self) -> Option<Rc<ExpertStats>> {
        let key = self.stats_key();
        if let Some((k, s)) = self.stats_cache.0.borrow().as_ref() {
            if *k == key {
                return Some(s.clone());
            }
        }
        let tokens = self.routed_tokens();
        if tokens.is_empty() {
            return None;
        }
        let stats = Rc::new(ExpertStats::compute(
            &tokens,
            TOP_TOKENS,
            self.stats_capacity,
        ));
        *self.stats_cache.0.borrow_mut() = Some((key, stats.clone()));
        Some(stats)
    }

    fn stats_key(&self) -> Key {
        let tokens = self.messages.iter().map(|m| m.tokens.len()).sum();
        let branches = self
            .messages
            .iter()
            .map(|m| m.branch_index() * 31 + m.branch_count())
            .sum();
        // Records compacted or folded away change what is counted.
        let budget = self.budget.bytes() as u64;
        (
            self.messages.len(),
            tokens,
            branches,
            budget,
            self.stats_capacity.to_bits(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_factor_steps_through_the_usual_values_and_refuses_nonsense() {
        let mut c = Conversation::default();
        assert_eq!(c.stats_capacity(), 1.0);
        assert_eq!(c.next_stats_capacity(), 1.25);
        assert!(c.set_stats_capacity(2.0));
        assert_eq!(c.next_stats_capacity(), 1.0);
        assert!(!c.set_stats_capacity(0.0));
        assert!(!c.set_stats_capacity(f64::NAN));
        assert_eq!(c.stats_capacity(), 2.0);
        assert!(c.expert_stats().is_none(), "no tokens, no statistics");
    }
}
