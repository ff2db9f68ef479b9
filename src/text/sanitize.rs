//! Strip escape and control sequences from text before it can reach the terminal.

/// Remove ESC-introduced sequences, C0 controls (except newline and tab), DEL, C1 controls
/// and bidi controls (overrides, isolates, marks). Tabs become spaces; the Unicode line and
/// paragraph separators become newlines (terminals treat them inconsistently).
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => out.push('\n'),
            '\t' => out.push_str("    "),
            '\u{1b}' => {
                // Drop the whole sequence: CSI (ESC [ ... final), OSC/DCS/APC/PM/SOS (up to
                // BEL or ST), or a two-character escape.
                match chars.next() {
                    Some('[') => {
                        for c in chars.by_ref() {
                            if ('\u{40}'..='\u{7e}').contains(&c) {
                                break;
                            }
                        }
                    }
                    Some(']') | Some('P') | Some('_') | Some('^') | Some('X') => {
                        while let Some(c) = chars.next() {
                            if c == '\u{7}' {
                                break;
                            }
                            if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                                chars.next();
                                break;
                            }
                        }
                    }
                    _ => {}
                }
            }
            c if (c as u32) < 0x20 || c == '\u{7f}' => {}
            c if ('\u{80}'..='\u{9f}').contains(&c) => {}
            '\u{2028}' | '\u{2029}' => out.push('\n'),
            '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{061c}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::sanitize;

    #[test]
    fn strips_escape_sequences_and_controls() {
        assert_eq!(sanitize("a\u{1b}[31mred\u{1b}[0m b"), "ared b");
        assert_eq!(sanitize("\u{1b}]0;title\u{7}x\u{1b}]8;;u\u{1b}\\y"), "xy");
        assert_eq!(sanitize("a\rb\u{7f}c\u{9b}d"), "abcd");
        assert_eq!(sanitize("tab\there\nline"), "tab    here\nline");
    }

    #[test]
    fn strips_bidi_controls_and_normalises_separators() {
        assert_eq!(sanitize("abc\u{202e}fed\u{2066}\u{061c}"), "abcfed");
        assert_eq!(sanitize("one\u{2028}two\u{2029}"), "one\ntwo\n");
        assert_eq!(sanitize("中文 ok"), "中文 ok");
    }
}
