//! The peer: llama.cpp's own `llama-bench`, built once from the full llama.cpp tree inside
//! the PyPI source distribution of `llama-cpp-python` (fetched with the machine's own pip,
//! so its package-index settings apply) and cached in the data directory.

mod build;

use std::path::{Path, PathBuf};
use std::process::Command;

pub use build::ensure_llama_bench;

/// llama-bench's best prompt and generation rates.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerSpeed {
    /// Prompt processing from an empty cache.
    pub pp_tps: f64,
    /// Generation from an empty cache (llama-bench's usual `tg` figure).
    pub tg_tps: f64,
    /// Generation after `depth` tokens already in the cache (0 when llama-bench ran no
    /// deeper test).
    pub tg_deep_tps: f64,
    pub n_prompt: u32,
    pub n_gen: u32,
    pub depth: u32,
}

/// llama-bench as it ships: when the app chose the OpenMP wait setting for itself (see
/// `engine::threads`), the peer runs with the runtime's default instead.
fn peer_command(bin: &Path) -> Command {
    let mut cmd = Command::new(bin);
    if std::env::var_os(crate::engine::threads::CHOSEN_MARKER).is_some() {
        cmd.env_remove("GOMP_SPINCOUNT")
            .env_remove(crate::engine::threads::CHOSEN_MARKER);
    }
    cmd
}

pub(crate) fn peer_dir() -> PathBuf {
    crate::paths::data_dir().join("peer").join("llama-bench")
}

/// The cached llama-bench binary, if it was built before.
pub fn cached_llama_bench() -> Option<PathBuf> {
    let build = peer_dir().join("build");
    let p = build.join("bin").join("llama-bench");
    (p.is_file() && build.join(build::NO_AMX_STAMP).is_file()).then_some(p)
}

/// Parse llama-bench's `-o json` output: the best sample of the prompt test and of the
/// generation test from an empty cache, and of the generation test at the greatest depth
/// it ran (if any).
pub fn parse_json(text: &str) -> Result<PeerSpeed, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("llama-bench output: {e}"))?;
    let tests = v.as_array().ok_or("llama-bench output: not a JSON array")?;
    let mut out = PeerSpeed {
        pp_tps: 0.0,
        tg_tps: 0.0,
        tg_deep_tps: 0.0,
        n_prompt: 0,
        n_gen: 0,
        depth: 0,
    };
    for t in tests {
        let n_prompt = t["n_prompt"].as_u64().unwrap_or(0) as u32;
        let n_gen = t["n_gen"].as_u64().unwrap_or(0) as u32;
        let depth = t["n_depth"].as_u64().unwrap_or(0) as u32;
        let best = t["samples_ts"]
            .as_array()
            .map(|s| s.iter().filter_map(|x| x.as_f64()).fold(0.0, f64::max))
            .filter(|b| *b > 0.0)
            .or_else(|| t["avg_ts"].as_f64())
            .unwrap_or(0.0);
        match (n_prompt, n_gen) {
            (p, 0) if p > 0 && depth == 0 => (out.pp_tps, out.n_prompt) = (best, p),
            (0, g) if g > 0 && depth == 0 => (out.tg_tps, out.n_gen) = (best, g),
            (0, g) if g > 0 && depth >= out.depth => (out.tg_deep_tps, out.depth) = (best, depth),
            _ => {}
        }
    }
    if out.pp_tps <= 0.0 || out.tg_tps <= 0.0 {
        return Err("llama-bench output has no prompt or generation result".into());
    }
    Ok(out)
}

