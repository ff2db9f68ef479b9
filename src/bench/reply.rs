//! What a long reply costs per frame, and what a long conversation's routing records cost
//! in memory.
//!
//! Reply frames: a synthetic markdown reply (paragraphs, lists, a code block every few
//! hundred tokens) streams in token by token; each timed frame appends one token, renders
//! the reply's markdown and draws its last lines, wrapped, into the chat pane of a 160x48
//! screen. Timed at a 200-token and a 4,000-token reply, with [`StreamingMarkdown`] and,
//! for comparison, with a whole re-render per token (what the app does until it switches).
//! Apart from that, the app's whole-frame draw with a reply of either length (its chat
//! view wraps the whole transcript on every frame).
//!
//! Records: the app after a 32,768-token conversation on a 48-layer x 128-expert model,
//! every token with a full routing record; peak resident memory from `/proc/self/status`.

use std::time::Instant;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Text};
use ratatui::widgets::{Paragraph, Widget, Wrap};
use ratatui::{Terminal, TerminalOptions, Viewport};

use crate::text::markdown::{MarkdownRenderer, StreamingMarkdown, StyledLine};

/// The chat pane of a 160x48 screen.
const PANE: Rect = Rect::new(0, 0, 72, 44);

/// Median frame times for one token arriving at the end of a reply.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyFrames {
    /// A 200-token reply, streaming markdown.
    pub at_200_ms: f64,
    /// A 4,000-token reply, streaming markdown.
    pub at_4000_ms: f64,
    /// A 4,000-token reply, the whole reply rendered again.
    pub full_4000_ms: f64,
    /// The app's whole 160x48 frame with a 200-token reply on screen (no new token).
    pub view_200_ms: f64,
    /// The same with a 4,000-token reply.
    pub view_4000_ms: f64,
}

impl ReplyFrames {
    /// How much slower a frame is at 4,000 tokens than at 200 (streaming).
    pub fn ratio(&self) -> f64 {
        if self.at_200_ms > 0.0 {
            self.at_4000_ms / self.at_200_ms
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

/// Median time of `frames` frames, each adding one token to a reply that starts at
/// `start` tokens; `full` renders the whole reply each time instead of streaming.
fn frames_at(start: usize, frames: u32, full: bool) -> f64 {
    let mut text = String::new();
    let mut stream = StreamingMarkdown::new();
    let mut whole = MarkdownRenderer::new();
    for i in 0..start {
        let t = token(i);
        text.push_str(&t);
        if !full {
            stream.push_str(&t);
        }
    }
    let mut buf = Buffer::empty(PANE);
    let mut times = Vec::with_capacity(frames as usize);
    for f in 0..frames as usize {
        let t = token(start + f);
        let t0 = Instant::now();
        text.push_str(&t);
        let rendered: Vec<StyledLine>;
        let (total, lines): (usize, Box<dyn Iterator<Item = &StyledLine>>) = if full {
            rendered = whole.render(&text);
            (rendered.len(), Box::new(rendered.iter()))
        } else {
            stream.push_str(&t);
            (stream.len(), Box::new(stream.lines()))
        };
        let shown = total.saturating_sub(PANE.height as usize);
        let last: Vec<Line<'static>> = lines.skip(shown).map(|l| l.line.clone()).collect();
        buf.reset();
        Paragraph::new(Text::from(last))
            .wrap(Wrap { trim: false })
            .render(PANE, &mut buf);
        times.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    super::quantile(&mut times, 0.5)
}

/// Median draw time of the app's whole frame with one reply of `tokens` tokens.
fn view_at(tokens: u32, frames: u32) -> f64 {
    let mut app = super::ui::synthetic_app_with(1, 16, tokens, token);
    let whole = Rect::new(0, 0, 160, 48);
    let Ok(mut term) = Terminal::with_options(
        ratatui::backend::CrosstermBackend::new(std::io::sink()),
        TerminalOptions {
            viewport: Viewport::Fixed(whole),
        },
    ) else {
        return 0.0;
    };
    let mut times = Vec::with_capacity(frames as usize);
    for i in 0..frames {
        super::ui::wiggle(&mut app, i);
        let t0 = Instant::now();
        if term.draw(|f| crate::app::views::render(&app, f)).is_err() {
            break;
        }
        times.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    super::quantile(&mut times, 0.5)
}

/// Frame times at 200 and 4,000 tokens.
pub fn reply_frames(frames: u32) -> ReplyFrames {
    let frames = frames.clamp(1, 400);
    ReplyFrames {
        at_200_ms: frames_at(200, frames, false),
        at_4000_ms: frames_at(4000, frames, false),
        full_4000_ms: frames_at(4000, frames, true),
        view_200_ms: view_at(200, frames),
        view_4000_ms: view_at(4000, frames),
    }
}

/// Peak resident memory around building a long conversation's routing records.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordMemory {
    /// Tokens in the conversation (each with a 48 x 128 record).
    pub tokens: u32,
    /// VmHWM before building it, MB.
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
/// every one with a full 48 x 128 record) and read the peak resident memory.
pub fn record_memory() -> RecordMemory {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn peak_memory_is_read_from_proc() {
        let mb = peak_rss_mb().expect("VmHWM");
        assert!(mb > 1.0 && mb < 1.0e6, "{mb}");
    }
}
