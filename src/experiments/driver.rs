//! Running a plan on one engine, as a state machine fed with the engine's events: the TUI
//! feeds it from its event loop, [`super::run::run_blocking`] from a plain loop. It asks for
//! a reload only when experts per token change (the plan is ordered by k), sends the run's
//! interventions and a cache reset before each run, streams every token to the run's trace
//! file, and keeps only the metrics in memory.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::metrics::{RunAccumulator, RunMetrics, Usage};
use super::plan::{Plan, RunSpec};
use crate::engine::{EngineCommand, EngineEvent, GenerateRequest};
use crate::routing::trace::TraceWriter;
use crate::transcript::{ChatMessage, ModelInfo, Role, StopReason};

/// One finished run: its settings, reply, metrics and where its trace is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    #[serde(flatten)]
    pub spec: RunSpec,
    pub reply: String,
    pub reply_tokens: Vec<u32>,
    pub prompt_tokens: Vec<u32>,
    pub stop: StopReason,
    #[serde(flatten)]
    pub metrics: RunMetrics,
    pub tokens_per_s: f64,
    pub wall_ms: f64,
    pub usage: Usage,
    /// The trace file, relative to the experiment's folder.
    pub trace: String,
    /// The engine's error, when the run failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Filled in after all runs (see `compare`).
    #[serde(flatten)]
    pub versus: Versus,
}

/// What the caller is told after each event.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// Run `index` (0-based) of `total` started.
    Started {
        index: usize,
        total: usize,
    },
    /// Tokens generated so far in the current run.
    Tokens {
        index: usize,
        tokens: usize,
    },
    /// The model is being loaded again with another k.
    Reloading {
        experts_used: u32,
    },
    Finished {
        index: usize,
        total: usize,
    },
}

enum Wait {
    Loaded,
    Reply,
    Idle,
}

struct Current {
    acc: RunAccumulator,
    trace: TraceWriter<BufWriter<File>>,
    trace_rel: String,
    started: Instant,
    /// The engine refused the run's interventions: the run is stopped and kept as failed.
    refused: Option<String>,
}

/// Drives one plan. Create with [`Driver::new`], send [`Driver::start`]'s commands, then
/// pass every engine event to [`Driver::on_event`] and send the commands it returns,
/// until [`Driver::is_done`].
pub struct Driver {
    plan: Plan,
    dir: PathBuf,
    loaded_k: u32,
    first_generation: u64,
    next: usize,
    wait: Wait,
    current: Option<Current>,
    cancelled: bool,
    pub results: Vec<RunResult>,
    /// Set when the engine failed to load the model again; the experiment stops.
    pub fatal: Option<String>,
}

