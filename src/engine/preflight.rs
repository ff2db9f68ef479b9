//! The child-process check ([`ModelCheck::Child`]): before this process hands a file it has
//! not seen to llama.cpp, a short-lived copy of the program (`EXE model check PATH`) loads
//! it, makes a context and decodes a prompt. An abort there (llama.cpp asserting on
//! something the pre-parser does not know) becomes a message here instead of the end of
//! the app. Verdicts are remembered ([`super::check_cache`]).

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::api::{LoadOptions, ModelCheck};
use super::check_cache::{self, FileKey, Verdict};
use crate::text::sanitize;

/// A check that takes longer than this is stopped and the file is not loaded.
const TIME_LIMIT: Duration = Duration::from_secs(300);
/// stderr lines kept from the child (only the last one is shown).
const KEEP_LINES: usize = 32;

/// Return `Ok` when the file at `path` (header `header_len` bytes long) may be loaded in
/// this process, or the message to show instead. `stop` ends a running check early.
pub(crate) fn ensure_loadable(
    path: &Path,
    header_len: u64,
    opts: &LoadOptions,
    stop: &dyn Fn() -> bool,
) -> Result<(), String> {
    let ModelCheck::Child { .. } = &opts.check else {
        return Ok(());
    };
    let key = FileKey::of(path, header_len).map_err(|e| format!("{}: {e}", path.display()))?;
    let shown = sanitize(&path.display().to_string());
    checked(key, path, None, &shown, opts, stop)
}

/// The same for the LoRA adapter at `adapter` applied to the model at `base`: the child
/// loads both, applies the adapter and decodes. The verdict is kept for the pair.
pub(crate) fn ensure_adapter_loadable(
    adapter: &Path,
    adapter_header: u64,
    base: &Path,
    base_header: u64,
    opts: &LoadOptions,
    stop: &dyn Fn() -> bool,
) -> Result<(), String> {
    let ModelCheck::Child { .. } = &opts.check else {
        return Ok(());
    };
    let io = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    let key = FileKey::of(adapter, adapter_header)
        .map_err(|e| io(adapter, e))?
        .applied_to(&FileKey::of(base, base_header).map_err(|e| io(base, e))?);
    let shown = format!(
        "the LoRA adapter {} (on {})",
        sanitize(&adapter.display().to_string()),
        sanitize(&base.display().to_string())
    );
    checked(key, base, Some(adapter), &shown, opts, stop)
}

/// The remembered verdict for `key`, or a child's: `model check [--lora ADAPTER] BASE`.
fn checked(
    key: FileKey,
    base: &Path,
    adapter: Option<&Path>,
    shown: &str,
    opts: &LoadOptions,
    stop: &dyn Fn() -> bool,
) -> Result<(), String> {
    let ModelCheck::Child { exe, cache } = &opts.check else {
        return Ok(());
    };
    if let Some(v) = cache.as_deref().and_then(|c| check_cache::lookup(c, &key)) {
        tracing::info!("model check of {shown} remembered: {v:?}");
        return verdict_result(shown, &v);
    }
    let started = Instant::now();
    let outcome = run_child(exe, base, adapter, opts, stop)?;
    tracing::info!(
        "model check of {shown} took {:.2} s: {outcome:?}",
        started.elapsed().as_secs_f64()
    );
    match outcome {
        Outcome::Verdict(v) => {
            if let Some(c) = cache.as_deref() {
                check_cache::store(c, &key, &v);
            }
            verdict_result(shown, &v)
        }
        // llama.cpp (or the pre-parser) refused the file cleanly in the child: it would
        // here too. Not remembered: the same message comes back quickly anyway.
        Outcome::Refused(message) => Err(message),
    }
}

/// `file` is what was loaded, as the message names it (already sanitised).
fn verdict_result(file: &str, v: &Verdict) -> Result<(), String> {
    match v {
        Verdict::Ok => Ok(()),
        Verdict::Aborted { signal, last_line } => Err(if *signal == libc::SIGABRT {
            format!("llama.cpp aborted while loading {file}: {last_line}")
        } else {
            format!(
                "llama.cpp crashed ({}) while loading {file}; its last line: {last_line}",
                signal_name(*signal)
            )
        }),
    }
}

fn signal_name(signal: i32) -> String {
    match signal {
        libc::SIGSEGV => "SIGSEGV, an invalid memory access".into(),
        libc::SIGBUS => "SIGBUS".into(),
        libc::SIGILL => "SIGILL, an instruction this CPU lacks".into(),
        libc::SIGFPE => "SIGFPE, an arithmetic error".into(),
        libc::SIGKILL => "SIGKILL, perhaps out of memory".into(),
        other => format!("signal {other}"),
    }
}

