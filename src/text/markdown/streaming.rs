//! Markdown that grows at its end (a reply streaming in), rendered incrementally: the
//! lines of top-level blocks that can no longer change are kept, and only the text from
//! the last of those on is rendered again when more arrives. The lines are always exactly
//! what [`MarkdownRenderer::render`] gives for the whole text.
//!
//! A top-level block is final once the first line of the block after it is complete:
//! CommonMark decides block structure line by line, and a block closed by a later line is
//! never reopened, while an unfinished line may still turn out to continue it (`2` may
//! become `2. item` of the list above). Link reference definitions are the exception
//! (a definition at the end changes links anywhere before it), so a text that may hold
//! one is rendered whole each time.

use super::{MarkdownRenderer, StyledLine};

/// Incrementally rendered markdown.
#[derive(Debug, Default)]
pub struct StreamingMarkdown {
    renderer: MarkdownRenderer,
    text: String,
    /// Bytes of `text` whose lines are final (a line start).
    stable_len: usize,
    /// The final lines.
    stable: Vec<StyledLine>,
    /// The renderer's blank-line request after the final part.
    need_blank: bool,
    /// Lines of `text[stable_len..]`.
    tail: Vec<StyledLine>,
    /// A line of the text may be a link reference definition: render it whole.
    references: bool,
    /// Lines before this index are unchanged since the last [`Self::take_changed_from`].
    changed_from: usize,
}

impl StreamingMarkdown {
    pub fn new() -> Self {
        Self::default()
    }

    /// The whole text so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Append `delta` and render what it may have changed.
    pub fn push_str(&mut self, delta: &str) {
        if delta.is_empty() {
            return;
        }
        // Only the lines the new text touches can hold a new definition.
        let touched = self.text.rfind('\n').map_or(0, |i| i + 1);
        self.text.push_str(delta);
        self.references = self.references || may_define_references(&self.text[touched..]);
        self.render_tail();
    }

    /// Show `text`: appended when it extends the current text, else rendered anew.
    pub fn set_text(&mut self, text: &str) {
        match text.strip_prefix(self.text.as_str()) {
            Some(delta) => self.push_str(delta),
            None => {
                self.clear();
                self.push_str(text);
            }
        }
    }

    /// Forget the text (keeps the highlighting cache).
    pub fn clear(&mut self) {
        self.text.clear();
        self.stable_len = 0;
        self.stable.clear();
        self.need_blank = false;
        self.tail.clear();
        self.references = false;
        self.changed_from = 0;
    }

    /// The index of the first line that may have changed since the last call (or since
    /// the stream was made): the lines before it are the same values they were then, so a
    /// copy of them need not be compared again. Resets the mark.
    pub fn take_changed_from(&mut self) -> usize {
        std::mem::replace(&mut self.changed_from, usize::MAX)
    }

    /// The rendered lines from index `from` on.
    pub fn lines_from(&self, from: usize) -> impl Iterator<Item = &StyledLine> + '_ {
        let stable = &self.stable[from.min(self.stable.len())..];
        let tail_from = from.saturating_sub(self.stable.len()).min(self.tail.len());
        stable.iter().chain(self.tail[tail_from..].iter())
    }

    /// The rendered lines, in order.
    pub fn lines(&self) -> impl Iterator<Item = &StyledLine> + '_ {
        self.stable.iter().chain(self.tail.iter())
    }

    /// Number of rendered lines.
    pub fn len(&self) -> usize {
        self.stable.len() + self.tail.len()
    }

    /// True when there is nothing to show.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rendered lines as one vector.
    pub fn to_lines(&self) -> Vec<StyledLine> {
        self.lines().cloned().collect()
    }

    fn render_tail(&mut self) {
        // The final lines stay; everything after them is rendered again.
        self.changed_from = self.changed_from.min(self.stable.len());
        if self.references {
            self.changed_from = 0;
            self.stable_len = 0;
            self.stable.clear();
            self.need_blank = false;
            self.tail = self.renderer.render(&self.text);
            return;
        }
        let src = &self.text[self.stable_len..];
        let part = self
            .renderer
            .render_part(src, !self.stable.is_empty(), self.need_blank);
        // The last block (not the first) whose first line is complete: everything before
        // it is final.
        let cut = part.blocks.iter().skip(1).rev().find_map(|b| {
            let line_start = src[..b.offset].rfind('\n').map_or(0, |i| i + 1);
            src[b.offset..].contains('\n').then_some((line_start, *b))
        });
        let mut lines = part.lines;
        if let Some((at, block)) = cut {
            self.tail = lines.split_off(block.lines);
            self.stable.append(&mut lines);
            self.need_blank = block.need_blank;
            self.stable_len += at;
        } else {
            self.tail = lines;
        }
    }
}

