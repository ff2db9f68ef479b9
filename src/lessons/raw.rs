//! Lesson files as written: the raw serde types (everything optional and spanned, so
//! the validator can report a missing field with the line of its table) and the
//! `file:line: message` diagnostics that loading and validation produce.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

/// `file:line: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
    }
}

/// The 1-based line of a byte offset.
pub fn line_of(src: &str, offset: usize) -> usize {
    let end = offset.min(src.len());
    src.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

// The raw file, as written. Everything optional so that a missing field is reported by
// the validator with the line of its table, not as a bare parse error.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLesson {
    pub id: Option<Spanned<String>>,
    pub title: Option<Spanned<RawText>>,
    pub summary: Option<Spanned<RawText>>,
    pub sources: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub step: Vec<Spanned<RawStep>>,
}

/// A text in both languages. `sources` is accepted here too: in the documented layout
/// `sources = [...]` follows `[summary]`, so TOML puts it inside that table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawText {
    pub en: Option<Spanned<String>>,
    #[serde(rename = "zh-CN")]
    pub zh_cn: Option<Spanned<String>>,
    pub sources: Option<Spanned<Vec<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawChoice {
    pub correct: Option<bool>,
    pub text: Option<Spanned<RawText>>,
    pub explain: Option<Spanned<RawText>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStep {
    pub kind: Option<Spanned<String>>,
    pub text: Option<Spanned<RawText>>,
    pub hint: Option<Spanned<RawText>>,
    pub language: Option<Spanned<String>>,
    pub code: Option<Spanned<String>>,
    pub prompt: Option<Spanned<RawText>>,
    pub temperature: Option<Spanned<f64>>,
    pub top_p: Option<Spanned<f64>>,
    pub seed: Option<Spanned<i64>>,
    pub max_tokens: Option<Spanned<i64>>,
    pub pane: Option<Spanned<String>>,
    pub layer: Option<Spanned<i64>>,
    pub token: Option<Spanned<i64>>,
    pub condition: Option<Spanned<String>>,
    pub question: Option<Spanned<RawText>>,
    pub choice: Option<Vec<Spanned<RawChoice>>>,
    pub temperatures: Option<Spanned<Vec<f64>>>,
    pub top_ps: Option<Spanned<Vec<f64>>>,
    pub seeds: Option<Spanned<Vec<i64>>>,
    /// An experiment grid file (`experiment_file` steps), relative to the lesson's folder.
    pub file: Option<Spanned<String>>,
}
