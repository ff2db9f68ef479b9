//! Raw lesson -> [`Lesson`], collecting every problem with its line: schema, both
//! languages for every text, known panes, code languages and condition names, value
//! ranges, citations `[n]` that point into `sources`, and the file name `NN-id.toml`.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use syntect::parsing::SyntaxSet;
use toml::Spanned;

use super::condition::Condition;
use super::model::{Choice, Lesson, Step, StepKind, Text};
use super::raw::{line_of, Diagnostic, RawLesson, RawStep, RawText};
use crate::pane::Pane;
use crate::sampling::SamplingParams;
use crate::text::sanitize;

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
                sanitize(s.get_ref())
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

    fn step(&mut self, s: &Spanned<RawStep>) -> Option<Step> {
        let at = s.span();
        let r = s.get_ref();
        let Some(kind) = &r.kind else {
            self.err(
                &at,
                "step without kind (prose, code, run, observe, task, quiz, experiment)",
            );
            return None;
        };
        let name = kind.get_ref().as_str();
        let Some((_, allowed)) = KINDS.iter().find(|(k, _)| *k == name) else {
            let names: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
            self.err(
                &kind.span(),
                format!("unknown step kind \"{name}\" (one of {})", names.join(", ")),
            );
            return None;
        };
        for (field, span) in present(r) {
            if !allowed.contains(&field) {
                self.err(
                    &span.unwrap_or(at.clone()),
                    format!(
                        "a {name} step has no `{field}` (it takes {})",
                        allowed.join(", ")
                    ),
                );
            }
        }
        let text = match (&r.text, name) {
            (Some(t), _) => self.text(t, "[step.text]"),
            (None, "quiz") => Text::default(),
            (None, _) => {
                self.err(
                    &at,
                    format!("{name} step: missing [step.text] (en and zh-CN)"),
                );
                Text::default()
            }
        };
        let kind = match name {
            "prose" => StepKind::Prose,
            "code" => {
                let language = match &r.language {
                    Some(l) if known_language(l.get_ref()) => l.get_ref().clone(),
                    Some(l) => {
                        self.err(&l.span(), format!("code language \"{}\" is not known to the highlighter (e.g. python, rust, c, js, sh, toml)", l.get_ref()));
                        String::new()
                    }
                    None => {
                        self.err(
                            &at,
                            "code step: missing language (e.g. \"python\", \"rust\")",
                        );
                        String::new()
                    }
                };
                let code = match &r.code {
                    Some(c) => sanitize(c.get_ref()),
                    None => {
                        self.err(&at, "code step: missing code = \"\"\"...\"\"\"");
                        String::new()
                    }
                };
                StepKind::Code { language, code }
            }
            "run" => {
                let prompt = self.req_text(&r.prompt, "prompt", &at);
                let d = SamplingParams::default();
                let params = SamplingParams {
                    temperature: self
                        .range(
                            &r.temperature,
                            0.0,
                            SamplingParams::TEMPERATURE_MAX as f64,
                            "temperature",
                        )
                        .unwrap_or(d.temperature as f64) as f32,
                    top_p: self
                        .range(&r.top_p, 0.05, 1.0, "top_p")
                        .unwrap_or(d.top_p as f64) as f32,
                    seed: self
                        .int(&r.seed, 0, i64::MAX, "seed")
                        .unwrap_or(d.seed as i64) as u64,
                };
                let max_tokens = self
                    .int(&r.max_tokens, 1, MAX_TOKENS, "max_tokens")
                    .unwrap_or(60) as u32;
                StepKind::Run {
                    prompt,
                    params,
                    max_tokens,
                }
            }
            "observe" => {
                let pane = match &r.pane {
                    Some(p) => Pane::parse(p.get_ref()).or_else(|| {
                        let names: Vec<&str> = Pane::ALL.iter().map(|p| p.name()).collect();
                        self.err(
                            &p.span(),
                            format!(
                                "unknown pane \"{}\" (one of {})",
                                p.get_ref(),
                                names.join(", ")
                            ),
                        );
                        None
                    }),
                    None => {
                        self.err(
                            &at,
                            "observe step: missing pane (routing, sampling, strip, status or chat)",
                        );
                        None
                    }
                };
                StepKind::Observe {
                    pane: pane.unwrap_or(Pane::Chat),
                    layer: self.int(&r.layer, 0, 255, "layer").map(|l| l as u32),
                    token: self.int(&r.token, 0, 4095, "token").map(|t| t as u32),
                }
            }
            "task" => {
                let condition = match &r.condition {
                    Some(c) => match Condition::parse(c.get_ref()) {
                        Ok(c) => Some(c),
                        Err(e) => {
                            self.err(&c.span(), format!("condition: {e}"));
                            None
                        }
                    },
                    None => {
                        self.err(
                            &at,
                            "task step: missing condition (e.g. \"temperature > 1.2\")",
                        );
                        None
                    }
                };
                let hint = r.hint.as_ref().map(|h| self.text(h, "[step.hint]"));
                match condition {
                    Some(condition) => StepKind::Task { condition, hint },
                    None => return None,
                }
            }
            "quiz" => {
                let question = self.req_text(&r.question, "[step.question]", &at);
                let mut choices = Vec::new();
                for c in r.choice.iter().flatten() {
                    let cr = c.get_ref();
                    let span = c.span();
                    let Some(correct) = cr.correct else {
                        self.err(&span, "choice: missing correct = true/false");
                        continue;
                    };
                    let text = self.req_text(&cr.text, "choice text", &span);
                    let explain = self.req_text(&cr.explain, "choice explain", &span);
                    choices.push(Choice {
                        correct,
                        text,
                        explain,
                    });
                }
                if choices.len() < 2 || choices.len() > 4 {
                    self.err(
                        &at,
                        format!(
                            "quiz: {} choices; give 2 to 4 [[step.choice]]",
                            choices.len()
                        ),
                    );
                }
                if !choices.iter().any(|c| c.correct) {
                    self.err(&at, "quiz: no choice has correct = true");
                }
                StepKind::Quiz { question, choices }
            }
            _ => {
                let prompt = self.req_text(&r.prompt, "prompt", &at);
                let temperatures = match &r.temperatures {
                    Some(t) => self.list(
                        t,
                        0.0,
                        SamplingParams::TEMPERATURE_MAX as f64,
                        "temperatures",
                    ),
                    None => {
                        self.err(&at, "experiment step: missing temperatures = [...]");
                        Vec::new()
                    }
                };
                let top_ps = match &r.top_ps {
                    Some(t) => self.list(t, 0.05, 1.0, "top_ps"),
                    None => vec![SamplingParams::default().top_p],
                };
                let seeds: Vec<u64> = match &r.seeds {
                    Some(s) => {
                        if s.get_ref().is_empty() || s.get_ref().iter().any(|x| *x < 0) {
                            self.err(&s.span(), "seeds: give one or more numbers >= 0");
                        }
                        s.get_ref().iter().map(|x| (*x).max(0) as u64).collect()
                    }
                    None => vec![SamplingParams::default().seed],
                };
                let n = temperatures.len() * top_ps.len() * seeds.len();
                if n > MAX_GRID {
                    self.err(
                        &at,
                        format!("experiment: {n} runs; keep the grid at {MAX_GRID} or fewer"),
                    );
                }
                let max_tokens = self
                    .int(&r.max_tokens, 1, MAX_TOKENS, "max_tokens")
                    .unwrap_or(40) as u32;
                StepKind::Experiment {
                    prompt,
                    temperatures,
                    top_ps,
                    seeds,
                    max_tokens,
                }
            }
        };
        Some(Step { kind, text })
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

/// The fields a raw step sets, with their spans where known.
fn present(r: &RawStep) -> Vec<(&'static str, Option<Range<usize>>)> {
    let mut out = Vec::new();
    macro_rules! has {
        ($($f:ident),*) => {$(
            if let Some(v) = &r.$f { out.push((stringify!($f), Some(v.span()))); }
        )*};
    }
    has!(
        text,
        hint,
        language,
        code,
        prompt,
        temperature,
        top_p,
        seed,
        max_tokens,
        pane,
        layer,
        token,
        condition,
        question,
        temperatures,
        top_ps,
        seeds
    );
    if let Some(c) = &r.choice {
        out.push(("choice", c.first().map(|c| c.span())));
    }
    out
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
