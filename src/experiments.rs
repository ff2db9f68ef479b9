//! Experiments: a grid of sampling settings, experts per token and intervention sets, run
//! on one engine, measured, compared, saved and plotted. Engine-free and UI-free apart
//! from [`driver`], which speaks the engine's command and event types, and [`run`], which
//! starts an engine for headless use.
//!
//! - [`grid`]: the definition (TOML or flags) and the model shape it is checked against;
//! - [`plan`]: the grid checked and expanded into runs, ordered by experts per token;
//! - [`driver`]: a state machine that runs a plan on an engine, streaming traces to disk;
//! - [`metrics`], [`compare`], [`teacher`]: per-run metrics, run-vs-run comparisons,
//!   teacher-forced KL from the baseline;
//! - [`files`], [`plots`]: the folder's files and PNG charts;
//! - [`run`], [`cli`]: the headless command, `--rerun` included.

pub mod cli;
pub mod compare;
pub mod driver;
pub mod files;
pub mod grid;
pub mod metrics;
pub mod plan;
pub mod plots;
pub mod run;
pub mod stats_cmd;
pub mod teacher;

pub use driver::{Driver, Progress, RunResult};
pub use grid::{Grid, InterventionSet, ModelShape};
pub use plan::{plan, Plan, RunSpec};
