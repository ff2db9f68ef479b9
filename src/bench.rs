//! `moe-tutor bench`: how fast the engine is with routing capture off and on, against
//! llama.cpp's own `llama-bench` on the same model file and thread count, measured in the
//! same run; how big routing records are; how long the routing heatmap and a whole frame
//! take to draw; how long a key press waits for the next frame while a reply streams; how
//! long the app takes from launch to a ready prompt and how much memory it holds while
//! chatting; and, with `--background-load N`, decode speed beside N busy processes.
//!
//! Every speed is the best of several interleaved repetitions (other work on the machine
//! only ever slows a run down, so the best is the least disturbed), and the figures that
//! matter are ratios against a peer measured in the same run. The last line printed is
//! machine-readable ([`BenchReport`]'s `Display`).

mod engine_speed;
mod latency;
mod load;
mod peer;
mod reply;
mod report;
mod startup;
mod ui;

use std::ffi::OsString;
use std::path::PathBuf;

pub use engine_speed::Speed;
pub use load::{BusyLoad, Contention};
pub use peer::{cached_llama_bench, ensure_llama_bench, PeerSpeed};
pub use reply::{peak_rss_mb, RecordMemory, ReplyFrames};
pub use report::{BenchReport, ModelSpeed};
pub use startup::{Startup, StartupOptions};
pub use ui::{synthetic_app, RenderTimes};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub model: PathBuf,
    pub threads: i32,
    /// Prompt tokens per prefill (about; the exact count is taken from the engine).
    pub prompt_tokens: u32,
    /// Tokens generated per decode run.
    pub gen_tokens: u32,
    /// Repetitions per configuration (each engine configuration runs twice this many, in
    /// two rounds around the peer).
    pub reps: u32,
    /// A `llama-bench` binary to use instead of the cached build.
    pub llama_bench: Option<PathBuf>,
    /// Skip the peer (no llama-bench build or run).
    pub no_peer: bool,
    /// Frames drawn per render timing.
    pub frames: u32,
    /// Seconds of streaming during which key presses are timed.
    pub latency_secs: f64,
    /// Experts per token for the engine runs (llama-bench always runs the file's own count).
    pub experts_used: Option<u32>,
    /// A LoRA adapter for the engine runs.
    pub lora: Option<PathBuf>,
    /// Busy processes to measure decode beside (0: no contention measurement).
    pub background_load: u32,
    /// Timed launches of the app to a ready prompt (0: none).
    pub startup_runs: u32,
    /// Launch the app on its built-in default model (no `--model`) rather than on `model`.
    pub startup_default_model: bool,
    /// `--gpu-layers` for the engine, llama-bench (`-ngl`) and the launched app alike;
    /// `None` leaves each at llama.cpp's default.
    pub gpu_layers: Option<u32>,
    /// Other model files whose decode speed is measured beside `model`'s, in the same
    /// rounds (engine, capture on) and in llama-bench.
    pub compare: Vec<CompareModel>,
}

/// A model file measured beside the main one (`--compare`, or the default model's
/// unadapted twin and dense teacher).
#[derive(Debug, Clone, PartialEq)]
pub struct CompareModel {
    /// A short name without spaces: the table's row and the last line's key.
    pub label: String,
    pub path: PathBuf,
    /// An adapter to load with it, as the app would.
    pub lora: Option<PathBuf>,
}

impl BenchOptions {
    pub fn new(model: impl Into<PathBuf>) -> Self {
        BenchOptions {
            model: model.into(),
            threads: 2,
            prompt_tokens: 64,
            gen_tokens: 64,
            reps: 3,
            llama_bench: None,
            no_peer: false,
            frames: 200,
            experts_used: None,
            lora: None,
            latency_secs: 4.0,
            background_load: 0,
            startup_runs: 3,
            startup_default_model: false,
            gpu_layers: None,
            compare: Vec::new(),
        }
    }

