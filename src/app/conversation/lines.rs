//! A message's rendered lines with a change stamp per line, so that whoever keeps
//! something derived from them (the chat view keeps each line's wrapped rows) can tell
//! which lines changed without comparing them.
//!
//! Stamps come from one process-wide counter, so a stamp is never issued twice. Every
//! change restamps the changed line and all lines after it with a new stamp, so stamps
//! never decrease along a message, and two snapshots of one message's stamps agree
//! exactly on a prefix: the lines before the first change made since the older snapshot.
//! That prefix is found by binary search ([`RenderedLines::unchanged_prefix`]), so a
//! streaming reply costs the reader the lines of its open tail, not the whole reply.
//! The fields are private: a change that skipped the stamps would show stale rows.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::text::markdown::StyledLine;

static NEXT_STAMP: AtomicU64 = AtomicU64::new(1);

fn fresh_stamp() -> u64 {
    NEXT_STAMP.fetch_add(1, Ordering::Relaxed)
}

/// A process-wide unique id for a message (keys the chat view's row cache).
pub(crate) fn fresh_id() -> u64 {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// Rendered lines and their change stamps.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RenderedLines {
    lines: Vec<StyledLine>,
    /// One per line, never decreasing.
    stamps: Vec<u64>,
}

impl RenderedLines {
    pub fn lines(&self) -> &[StyledLine] {
        &self.lines
    }

    /// The change stamp of each line.
    pub fn stamps(&self) -> &[u64] {
        &self.stamps
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Replace every line.
    pub(crate) fn set(&mut self, lines: Vec<StyledLine>) {
        let stamp = fresh_stamp();
        self.stamps = vec![stamp; lines.len()];
        self.lines = lines;
    }

    /// Make the lines from `from` on equal `rest`, the lines before `from` being known to
    /// be unchanged. Lines equal to the ones they replace are not copied, and stamps
    /// change from the first line that differs.
    pub(crate) fn sync_from<'a>(
        &mut self,
        from: usize,
        rest: impl Iterator<Item = &'a StyledLine>,
    ) {
        let mut n = from.min(self.lines.len());
        let mut stamp = None;
        for line in rest {
            match self.lines.get_mut(n) {
                Some(old) if old == line => {}
                Some(old) => {
                    *old = line.clone();
                    stamp.get_or_insert_with(fresh_stamp);
                }
                None => {
                    self.lines.push(line.clone());
                    self.stamps.push(0);
                    stamp.get_or_insert_with(fresh_stamp);
                }
            }
            if let Some(s) = stamp {
                self.stamps[n] = s;
            }
            n += 1;
        }
        self.lines.truncate(n);
        self.stamps.truncate(n);
    }

    /// How many leading lines are unchanged since `seen` was read from [`Self::stamps`]
    /// (of this message, or of a copy it was cloned from).
    pub fn unchanged_prefix(&self, seen: &[u64]) -> usize {
        let (mut lo, mut hi) = (0, seen.len().min(self.stamps.len()));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.stamps[mid] == seen[mid] {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

impl From<Vec<StyledLine>> for RenderedLines {
    fn from(lines: Vec<StyledLine>) -> Self {
        let mut r = RenderedLines::default();
        r.set(lines);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::style::Style;

    fn lines(words: &[&str]) -> Vec<StyledLine> {
        words
            .iter()
            .map(|w| StyledLine::plain(*w, Style::default()))
            .collect()
    }

    #[test]
    fn stamps_tell_exactly_which_prefix_is_unchanged() {
        let mut r = RenderedLines::from(lines(&["a", "b", "c", "d"]));
        let seen = r.stamps().to_vec();
        assert_eq!(r.unchanged_prefix(&seen), 4);
        // The same lines again: nothing restamped.
        r.sync_from(1, lines(&["b", "c", "d"]).iter());
        assert_eq!(r.unchanged_prefix(&seen), 4);
        // A change at line 2 restamps it and everything after it, even equal lines.
        r.sync_from(2, lines(&["C", "d", "e"]).iter());
        assert_eq!(r.lines(), &lines(&["a", "b", "C", "d", "e"])[..]);
        assert_eq!(r.unchanged_prefix(&seen), 2);
        assert!(r.stamps().windows(2).all(|w| w[0] <= w[1]));
        // Shorter: the prefix is what both still have.
        let seen = r.stamps().to_vec();
        r.sync_from(3, std::iter::empty());
        assert_eq!(r.len(), 3);
        assert_eq!(r.unchanged_prefix(&seen), 3);
        // A line dropped and another added at its place is a change.
        r.sync_from(3, lines(&["d"]).iter());
        assert_eq!(r.unchanged_prefix(&seen), 3);
        assert_ne!(r.stamps()[3], seen[3]);
        // Replacing everything changes everything, even with the same text.
        let seen = r.stamps().to_vec();
        r.set(lines(&["a", "b", "C", "d"]));
        assert_eq!(r.unchanged_prefix(&seen), 0);
    }

    #[test]
    fn a_clone_changed_apart_never_matches_the_original() {
        let mut a = RenderedLines::from(lines(&["x", "y"]));
        let mut b = a.clone();
        let seen = a.stamps().to_vec();
        a.sync_from(1, lines(&["y1"]).iter());
        b.sync_from(1, lines(&["y2"]).iter());
        assert_eq!(a.unchanged_prefix(&seen), 1);
        assert_eq!(b.unchanged_prefix(&seen), 1);
        assert_eq!(a.unchanged_prefix(b.stamps()), 1);
    }
}
