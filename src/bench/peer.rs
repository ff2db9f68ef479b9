//! The peer: llama.cpp's own `llama-bench`, built once from the full llama.cpp tree inside
//! the PyPI source distribution of `llama-cpp-python` (fetched with the machine's own pip,
//! so its package-index settings apply) and cached in the data directory.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The source distribution that carries a full llama.cpp tree (with tools/llama-bench).
pub const SDIST: &str = "llama-cpp-python==0.3.36";
const SDIST_DIR: &str = "llama_cpp_python-0.3.36";

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

fn peer_dir() -> PathBuf {
    crate::paths::data_dir().join("peer").join("llama-bench")
}

/// The cached llama-bench binary, if it was built before.
pub fn cached_llama_bench() -> Option<PathBuf> {
    let p = peer_dir().join("build").join("bin").join("llama-bench");
    p.is_file().then_some(p)
}

fn run_step(what: &str, cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: cannot run {:?}: {e}", cmd.get_program()))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message");
    Err(format!(
        "{what} failed ({}): {}",
        out.status,
        crate::text::sanitize(last.trim())
    ))
}

fn pip_download(into: &Path) -> Result<(), String> {
    let candidates: [&[&str]; 3] = [&["pip"], &["pip3"], &["python3", "-m", "pip"]];
    for cand in candidates {
        let mut cmd = Command::new(cand[0]);
        cmd.args(&cand[1..])
            .args(["download", "--no-deps", "--no-binary", ":all:"])
            .args(["--disable-pip-version-check", "--no-input", "--dest"])
            .arg(into)
            .arg(SDIST);
        match cmd.output() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            _ => return run_step("pip download", &mut cmd),
        }
    }
    Err(
        "pip was not found (tried pip, pip3, python3 -m pip); give --llama-bench PATH or --no-peer"
            .into(),
    )
}

/// The llama-bench binary: cached, or built now (about 10 minutes on 2 cores, once).
pub fn ensure_llama_bench(progress: &mut dyn FnMut(&str)) -> Result<PathBuf, String> {
    if let Some(p) = cached_llama_bench() {
        return Ok(p);
    }
    let dir = peer_dir();
    let sdist = dir.join("sdist");
    let src = dir.join("src");
    let build = dir.join("build");
    std::fs::create_dir_all(&sdist).map_err(|e| format!("{}: {e}", sdist.display()))?;
    let tarball = sdist.join(format!("{}.tar.gz", SDIST_DIR.replace('-', "_")));
    if !tarball.is_file() {
        progress(&format!("llama-bench: fetching {SDIST} (source) with pip"));
        pip_download(&sdist)?;
    }
    let tree = src.join(SDIST_DIR).join("vendor").join("llama.cpp");
    if !tree.join("CMakeLists.txt").is_file() {
        progress("llama-bench: unpacking llama.cpp");
        std::fs::create_dir_all(&src).map_err(|e| format!("{}: {e}", src.display()))?;
        run_step(
            "unpacking the source",
            Command::new("tar")
                .arg("-xzf")
                .arg(&tarball)
                .arg("-C")
                .arg(&src),
        )?;
    }
    progress("llama-bench: building llama.cpp's llama-bench (about 10 minutes on 2 cores, once)");
    run_step(
        "cmake (configure)",
        Command::new("cmake")
            .arg("-S")
            .arg(&tree)
            .arg("-B")
            .arg(&build)
            .args([
                "-DCMAKE_BUILD_TYPE=Release",
                "-DLLAMA_CURL=OFF",
                "-DLLAMA_OPENSSL=OFF",
                "-DLLAMA_BUILD_SERVER=OFF",
                "-DLLAMA_BUILD_TESTS=OFF",
                "-DBUILD_SHARED_LIBS=OFF",
            ]),
    )?;
    let jobs = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .to_string();
    run_step(
        "cmake (build)",
        Command::new("cmake").arg("--build").arg(&build).args([
            "--target",
            "llama-bench",
            "-j",
            &jobs,
        ]),
    )?;
    cached_llama_bench().ok_or_else(|| "the llama-bench build produced no binary".into())
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

/// Run llama-bench on `model` with `threads` threads: `pp` prompt tokens, and `tg`
/// generated tokens both from an empty cache and after `pp` tokens (as the engine's two
/// kinds of decode run).
pub fn run(
    bin: &Path,
    model: &Path,
    threads: i32,
    pp: u32,
    tg: u32,
    reps: u32,
) -> Result<PeerSpeed, String> {
    let out = Command::new(bin)
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
