//! `moe-tutor bench`: how fast the engine is with routing capture off and on, against
//! llama.cpp's own `llama-bench` on the same model file and thread count, measured in the
//! same run; how big routing records are; how long the routing heatmap and a whole frame
//! take to draw; and how long a key press waits for the next frame while a reply streams.
//!
//! Every speed is the best of several interleaved repetitions (other work on the machine
//! only ever slows a run down, so the best is the least disturbed), and the figures that
//! matter are ratios against a peer measured in the same run. The last line printed is
//! machine-readable ([`BenchReport`]'s `Display`).

mod engine_speed;
mod latency;
mod peer;
mod reply;
mod report;
mod ui;

use std::path::PathBuf;

pub use engine_speed::Speed;
pub use peer::{cached_llama_bench, ensure_llama_bench, PeerSpeed};
pub use reply::{peak_rss_mb, record_memory, reply_frames, RecordMemory, ReplyFrames};
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
        }
    }
}

/// Everything measured; `Display` is the machine-readable last line.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchReport {
    pub capture_off: Speed,
    pub capture_on: Speed,
    pub peer: Option<PeerSpeed>,
    /// Bytes of one token's routing record at 48 layers x 128 experts, k = 8.
    pub routing_bytes_per_token: usize,
    pub render: RenderTimes,
    /// One token arriving at the end of a 200- and a 4,000-token reply.
    pub reply: ReplyFrames,
    /// Peak memory around a 32k-token conversation's routing records (48 x 128).
    pub records: RecordMemory,
    /// Key press to the end of the next drawn frame while a reply streams: median, 95th
    /// percentile and the number of presses timed.
    pub key_to_frame_ms: f64,
    pub key_to_frame_p95_ms: f64,
    pub keys_timed: usize,
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (a > 0.0 && b > 0.0).then(|| a / b)
}

impl BenchReport {
    pub fn decode_on_vs_off(&self) -> Option<f64> {
        ratio(self.capture_on.decode_tps, self.capture_off.decode_tps)
    }
    pub fn decode_on_vs_peer(&self) -> Option<f64> {
        ratio(self.capture_on.decode_tps, self.peer.as_ref()?.tg_tps)
    }
    pub fn decode_off_vs_peer(&self) -> Option<f64> {
        ratio(self.capture_off.decode_tps, self.peer.as_ref()?.tg_tps)
    }
    /// Decode after the prompt, capture on, against llama-bench at the same depth.
    pub fn decode_deep_on_vs_peer(&self) -> Option<f64> {
        ratio(
            self.capture_on.decode_deep_tps,
            self.peer.as_ref()?.tg_deep_tps,
        )
    }
    pub fn prompt_on_vs_off(&self) -> Option<f64> {
        ratio(self.capture_on.prompt_tps, self.capture_off.prompt_tps)
    }
    pub fn prompt_off_vs_peer(&self) -> Option<f64> {
        ratio(self.capture_off.prompt_tps, self.peer.as_ref()?.pp_tps)
    }
}

/// Run every measurement; progress goes to `progress`, one line at a time.
pub fn run(opts: &BenchOptions, progress: &mut dyn FnMut(&str)) -> Result<BenchReport, String> {
    if !opts.model.is_file() {
        return Err(format!("no model file at {}", opts.model.display()));
    }
    // First, while the process is small: the peak memory the records add.
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
            let (pp, tg) = pair.sizes();
            Some(peer::run(
                bin,
                &opts.model,
                opts.threads,
                pp,
                tg,
                opts.reps,
            )?)
        }
        None => None,
    };
    progress("engine: second round");
    pair.round(half)?;
    let (capture_off, capture_on) = pair.best();
    drop(pair);

    progress("ui: routing records and render times (synthetic 48 x 128 model)");
    let routing_bytes_per_token = ui::routing_bytes_per_token();
    let render = ui::render_times(opts.frames);
    progress("ui: one more token at the end of a 200- and a 4,000-token reply");
    let reply = reply::reply_frames(opts.frames);

    progress("ui: key presses while a reply streams");
    let lat = latency::measure(opts)?;
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
    })
}

/// A synthetic MoE the size of the default model (a DeepSeekMoE-style SmolLM2-135M: 30
/// layers, n_embd 576, 9 heads / 3 KV heads, 16 routed experts of 64, 4 used, 8 shared),
/// random f16 weights and the tiny vocabulary; written once into the data directory.
pub fn synthetic_moe() -> Result<PathBuf, String> {
    let dir = crate::paths::data_dir().join("bench");
    let path = dir.join("synthetic-moe-30x16.gguf");
    if path.is_file() {
        return Ok(path);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
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
    let tmp = dir.join(format!(".synthetic-{}.gguf", std::process::id()));
    crate::model::tiny::write(&tmp, &spec).map_err(|e| format!("{e:#}"))?;
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
    fn last_line_says_na_without_a_peer() {
        let sp = Speed {
            prompt_tps: 100.0,
            decode_tps: 50.0,
            decode_deep_tps: 45.0,
            prompt_tokens: 64,
            gen_tokens: 64,
            llama_ms_per_token: 18.0,
            sample_ms_per_token: 0.5,
            ms_per_token: 20.0,
        };
        let r = BenchReport {
            capture_off: sp.clone(),
            capture_on: Speed {
                decode_tps: 49.0,
                ..sp
            },
            peer: None,
            routing_bytes_per_token: 7824,
            render: RenderTimes {
                heatmap_ms: 1.0,
                frame_ms: 2.0,
                load_ms: 1.5,
                frames: 10,
            },
            reply: ReplyFrames {
                at_200_ms: 0.2,
                at_4000_ms: 0.25,
                full_4000_ms: 3.0,
                view_200_ms: 0.7,
                view_4000_ms: 1.1,
            },
            records: RecordMemory {
                tokens: 32_768,
                before_mb: 20.0,
                peak_mb: 300.4,
            },
            key_to_frame_ms: 17.0,
            key_to_frame_p95_ms: 33.0,
            keys_timed: 20,
        };
        let line = r.to_string();
        assert!(line.starts_with("capture_on_vs_off=0.980 capture_on_vs_llama_bench=na"));
        assert!(line.contains("routing_bytes_per_token=7824"));
        assert!(line.contains(
            "token_ms=20.000 token_llama_ms=18.000 token_sample_ms=0.500 token_engine_ms=1.500"
        ));
        assert!(line.contains("reply_frame_ratio=1.25 reply_frame_full_4000_ms=3.000"));
        assert!(
            line.ends_with("rss_before_records_mb=20 rss_peak_records_mb=300 record_tokens=32768")
        );
        assert!(!line.contains('\n'));
        let table = r.table();
        assert!(table.contains("at 4,000 tokens 0.250 ms (1.25x"), "{table}");
        assert!(table.contains("32768 tokens (48 x 128): 300 MB"), "{table}");
    }

    #[test]
    fn quantiles_use_nearest_rank() {
        let mut v = vec![5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(quantile(&mut v, 0.5), 3.0);
        assert_eq!(quantile(&mut v, 1.0), 5.0);
        assert_eq!(quantile(&mut [], 0.5), 0.0);
    }
}