/// Whether a line of `text` may be a link reference definition (`[label]: ...`), inside
/// quotes too.
fn may_define_references(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start_matches([' ', '\t', '>']);
        l.starts_with('[') && l.contains("]:")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Documents a reply might be: headings, lists (tight, loose, nested, numbered),
    /// quotes, fenced and indented code, tables, rules, CJK, emoji and combining marks,
    /// setext headings, lines that change meaning as they grow, references.
    const CORPUS: &[&str] = &[
        "# Title\n\nSome *em* and **bold** `code`.\n\n- one\n- two\n  1. a\n  2. b\n\n> quoted\n> more\n\nEnd.",
        "Intro:\n\n```rust\nfn main() {\n    println!(\"hi\");\n}\n```\n\nAfter the code.\n\n```py\nprint(1)",
        "1. first\n\n2. second\n\n3\n\nthird\n\n10. ten\n11. eleven\n",
        "Para one\nstill one\n\nSetext\n======\n\nAnother\n---\n\n***\n\n    indented code\n\n    more code\n\nback",
        "| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |\n\nText after the table.\n\n| x |\n|---|\n",
        "专家混合模型（MoE）：\n\n- 路由器选择专家\n- 每个词元只用 *k* 个专家\n\n> 引用：中文和 English 混排\n\n## 小结\n\n好的 👍🏽 — café, naïve, e\u{301}, 👨\u{200d}👩\u{200d}👧",
        "- [ ] task\n- [x] done\n\n<div>\nhtml block\n</div>\n\nA [link](http://example.com) and ~~struck~~ text.\n\n- a\n\n  continued in the item\n- b\n\nafter",
        "See [the docs][d] for more.\n\nMore text.\n\n[d]: http://example.com/docs\n",
        "> quote with a list:\n> - x\n> - y\n\n> second quote\n\n1) paren list\n2) two\n\n```\nunlabelled fence\n",
    ];

    fn plain(lines: &[StyledLine]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.line.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    /// Split at char boundaries into pieces of 1..=max chars, deterministically.
    fn pieces(text: &str, max: usize, seed: u64) -> Vec<&str> {
        let mut out = Vec::new();
        let mut x = seed | 1;
        let mut rest = text;
        while !rest.is_empty() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let n = 1 + (x as usize) % max;
            let end = rest.char_indices().nth(n).map_or(rest.len(), |(i, _)| i);
            out.push(&rest[..end]);
            rest = &rest[end..];
        }
        out
    }

    #[test]
    fn streaming_gives_exactly_the_lines_of_a_full_render_at_every_step() {
        let mut full = MarkdownRenderer::new();
        for (i, doc) in CORPUS.iter().enumerate() {
            for (max, seed) in [(1, 0), (3, 7), (9, 11)] {
                let mut s = StreamingMarkdown::new();
                let mut so_far = String::new();
                for p in pieces(doc, max, seed + i as u64) {
                    s.push_str(p);
                    so_far.push_str(p);
                    let want = full.render(&so_far);
                    let got = s.to_lines();
                    assert_eq!(
                        got,
                        want,
                        "doc {i}, pieces of up to {max}, after {so_far:?}\ngot  {:?}\nwant {:?}",
                        plain(&got),
                        plain(&want)
                    );
                }
                assert_eq!(s.text(), *doc);
            }
        }
    }

    #[test]
    fn a_copy_kept_by_the_change_mark_equals_a_full_render_on_random_splits() {
        let mut full = MarkdownRenderer::new();
        let extra = "中文回答：\n\n```python\n# 注释 comment\nfor i in range(3):\n    print(\"专家\", i)\n```\n\n1. 第一\n2. 第二\n   - 嵌套 nested\n\n> 引用\n\n| 列 | 值 |\n|---|---|\n| 专家 | 8 |\n";
        for (i, doc) in CORPUS.iter().chain([&extra]).enumerate() {
            for seed in 0..24u64 {
                let max = 1 + (seed as usize * 5) % 17;
                let mut s = StreamingMarkdown::new();
                let mut copy: Vec<StyledLine> = Vec::new();
                let mut so_far = String::new();
                for p in pieces(doc, max, seed * 7919 + i as u64) {
                    s.push_str(p);
                    so_far.push_str(p);
                    let from = s.take_changed_from();
                    assert!(from == usize::MAX || from <= copy.len());
                    copy.truncate(from);
                    copy.extend(s.lines_from(from).cloned());
                    assert_eq!(
                        copy,
                        full.render(&so_far),
                        "doc {i}, seed {seed}, after {so_far:?}"
                    );
                }
                // Nothing pushed: nothing changed.
                assert_eq!(s.take_changed_from(), usize::MAX);
                s.clear();
                assert_eq!(s.take_changed_from(), 0);
            }
        }
    }

    #[test]
    fn finished_blocks_are_not_rendered_again() {
        let mut s = StreamingMarkdown::new();
        s.push_str("# Head\n\nfirst paragraph\n\n- a\n- b\n\nlast ");
        assert!(s.stable_len > 0, "nothing became final");
        assert!(s.stable_len <= "# Head\n\nfirst paragraph\n\n- a\n- b\n\n".len());
        let before = s.stable.len();
        s.push_str("words");
        assert!(s.stable.len() >= before);
        assert_eq!(
            plain(&s.to_lines()).last().map(String::as_str),
            Some("last words")
        );
    }

    #[test]
    fn set_text_appends_or_starts_again() {
        let mut s = StreamingMarkdown::new();
        s.set_text("one\n\ntwo");
        s.set_text("one\n\ntwo three");
        assert_eq!(plain(&s.to_lines()), ["one", "", "two three"]);
        s.set_text("other");
        assert_eq!(plain(&s.to_lines()), ["other"]);
        s.clear();
        assert!(s.is_empty() && s.text().is_empty());
    }
}
