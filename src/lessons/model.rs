//! A validated lesson: every text present in both languages and sanitised, every
//! condition parsed. Built by [`super::load`] only.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::pane::Pane;

use super::condition::Condition;
use crate::sampling::SamplingParams;

/// The languages lessons are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Lang {
    #[default]
    #[serde(rename = "en")]
    En,
    #[serde(rename = "zh-CN")]
    ZhCn,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::ZhCn];

    /// The key used in lesson files and on the command line.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhCn => "zh-CN",
        }
    }

    /// `en`, `zh-CN` (also `zh`, `zh_CN`, any case).
    pub fn parse(s: &str) -> Option<Lang> {
        let s = s.trim().to_ascii_lowercase().replace('_', "-");
        match s.as_str() {
            "en" | "en-us" | "en-gb" | "english" => Some(Lang::En),
            "zh" | "zh-cn" | "zh-hans" | "chinese" => Some(Lang::ZhCn),
            _ => None,
        }
    }

    /// From the locale: `LC_ALL`, then `LC_MESSAGES`, then `LANG`; Chinese when the first
    /// one set starts with `zh`, English otherwise.
    pub fn from_locale() -> Lang {
        Self::from_locale_vars(|k| std::env::var(k).ok())
    }

    pub fn from_locale_vars(get: impl Fn(&str) -> Option<String>) -> Lang {
        let value = ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|k| get(k))
            .find(|v| !v.is_empty());
        match value {
            Some(v) if v.to_ascii_lowercase().starts_with("zh") => Lang::ZhCn,
            _ => Lang::En,
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::ZhCn,
            Lang::ZhCn => Lang::En,
        }
    }
}

/// A text in both languages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Text {
    pub en: String,
    #[serde(rename = "zh-CN")]
    pub zh_cn: String,
}

impl Text {
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::ZhCn => &self.zh_cn,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub correct: bool,
    pub text: Text,
    pub explain: Text,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    Prose,
    Code {
        language: String,
        code: String,
    },
    Run {
        prompt: Text,
        params: SamplingParams,
        max_tokens: u32,
    },
    Observe {
        pane: Pane,
        /// The model layer (as the routing pane labels it: L0, L1, ...).
        layer: Option<u32>,
        /// A token of the last reply, 0 = its first.
        token: Option<u32>,
    },
    Task {
        condition: Condition,
        hint: Option<Text>,
    },
    Quiz {
        question: Text,
        choices: Vec<Choice>,
    },
    Experiment {
        prompt: Text,
        temperatures: Vec<f32>,
        top_ps: Vec<f32>,
        seeds: Vec<u64>,
        max_tokens: u32,
    },
    /// Open the experiments overlay with a grid file (`lessons/experiments/NAME.toml`);
    /// the step is done once the grid has run there.
    ExperimentFile {
        /// The file as the lesson names it.
        file: String,
        grid: Box<crate::experiments::Grid>,
    },
}

impl StepKind {
    pub fn name(&self) -> &'static str {
        match self {
            StepKind::Prose => "prose",
            StepKind::Code { .. } => "code",
            StepKind::Run { .. } => "run",
            StepKind::Observe { .. } => "observe",
            StepKind::Task { .. } => "task",
            StepKind::Quiz { .. } => "quiz",
            StepKind::Experiment { .. } => "experiment",
            StepKind::ExperimentFile { .. } => "experiment_file",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub kind: StepKind,
    /// The step's text (markdown); empty for a quiz without one.
    pub text: Text,
}

/// The experiment grid in run order: temperature, then top_p, then seed varies fastest.
pub fn experiment_grid(temperatures: &[f32], top_ps: &[f32], seeds: &[u64]) -> Vec<SamplingParams> {
    let mut out = Vec::new();
    for &temperature in temperatures {
        for &top_p in top_ps {
            for &seed in seeds {
                out.push(SamplingParams {
                    temperature,
                    top_p,
                    seed,
                });
            }
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
pub struct Lesson {
    pub id: String,
    /// NN of the file name `NN-id.toml`: the order of the list.
    pub order: u32,
    pub path: PathBuf,
    pub title: Text,
    pub summary: Text,
    pub sources: Vec<String>,
    pub steps: Vec<Step>,
}
