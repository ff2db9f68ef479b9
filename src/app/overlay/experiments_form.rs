//! The experiments overlay's form: one text field per list of the grid, edited in place,
//! turned into a [`Grid`] (and back, for a grid loaded from a file).
//!
//! Intervention sets are written with the slash commands' syntax, sets separated by `;`:
//! `ko: /knockout 1 3; pin: /force 2 0 /restrict 1 0 1 2 3`. A set `none` without rules
//! comes first whenever sets are given, so every set has a baseline.

use std::collections::BTreeMap;

use crate::experiments::grid::{decimal, InterventionSet};
use crate::experiments::Grid;
use crate::i18n::{tr, tr_with};

/// The fields, in screen order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Prompt,
    Temperature,
    TopP,
    Seed,
    ExpertsUsed,
    Sets,
    MaxTokens,
}

impl Field {
    pub const ALL: [Field; 7] = [
        Field::Prompt,
        Field::Temperature,
        Field::TopP,
        Field::Seed,
        Field::ExpertsUsed,
        Field::Sets,
        Field::MaxTokens,
    ];

    /// The message key of the field's label.
    pub fn label(self) -> &'static str {
        match self {
            Field::Prompt => "exp.field.prompt",
            Field::Temperature => "exp.field.temperature",
            Field::TopP => "exp.field.top_p",
            Field::Seed => "exp.field.seed",
            Field::ExpertsUsed => "exp.field.experts_used",
            Field::Sets => "exp.field.sets",
            Field::MaxTokens => "exp.field.max_tokens",
        }
    }
}

/// The form's text, one string per field, and the field being edited.
#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    pub values: [String; 7],
    pub focus: usize,
    /// Settings a loaded grid file has that the form has no field for (kept as loaded).
    pub raw: bool,
    pub baseline: Option<String>,
}

/// Intervention kinds by slash command, and the grid key each is written under.
const SLASH_KINDS: &[(&str, &str)] = &[
    ("/knockout", "knockout"),
    ("/ko", "knockout"),
    ("/force", "force"),
    ("/restrict", "restrict"),
];

fn join<T: ToString>(v: &[T]) -> String {
    v.iter().map(T::to_string).collect::<Vec<_>>().join(", ")
}

fn list<T: std::str::FromStr>(text: &str, what: &str, lang: &str) -> Result<Vec<T>, String> {
    text.split([',', ' '])
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim().parse().map_err(|_| {
                let got = format!("{:?}", s.trim());
                let args: [(&str, &dyn std::fmt::Display); 2] = [("what", &what), ("got", &got)];
                tr_with("notice.form_not_a_number", lang, &args)
            })
        })
        .collect()
}

/// One set's rules from slash commands: `/knockout 1 3 /force all 2`.
fn parse_set(name: &str, text: &str, lang: &str) -> Result<InterventionSet, String> {
    let set = format!("{name:?}");
    let mut rules: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut words = text.split_whitespace().peekable();
    while let Some(cmd) = words.next() {
        let kind = SLASH_KINDS
            .iter()
            .find(|(c, _)| *c == cmd)
            .map(|(_, k)| *k)
            .ok_or_else(|| {
                let cmd = format!("{cmd:?}");
                let args: [(&str, &dyn std::fmt::Display); 2] = [("set", &set), ("cmd", &cmd)];
                tr_with("notice.form_not_a_rule", lang, &args)
            })?;
        let layer = words
            .next()
            .filter(|w| !w.starts_with('/'))
            .ok_or_else(|| {
                let args: [(&str, &dyn std::fmt::Display); 2] = [("set", &set), ("cmd", &cmd)];
                tr_with("notice.form_needs_layer", lang, &args)
            })?;
        let mut experts = Vec::new();
        while let Some(e) = words.next_if(|w| !w.starts_with('/')) {
            experts.push(e);
        }
        if experts.is_empty() {
            let args: [(&str, &dyn std::fmt::Display); 3] =
                [("set", &set), ("cmd", &cmd), ("layer", &layer)];
            return Err(tr_with("notice.form_no_expert", lang, &args));
        }
        rules
            .entry(kind.to_string())
            .or_default()
            .push(format!("{layer}:{}", experts.join(",")));
    }
    Ok(InterventionSet {
        name: name.to_string(),
        rules,
    })
}

/// The sets field as grid sets (with `none` first when any are given).
pub fn parse_sets(text: &str, lang: &str) -> Result<Vec<InterventionSet>, String> {
    let mut sets = Vec::new();
    for part in text.split(';').filter(|p| !p.trim().is_empty()) {
        let (name, rules) = part.split_once(':').ok_or_else(|| {
            let part = format!("{:?}", part.trim());
            tr_with("notice.form_set_syntax", lang, &[("part", &part)])
        })?;
        let name = name.trim();
        if name.is_empty() {
            let part = format!("{:?}", part.trim());
            return Err(tr_with("notice.form_set_unnamed", lang, &[("part", &part)]));
        }
        sets.push(parse_set(name, rules, lang)?);
    }
    if !sets.is_empty() && !sets.iter().any(|s| s.rules.is_empty()) {
        sets.insert(
            0,
            InterventionSet {
                name: "none".into(),
                rules: BTreeMap::new(),
            },
        );
    }
    Ok(sets)
}

