//! The multi-line input box: text plus a cursor, edited a character at a time. Up/Down
//! keep the display column (CJK characters are two columns wide).

use unicode_width::UnicodeWidthChar;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Input {
    text: String,
    /// Byte offset, always on a char boundary.
    cursor: usize,
}

fn width(s: &str) -> usize {
    s.chars().map(|c| c.width().unwrap_or(0)).sum()
}

impl Input {
    pub fn text(&self) -> &str {
        &self.text
    }
    pub fn cursor(&self) -> usize {
        self.cursor
    }
    pub fn is_blank(&self) -> bool {
        self.text.trim().is_empty()
    }

    /// Replace the text and put the cursor at its end.
    pub fn set(&mut self, text: String) {
        self.cursor = text.len();
        self.text = text;
    }

    /// Take the text out, leaving the input empty.
    pub fn take(&mut self) -> String {
        self.cursor = 0;
        std::mem::take(&mut self.text)
    }

    pub fn insert(&mut self, c: char) {
        if c.is_control() && c != '\n' {
            return;
        }
        self.text.insert(self.cursor, c);
        self.cursor += c.len_utf8();
    }

    fn prev_boundary(&self) -> Option<usize> {
        self.text[..self.cursor]
            .char_indices()
            .next_back()
            .map(|(i, _)| i)
    }

    fn next_boundary(&self) -> Option<usize> {
        self.text[self.cursor..]
            .chars()
            .next()
            .map(|c| self.cursor + c.len_utf8())
    }

    pub fn backspace(&mut self) {
        if let Some(i) = self.prev_boundary() {
            self.text.replace_range(i..self.cursor, "");
            self.cursor = i;
        }
    }

    pub fn delete(&mut self) {
        if let Some(j) = self.next_boundary() {
            self.text.replace_range(self.cursor..j, "");
        }
    }

    pub fn left(&mut self) {
        if let Some(i) = self.prev_boundary() {
            self.cursor = i;
        }
    }

    pub fn right(&mut self) {
        if let Some(j) = self.next_boundary() {
            self.cursor = j;
        }
    }

    fn line_start(&self, at: usize) -> usize {
        self.text[..at].rfind('\n').map_or(0, |i| i + 1)
    }

    fn line_end(&self, at: usize) -> usize {
        self.text[at..]
            .find('\n')
            .map_or(self.text.len(), |i| at + i)
    }

    pub fn home(&mut self) {
        self.cursor = self.line_start(self.cursor);
    }

    pub fn end(&mut self) {
        self.cursor = self.line_end(self.cursor);
    }

    /// Byte offset in the line starting at `start` whose display column is closest to `col`
    /// without passing it.
    fn at_column(&self, start: usize, col: usize) -> usize {
        let end = self.line_end(start);
        let mut w = 0;
        for (i, c) in self.text[start..end].char_indices() {
            let cw = c.width().unwrap_or(0);
            if w + cw > col {
                return start + i;
            }
            w += cw;
        }
        end
    }

    pub fn up(&mut self) {
        let start = self.line_start(self.cursor);
        if start == 0 {
            self.cursor = 0;
            return;
        }
        let col = width(&self.text[start..self.cursor]);
        let prev = self.line_start(start - 1);
        self.cursor = self.at_column(prev, col);
    }

    pub fn down(&mut self) {
        let end = self.line_end(self.cursor);
        if end == self.text.len() {
            self.cursor = end;
            return;
        }
        let col = width(&self.text[self.line_start(self.cursor)..self.cursor]);
        self.cursor = self.at_column(end + 1, col);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(s: &str) -> Input {
        let mut i = Input::default();
        s.chars().for_each(|c| i.insert(c));
        i
    }

    #[test]
    fn edits_by_character_not_byte() {
        let mut i = typed("héllo中");
        i.backspace();
        assert_eq!(i.text(), "héllo");
        i.home();
        i.right();
        i.delete();
        assert_eq!(i.text(), "hllo");
        i.end();
        assert_eq!(i.cursor(), 4);
    }

    #[test]
    fn up_down_keep_the_display_column() {
        // "中文" is 4 columns wide; column 2 on the next line is after "ab".
        let mut i = typed("中文x\nabcdef");
        i.up(); // column 6 is past the end of the first line
        assert_eq!(&i.text()[..i.cursor()], "中文x");
        i.left(); // after 中文: column 4
        i.down();
        assert_eq!(&i.text()[..i.cursor()], "中文x\nabcd");
        i.up();
        assert_eq!(&i.text()[..i.cursor()], "中文");
    }

    #[test]
    fn take_empties() {
        let mut i = typed("a\nb");
        assert_eq!(i.take(), "a\nb");
        assert!(i.is_blank() && i.cursor() == 0);
    }
}
