//! Strip escape and control sequences from text before it can reach the terminal.
//!
//! Everything the app shows that it did not write itself passes through [`sanitize`]:
//! model output, file and GGUF metadata text, journals being reopened, pasted input,
//! error messages. Self-contained on purpose: the fuzz target compiles this file by path.

/// Remove escape sequences whole, C0 controls (except newline), DEL, C1 controls and bidi
/// controls (embeddings, overrides, isolates, marks). Tabs become four spaces; the Unicode
/// line and paragraph separators become newlines (terminals treat them inconsistently).
///
/// Sequences removed whole: CSI (`ESC [` or U+009B, parameters, intermediates, final
/// byte), the string sequences OSC (`ESC ]`, U+009D: titles, OSC 52 clipboard writes,
/// OSC 8 hyperlinks), DCS (`ESC P`, U+0090), SOS (`ESC X`, U+0098), PM (`ESC ^`, U+009E)
/// and APC (`ESC _`, U+009F) up to BEL or ST (`ESC \`, U+009C) or the end of the text, and
/// other escapes (`ESC`, intermediates, final byte, e.g. `ESC ( B`, `ESC c`).
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => out.push('\n'),
            '\t' => out.push_str("    "),
            '\u{1b}' => match chars.peek().copied() {
                Some('[') => {
                    chars.next();
                    skip_csi(&mut chars);
                }
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    chars.next();
                    skip_string(&mut chars);
                }
                Some(' '..='/') => {
                    // nF escape: intermediates, then one final byte.
                    while chars.next_if(|c| (' '..='/').contains(c)).is_some() {}
                    chars.next_if(|c| ('0'..='~').contains(c));
                }
                Some('0'..='~') => {
                    chars.next();
                }
                // A lone ESC (end of text, or before a control or non-ASCII character).
                _ => {}
            },
            '\u{9b}' => skip_csi(&mut chars),
            '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            '\u{2028}' | '\u{2029}' => out.push('\n'),
            c if is_unsafe(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// After a CSI introducer: parameter bytes (0x30-0x3F), intermediate bytes (0x20-0x2F),
/// one final byte (0x40-0x7E). A character outside those ends the (malformed) sequence
/// and is left for the caller.
fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while chars.next_if(|c| ('0'..='?').contains(c)).is_some() {}
    while chars.next_if(|c| (' '..='/').contains(c)).is_some() {}
    chars.next_if(|c| ('@'..='~').contains(c));
}

/// After an OSC/DCS/SOS/PM/APC introducer: everything up to and including BEL, ST
/// (`ESC \` or U+009C), or the end of the text.
fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => return,
            '\u{1b}' => {
                chars.next_if_eq(&'\\');
                return;
            }
            _ => {}
        }
    }
}

/// Characters that must never reach the terminal: C0 controls but newline, DEL, C1
/// controls, bidi controls, and the line/paragraph separators (turned into newlines).
pub fn is_unsafe(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{9}' | '\u{b}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        | '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{2028}' | '\u{2029}')
}

#[cfg(test)]
mod tests {
    use super::sanitize;

    #[test]
    fn strips_escape_sequences_and_controls() {
        assert_eq!(sanitize("a\u{1b}[31mred\u{1b}[0m b"), "ared b");
        assert_eq!(sanitize("\u{1b}]0;title\u{7}x\u{1b}]8;;u\u{1b}\\y"), "xy");
        assert_eq!(sanitize("a\rb\u{7f}c\u{9b}d"), "abc");
        assert_eq!(sanitize("tab\there\nline"), "tab    here\nline");
    }