/// llama-bench's generation rates from an empty cache only (`-p 0`), one per repetition.
/// If it has not finished within `limit` (beside busy processes its threads can stall for
/// minutes), it is stopped and the rate it cannot have beaten is returned instead, with
/// `bounded` set: its one-token warm-up and `reps` runs of `tg` tokens over the time taken.
pub fn tg_rates(
    bin: &Path,
    model: &Path,
    threads: i32,
    tg: u32,
    reps: u32,
    limit: std::time::Duration,
) -> Result<(Vec<f64>, bool), String> {
    use std::io::Read;
    let t0 = std::time::Instant::now();
    let mut child = peer_command(bin)
        .arg("-m")
        .arg(model)
        .args(["-t", &threads.max(1).to_string()])
        .args(["-p", "0", "-n", &tg.max(1).to_string()])
        .args(["-r", &reps.max(1).to_string(), "-o", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    // Its JSON is small and comes at the end: read it on a thread so the pipe never fills.
    let mut stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(out) = stdout.as_mut() {
            let _ = out.read_to_end(&mut s);
        }
        s
    });
    let status = loop {
        if let Some(st) = child.try_wait().map_err(|e| format!("llama-bench: {e}"))? {
            break st;
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let tokens = 1.0 + f64::from(reps.max(1)) * f64::from(tg.max(1));
            return Ok((vec![tokens / t0.elapsed().as_secs_f64()], true));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let out = reader.join().unwrap_or_default();
    if !status.success() {
        return Err(format!("llama-bench failed ({status})"));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out).map_err(|e| format!("llama-bench output: {e}"))?;
    let rates: Vec<f64> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["n_gen"].as_u64().unwrap_or(0) > 0)
        .flat_map(|t| {
            t["samples_ts"]
                .as_array()
                .map(|s| s.iter().filter_map(|x| x.as_f64()).collect::<Vec<_>>())
                .unwrap_or_else(|| t["avg_ts"].as_f64().into_iter().collect())
        })
        .collect();
    if rates.is_empty() {
        return Err("llama-bench output has no generation result".into());
    }
    Ok((rates, false))
}

/// Run llama-bench on `model` with `threads` threads: `pp` prompt tokens, and `tg`
/// generated tokens both from an empty cache and after `pp` tokens (as the engine's two
/// kinds of decode run).
pub fn run(
    bin: &Path,
    model: &Path,
    threads: i32,
    gpu_layers: Option<u32>,
    pp: u32,
    tg: u32,
    reps: u32,
) -> Result<PeerSpeed, String> {
    let mut cmd = peer_command(bin);
    if let Some(n) = gpu_layers {
        cmd.args(["-ngl", &n.to_string()]);
    }
    let out = cmd
        .arg("-m")
        .arg(model)
        .args(["-t", &threads.max(1).to_string()])
        .args(["-p", &pp.to_string(), "-n", &tg.to_string()])
        .args(["-d", &format!("0,{pp}")])
        .args(["-r", &reps.max(1).to_string(), "-o", "json"])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(format!(
            "llama-bench failed ({}): {}",
            out.status,
            crate::text::sanitize(last)
        ));
    }
    parse_json(&String::from_utf8_lossy(&out.stdout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_llama_bench_json() {
        let text = r#"[
          {"n_prompt": 64, "n_gen": 0, "n_depth": 0, "avg_ts": 350.0, "samples_ts": [340.0, 355.5, 352.0]},
          {"n_prompt": 0, "n_gen": 64, "n_depth": 0, "avg_ts": 140.0, "samples_ts": [139.0, 144.25]},
          {"n_prompt": 64, "n_gen": 0, "n_depth": 64, "avg_ts": 300.0, "samples_ts": [301.0]},
          {"n_prompt": 0, "n_gen": 64, "n_depth": 64, "avg_ts": 130.0, "samples_ts": [131.5, 129.0]}
        ]"#;
        let p = parse_json(text).unwrap();
        assert_eq!(p.pp_tps, 355.5);
        assert_eq!(p.tg_tps, 144.25);
        assert_eq!(p.tg_deep_tps, 131.5);
        assert_eq!((p.n_prompt, p.n_gen, p.depth), (64, 64, 64));
        // An older llama-bench without depths: generation from an empty cache only.
        let old = r#"[
          {"n_prompt": 64, "n_gen": 0, "avg_ts": 350.0},
          {"n_prompt": 0, "n_gen": 64, "avg_ts": 140.0}
        ]"#;
        let p = parse_json(old).unwrap();
        assert_eq!((p.tg_tps, p.tg_deep_tps, p.depth), (140.0, 0.0, 0));
        assert!(parse_json("[]").is_err());
        assert!(parse_json("not json").is_err());
    }
}
