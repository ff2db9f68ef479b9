//! What a long reply costs per frame, and what a long conversation's routing records cost
//! in memory.
//!
//! Reply frames: a synthetic markdown reply (paragraphs, lists, a code block every few
//! hundred tokens) streams into the app through its own engine-event path (incremental
//! markdown, routing budget); each timed frame appends one token and draws, once the chat
//! pane of a 160x48 screen alone, once the whole 160x48 frame. Timed with the reply at 200
//! and at 4,000 tokens: a token re-renders only the reply's open block, restamps only the
//! lines that changed, and the chat view re-wraps only those and copies only the visible
//! rows, so a frame's cost should not grow with the reply.
//!
//! Records: the app after a 32,768-token conversation on a 48-layer x 128-expert model,
//! every token arriving with a full routing record (and the conversation's routing budget
//! folding old detail away); peak resident memory from `/proc/self/status`, reset first.

use std::time::Instant;

use ratatui::backend::CrosstermBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};

use super::ui::Synthetic;
use crate::app::views;

/// The chat pane of a 160x48 screen (the left column, above the strip and input).
const PANE: Rect = Rect::new(0, 0, 72, 44);

/// Median frame times with a streaming reply of 200 and of 4,000 tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyFrames {
    /// One token appended, the chat pane drawn: at 200 tokens.
    pub at_200_ms: f64,
    /// The same at 4,000 tokens.
    pub at_4000_ms: f64,
    /// One token appended, the whole 160x48 frame drawn: at 200 tokens.
    pub view_200_ms: f64,
    /// The same at 4,000 tokens.
    pub view_4000_ms: f64,
}

impl ReplyFrames {
    /// How much slower a chat-pane frame is at 4,000 tokens than at 200.
    pub fn ratio(&self) -> f64 {
        if self.at_200_ms > 0.0 {
            self.at_4000_ms / self.at_200_ms
        } else {
            0.0
        }
    }

    /// The same for the whole 160x48 frame.
    pub fn view_ratio(&self) -> f64 {
        if self.view_200_ms > 0.0 {
            self.view_4000_ms / self.view_200_ms
        } else {
            0.0
        }
    }
}

/// Token `i` of the synthetic reply.
pub(super) fn token(i: usize) -> String {
    match i % 400 {
        // A code block of about 40 tokens every 400.
        300 => "\n\n```rust\nfn step(x: u32) -> u32 {\n".into(),
        301..=338 => format!("    let v{i} = x * {i};\n"),
        339 => "    x\n}\n```\n\n".into(),
        // A short list.
        200 => "\n\n- first".into(),
        210 | 220 => "\n- next".into(),
        230 => "\n\n".into(),
        _ if i % 60 == 59 => ".\n\n".into(),
        _ if i.is_multiple_of(23) => " **experts**".into(),
        _ if i.is_multiple_of(17) => " `router`".into(),
        _ => format!(" word{}", i % 97),
    }
}

/// Median times of `frames` frames each, appending one token to a reply that starts at
/// `start` tokens: drawing the chat pane, then (the same reply, grown by `frames`) the
/// whole 160x48 frame.
fn frames_at(start: u32, frames: u32) -> (f64, f64) {
    let mut s = Synthetic::new(16, start, token, 1, false);
    let mut pane = Vec::with_capacity(frames as usize);
    let mut buf = Buffer::empty(PANE);
    // The first frame wraps everything; time the steady state after it.
    views::chat::render(&s.app, PANE, &mut buf);
    for _ in 0..frames {
        let t0 = Instant::now();
        s.one_more();
        buf.reset();
        views::chat::render(&s.app, PANE, &mut buf);
        pane.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    let mut whole = Vec::with_capacity(frames as usize);
    if let Ok(mut term) = Terminal::with_options(
        CrosstermBackend::new(std::io::sink()),
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, 160, 48)),
        },
    ) {
        let _ = term.draw(|f| views::render(&s.app, f));
        for _ in 0..frames {
            let t0 = Instant::now();
            s.one_more();
            if term.draw(|f| views::render(&s.app, f)).is_err() {
                break;
            }
            whole.push(t0.elapsed().as_secs_f64() * 1000.0);
        }
    }
    (
        super::quantile(&mut pane, 0.5),
        super::quantile(&mut whole, 0.5),
    )
}