/// Grid sets written back in the form's syntax.
fn write_sets(sets: &[InterventionSet]) -> String {
    let slash = |kind: &str| match kind {
        "knockout" => "/knockout",
        "force" => "/force",
        _ => "/restrict",
    };
    sets.iter()
        .filter(|s| !s.rules.is_empty())
        .map(|s| {
            let rules: Vec<String> = s
                .rules
                .iter()
                .flat_map(|(kind, list)| {
                    list.iter()
                        .map(move |r| format!("{} {}", slash(kind), r.replace([':', ','], " ")))
                })
                .collect();
            format!("{}: {}", s.name, rules.join(" "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl Form {
    /// A form for `prompt` with the chat's sampling settings as single values.
    pub fn new(prompt: &str, params: crate::sampling::SamplingParams) -> Self {
        let mut g = Grid::new(prompt);
        g.temperature = vec![decimal(params.temperature)];
        g.top_p = vec![decimal(params.top_p)];
        g.seed = vec![params.seed];
        Self::from_grid(&g)
    }

    pub fn from_grid(g: &Grid) -> Self {
        Form {
            values: [
                g.prompt.clone(),
                join(&g.temperature),
                join(&g.top_p),
                join(&g.seed),
                join(&g.experts_used),
                write_sets(&g.interventions),
                g.max_tokens.to_string(),
            ],
            focus: 0,
            raw: g.raw,
            baseline: g.baseline.clone(),
        }
    }

    pub fn field(&self) -> Field {
        Field::ALL[self.focus.min(Field::ALL.len() - 1)]
    }

    pub fn value(&self, f: Field) -> &str {
        &self.values[f as usize]
    }

    pub fn focus_next(&mut self, forward: bool) {
        let n = Field::ALL.len();
        self.focus = if forward {
            (self.focus + 1) % n
        } else {
            (self.focus + n - 1) % n
        };
    }

    pub fn insert(&mut self, c: char) {
        if !c.is_control() {
            self.values[self.focus].push(c);
        }
    }

    pub fn backspace(&mut self) {
        self.values[self.focus].pop();
    }

    /// The grid the form describes, or what is wrong with it (in English).
    pub fn grid(&self) -> Result<Grid, String> {
        self.grid_in("en")
    }

    /// [`Form::grid`], saying what is wrong in `lang`.
    pub fn grid_in(&self, lang: &str) -> Result<Grid, String> {
        let mut g = Grid::new(self.value(Field::Prompt).trim());
        g.temperature = list(self.value(Field::Temperature), "temperature", lang)?;
        g.top_p = list(self.value(Field::TopP), "top_p", lang)?;
        g.seed = list(self.value(Field::Seed), "seed", lang)?;
        g.experts_used = list(
            self.value(Field::ExpertsUsed),
            &tr("notice.form_experts_per_token", lang),
            lang,
        )?;
        g.interventions = parse_sets(self.value(Field::Sets), lang)?;
        g.max_tokens = self
            .value(Field::MaxTokens)
            .trim()
            .parse()
            .map_err(|_| tr("notice.form_max_tokens", lang))?;
        g.raw = self.raw;
        g.baseline = self.baseline.clone();
        Ok(g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::{plan, ModelShape};

    const SHAPE: ModelShape = ModelShape {
        n_layer: 3,
        n_expert: 8,
        n_dense_lead: 1,
        k: 2,
    };

    #[test]
    fn fields_become_a_grid_with_slash_syntax_sets() {
        let mut f = Form::new("hi", crate::sampling::SamplingParams::default());
        f.values[Field::Temperature as usize] = "0.2, 1.0".into();
        f.values[Field::Seed as usize] = "1 2".into();
        f.values[Field::Sets as usize] =
            "ko: /knockout 1 3 /knockout all 5; pin: /force 2 0 /restrict 1 0 1 2 3".into();
        let g = f.grid().unwrap();
        assert_eq!(g.temperature, vec![0.2, 1.0]);
        assert_eq!(g.seed, vec![1, 2]);
        let names: Vec<&str> = g.interventions.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["none", "ko", "pin"]);
        assert_eq!(g.interventions[1].rules["knockout"], ["1:3", "all:5"]);
        assert_eq!(g.interventions[2].rules["restrict"], ["1:0,1,2,3"]);
        let p = plan(&g, &SHAPE).unwrap();
        assert_eq!(p.runs.len(), 2 * 2 * 3);
        // Written back and read again: the same grid.
        assert_eq!(Form::from_grid(&g).grid().unwrap(), g);
    }

    #[test]
    fn mistakes_are_named() {
        let bad = |sets: &str, want: &str| {
            let e = parse_sets(sets, "en").expect_err(want);
            assert!(e.contains(want), "{e:?} lacks {want:?}");
        };
        bad("ko /knockout 1 3", "write a set as NAME:");
        bad("ko: /drop 1 3", "is not /knockout, /force or /restrict");
        bad("ko: /knockout 1", "names no expert");
        bad(": /knockout 1 2", "has no name");
        let zh = parse_sets(": /knockout 1 2", "zh-CN").expect_err("unnamed");
        assert!(zh.contains("没有名字"), "{zh}");
        let mut f = Form::new("hi", crate::sampling::SamplingParams::default());
        f.values[Field::TopP as usize] = "0.9, x".into();
        assert!(f.grid().unwrap_err().contains("top_p: \"x\""));
    }
}
