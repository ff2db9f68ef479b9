//! Raw lesson -> [`Lesson`], collecting every problem with its line: schema, both
//! languages for every text, known panes, code languages and condition names, value
//! ranges, citations `[n]` that point into `sources`, and the file name `NN-id.toml`.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub mod figures;
mod step;

use syntect::parsing::SyntaxSet;
use toml::Spanned;

use super::model::{Lang, Lesson, Step, Text};
use super::raw::{line_of, Diagnostic, RawLesson, RawText};
use crate::text::sanitize;
use figures::Figures;

/// The step kinds and the fields each may use (besides `kind`).
pub const KINDS: &[(&str, &[&str])] = &[
    ("prose", &["text"]),
    ("code", &["text", "language", "code"]),
    (
        "run",
        &[
            "text",
            "prompt",
            "temperature",
            "top_p",
            "seed",
            "max_tokens",
        ],
    ),
    ("observe", &["text", "pane", "layer", "token"]),
    ("task", &["text", "condition", "hint"]),
    ("quiz", &["text", "question", "choice"]),
    (
        "experiment",
        &[
            "text",
            "prompt",
            "temperatures",
            "top_ps",
            "seeds",
            "max_tokens",
        ],
    ),
    ("experiment_file", &["text", "file"]),
];

/// Most runs one experiment may ask for.
pub const MAX_GRID: usize = 12;
pub const MAX_TOKENS: i64 = 1024;

fn syntaxes() -> &'static SyntaxSet {
    static SET: OnceLock<SyntaxSet> = OnceLock::new();
    SET.get_or_init(SyntaxSet::load_defaults_newlines)
}

/// Whether syntect highlights `lang` (a fence token such as `python`, `rust`, `py`).
pub fn known_language(lang: &str) -> bool {
    syntaxes().find_syntax_by_token(lang).is_some()
}

pub(crate) struct Validator<'a> {
    path: PathBuf,
    src: &'a str,
    pub errors: Vec<Diagnostic>,
    /// Every text seen, with its line, for the citation check.
    texts: Vec<(usize, String)>,
}

impl<'a> Validator<'a> {
    pub fn new(path: &Path, src: &'a str) -> Self {
        Validator {
            path: path.to_path_buf(),
            src,
            errors: Vec::new(),
            texts: Vec::new(),
        }
    }

    fn line(&self, span: &Range<usize>) -> usize {
        line_of(self.src, span.start)
    }

    fn err(&mut self, span: &Range<usize>, message: impl Into<String>) {
        let line = self.line(span);
        self.err_at(line, message);
    }

    fn err_at(&mut self, line: usize, message: impl Into<String>) {
        self.errors.push(Diagnostic {
            path: self.path.clone(),
            line,
            message: message.into(),
        });
    }

    /// Both languages, non-empty, sanitised.
    fn text(&mut self, t: &Spanned<RawText>, what: &str) -> Text {
        if let Some(s) = &t.get_ref().sources {
            self.err(&s.span(), format!("`sources` does not belong in {what}"));
        }
        self.text_of(&t.span(), t.get_ref(), what)
    }

    fn text_of(&mut self, span: &Range<usize>, raw: &RawText, what: &str) -> Text {
        let mut get = |v: &Option<Spanned<String>>, lang: &str| match v {
            Some(s) if !s.get_ref().trim().is_empty() => {
                let line = line_of(self.src, s.span().start);
                self.texts.push((line, s.get_ref().clone()));
                let lang = if lang == "en" { Lang::En } else { Lang::ZhCn };
                self.with_figures(line, s.get_ref(), lang)
            }
            Some(s) => {
                let line = line_of(self.src, s.span().start);
                self.err_at(line, format!("{what}: the {lang} text is empty"));
                String::new()
            }
            None => {
                let line = line_of(self.src, span.start);
                self.err_at(
                    line,
                    format!("{what}: no {lang} text (every text needs en and zh-CN)"),
                );
                String::new()
            }
        };
        let en = get(&raw.en, "en");
        let zh_cn = get(&raw.zh_cn, "zh-CN");
        Text { en, zh_cn }
    }

    /// `raw` sanitised, its `{fig:KEY}` placeholders filled in for `lang`; an unknown key,
    /// or a project figure written by hand, is an error at `line`.
    pub(super) fn with_figures(&mut self, line: usize, raw: &str, lang: Lang) -> String {
        let figures = match Figures::builtin() {
            Ok(f) => f,
            Err(e) => {
                self.err_at(line, e);
                return sanitize(raw);
            }
        };
        for (key, written) in figures::hand_written(raw, figures) {
            self.err_at(
                line,
                format!(
                    "{written} is the project figure `{key}` written by hand: write {{fig:{key}}} (see {})",
                    figures::FILE
                ),
            );
        }
        match figures::substitute(&sanitize(raw), lang, figures) {
            Ok(text) => text,
            Err(errors) => {
                for e in errors {
                    self.err_at(line, e);
                }
                sanitize(raw)
            }
        }
    }

    fn req_text(&mut self, t: &Option<Spanned<RawText>>, what: &str, at: &Range<usize>) -> Text {
        match t {
            Some(t) => self.text(t, what),
            None => {
                self.err(at, format!("missing {what} (a table with en and zh-CN)"));
                Text::default()
            }
        }
    }