/// Frame times at 200 and 4,000 tokens.
pub fn reply_frames(frames: u32) -> ReplyFrames {
    let frames = frames.clamp(1, 400);
    let (at_200_ms, view_200_ms) = frames_at(200, frames);
    let (at_4000_ms, view_4000_ms) = frames_at(4000, frames);
    ReplyFrames {
        at_200_ms,
        at_4000_ms,
        view_200_ms,
        view_4000_ms,
    }
}

/// Peak resident memory around building a long conversation's routing records.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordMemory {
    /// Tokens in the conversation (each with a 48 x 128 record).
    pub tokens: u32,
    /// VmHWM (reset just before) before building it, MB.
    pub before_mb: f64,
    /// VmHWM after, MB.
    pub peak_mb: f64,
}

/// `VmHWM` (peak resident set) of this process in MB, if the system reports it.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Build the app after 8 exchanges of 4,000 prompt and 96 reply tokens (32,768 tokens,
/// every one with a full 48 x 128 record) and read the peak resident memory. The peak is
/// reset first (`5` into `/proc/self/clear_refs`), so what the process did before does not
/// hide it.
pub fn record_memory() -> RecordMemory {
    // Best effort: without it the peak may be an earlier one.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before_mb = peak_rss_mb().unwrap_or(0.0);
    let app = super::ui::synthetic_app(8, 4000, 96);
    let peak_mb = peak_rss_mb().unwrap_or(0.0);
    drop(app);
    RecordMemory {
        tokens: 8 * (4000 + 96),
        before_mb,
        peak_mb,
    }
}

impl super::BenchReport {
    /// The table's lines for long replies and long conversations.
    pub(super) fn reply_lines(&self) -> String {
        let (r, m) = (&self.reply, &self.records);
        format!(
            "one more token, chat pane drawn (median): at 200 tokens {:.3} ms, at 4,000 tokens {:.3} ms ({:.2}x)\n\
             one more token, whole 160x48 frame drawn: at 200 / 4,000 tokens {:.2} / {:.2} ms ({:.2}x)\n\
             peak RSS after routing records of {} tokens (48 x 128): {:.0} MB (before: {:.0} MB)\n",
            r.at_200_ms,
            r.at_4000_ms,
            r.ratio(),
            r.view_200_ms,
            r.view_4000_ms,
            r.view_ratio(),
            m.tokens,
            m.peak_mb,
            m.before_mb
        )
    }

    /// The same on the machine-readable line.
    pub(super) fn reply_fields(&self) -> String {
        let (r, m) = (&self.reply, &self.records);
        format!(
            "reply_frame_200_ms={:.3} reply_frame_4000_ms={:.3} reply_frame_ratio={:.2} \
             view_reply_200_ms={:.3} view_reply_4000_ms={:.3} \
             rss_before_records_mb={:.0} rss_peak_records_mb={:.0} record_tokens={}",
            r.at_200_ms,
            r.at_4000_ms,
            r.ratio(),
            r.view_200_ms,
            r.view_4000_ms,
            m.before_mb,
            m.peak_mb,
            m.tokens
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::markdown::{MarkdownRenderer, StreamingMarkdown};

    #[test]
    fn the_synthetic_reply_has_every_kind_of_block() {
        let text: String = (0..4000).map(token).collect();
        let lines = MarkdownRenderer::new().render(&text);
        let plain: Vec<String> = lines
            .iter()
            .map(|l| l.line.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect();
        assert!(plain.iter().any(|l| l.starts_with("┌─ rust")));
        assert!(plain.iter().any(|l| l.starts_with("• first")));
        assert!(plain.len() > 200, "{}", plain.len());
        // Streaming it gives the same lines.
        let mut s = StreamingMarkdown::new();
        (0..4000).for_each(|i| s.push_str(&token(i)));
        assert_eq!(s.to_lines(), lines);
    }

    #[test]
    fn the_streaming_app_holds_the_reply_written_so_far() {
        let mut s = Synthetic::new(4, 30, token, 1, false);
        s.one_more();
        let reply = s.app.messages().last().expect("a reply");
        assert_eq!(reply.tokens.len(), 31);
        assert_eq!(reply.status, crate::app::ReplyStatus::Streaming);
        let text: String = (0..31).map(token).collect();
        assert_eq!(reply.content, text);
    }

    #[test]
    fn peak_memory_is_read_from_proc() {
        let mb = peak_rss_mb().expect("VmHWM");
        assert!(mb > 1.0 && mb < 1.0e6, "{mb}");
    }
}
