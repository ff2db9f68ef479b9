//! The condition language of `task` steps: comparisons of live app state with literals,
//! joined by `&&`, e.g. `temperature > 1.2`, `selected.phase == "prompt"`,
//! `pane == "routing" && replies >= 2`.
//!
//! The names a condition may use are the [`Var`] table: `lessons check` rejects any other
//! name, a string value a name never takes, and an operator its type does not support.

use std::fmt;

/// A value a condition compares.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Num(f64),
    Str(String),
    Bool(bool),
}

/// The type of a [`Var`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Num,
    /// A string taking only these values.
    Str(&'static [&'static str]),
    Bool,
}

macro_rules! vars {
    ($($v:ident $name:literal $ty:expr, $help:literal;)*) => {
        /// Every name a condition can use, with its type and what it means.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Var { $($v),* }

        impl Var {
            pub const ALL: &'static [Var] = &[$(Var::$v),*];
            pub fn name(self) -> &'static str { match self { $(Var::$v => $name),* } }
            pub fn ty(self) -> Ty { match self { $(Var::$v => $ty),* } }
            pub fn help(self) -> &'static str { match self { $(Var::$v => $help),* } }
        }
    };
}

vars! {
    Temperature "temperature" Ty::Num, "sampling temperature (F5/F6, /temp)";
    TopP "top_p" Ty::Num, "nucleus cut-off (F7/F8, /top_p)";
    Seed "seed" Ty::Num, "sampling seed (/seed)";
    Pane "pane" Ty::Str(crate::pane::Pane::SIDE_NAMES), "the side pane F2 shows";
    StripMode "strip_mode" Ty::Str(&["top_expert", "entropy"]), "what the token strip colours show (F3)";
    Preference "preference" Ty::Bool, "routing pane shows the router preference (F4)";
    Layer "layer" Ty::Num, "model layer the routing pane marks with ▶ (Alt+PgUp/PgDn), as labelled: L1 = 1";
    SelectedPhase "selected.phase" Ty::Str(&["prompt", "generated", "none"]), "whether the selected token was read (prompt) or written (generated)";
    SelectedPos "selected.pos" Ty::Num, "position of the selected token in the context (-1: none)";
    Following "following" Ty::Bool, "the selection follows the newest token (Alt+End)";
    Replies "replies" Ty::Num, "finished model replies in the conversation";
    Messages "messages" Ty::Num, "messages the learner sent in the conversation";
    Generating "generating" Ty::Bool, "a reply is being written";
    ExpertsUsed "experts_used" Ty::Num, "experts each token uses (k; --experts-used)";
    Experts "experts" Ty::Num, "routed experts per MoE layer (0: a dense model)";
    HelpOpen "help_open" Ty::Bool, "the help overlay is open (F1)";
    Lang "lang" Ty::Str(&["en", "zh-CN"]), "the lesson language (F10)";
    ExperimentDone "experiment_done" Ty::Bool, "the experiments overlay (F11) is open with a finished experiment's results";
    LensShown "lens_shown" Ty::Bool, "the layer lens (Alt+L, /lens) shows its rows for the selected token";
}

impl Var {
    pub fn parse(name: &str) -> Option<Var> {
        Var::ALL.iter().copied().find(|v| v.name() == name)
    }
}

/// The live state conditions are evaluated over; the app fills it in.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LiveState {
    pub temperature: f32,
    pub top_p: f32,
    pub seed: u64,
    pub pane: &'static str,
    pub strip_mode: &'static str,
    pub preference: bool,
    pub layer: Option<u32>,
    pub selected_phase: &'static str,
    pub selected_pos: Option<u32>,
    pub following: bool,
    pub replies: usize,
    pub messages: usize,
    pub generating: bool,
    pub experts_used: u32,
    pub experts: u32,
    pub help_open: bool,
    pub lang: &'static str,
    pub experiment_done: bool,
    pub lens_shown: bool,
}