    pub fn lesson(&mut self, raw: RawLesson) -> Option<Lesson> {
        let top = 0..0;
        let (order, file_id) = self.file_name();
        let id = match &raw.id {
            Some(id) => {
                let s = id.get_ref().clone();
                if !is_kebab(&s) {
                    self.err(
                        &id.span(),
                        format!("id \"{s}\" is not kebab-case (a-z, 0-9, -)"),
                    );
                } else if file_id.as_deref().is_some_and(|f| f != s) {
                    self.err(
                        &id.span(),
                        format!("id \"{s}\" does not match the file name (expected NN-{s}.toml)"),
                    );
                }
                s
            }
            None => {
                self.err(
                    &top,
                    "missing id = \"...\" (kebab-case, as in the file name NN-id.toml)",
                );
                String::new()
            }
        };
        let title = self.req_text(&raw.title, "[title]", &top);
        let mut sources = Vec::new();
        let in_summary = raw
            .summary
            .as_ref()
            .and_then(|s| s.get_ref().sources.as_ref());
        match (&raw.sources, in_summary) {
            (Some(a), Some(b)) => {
                self.err(
                    &b.span(),
                    "sources given twice (top level and in [summary])",
                );
                sources.extend(a.get_ref().iter().map(|s| sanitize(s)));
            }
            (Some(s), None) | (None, Some(s)) => {
                sources.extend(s.get_ref().iter().map(|s| sanitize(s)))
            }
            (None, None) => {}
        }
        let summary = match &raw.summary {
            Some(s) => self.text_of(&s.span(), s.get_ref(), "[summary]"),
            None => {
                self.err(&top, "missing [summary] (a table with en and zh-CN)");
                Text::default()
            }
        };
        if raw.step.is_empty() {
            self.err(&top, "no steps: add [[step]] tables");
        }
        let steps: Vec<Step> = raw.step.iter().filter_map(|s| self.step(s)).collect();
        self.citations(sources.len());
        Some(Lesson {
            id,
            order,
            path: self.path.clone(),
            title,
            summary,
            sources,
            steps,
        })
    }

    /// `NN-id.toml` -> (NN, id).
    fn file_name(&mut self) -> (u32, Option<String>) {
        let stem = self
            .path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("")
            .to_string();
        let parsed = stem
            .split_once('-')
            .filter(|(nn, _)| nn.len() >= 2 && nn.chars().all(|c| c.is_ascii_digit()))
            .and_then(|(nn, id)| Some((nn.parse::<u32>().ok()?, id.to_string())));
        match parsed {
            Some((n, id)) => (n, Some(id)),
            None => {
                self.err_at(1, format!("file name \"{stem}.toml\" is not NN-id.toml (NN = order, e.g. 03-temperature.toml)"));
                (u32::MAX, None)
            }
        }
    }

    fn range(&mut self, v: &Option<Spanned<f64>>, lo: f64, hi: f64, what: &str) -> Option<f64> {
        let v = v.as_ref()?;
        let x = *v.get_ref();
        if !(lo..=hi).contains(&x) {
            self.err(&v.span(), format!("{what} = {x} is outside {lo}..={hi}"));
            return None;
        }
        Some(x)
    }

    fn int(&mut self, v: &Option<Spanned<i64>>, lo: i64, hi: i64, what: &str) -> Option<i64> {
        let v = v.as_ref()?;
        let x = *v.get_ref();
        if !(lo..=hi).contains(&x) {
            self.err(&v.span(), format!("{what} = {x} is outside {lo}..={hi}"));
            return None;
        }
        Some(x)
    }

    fn list(&mut self, v: &Spanned<Vec<f64>>, lo: f64, hi: f64, what: &str) -> Vec<f32> {
        let xs = v.get_ref();
        if xs.is_empty() {
            self.err(&v.span(), format!("{what}: give at least one value"));
        }
        if let Some(bad) = xs.iter().find(|x| !(lo..=hi).contains(*x)) {
            self.err(&v.span(), format!("{what}: {bad} is outside {lo}..={hi}"));
        }
        xs.iter().map(|x| x.clamp(lo, hi) as f32).collect()
    }

    /// Every `[n]` in a text must name one of the sources (1-based).
    fn citations(&mut self, n_sources: usize) {
        let texts = std::mem::take(&mut self.texts);
        for (line, text) in &texts {
            for n in citations(text) {
                if n == 0 || n > n_sources {
                    self.err_at(
                        *line,
                        format!("citation [{n}] but the lesson has {n_sources} sources"),
                    );
                }
            }
        }
        self.texts = texts;
    }
}

fn is_kebab(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Numbers cited as `[n]` outside inline code, not as an index (`x[0]`).
pub fn citations(text: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut in_code = false;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '`' {
            in_code = !in_code;
        } else if c == '[' && !in_code {
            let prev_ok = i == 0
                || !(chars[i - 1].is_alphanumeric() || matches!(chars[i - 1], '_' | ']' | ')'));
            let digits: String = chars[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            let close = chars.get(i + 1 + digits.len()) == Some(&']');
            let link = chars.get(i + 2 + digits.len()) == Some(&'(');
            if prev_ok && close && !link && !digits.is_empty() {
                if let Ok(n) = digits.parse() {
                    out.push(n);
                }
            }
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_citations_not_indices_or_code() {
        assert_eq!(citations("as shown [1] and [2]."), [1, 2]);
        assert_eq!(
            citations("x[0] and `a[3]` and [see](u)"),
            Vec::<usize>::new()
        );
        assert_eq!(citations("[12]"), [12]);
    }

    #[test]
    fn kebab() {
        assert!(is_kebab("top-p-2"));
        assert!(!is_kebab("Top_p") || !is_kebab("-a") || !is_kebab("a--b"));
        assert!(!is_kebab("a--b"));
    }

    #[test]
    fn languages() {
        assert!(known_language("python") && known_language("rust") && known_language("py"));
        assert!(!known_language("klingon"));
    }
}