    /// The app's command line for the start-up measurement: the same model (or the
    /// default), threads, experts and adapter as the engine runs.
    fn app_args(&self) -> Vec<OsString> {
        let mut v: Vec<OsString> = Vec::new();
        if !self.startup_default_model {
            v.push("--model".into());
            v.push(self.model.clone().into());
        }
        v.push("--threads".into());
        v.push(self.threads.to_string().into());
        if let Some(n) = self.gpu_layers {
            v.push("--gpu-layers".into());
            v.push(n.to_string().into());
        }
        if let Some(k) = self.experts_used {
            v.push("--experts-used".into());
            v.push(k.to_string().into());
        }
        if let Some(l) = &self.lora {
            v.push("--lora".into());
            v.push(l.clone().into());
        }
        v.extend(["--max-tokens", "48"].map(OsString::from));
        v
    }
}

/// Run every measurement; progress goes to `progress`, one line at a time.
pub fn run(opts: &BenchOptions, progress: &mut dyn FnMut(&str)) -> Result<BenchReport, String> {
    if !opts.model.is_file() {
        return Err(format!("no model file at {}", opts.model.display()));
    }
    for m in &opts.compare {
        if !m.path.is_file() {
            return Err(format!(
                "{}: no model file at {}",
                m.label,
                m.path.display()
            ));
        }
    }
    // First, while the process is small: the peak memory routing records add.
    progress("ui: routing records of a 32k-token conversation (48 x 128), peak memory");
    let records = reply::record_memory();
    let peer_bin = if opts.no_peer {
        None
    } else {
        Some(match &opts.llama_bench {
            Some(p) if p.is_file() => p.clone(),
            Some(p) => return Err(format!("no llama-bench at {}", p.display())),
            None => ensure_llama_bench(progress)?,
        })
    };

    progress("engine: loading the model twice (capture off, capture on)");
    let mut pair = engine_speed::Pair::load(opts)?;
    let half = opts.reps.div_ceil(2).max(1);
    progress("engine: first round");
    pair.round(half)?;
    let peer = match &peer_bin {
        Some(bin) => {
            progress("llama-bench: same model file, same threads");
            Some(peer_run(opts, bin, &opts.model, pair.sizes())?)
        }
        None => None,
    };
    progress("engine: second round");
    pair.round(half)?;
    let (capture_off, capture_on) = pair.best();
    let models = if opts.compare.is_empty() {
        Vec::new()
    } else {
        let (pp, tg) = pair.sizes();
        let prompt = pair.prompt().to_string();
        drop(pair);
        compare_models(opts, peer_bin.as_deref(), &prompt, (pp, tg), progress)?
    };

    progress("ui: routing records and render times (synthetic 48 x 128 model)");
    let routing_bytes_per_token = ui::routing_bytes_per_token();
    let render = ui::render_times(opts.frames);
    progress("ui: one more token at the end of a 200- and a 4,000-token reply");
    let reply = reply::reply_frames(opts.frames);

    progress("ui: key presses while a reply streams");
    let lat = latency::measure(opts)?;

    let startup = if opts.startup_runs > 0 {
        progress("startup: launching the app to a ready prompt, then one short chat");
        let exe = std::env::current_exe().map_err(|e| format!("startup: {e}"))?;
        Some(startup::measure(&StartupOptions {
            exe,
            args: opts.app_args(),
            runs: opts.startup_runs,
        })?)
    } else {
        None
    };
    let contention = if opts.background_load > 0 {
        let tg = capture_on.gen_tokens.max(opts.gen_tokens.min(64)).max(8);
        Some(load::measure(opts, peer_bin.as_deref(), tg, progress)?)
    } else {
        None
    };
    Ok(BenchReport {
        capture_off,
        capture_on,
        peer,
        routing_bytes_per_token,
        render,
        reply,
        records,
        key_to_frame_ms: lat.median_ms,
        key_to_frame_p95_ms: lat.p95_ms,
        keys_timed: lat.count,
        startup,
        contention,
        models,
    })
}

/// llama-bench on `model` at `(prompt, generated)` tokens, with the bench's threads, GPU
/// layers and repetitions.
fn peer_run(
    opts: &BenchOptions,
    bin: &std::path::Path,
    model: &std::path::Path,
    (pp, tg): (u32, u32),
) -> Result<PeerSpeed, String> {
    peer::run(bin, model, opts.threads, opts.gpu_layers, pp, tg, opts.reps)
}

