//! Sampling's plain data: the settings (temperature, top_p, seed) and the snapshot of a
//! step's candidate distribution that the UI and traces show. The numeric kernel that
//! draws a token is in `kernel`.
//!
//! Implemented in plain Rust over the logits (not llama.cpp's sampler chain) so that each
//! stage of the distribution can be observed and the settings can change between tokens.

mod kernel;
mod rng;

use serde::{Deserialize, Serialize};

pub use kernel::sample;
pub use rng::SplitMix64;

/// How many candidates a snapshot keeps (sorted by raw logit).
pub const SNAPSHOT_CANDIDATES: usize = 16;

/// Sampling settings. Temperature 0 means greedy (always the most likely token).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SamplingParams {
    pub temperature: f32,
    pub top_p: f32,
    pub seed: u64,
}

impl Default for SamplingParams {
    fn default() -> Self {
        SamplingParams {
            temperature: 0.7,
            top_p: 0.9,
            seed: 42,
        }
    }
}

impl SamplingParams {
    pub const TEMPERATURE_MAX: f32 = 2.0;
    pub const TEMPERATURE_STEP: f32 = 0.1;
    pub const TOP_P_STEP: f32 = 0.05;

    /// Clamp to the supported ranges (temperature 0..=2, top_p 0.05..=1) and round away
    /// floating-point drift from repeated steps.
    pub fn clamped(self) -> Self {
        let round = |x: f32| (x * 100.0).round() / 100.0;
        SamplingParams {
            temperature: round(self.temperature.clamp(0.0, Self::TEMPERATURE_MAX)),
            top_p: round(self.top_p.clamp(0.05, 1.0)),
            seed: self.seed,
        }
    }
}

/// One candidate token of a sampling step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub token_id: u32,
    pub text: String,
    pub logit: f32,
    /// Probability from the raw logits (temperature 1).
    pub p_raw: f32,
    /// Probability after temperature, before the top_p cut.
    pub p_temp: f32,
    /// Inside the top_p nucleus (could be drawn).
    pub in_nucleus: bool,
}

/// The candidate distribution of one sampling step and what was drawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepSnapshot {
    pub params: SamplingParams,
    /// The top candidates by raw logit, most likely first.
    pub candidates: Vec<Candidate>,
    /// Number of tokens inside the nucleus.
    pub nucleus_size: usize,
    pub chosen: u32,
    /// Probability of the chosen token in the distribution it was drawn from (after
    /// temperature and the top_p cut, renormalised).
    pub chosen_prob: f32,
    /// Probability of the chosen token from the raw logits.
    pub chosen_p_raw: f32,
}