impl Driver {
    /// `dir` is the experiment's folder (traces go to `dir/traces/`); `info` is the model
    /// as loaded now; `first_generation` is the first generation number to use (runs take
    /// consecutive ones).
    pub fn new(
        plan: Plan,
        dir: &Path,
        info: &ModelInfo,
        first_generation: u64,
    ) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir.join("traces"))?;
        Ok(Driver {
            plan,
            dir: dir.to_path_buf(),
            loaded_k: info.n_expert_used,
            first_generation,
            next: 0,
            wait: Wait::Idle,
            current: None,
            cancelled: false,
            results: Vec::new(),
            fatal: None,
        })
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn is_done(&self) -> bool {
        matches!(self.wait, Wait::Idle) && (self.next >= self.plan.runs.len() || self.cancelled)
            || self.fatal.is_some()
    }

    pub fn was_cancelled(&self) -> bool {
        self.cancelled
    }

    fn generation(&self, index: usize) -> u64 {
        self.first_generation + index as u64
    }

    /// The commands that begin the experiment.
    pub fn start(&mut self, progress: &mut dyn FnMut(Progress)) -> Vec<EngineCommand> {
        self.advance(progress)
    }

    /// Stop after the run in flight: it is cancelled and not kept; finished runs stay.
    pub fn cancel(&mut self) -> Vec<EngineCommand> {
        self.cancelled = true;
        match self.wait {
            Wait::Reply => vec![EngineCommand::Cancel {
                generation: self.generation(self.next.saturating_sub(1)),
            }],
            _ => Vec::new(),
        }
    }

    /// Start the next run, or ask for a reload first.
    fn advance(&mut self, progress: &mut dyn FnMut(Progress)) -> Vec<EngineCommand> {
        if self.cancelled || self.next >= self.plan.runs.len() {
            self.wait = Wait::Idle;
            return Vec::new();
        }
        let spec = self.plan.runs[self.next].clone();
        if spec.experts_used != self.loaded_k {
            self.wait = Wait::Loaded;
            progress(Progress::Reloading {
                experts_used: spec.experts_used,
            });
            return vec![EngineCommand::Reload {
                experts_used: Some(spec.experts_used),
            }];
        }
        let trace_rel = format!("traces/{}.jsonl", spec.id);
        let file = match File::create(self.dir.join(&trace_rel)) {
            Ok(f) => f,
            Err(e) => {
                self.fatal = Some(format!("cannot create the trace {trace_rel}: {e}"));
                return Vec::new();
            }
        };
        self.current = Some(Current {
            acc: RunAccumulator::default(),
            trace: TraceWriter::new(BufWriter::new(file)),
            trace_rel,
            started: Instant::now(),
            refused: None,
        });
        let index = self.next;
        self.next += 1;
        self.wait = Wait::Reply;
        progress(Progress::Started {
            index,
            total: self.plan.runs.len(),
        });
        let grid = &self.plan.grid;
        vec![
            EngineCommand::SetInterventions(spec.interventions.clone()),
            EngineCommand::Reset,
            EngineCommand::Generate {
                generation: self.generation(index),
                request: GenerateRequest {
                    messages: vec![ChatMessage {
                        role: Role::User,
                        content: grid.prompt.clone(),
                    }],
                    raw: grid.raw,
                    max_tokens: grid.max_tokens,
                    params: spec.params(),
                },
            },
        ]
    }

    fn trace_error(&mut self, e: std::io::Error) {
        self.fatal = Some(format!("cannot write a trace file: {e}"));
    }

    /// Feed one engine event; returns the commands to send next.
    pub fn on_event(
        &mut self,
        ev: &EngineEvent,
        progress: &mut dyn FnMut(Progress),
    ) -> Vec<EngineCommand> {
        let index = self.next.saturating_sub(1);
        let ours = |g: &u64| *g == self.generation(index);
        match (ev, &self.wait) {
            (EngineEvent::Loaded(info), Wait::Loaded) => {
                self.loaded_k = info.n_expert_used;
                let want = self.plan.runs.get(self.next).map(|r| r.experts_used);
                if want != Some(self.loaded_k) {
                    self.fatal = Some(format!(
                        "the model loaded with k = {} instead of {:?}",
                        self.loaded_k, want
                    ));
                    return Vec::new();
                }
                self.advance(progress)
            }
            (EngineEvent::LoadFailed(e), Wait::Loaded) => {
                self.fatal = Some(format!("loading the model again failed: {e}"));
                self.wait = Wait::Idle;
                Vec::new()
            }
            (EngineEvent::Prompt { generation, tokens }, Wait::Reply) if ours(generation) => {
                // A refused run keeps nothing of a reply made under other interventions.
                if let Some(c) = self.current.as_mut().filter(|c| c.refused.is_none()) {
                    c.acc.prompt(tokens);
                    if let Err(e) = tokens.iter().try_for_each(|t| c.trace.write(t)) {
                        self.trace_error(e);
                    }
                }
                Vec::new()
            }
            (EngineEvent::Token { generation, token }, Wait::Reply) if ours(generation) => {
                if let Some(c) = self.current.as_mut().filter(|c| c.refused.is_none()) {
                    c.acc.token(token);
                    let n = c.acc.reply_ids.len();
                    if let Err(e) = c.trace.write(token) {
                        self.trace_error(e);
                    }
                    progress(Progress::Tokens { index, tokens: n });
                }
                Vec::new()
            }
            // The engine refuses what the plan could not check (the model's gating function):
            // fatal for this run only. The reply already queued is cancelled; the next run
            // sends its own interventions.
            (EngineEvent::InterventionsRefused { message }, Wait::Reply) => {
                match self.current.as_mut() {
                    Some(c) if c.refused.is_none() => {
                        c.refused = Some(format!("interventions refused: {message}"));
                        vec![EngineCommand::Cancel {
                            generation: self.generation(index),
                        }]
                    }
                    _ => Vec::new(),
                }
            }
            (EngineEvent::Tail { generation, text }, Wait::Reply) if ours(generation) => {
                if let Some(c) = self.current.as_mut() {
                    c.acc.tail(text);
                }
                Vec::new()
            }
            (
                EngineEvent::Done {
                    generation,
                    reason,
                    stats,
                },
                Wait::Reply,
            ) if ours(generation) => {
                self.finish(index, *reason, stats.decode_tokens_per_s(), None);
                progress(Progress::Finished {
                    index,
                    total: self.plan.runs.len(),
                });
                self.advance(progress)
            }
            (
                EngineEvent::Error {
                    generation,
                    message,
                },
                Wait::Reply,
            ) if ours(generation) => {
                self.finish(index, StopReason::Cancelled, 0.0, Some(message.clone()));
                self.advance(progress)
            }
            _ => Vec::new(),
        }
    }

    fn finish(&mut self, index: usize, stop: StopReason, tps: f64, error: Option<String>) {
        let Some(mut c) = self.current.take() else {
            return;
        };
        let error = c.refused.take().or(error);
        let wall_ms = c.started.elapsed().as_secs_f64() * 1000.0;
        if let Err(e) = c.trace.finish() {
            self.trace_error(e);
        }
        // A run stopped by cancelling the experiment is incomplete: not kept.
        if stop == StopReason::Cancelled && error.is_none() && self.cancelled {
            let _ = std::fs::remove_file(self.dir.join(&c.trace_rel));
            return;
        }
        let spec = self.plan.runs[index].clone();
        self.results.push(RunResult {
            spec,
            metrics: c.acc.metrics(),
            reply: c.acc.reply,
            reply_tokens: c.acc.reply_ids,
            prompt_tokens: c.acc.prompt_ids,
            stop,
            tokens_per_s: tps,
            wall_ms,
            usage: c.acc.usage,
            trace: c.trace_rel,
            error,
            versus: Default::default(),
        });
    }
}

/// A run measured against its baseline run (all None for a baseline run itself).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Versus {
    /// Mean over the reply's tokens of KL(baseline || run), nats per token, of the raw
    /// next-token distributions, both models reading the baseline run's reply.
    #[serde(default)]
    pub kl_baseline: Option<f64>,
    /// Why `kl_baseline` is missing, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kl_note: Option<String>,
    /// Mean over MoE layers of the Jensen-Shannon distance of expert usage (0..=1).
    #[serde(default)]
    pub js_baseline: Option<f64>,
    /// Tokens the two replies share from the start.
    #[serde(default)]
    pub shared_prefix_baseline: Option<usize>,
    /// Jaccard similarity of the replies' token bigrams.
    #[serde(default)]
    pub overlap_baseline: Option<f64>,
}
