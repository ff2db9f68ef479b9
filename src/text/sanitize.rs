//! Strip escape and control sequences from text before it can reach the terminal.

/// Remove ESC-introduced sequences, C0 controls (except newline and tab), DEL, C1 controls
/// and bidi overrides. Tabs become spaces.
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
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' => {}
            c => out.push(c),
        }
    }
    out
}