impl LiveState {
    pub fn get(&self, var: Var) -> Value {
        let num = |x: f64| Value::Num(x);
        let s = |x: &str| Value::Str(x.to_string());
        match var {
            Var::Temperature => num(self.temperature as f64),
            Var::TopP => num(self.top_p as f64),
            Var::Seed => num(self.seed as f64),
            Var::Pane => s(self.pane),
            Var::StripMode => s(self.strip_mode),
            Var::Preference => Value::Bool(self.preference),
            Var::Layer => num(self.layer.map_or(-1.0, f64::from)),
            Var::SelectedPhase => s(self.selected_phase),
            Var::SelectedPos => num(self.selected_pos.map_or(-1.0, f64::from)),
            Var::Following => Value::Bool(self.following),
            Var::Replies => num(self.replies as f64),
            Var::Messages => num(self.messages as f64),
            Var::Generating => Value::Bool(self.generating),
            Var::ExpertsUsed => num(self.experts_used as f64),
            Var::Experts => num(self.experts as f64),
            Var::HelpOpen => Value::Bool(self.help_open),
            Var::Lang => s(self.lang),
            Var::ExperimentDone => Value::Bool(self.experiment_done),
            Var::LensShown => Value::Bool(self.lens_shown),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

/// One comparison: `var op value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Compare {
    pub var: Var,
    pub op: Op,
    pub value: Value,
}

/// A parsed, type-checked condition: all comparisons must hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub all: Vec<Compare>,
    pub source: String,
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Numbers on screen have two decimals, and f32 settings are not exact: compare with a
/// tolerance so `temperature > 1.2` does not hold at 1.2 + f32 noise.
const EPS: f64 = 1e-4;

impl Compare {
    pub fn holds(&self, state: &LiveState) -> bool {
        match (state.get(self.var), &self.value) {
            (Value::Num(a), Value::Num(b)) => match self.op {
                Op::Eq => (a - b).abs() < EPS,
                Op::Ne => (a - b).abs() >= EPS,
                Op::Lt => a < b - EPS,
                Op::Le => a < b + EPS,
                Op::Gt => a > b + EPS,
                Op::Ge => a > b - EPS,
            },
            (a, b) => match self.op {
                Op::Eq => &a == b,
                Op::Ne => &a != b,
                _ => false,
            },
        }
    }
}

impl Condition {
    pub fn holds(&self, state: &LiveState) -> bool {
        self.all.iter().all(|c| c.holds(state))
    }

    /// Parse and type-check. Errors name the offending part.
    pub fn parse(src: &str) -> Result<Condition, String> {
        let parts: Vec<&str> = src.split("&&").collect();
        let mut all = Vec::new();
        for part in parts {
            all.push(parse_compare(part.trim())?);
        }
        Ok(Condition {
            all,
            source: src.trim().to_string(),
        })
    }
}

fn parse_compare(s: &str) -> Result<Compare, String> {
    if s.is_empty() {
        return Err("empty comparison (expected e.g. `temperature > 1.2`)".into());
    }
    let ops = [
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("<", Op::Lt),
        (">", Op::Gt),
    ];
    let Some((at, sym, op)) = ops
        .iter()
        .filter_map(|(sym, op)| s.find(sym).map(|i| (i, *sym, *op)))
        .min_by_key(|(i, sym, _)| (*i, usize::MAX - sym.len()))
    else {
        return Err(format!(
            "`{s}`: no comparison operator (use == != < <= > >=)"
        ));
    };
    let name = s[..at].trim();
    let lit = s[at + sym.len()..].trim();
    let var = Var::parse(name).ok_or_else(|| {
        let known: Vec<&str> = Var::ALL.iter().map(|v| v.name()).collect();
        format!("unknown name `{name}` (known: {})", known.join(", "))
    })?;
    let value = parse_literal(lit)
        .ok_or_else(|| format!("`{lit}` is not a value (a number, a \"string\", true or false)"))?;
    match (var.ty(), &value) {
        (Ty::Num, Value::Num(_)) => {}
        (Ty::Bool, Value::Bool(_)) | (Ty::Str(_), Value::Str(_))
            if matches!(op, Op::Eq | Op::Ne) => {}
        (Ty::Bool, Value::Bool(_)) | (Ty::Str(_), Value::Str(_)) => {
            return Err(format!(
                "`{name}` can only be compared with == or !=, not {}",
                op.symbol()
            ))
        }
        (ty, _) => {
            return Err(format!(
                "`{name}` is {}, but `{lit}` is not",
                match ty {
                    Ty::Num => "a number",
                    Ty::Str(_) => "a string",
                    Ty::Bool => "true or false",
                }
            ))
        }
    }
    if let (Ty::Str(allowed), Value::Str(v)) = (var.ty(), &value) {
        if !allowed.contains(&v.as_str()) {
            let quoted: Vec<String> = allowed.iter().map(|a| format!("\"{a}\"")).collect();
            return Err(format!(
                "`{name}` is never \"{v}\" (it is one of {})",
                quoted.join(", ")
            ));
        }
    }
    Ok(Compare { var, op, value })
}

fn parse_literal(s: &str) -> Option<Value> {
    match s {
        "true" => return Some(Value::Bool(true)),
        "false" => return Some(Value::Bool(false)),
        _ => {}
    }
    for q in ['"', '\''] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            return Some(Value::Str(s[1..s.len() - 1].to_string()));
        }
    }
    s.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .map(Value::Num)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> LiveState {
        LiveState {
            temperature: 1.2,
            top_p: 0.5,
            pane: "routing",
            strip_mode: "entropy",
            selected_phase: "prompt",
            replies: 2,
            experts_used: 2,
            lang: "en",
            ..LiveState::default()
        }
    }

    fn holds(src: &str) -> bool {
        Condition::parse(src)
            .map(|c| c.holds(&state()))
            .unwrap_or(false)
    }

    #[test]
    fn compares_with_a_tolerance() {
        assert!(!holds("temperature > 1.2"));
        assert!(holds("temperature >= 1.2"));
        assert!(holds("temperature == 1.2"));
        assert!(holds("top_p <= 0.5"));
        assert!(holds("replies >= 2 && experts_used == 2"));
        assert!(!holds("replies >= 2 && experts_used == 3"));
    }

    #[test]
    fn strings_and_bools() {
        assert!(holds("selected.phase == \"prompt\""));
        assert!(holds("pane == 'routing'"));
        assert!(holds("strip_mode != \"top_expert\""));
        assert!(holds("help_open == false"));
    }

    #[test]
    fn rejects_unknown_names_values_and_operators() {
        let err = |s: &str| Condition::parse(s).err().unwrap_or_default();
        assert!(err("temprature > 1").contains("unknown name `temprature`"));
        assert!(err("pane == \"routin\"").contains("never \"routin\""));
        assert!(err("pane > \"chat\"").contains("only be compared"));
        assert!(err("temperature == \"hot\"").contains("a number"));
        assert!(err("temperature").contains("no comparison operator"));
        assert!(err("temperature > 1 &&").contains("empty comparison"));
    }
}
