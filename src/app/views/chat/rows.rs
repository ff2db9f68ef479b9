//! Wrapped rows kept between frames. Wrapping a line (Unicode line breaking, display
//! widths, a cell per character) is the chat view's main cost, and the transcript's lines
//! rarely change: a finished message never does, and a streaming reply changes only in
//! its last block. So the rows of every line are kept, keyed by the line itself (its text,
//! styles and hang) and the width, and a frame wraps only lines it has not seen at that
//! width. Language and colours need no key of their own: headers (the only translated
//! rows) are built fresh each frame, and styles are part of the line.
//!
//! Views draw from `&App`, so the cache sits beside the view (one per UI thread) rather
//! than in the app's state. A hit is checked against the stored line, so a hash collision
//! can only cost a wrap, never show the wrong text. Rows no frame used are dropped once
//! they outnumber the used ones, so the cache stays the size of one transcript.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::Hasher;
use std::rc::Rc;

use ratatui::text::{Line, Span};

use super::super::wrap::wrap;
use crate::text::markdown::StyledLine;

/// The wrapped rows of one line, each starting with the indent.
pub(super) type Rows = Rc<[Line<'static>]>;

struct Entry {
    source: StyledLine,
    width: u16,
    indent: u16,
    rows: Rows,
    /// The last frame that used it.
    frame: u64,
}

#[derive(Default)]
struct Cache {
    frame: u64,
    /// Lines looked up in the current frame.
    used: usize,
    map: HashMap<u64, Entry>,
    /// Lines wrapped (cache misses) since the thread started: for tests.
    wrapped: u64,
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::default();
}

/// A multiply-rotate hash over 8-byte words (the text is most of what is hashed, every
/// line of the transcript on every frame, so the hash must be cheap); styles are left to
/// the equality check on a hit.
struct WordHash(u64);

impl Hasher for WordHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
        let mut w = [0u8; 8];
        let rest = chunks.remainder();
        w[..rest.len()].copy_from_slice(rest);
        self.write_u64(u64::from_le_bytes(w) ^ rest.len() as u64);
    }

    fn write_u64(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

fn key(line: &StyledLine, width: u16, indent: u16) -> u64 {
    let mut h = WordHash(0);
    for s in &line.line.spans {
        h.write(s.content.as_bytes());
    }
    h.write_u64(line.line.spans.len() as u64);
    h.write_u64(u64::from(line.hang) << 32 | u64::from(width) << 16 | u64::from(indent));
    h.finish()
}

/// One frame's use of the cache: look lines up with [`Frame::rows`]; dropping it ends
/// the frame (and sweeps rows no recent frame used).
pub(super) struct Frame(());

impl Frame {
    pub(super) fn begin() -> Frame {
        CACHE.with_borrow_mut(|c| {
            c.frame += 1;
            c.used = 0;
        });
        Frame(())
    }

    /// `line` wrapped to `width - indent` columns, every row starting with `indent` spaces.
    pub(super) fn rows(&self, line: &StyledLine, width: u16, indent: u16) -> Rows {
        let k = key(line, width, indent);
        CACHE.with_borrow_mut(|c| {
            let frame = c.frame;
            c.used += 1;
            if let Some(e) = c.map.get_mut(&k) {
                if e.width == width && e.indent == indent && e.source == *line {
                    e.frame = frame;
                    return e.rows.clone();
                }
            }
            c.wrapped += 1;
            let pad = " ".repeat(indent as usize);
            let rows: Rows = wrap(line, width.saturating_sub(indent))
                .into_iter()
                .map(|mut row| {
                    row.spans.insert(0, Span::raw(pad.clone()));
                    row
                })
                .collect();
            c.map.insert(
                k,
                Entry {
                    source: line.clone(),
                    width,
                    indent,
                    rows: rows.clone(),
                    frame,
                },
            );
            rows
        })
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        CACHE.with_borrow_mut(|c| {
            if c.map.len() > 2 * c.used + 256 {
                let frame = c.frame;
                c.map.retain(|_, e| e.frame == frame);
            }
        });
    }
}

/// Lines wrapped on this thread so far (cache misses).
#[cfg(test)]
pub(super) fn wrapped_so_far() -> u64 {
    CACHE.with_borrow(|c| c.wrapped)
}

/// Lines held on this thread.
#[cfg(test)]
pub(super) fn held() -> usize {
    CACHE.with_borrow(|c| c.map.len())
}
