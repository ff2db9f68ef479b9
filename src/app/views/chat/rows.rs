//! Wrapped rows kept between frames. Wrapping a line (Unicode line breaking, display
//! widths, a cell per character) is the chat view's main cost, and the transcript's lines
//! rarely change: a finished message never does, and a streaming reply changes only in
//! its last block. So each message's wrapped rows are kept, keyed by the message's id, the
//! width and the indent, together with the change stamps its lines had when they were
//! wrapped ([`RenderedLines`]). A frame finds the lines changed since by binary search on
//! the stamps and wraps only those, so its cost follows the rows it shows and the lines
//! that changed, not the length of the transcript. Language and colours need no key of
//! their own: headers (the only translated rows) are built fresh each frame, and styles
//! are part of the lines, which carry a new stamp whenever they change.
//!
//! Views draw from `&App`, so the cache sits beside the view (one per UI thread) rather
//! than in the app's state; a frame takes it for its duration. Messages no frame used
//! are dropped once they outnumber the used ones, so the cache stays the size of one
//! transcript (at the widths in use).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use ratatui::text::{Line, Span};

use super::super::wrap::wrap;
use crate::app::RenderedLines;

/// The wrapped rows of one line, each starting with the indent.
type Rows = Rc<[Line<'static>]>;

/// A message at one width and indent.
pub(super) type Key = (u64, u16, u16);

/// One message's wrapped rows.
#[derive(Default)]
struct Entry {
    /// The stamp of each line when it was wrapped.
    stamps: Vec<u64>,
    rows: Vec<Rows>,
    /// `ends[i]`: rows of lines `0..=i`.
    ends: Vec<usize>,
    /// The last frame that used it.
    frame: u64,
}

impl Entry {
    fn total(&self) -> usize {
        self.ends.last().copied().unwrap_or(0)
    }
}

#[derive(Default)]
struct Cache {
    frame: u64,
    /// Messages looked up in the current frame.
    used: usize,
    map: HashMap<Key, Entry>,
    /// Lines wrapped since the thread started: for tests.
    wrapped: u64,
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::default();
}

/// `line` wrapped to `width - indent` columns, every row starting with `indent` spaces.
fn wrap_line(line: &crate::text::markdown::StyledLine, width: u16, indent: u16) -> Rows {
    let pad = " ".repeat(indent as usize);
    wrap(line, width.saturating_sub(indent))
        .into_iter()
        .map(|mut row| {
            row.spans.insert(0, Span::raw(pad.clone()));
            row
        })
        .collect()
}

/// One frame's use of the cache: bring messages up to date with [`Frame::message`], copy
/// their rows with [`Frame::copy_rows`]; dropping it ends the frame (and sweeps messages
/// no recent frame used).
pub(super) struct Frame(Cache);

impl Frame {
    pub(super) fn begin() -> Frame {
        let mut c = CACHE.with_borrow_mut(std::mem::take);
        c.frame += 1;
        c.used = 0;
        Frame(c)
    }

    /// Bring the rows of message `id` (lines `lines`) at `width` and `indent` up to date,
    /// wrapping only the lines changed since they were last wrapped. Returns its key and
    /// row count.
    pub(super) fn message(
        &mut self,
        id: u64,
        lines: &RenderedLines,
        width: u16,
        indent: u16,
    ) -> (Key, usize) {
        let c = &mut self.0;
        let key = (id, width, indent);
        c.used += 1;
        let e = c.map.entry(key).or_default();
        e.frame = c.frame;
        let keep = lines.unchanged_prefix(&e.stamps);
        if keep < e.stamps.len() || keep < lines.len() {
            e.stamps.truncate(keep);
            e.rows.truncate(keep);
            e.ends.truncate(keep);
            let mut total = e.total();
            for (line, &stamp) in lines.lines()[keep..].iter().zip(&lines.stamps()[keep..]) {
                let rows = wrap_line(line, width, indent);
                total += rows.len();
                e.stamps.push(stamp);
                e.rows.push(rows);
                e.ends.push(total);
                c.wrapped += 1;
            }
        }
        (key, e.total())
    }

    /// Append rows `from..to` of message `key` (as last brought up to date) to `out`.
    pub(super) fn copy_rows(&self, key: Key, from: usize, to: usize, out: &mut Vec<Line<'static>>) {
        let Some(e) = self.0.map.get(&key) else {
            return;
        };
        // The first line with rows past `from`.
        let first = e.ends.partition_point(|&end| end <= from);
        for (i, rows) in e.rows.iter().enumerate().skip(first) {
            let start = if i == 0 { 0 } else { e.ends[i - 1] };
            if start >= to {
                break;
            }
            let lo = from.saturating_sub(start).min(rows.len());
            let hi = (to - start).min(rows.len());
            out.extend(rows[lo..hi].iter().cloned());
        }
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        let mut c = std::mem::take(&mut self.0);
        if c.map.len() > 2 * c.used + 64 {
            let frame = c.frame;
            c.map.retain(|_, e| e.frame == frame);
        }
        CACHE.with_borrow_mut(|slot| *slot = c);
    }
}

/// Lines wrapped on this thread so far.
#[cfg(test)]
pub(super) fn wrapped_so_far() -> u64 {
    CACHE.with_borrow(|c| c.wrapped)
}

/// Lines whose rows are held on this thread.
#[cfg(test)]
pub(super) fn held() -> usize {
    CACHE.with_borrow(|c| c.map.values().map(|e| e.rows.len()).sum())
}
