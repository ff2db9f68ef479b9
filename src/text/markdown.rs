//! Markdown to styled terminal lines: headings, emphasis, lists, quotes, tables, inline
//! code and fenced code blocks highlighted with syntect.
//!
//! The output does not depend on the terminal width: each [`StyledLine`] is one logical
//! line plus the indent its continuation lines should hang at, and views wrap it to
//! whatever width they have. That lets the app render a reply once when its text changes
//! rather than on every frame.

mod highlight;
mod streaming;

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

pub use highlight::CodeHighlighter;
pub use streaming::StreamingMarkdown;

/// One logical line and the column its wrapped continuation lines start at.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StyledLine {
    pub line: Line<'static>,
    pub hang: u16,
}

impl StyledLine {
    pub fn plain(text: impl Into<String>, style: Style) -> Self {
        StyledLine {
            line: Line::from(Span::styled(text.into(), style)),
            hang: 0,
        }
    }
}

impl From<Line<'static>> for StyledLine {
    fn from(line: Line<'static>) -> Self {
        StyledLine { line, hang: 0 }
    }
}

/// Renders markdown, keeping a highlight cache across calls.
#[derive(Debug, Default)]
pub struct MarkdownRenderer {
    code: CodeHighlighter,
}

const DIM: Style = Style::new().fg(Color::DarkGray);
const INLINE_CODE: Style = Style::new().fg(Color::Yellow).bg(Color::Rgb(40, 40, 40));

impl MarkdownRenderer {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn render(&mut self, src: &str) -> Vec<StyledLine> {
        self.render_part(src, false, false).lines
    }

    /// Render `src` as the continuation of a document: `prior` when lines came before it,
    /// `need_blank` when the block before it asked for a blank line after itself. Also
    /// returns where each top-level block of `src` starts ([`BlockStart`]).
    pub(crate) fn render_part(&mut self, src: &str, prior: bool, need_blank: bool) -> Part {
        let mut b = Builder {
            code: &mut self.code,
            out: Vec::new(),
            cur: Vec::new(),
            styles: vec![Style::default()],
            containers: Vec::new(),
            lists: Vec::new(),
            code_block: None,
            heading: None,
            link: None,
            need_blank,
            prior,
            cell: 0,
        };
        let mut blocks = Vec::new();
        let mut depth = 0usize;
        for (ev, range) in Parser::new_ext(src, OPTIONS).into_offset_iter() {
            if depth == 0 && matches!(ev, Event::Start(_) | Event::Rule) {
                blocks.push(BlockStart {
                    offset: range.start,
                    lines: b.out.len(),
                    need_blank: b.need_blank,
                });
            }
            match ev {
                Event::Start(_) => depth += 1,
                Event::End(_) => depth = depth.saturating_sub(1),
                _ => {}
            }
            b.event(ev);
        }
        b.flush();
        Part {
            lines: b.out,
            blocks,
        }
    }
}

const OPTIONS: Options = Options::ENABLE_TABLES
    .union(Options::ENABLE_STRIKETHROUGH)
    .union(Options::ENABLE_TASKLISTS);

/// Where a top-level block starts in the source and in the rendered lines.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlockStart {
    /// Byte offset of the block in the source.
    pub offset: usize,
    /// Lines rendered before it.
    pub lines: usize,
    /// Whether the blocks before it asked for a blank line.
    pub need_blank: bool,
}

/// Lines of a rendered part and its top-level blocks.
pub(crate) struct Part {
    pub lines: Vec<StyledLine>,
    pub blocks: Vec<BlockStart>,
}

enum Container {
    Quote,
    Item { marker: String, first: bool },
}

struct Builder<'h> {
    code: &'h mut CodeHighlighter,
    out: Vec<StyledLine>,
    cur: Vec<Span<'static>>,
    styles: Vec<Style>,
    containers: Vec<Container>,
    lists: Vec<Option<u64>>,
    code_block: Option<(String, String)>,
    heading: Option<HeadingLevel>,
    link: Option<(String, usize)>,
    need_blank: bool,
    /// Lines exist before the first one this builder writes (a continued document).
    prior: bool,
    cell: usize,
}