/// The main model and `opts.compare`: decode in the engine round by round, then each file
/// in llama-bench.
fn compare_models(
    opts: &BenchOptions,
    peer_bin: Option<&std::path::Path>,
    prompt: &str,
    (pp, tg): (u32, u32),
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<ModelSpeed>, String> {
    let mut list = vec![CompareModel {
        label: if opts.startup_default_model {
            "default"
        } else {
            "measured"
        }
        .into(),
        path: opts.model.clone(),
        lora: opts.lora.clone(),
    }];
    list.extend(opts.compare.iter().cloned());
    let names: Vec<&str> = list.iter().map(|m| m.label.as_str()).collect();
    progress(&format!(
        "models: decode, capture on, one file after another, {} rounds: {}",
        opts.reps.max(1),
        names.join(", ")
    ));
    let rates = engine_speed::compare(opts, &list, prompt, opts.reps)?;
    let mut out = Vec::new();
    for (m, (tps, deep)) in list.iter().zip(rates) {
        // Every file again, the measured one included, one after another: the same
        // machine for all of them.
        let peer_speed = match peer_bin {
            Some(bin) => {
                progress(&format!("llama-bench: {}, same threads", m.label));
                Some(peer_run(opts, bin, &m.path, (pp, tg))?)
            }
            None => None,
        };
        out.push(ModelSpeed {
            label: m.label.clone(),
            file: m
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            decode_tps: tps,
            decode_deep_tps: deep,
            peer: peer_speed,
        });
    }
    Ok(out)
}

/// A synthetic MoE the size of the default model (a DeepSeekMoE-style SmolLM2-135M: 30
/// layers, n_embd 576, 9 heads / 3 KV heads, 16 routed experts of 64, 4 used, 8 shared),
/// random f16 weights and the tiny vocabulary; written once into the data directory.
pub fn synthetic_moe() -> Result<PathBuf, String> {
    let spec = crate::model::tiny::TinySpec {
        n_layer: 30,
        n_dense_lead: 1,
        n_embd: 576,
        n_head: 9,
        n_head_kv: 3,
        n_ff: 1536,
        n_expert: 16,
        n_expert_used: 4,
        n_expert_shared: 8,
        n_ff_exp: 64,
        n_ctx: 2048,
        ..crate::model::tiny::TinySpec::default()
    };
    write_synthetic("synthetic-moe-30x16.gguf", &spec)
}

/// A synthetic MoE of about 1.3 billion parameters, for GPU builds: 16 layers (the first
/// dense), n_embd 1024, 16 heads / 4 KV heads, 64 routed experts of width 384 with 8 used
/// per token and 2 shared, random f16 weights (2.6 GB) and the tiny vocabulary; written
/// once into the data directory.
pub fn synthetic_moe_large() -> Result<PathBuf, String> {
    let spec = crate::model::tiny::TinySpec {
        n_layer: 16,
        n_dense_lead: 1,
        n_embd: 1024,
        n_head: 16,
        n_head_kv: 4,
        n_ff: 2816,
        n_expert: 64,
        n_expert_used: 8,
        n_expert_shared: 2,
        n_ff_exp: 384,
        n_ctx: 2048,
        ..crate::model::tiny::TinySpec::default()
    };
    write_synthetic("synthetic-moe-16x64.gguf", &spec)
}

fn write_synthetic(name: &str, spec: &crate::model::tiny::TinySpec) -> Result<PathBuf, String> {
    let dir = crate::paths::data_dir().join("bench");
    let path = dir.join(name);
    if path.is_file() {
        return Ok(path);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let tmp = dir.join(format!(".synthetic-{}.gguf", std::process::id()));
    crate::model::tiny::write(&tmp, spec).map_err(|e| format!("{e:#}"))?;
    std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// The median and the q-quantile (nearest rank) of `v`; 0 for an empty slice.
pub(crate) fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let i = ((v.len() as f64 - 1.0) * q).round() as usize;
    v[i.min(v.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_nearest_rank() {
        let mut v = vec![5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(quantile(&mut v, 0.5), 3.0);
        assert_eq!(quantile(&mut v, 1.0), 5.0);
        assert_eq!(quantile(&mut [], 0.5), 0.0);
    }
}
