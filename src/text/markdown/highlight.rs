//! Syntax highlighting of fenced code blocks with syntect, cached so that a reply that
//! streams in token by token does not re-highlight its code on every token.
//!
//! Two caches: finished blocks by (language, code) hash, and the parser state after the
//! last complete line of the block that is still growing, so each new token costs one
//! line of highlighting rather than the whole block.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::OnceLock;

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Span;
use syntect::highlighting::{
    FontStyle, HighlightIterator, HighlightState, Highlighter, Theme, ThemeSet,
};
use syntect::parsing::{ParseState, ScopeStack, SyntaxReference, SyntaxSet};

/// A highlighted line: styled spans, no trailing newline.
pub type CodeLine = Vec<Span<'static>>;

const THEME: &str = "base16-ocean.dark";
const MAX_CACHED_BLOCKS: usize = 128;

struct Assets {
    syntaxes: SyntaxSet,
    theme: Option<Theme>,
}

fn assets() -> &'static Assets {
    static ASSETS: OnceLock<Assets> = OnceLock::new();
    ASSETS.get_or_init(|| {
        let mut themes = ThemeSet::load_defaults();
        Assets {
            syntaxes: SyntaxSet::load_defaults_newlines(),
            theme: themes.themes.remove(THEME),
        }
    })
}

/// The state after the complete lines of the block that is still streaming.
struct Growing {
    lang: String,
    src: Vec<String>,
    out: Vec<CodeLine>,
    parse: ParseState,
    highlight: HighlightState,
}

/// Highlights code blocks and remembers what it did.
#[derive(Default)]
pub struct CodeHighlighter {
    done: HashMap<u64, Vec<CodeLine>>,
    growing: Option<Growing>,
}

impl std::fmt::Debug for CodeHighlighter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeHighlighter")
            .field("cached_blocks", &self.done.len())
            .finish()
    }
}

fn key(lang: &str, code: &str) -> u64 {
    let mut h = DefaultHasher::new();
    lang.hash(&mut h);
    code.hash(&mut h);
    h.finish()
}

fn syntax_for(lang: &str) -> &'static SyntaxReference {
    let set = &assets().syntaxes;
    let token = lang.split([',', ' ']).next().unwrap_or("").trim();
    set.find_syntax_by_token(token)
        .unwrap_or_else(|| set.find_syntax_plain_text())
}

fn to_style(s: syntect::highlighting::Style) -> Style {
    let mut style = Style::default().fg(Color::Rgb(s.foreground.r, s.foreground.g, s.foreground.b));
    if s.font_style.contains(FontStyle::BOLD) {
        style = style.add_modifier(Modifier::BOLD);
    }
    if s.font_style.contains(FontStyle::ITALIC) {
        style = style.add_modifier(Modifier::ITALIC);
    }
    style
}

/// Highlight one line (with its newline, if it has one) and advance the states.
fn line(parse: &mut ParseState, hl: &mut HighlightState, theme: &Theme, src: &str) -> CodeLine {
    let plain = || vec![Span::raw(src.trim_end_matches('\n').to_string())];
    let Ok(ops) = parse.parse_line(src, &assets().syntaxes) else {
        return plain();
    };
    let highlighter = Highlighter::new(theme);
    HighlightIterator::new(hl, &ops, src, &highlighter)
        .filter_map(|(style, text)| {
            let text = text.trim_end_matches('\n');
            (!text.is_empty()).then(|| Span::styled(text.to_string(), to_style(style)))
        })
        .collect()
}

impl CodeHighlighter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Highlighted lines of `code` in language `lang` (unknown languages: plain text).
    pub fn highlight(&mut self, lang: &str, code: &str) -> Vec<CodeLine> {
        let k = key(lang, code);
        if let Some(hit) = self.done.get(&k) {
            return hit.clone();
        }
        let Some(theme) = assets().theme.as_ref() else {
            return code
                .lines()
                .map(|l| vec![Span::raw(l.to_string())])
                .collect();
        };
        let lines: Vec<&str> = code.split_inclusive('\n').collect();
        let complete = lines.iter().take_while(|l| l.ends_with('\n')).count();
        let reusable = self.growing.as_ref().is_some_and(|g| {
            g.lang == lang
                && g.src.len() <= complete
                && g.src.iter().zip(&lines).all(|(a, b)| a == b)
        });
        let mut g = match self.growing.take() {
            Some(g) if reusable => g,
            _ => {
                let syntax = syntax_for(lang);
                Growing {
                    lang: lang.to_string(),
                    src: Vec::new(),
                    out: Vec::new(),
                    parse: ParseState::new(syntax),
                    highlight: HighlightState::new(&Highlighter::new(theme), ScopeStack::new()),
                }
            }
        };
        for src in &lines[g.src.len()..complete] {
            let out = line(&mut g.parse, &mut g.highlight, theme, src);
            g.out.push(out);
            g.src.push((*src).to_string());
        }
        let mut result = g.out.clone();
        if let Some(tail) = lines.get(complete) {
            let (mut p, mut h) = (g.parse.clone(), g.highlight.clone());
            result.push(line(&mut p, &mut h, theme, tail));
        }
        self.growing = Some(g);
        if self.done.len() >= MAX_CACHED_BLOCKS {
            self.done.clear();
        }
        self.done.insert(k, result.clone());
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: &[CodeLine]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn highlights_rust_with_colours() {
        let mut h = CodeHighlighter::new();
        let out = h.highlight("rust", "fn main() {\n    let x = 1;\n}\n");
        assert_eq!(text(&out), ["fn main() {", "    let x = 1;", "}"]);
        assert!(out[0].len() > 1, "keyword and name styled apart");
    }

    #[test]
    fn streaming_matches_one_shot() {
        let code = "fn main() {\n    println!(\"hi\");\n    /* a\n  b */ let y = 2;\n}\n";
        let mut streamed = CodeHighlighter::new();
        let mut last = Vec::new();
        for end in 1..=code.len() {
            if code.is_char_boundary(end) {
                last = streamed.highlight("rust", &code[..end]);
            }
        }
        let one_shot = CodeHighlighter::new().highlight("rust", code);
        assert_eq!(last, one_shot);
    }

    #[test]
    fn unknown_language_is_plain() {
        let out = CodeHighlighter::new().highlight("no-such-lang", "a b\nc");
        assert_eq!(text(&out), ["a b", "c"]);
    }
}