impl Builder<'_> {
    fn style(&self) -> Style {
        self.styles.last().copied().unwrap_or_default()
    }

    fn push_style(&mut self, patch: Style) {
        let s = self.style().patch(patch);
        self.styles.push(s);
    }

    fn pop_style(&mut self) {
        if self.styles.len() > 1 {
            self.styles.pop();
        }
    }

    /// The container prefix of the next line, and consume the first-line item markers.
    fn prefix(&mut self) -> Vec<Span<'static>> {
        let mut spans = Vec::new();
        for c in &mut self.containers {
            match c {
                Container::Quote => spans.push(Span::styled("│ ", DIM)),
                Container::Item { marker, first } => {
                    if *first {
                        spans.push(Span::styled(marker.clone(), Style::new().fg(Color::Cyan)));
                        *first = false;
                    } else {
                        spans.push(Span::raw(" ".repeat(marker.width())));
                    }
                }
            }
        }
        spans
    }

    fn emit(&mut self, body: Vec<Span<'static>>, extra_hang: u16) {
        let mut spans = self.prefix();
        let hang = spans.iter().map(|s| s.content.width()).sum::<usize>() as u16 + extra_hang;
        spans.extend(body);
        self.out.push(StyledLine {
            line: Line::from(spans),
            hang,
        });
    }

    fn flush(&mut self) {
        if !self.cur.is_empty() {
            let body = std::mem::take(&mut self.cur);
            self.emit(body, 0);
        }
    }

    fn item_pending(&self) -> bool {
        matches!(
            self.containers.last(),
            Some(Container::Item { first: true, .. })
        )
    }

    fn block_start(&mut self) {
        self.flush();
        if self.need_blank && (self.prior || !self.out.is_empty()) && !self.item_pending() {
            self.emit(Vec::new(), 0);
        }
        self.need_blank = false;
    }

    fn text(&mut self, text: &str) {
        if let Some((_, buf)) = &mut self.code_block {
            buf.push_str(text);
            return;
        }
        let style = self.style();
        for (i, part) in text.split('\n').enumerate() {
            if i > 0 {
                self.flush();
            }
            if !part.is_empty() {
                self.cur.push(Span::styled(part.to_string(), style));
            }
        }
    }

    fn event(&mut self, ev: Event<'_>) {
        match ev {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) => self.text(&t),
            Event::Code(t) => self.cur.push(Span::styled(t.to_string(), INLINE_CODE)),
            Event::InlineMath(t) | Event::DisplayMath(t) => self
                .cur
                .push(Span::styled(t.to_string(), Style::new().fg(Color::Magenta))),
            Event::Html(t) | Event::InlineHtml(t) => {
                for (i, part) in t.split('\n').enumerate() {
                    if i > 0 {
                        self.flush();
                    }
                    if !part.is_empty() {
                        self.cur.push(Span::styled(part.to_string(), DIM));
                    }
                }
            }
            Event::FootnoteReference(t) => self.cur.push(Span::styled(format!("[^{t}]"), DIM)),
            Event::SoftBreak => self.text(" "),
            Event::HardBreak => self.flush(),
            Event::Rule => {
                self.block_start();
                self.emit(vec![Span::styled("─".repeat(24), DIM)], 0);
                self.need_blank = true;
            }
            Event::TaskListMarker(done) => self.cur.push(Span::styled(
                if done { "[x] " } else { "[ ] " },
                Style::new().fg(Color::Cyan),
            )),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => self.block_start(),
            Tag::Heading { level, .. } => {
                self.block_start();
                self.heading = Some(level);
                let style = match level {
                    HeadingLevel::H1 => {
                        Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD)
                    }
                    HeadingLevel::H2 => Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
                    _ => Style::new().add_modifier(Modifier::BOLD),
                };
                self.push_style(style);
            }
            Tag::BlockQuote(_) => {
                self.block_start();
                self.containers.push(Container::Quote);
                self.push_style(Style::new().add_modifier(Modifier::ITALIC));
            }
            Tag::CodeBlock(kind) => {
                self.block_start();
                let lang = match kind {
                    CodeBlockKind::Fenced(l) => l.to_string(),
                    CodeBlockKind::Indented => String::new(),
                };
                self.code_block = Some((lang, String::new()));
            }
            Tag::List(start) => {
                self.block_start();
                self.lists.push(start);
            }
            Tag::Item => {
                self.flush();
                self.need_blank = false;
                let depth = self.lists.len();
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        let m = format!("{n}. ");
                        *n += 1;
                        m
                    }
                    _ if depth.is_multiple_of(2) => "◦ ".to_string(),
                    _ => "• ".to_string(),
                };
                self.containers.push(Container::Item {
                    marker,
                    first: true,
                });
            }
            Tag::Table(_) => self.block_start(),
            Tag::TableHead => {
                self.cell = 0;
                self.push_style(Style::new().add_modifier(Modifier::BOLD));
            }
            Tag::TableRow => self.cell = 0,
            Tag::TableCell => {
                if self.cell > 0 {
                    self.cur.push(Span::styled(" │ ", DIM));
                }
                self.cell += 1;
            }
            Tag::Emphasis => self.push_style(Style::new().add_modifier(Modifier::ITALIC)),
            Tag::Strong => self.push_style(Style::new().add_modifier(Modifier::BOLD)),
            Tag::Strikethrough => self.push_style(Style::new().add_modifier(Modifier::CROSSED_OUT)),
            Tag::Link { dest_url, .. } => {
                self.link = Some((dest_url.to_string(), self.cur.len()));
                self.push_style(
                    Style::new()
                        .fg(Color::Blue)
                        .add_modifier(Modifier::UNDERLINED),
                );
            }
            Tag::Image { .. } => self.cur.push(Span::styled("[image: ", DIM)),
            Tag::HtmlBlock | Tag::FootnoteDefinition(_) | Tag::MetadataBlock(_) => {
                self.block_start()
            }
            Tag::DefinitionList | Tag::DefinitionListTitle | Tag::DefinitionListDefinition => {
                self.block_start()
            }
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph
            | TagEnd::HtmlBlock
            | TagEnd::FootnoteDefinition
            | TagEnd::MetadataBlock(_) => {
                self.flush();
                self.need_blank = true;
            }
            TagEnd::DefinitionList
            | TagEnd::DefinitionListTitle
            | TagEnd::DefinitionListDefinition => {
                self.flush();
            }
            TagEnd::Heading(level) => {
                self.pop_style();
                let width: usize = self.cur.iter().map(|s| s.content.width()).sum();
                self.flush();
                let rule = match level {
                    HeadingLevel::H1 => Some("═"),
                    HeadingLevel::H2 => Some("─"),
                    _ => None,
                };
                if let Some(r) = rule {
                    self.emit(vec![Span::styled(r.repeat(width.max(3)), DIM)], 0);
                }
                self.heading = None;
                self.need_blank = true;
            }
            TagEnd::BlockQuote(_) => {
                self.flush();
                self.pop_style();
                if matches!(self.containers.last(), Some(Container::Quote)) {
                    self.containers.pop();
                }
                self.need_blank = true;
            }
            TagEnd::CodeBlock => self.code_block_end(),
            TagEnd::List(_) => {
                self.flush();
                self.lists.pop();
                self.need_blank = true;
            }
            TagEnd::Item => {
                self.flush();
                if matches!(self.containers.last(), Some(Container::Item { .. })) {
                    self.containers.pop();
                }
            }
            TagEnd::Table => {
                self.flush();
                self.need_blank = true;
            }
            TagEnd::TableHead => {
                self.pop_style();
                let width: usize = self.cur.iter().map(|s| s.content.width()).sum();
                self.flush();
                self.emit(vec![Span::styled("─".repeat(width.max(3)), DIM)], 0);
            }
            TagEnd::TableRow => self.flush(),
            TagEnd::TableCell => {}
            TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough => self.pop_style(),
            TagEnd::Link => {
                self.pop_style();
                if let Some((url, from)) = self.link.take() {
                    let shown: String = self.cur[from.min(self.cur.len())..]
                        .iter()
                        .map(|s| s.content.as_ref())
                        .collect();
                    if !url.is_empty() && shown != url {
                        self.cur.push(Span::styled(format!(" ({url})"), DIM));
                    }
                }
            }
            TagEnd::Image => self.cur.push(Span::styled("]", DIM)),
        }
    }

    fn code_block_end(&mut self) {
        let Some((lang, code)) = self.code_block.take() else {
            return;
        };
        let label = if lang.is_empty() {
            String::new()
        } else {
            format!(" {lang}")
        };
        self.emit(vec![Span::styled(format!("┌─{label}"), DIM)], 0);
        for line in self.code.highlight(&lang, &code) {
            let mut body = vec![Span::styled("│ ", DIM)];
            body.extend(line);
            self.emit(body, 2);
        }
        self.emit(vec![Span::styled("└─", DIM)], 0);
        self.need_blank = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(src: &str) -> Vec<String> {
        MarkdownRenderer::new()
            .render(src)
            .iter()
            .map(|l| l.line.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn blocks_are_separated_and_marked() {
        let out = text("# Title\n\nSome *em* and **bold** `code`.\n\n- one\n- two\n  1. a\n  2. b\n\n> quoted\n");
        assert_eq!(
            out,
            [
                "Title",
                "═════",
                "",
                "Some em and bold code.",
                "",
                "• one",
                "• two",
                "  1. a",
                "  2. b",
                "",
                "│ quoted"
            ]
        );
    }

    #[test]
    fn fenced_code_is_boxed_and_highlighted() {
        let r = MarkdownRenderer::new().render("Look:\n\n```rust\nlet x = 1;\n```\n");
        let t: Vec<String> = r
            .iter()
            .map(|l| l.line.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect();
        assert_eq!(t, ["Look:", "", "┌─ rust", "│ let x = 1;", "└─"]);
        assert_eq!(r[3].hang, 2);
        assert!(r[3].line.spans.len() > 2);
    }

    #[test]
    fn unclosed_fence_while_streaming_still_renders() {
        assert_eq!(text("```py\nprint(1"), ["┌─ py", "│ print(1", "└─"]);
    }

    #[test]
    fn list_items_hang_under_their_marker() {
        let r = MarkdownRenderer::new().render("- a long item\n");
        assert_eq!(r[0].hang, 2);
    }

    #[test]
    fn links_show_their_target_and_tables_their_cells() {
        assert_eq!(text("[site](http://x.y)"), ["site (http://x.y)"]);
        assert_eq!(
            text("| a | b |\n|---|---|\n| 1 | 2 |\n"),
            ["a │ b", "─────", "1 │ 2"]
        );
    }
}
