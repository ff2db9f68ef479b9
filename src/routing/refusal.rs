//! Why a set of router rules (knock out, force, restrict) does not fit a model: one value
//! per limit crossed, so the app can say it in the learner's language; `Display` gives the
//! English sentence the engine and the CLI use.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The model has no routed experts.
    NoExperts,
    /// `layer` is past the last layer, `last`.
    NoLayer { layer: u32, last: u32 },
    /// `layer` has no router; the MoE layers are `lead..=last`.
    DenseLayer { layer: u32, lead: u32, last: u32 },
    /// `expert` is past the last expert, `last`.
    NoExpert { layer: u32, expert: u16, last: u32 },
    /// `n` experts forced, but only `k` are chosen per token.
    TooManyForced { layer: u32, n: usize, k: u32 },
    /// `experts` (e.g. "e1 e2") are forced but also knocked out or not allowed.
    ForcedBlocked { layer: u32, experts: String },
    /// Only `left` of `n_expert` experts remain, fewer than `k`.
    TooFewLeft {
        layer: u32,
        left: u32,
        n_expert: u32,
        k: u32,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NoExperts => write!(f, "this model has no routed experts to intervene on"),
            Refusal::NoLayer { layer, last } => write!(
                f,
                "layer {layer} does not exist: this model has layers 0..{last}"
            ),
            Refusal::DenseLayer { layer, lead, last } => write!(
                f,
                "layer {layer} is dense (no router): the MoE layers are {lead}..{last}"
            ),
            Refusal::NoExpert {
                layer,
                expert,
                last,
            } => write!(
                f,
                "layer {layer}: expert {expert} does not exist: experts are 0..{last}"
            ),
            Refusal::TooManyForced { layer, n, k } => write!(
                f,
                "layer {layer}: {n} experts forced but only k = {k} are chosen per token"
            ),
            Refusal::ForcedBlocked { layer, experts } => write!(
                f,
                "layer {layer}: {experts} forced but also knocked out or outside the allowed set"
            ),
            Refusal::TooFewLeft {
                layer,
                left,
                n_expert,
                k,
            } => write!(
                f,
                "layer {layer}: only {left} of {n_expert} experts left to choose from, but each token needs k = {k}"
            ),
        }
    }
}