#[derive(Debug)]
enum Outcome {
    Verdict(Verdict),
    Refused(String),
}

/// The last non-empty line, without the log's time, level and target, with the long build
/// path of a llama.cpp source file cut to where the vendored tree starts, cleaned for the
/// terminal and kept short.
fn last_line(stderr: &[String]) -> String {
    let line = stderr
        .iter()
        .rev()
        .map(|l| l.trim())
        .find(|l| !l.is_empty())
        .unwrap_or("(it printed nothing)");
    // "2026-12-01T04:25:41.426232Z  INFO llama-cpp-2: text module=\"...\""
    let line = match line.split_once(" llama-cpp-2: ") {
        Some((_, text)) => text.split(" module=\"").next().unwrap_or(text),
        None => line,
    };
    let line = match line.find("llama.cpp/") {
        Some(i) => &line[i + "llama.cpp/".len()..],
        None => line,
    };
    let mut out = sanitize(line);
    if out.chars().count() > 240 {
        out = out.chars().take(239).collect::<String>() + "…";
    }
    out
}

fn run_child(
    exe: &Path,
    path: &Path,
    adapter: Option<&Path>,
    opts: &LoadOptions,
    stop: &dyn Fn() -> bool,
) -> Result<Outcome, String> {
    let mut cmd = Command::new(exe);
    cmd.args([
        "model",
        "check",
        "--threads",
        &opts.threads.max(1).to_string(),
    ]);
    if !super::rpc::servers().is_empty() {
        // With `--rpc` the check runs on this machine's CPU: an RPC worker serves one
        // client at a time, and this process may hold them (a model switch in the app).
        // What the check guards against, llama.cpp aborting on the file, is the same.
        cmd.args(["--gpu-layers", "0"]);
    } else if let Some(n) = opts.gpu_layers {
        cmd.arg("--gpu-layers").arg(n.to_string());
    }
    if let Some(a) = adapter {
        cmd.arg("--lora").arg(a);
    }
    let mut child = cmd
        .arg(path)
        // No debugger attach for a backtrace: the message is all we need.
        .env("GGML_NO_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start the model check ({}): {e}", exe.display()))?;
    let mut stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(o) = stdout.as_mut() {
            let _ = o.read_to_string(&mut s);
        }
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut lines: Vec<String> = Vec::new();
        if let Some(e) = stderr {
            let mut buf = String::new();
            let mut r = std::io::BufReader::new(e);
            while std::io::BufRead::read_line(&mut r, &mut buf).unwrap_or(0) > 0 {
                lines.push(std::mem::take(&mut buf));
                if lines.len() > KEEP_LINES {
                    lines.remove(0);
                }
            }
        }
        lines
    });
    let deadline = Instant::now() + TIME_LIMIT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) => {}
            Err(e) => return Err(format!("the model check failed: {e}")),
        }
        if stop() || Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(if stop() {
                "loading was cancelled".to_string()
            } else {
                format!(
                    "checking {} took longer than {} s; not loading it",
                    path.display(),
                    TIME_LIMIT.as_secs()
                )
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    if status.success() && stdout.lines().any(|l| l.starts_with("ok")) {
        return Ok(Outcome::Verdict(Verdict::Ok));
    }
    if let Some(sig) = status.signal() {
        tracing::warn!("model check of {} ended by signal {sig}", path.display());
        return Ok(Outcome::Verdict(Verdict::Aborted {
            signal: sig,
            last_line: last_line(&stderr),
        }));
    }
    let message = stderr
        .iter()
        .rev()
        .find_map(|l| l.trim().strip_prefix("moe-tutor: error: "))
        .map(str::to_string)
        .unwrap_or_else(|| last_line(&stderr));
    Ok(Outcome::Refused(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_line_starts_at_the_vendored_tree_and_is_clean() {
        let lines = vec![
            "llama_model_loader: loaded\n".to_string(),
            "/root/.cargo/registry/src/x/llama-cpp-sys-2-0.1.139/llama.cpp/src/llama-model.cpp:8093: GGML_ASSERT(hparams.is_swa_any()) failed\x1b[2J\n".to_string(),
            "\n".to_string(),
        ];
        assert_eq!(
            last_line(&lines),
            "src/llama-model.cpp:8093: GGML_ASSERT(hparams.is_swa_any()) failed"
        );
        assert_eq!(last_line(&[]), "(it printed nothing)");
        let logged = vec![
            "2026-12-01T04:25:41.426232Z  INFO llama-cpp-2: reserve took 18.06 ms, sched copies = 1 module=\"llama.cpp::sched_reserve\"\n".to_string(),
        ];
        assert_eq!(
            last_line(&logged),
            "reserve took 18.06 ms, sched copies = 1"
        );
    }
}