    #[test]
    fn removes_whole_sequences_of_every_kind() {
        // OSC 52 clipboard write, OSC 8 hyperlink, title with ST, DCS, APC, PM, SOS.
        assert_eq!(sanitize("a\u{1b}]52;c;ZXZpbA==\u{7}b"), "ab");
        assert_eq!(
            sanitize("\u{1b}]8;;https://x.y\u{1b}\\link\u{1b}]8;;\u{1b}\\"),
            "link"
        );
        assert_eq!(sanitize("\u{1b}]2;pwned\u{1b}\\ok"), "ok");
        assert_eq!(sanitize("\u{1b}P1$r0m\u{1b}\\ok"), "ok");
        assert_eq!(
            sanitize("\u{1b}_apc\u{1b}\\\u{1b}^pm\u{7}\u{1b}Xsos\u{9c}ok"),
            "ok"
        );
        // C1 introducers as characters, 8-bit ST.
        assert_eq!(sanitize("a\u{9b}2Jb\u{9d}0;t\u{9c}c"), "abc");
        // Charset designation and reset: intermediates and final byte go too.
        assert_eq!(sanitize("\u{1b}(Bx\u{1b}cy\u{1b}7z"), "xyz");
        // CSI with private parameters and intermediates.
        assert_eq!(sanitize("\u{1b}[?1049h\u{1b}[2 qk"), "k");
        // An unterminated string sequence swallows the rest; a lone ESC goes alone.
        assert_eq!(sanitize("ok\u{1b}]0;never ends"), "ok");
        assert_eq!(sanitize("x\u{1b}"), "x");
        assert_eq!(sanitize("x\u{1b}\u{1b}[1mé"), "xé");
        // A malformed CSI stops at the first character that cannot belong to it.
        assert_eq!(sanitize("\u{1b}[12中文"), "中文");
    }

    #[test]
    fn strips_bidi_controls_and_normalises_separators() {
        assert_eq!(sanitize("abc\u{202e}fed\u{2066}\u{061c}"), "abcfed");
        assert_eq!(sanitize("one\u{2028}two\u{2029}"), "one\ntwo\n");
        assert_eq!(sanitize("中文 ok"), "中文 ok");
    }

    mod prop {
        use super::super::{is_unsafe, sanitize};
        use proptest::prelude::*;

        /// Text rich in what terminals react to: escape introducers, sequence bytes, C0,
        /// C1, DEL, bidi controls and separators, mixed with ordinary and wide characters.
        fn hostile() -> impl Strategy<Value = String> {
            let pieces = prop::sample::select(vec![
                "\u{1b}", "[", "]", "P", "X", "^", "_", "\\", "\u{7}", "\u{9c}", "\u{9b}",
                "\u{9d}", "\u{90}", "52;c;", "8;;", "?1049h", "31m", "(", "B", "\r", "\t", "\n",
                "\u{0}", "\u{7f}", "\u{85}", "\u{202e}", "\u{2067}", "\u{200f}", "\u{061c}",
                "\u{2028}", "a", "é", "中", "😀", " ",
            ]);
            prop::collection::vec(pieces, 0..64).prop_map(|v| v.concat())
        }

        proptest! {
            #[test]
            fn no_control_survives_arbitrary_text(s in any::<String>()) {
                let out = sanitize(&s);
                prop_assert!(!out.chars().any(is_unsafe), "{:?} -> {:?}", s, out);
                prop_assert!(!out.contains('\x1b'), "ESC in {:?}", out);
            }

            #[test]
            fn no_control_survives_hostile_text(s in hostile()) {
                let out = sanitize(&s);
                prop_assert!(!out.chars().any(is_unsafe), "{:?} -> {:?}", s, out);
                // Sanitising is idempotent, and plain text passes through unchanged.
                prop_assert_eq!(sanitize(&out), out.clone());
            }

            #[test]
            fn plain_text_is_left_alone(s in "[a-zA-Z0-9 .,!?é中😀\n]{0,80}") {
                prop_assert_eq!(sanitize(&s), s);
            }
        }

        #[test]
        fn unsafe_classes_are_complete() {
            for c in (0u32..0x20).filter(|c| *c != 0x0a).chain(0x7f..=0x9f) {
                assert!(is_unsafe(char::from_u32(c).unwrap_or('\0')), "{c:#x}");
            }
            for c in [
                '\u{202a}', '\u{202e}', '\u{2066}', '\u{2069}', '\u{200e}', '\u{200f}',
            ] {
                assert!(is_unsafe(c));
            }
            assert!(!is_unsafe('\n') && !is_unsafe('a') && !is_unsafe('\u{a0}'));
        }
    }
}
