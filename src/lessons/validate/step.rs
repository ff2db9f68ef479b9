//! One step of a lesson file: its kind, the fields that kind allows, and each field's
//! value checked (panes by name, sampling ranges, conditions, quiz choices, grids).

use std::ops::Range;

use toml::Spanned;

use super::{known_language, Validator, KINDS, MAX_GRID, MAX_TOKENS};
use crate::lessons::condition::Condition;
use crate::lessons::model::{Choice, Lang, Step, StepKind, Text};
use crate::lessons::raw::RawStep;
use crate::pane::Pane;
use crate::sampling::SamplingParams;

impl Validator<'_> {
    pub(super) fn step(&mut self, s: &Spanned<RawStep>) -> Option<Step> {
        let at = s.span();
        let r = s.get_ref();
        let Some(kind) = &r.kind else {
            self.err(
                &at,
                "step without kind (prose, code, run, observe, task, quiz, experiment, experiment_file)",
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
                    Some(c) => {
                        let line = self.line(&c.span());
                        self.with_figures(line, c.get_ref(), Lang::En)
                    }
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
            "experiment_file" => self.experiment_file(r, &at)?,
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
}

impl Validator<'_> {
    /// An `experiment_file` step: the grid file must exist beside the lesson (relative to
    /// its folder), parse, and hold values the experiments accept.
    fn experiment_file(&mut self, r: &RawStep, at: &Range<usize>) -> Option<StepKind> {
        let Some(file) = &r.file else {
            self.err(
                at,
                "experiment_file step: missing file = \"experiments/NAME.toml\"",
            );
            return None;
        };
        let name = file.get_ref();
        let dir = self.path.parent().unwrap_or(std::path::Path::new("."));
        let grid = std::fs::read_to_string(dir.join(name))
            .map_err(|e| format!("experiment file {name:?}: cannot read it: {e}"))
            .and_then(|t| crate::experiments::Grid::from_toml(&t))
            .and_then(|g| {
                crate::experiments::plan::check_values(&g)?;
                Ok(g)
            });
        match grid {
            Ok(g) => Some(StepKind::ExperimentFile {
                file: name.clone(),
                grid: Box::new(g),
            }),
            Err(e) => {
                self.err(&file.span(), format!("experiment file {name:?}: {e}"));
                None
            }
        }
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
        seeds,
        file
    );
    if let Some(c) = &r.choice {
        out.push(("choice", c.first().map(|c| c.span())));
    }
    out
}
