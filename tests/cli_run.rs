//! The real binary, headless: `moe-tutor run`, `model tiny`, `model info`, and its errors.

mod common;

use std::process::Command;

use moe_tutor::routing::trace::read_trace;
use moe_tutor::routing::Phase;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_moe-tutor"));
    let data = tempfile::tempdir().expect("tempdir").keep();
    c.env("MOE_TUTOR_DATA_DIR", data);
    // Never download the default model's teacher from a test.
    c.env("MOE_TUTOR_PIP", "false");
    c
}

#[test]
fn run_prints_a_reply_and_writes_a_trace() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.jsonl");
    let model = common::tiny_moe();
    let out = bin()
        .args(["run", "--model"])
        .arg(&model)
        .args([
            "--prompt",
            "Hi there",
            "--temperature",
            "0.9",
            "--seed",
            "5",
        ])
        .args(["--max-tokens", "6", "--threads", "1", "--trace"])
        .arg(&trace)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = read_trace(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    let generated: Vec<_> = records
        .iter()
        .filter(|r| r.phase == Phase::Generated)
        .collect();
    let prompt: Vec<_> = records
        .iter()
        .filter(|r| r.phase == Phase::Prompt)
        .collect();
    assert!(generated.len() <= 6 && !generated.is_empty());
    assert!(prompt.len() > 3, "the chat template wraps the prompt");
    assert!(prompt.iter().any(|r| r.text.contains("im_start")));
    for r in &records {
        assert_eq!(r.v, 1);
        assert_eq!(r.layers.len(), 2, "MoE layers only");
        assert_eq!(r.layers[0].layer, 1);
        for l in &r.layers {
            assert_eq!(l.experts.len(), 2);
            assert_eq!(l.weights.len(), 2);
            assert_eq!(l.probs.len(), 8);
        }
    }
    for r in &generated {
        assert!(r.sampled_prob.is_some() && r.candidates.as_ref().is_some_and(|c| !c.is_empty()));
        assert_eq!(r.temperature, Some(0.9));
    }
    // stdout carries the reply: the generated texts, then a newline.
    let stdout = String::from_utf8(out.stdout).unwrap();
    let text: String = generated.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(stdout.trim_end_matches('\n'), text);
    // Same seed, same reply.
    let again = bin()
        .args(["run", "--model"])
        .arg(&model)
        .args([
            "--prompt",
            "Hi there",
            "--temperature",
            "0.9",
            "--seed",
            "5",
        ])
        .args(["--max-tokens", "6", "--threads", "1"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(again.stdout).unwrap(), stdout);
}

#[test]
fn raw_prompt_skips_the_template() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    let out = bin()
        .args(["run", "--raw", "--model"])
        .arg(common::tiny_moe())
        .args([
            "--prompt",
            "plain text",
            "--max-tokens",
            "2",
            "--threads",
            "1",
            "--trace",
        ])
        .arg(&trace)
        .output()
        .unwrap();
    assert!(out.status.success());
    let records = read_trace(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    assert!(records.iter().all(|r| !r.text.contains("im_start")));
}

fn expect_failure(args: &[&str], needle: &str) {
    let out = bin().args(args).output().unwrap();
    let code = out.status.code().expect("exited, not killed by a signal");
    assert!(code > 0 && code < 128, "exit status {code}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr:?}");
    assert!(lines[0].contains(needle), "{stderr:?}");
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_models_exit_with_a_one_line_message() {
    expect_failure(
        &["run", "--model", "/nonexistent.gguf", "--prompt", "x"],
        "not found",
    );
    let junk = common::scratch_file("cli-junk.gguf", &[0u8; 300]);
    expect_failure(
        &["run", "--model", junk.to_str().unwrap(), "--prompt", "x"],
        "not a GGUF file",
    );
    let bytes = std::fs::read(common::tiny_moe()).unwrap();
    let cut = common::scratch_file("cli-cut.gguf", &bytes[..bytes.len() - 1000]);
    expect_failure(
        &["run", "--model", cut.to_str().unwrap(), "--prompt", "x"],
        "truncated",
    );
    // A valid GGUF of an architecture llama.cpp does not know.
    let mut w = moe_tutor::model::gguf::GgufWriter::new();
    w.set("general.architecture", "no-such-arch");
    let alien = common::scratch_file("alien.gguf", &[]);
    w.write(&alien).unwrap();
    expect_failure(
        &["run", "--model", alien.to_str().unwrap(), "--prompt", "x"],
        "not supported",
    );
}

#[test]
fn no_model_explains_how_to_get_one() {
    let out = bin().args(["run", "--prompt", "x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--model"), "{stderr}");
    assert!(stderr.contains("model tiny"), "{stderr}");
}

#[test]
fn model_tiny_and_info() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.gguf");
    let out = bin()
        .args([
            "model",
            "tiny",
            "--experts",
            "4",
            "--experts-per-token",
            "3",
            "--out",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info = bin().args(["model", "info"]).arg(&path).output().unwrap();
    let text = String::from_utf8(info.stdout).unwrap();
    assert!(text.contains("architecture:  deepseek"), "{text}");
    assert!(
        text.contains("4 routed per MoE layer, 3 used per token"),
        "{text}"
    );
}

/// Greedy `run` of a model: (exit success, stdout, stderr, the first generated token id).
fn greedy_run(model: &std::path::Path, trace: &std::path::Path) -> (bool, String, String, u32) {
    let out = bin()
        .args(["run", "--model"])
        .arg(model)
        .args(["--prompt", "Hi there", "--temperature", "0"])
        .args(["--max-tokens", "4", "--threads", "1", "--trace"])
        .arg(trace)
        .output()
        .unwrap();
    let records = read_trace(&std::fs::read_to_string(trace).unwrap()).unwrap();
    let first = records
        .iter()
        .find(|r| r.phase == Phase::Generated)
        .map_or(u32::MAX, |r| r.token_id);
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        first,
    )
}

#[test]
fn an_empty_reply_is_reported_with_the_token_that_ended_it() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    // The tiny model's greedy first token, with its ordinary end token.
    let (ok, stdout, stderr, first) = greedy_run(&common::tiny_moe(), &trace);
    assert!(ok, "{stderr}");
    assert!(!stdout.trim().is_empty(), "the ordinary model writes text");
    assert!(!stderr.contains("reply is empty"), "{stderr}");
    assert_ne!(first, u32::MAX);
    // The same weights with that token declared the end-of-generation token: greedy
    // decoding now ends the turn at once, as a model that has nothing to say does.
    let mut w =
        moe_tutor::model::tiny::build(&moe_tutor::model::tiny::TinySpec::default()).unwrap();
    w.set("tokenizer.ggml.eos_token_id", first);
    let ends = dir.path().join("ends-at-once.gguf");
    w.write(&ends).unwrap();
    let (ok, stdout, stderr, none) = greedy_run(&ends, &trace);
    assert!(ok, "an empty reply is no failure: {stderr}");
    assert_eq!(stdout, "\n", "nothing but the closing newline");
    assert_eq!(none, u32::MAX, "no token was generated");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr:?}");
    assert!(lines[0].contains("reply is empty"), "{stderr}");
    assert!(lines[0].contains(&format!("token {first} ")), "{stderr}");
}

/// `--gpu-layers`: 0 keeps every layer on the CPU and changes nothing; above 0 a binary
/// built without a GPU backend refuses with a message instead of silently running on the CPU.
#[test]
fn gpu_layers_zero_runs_and_more_needs_a_gpu_build() {
    let model = common::tiny_moe();
    let reply = |extra: &[&str]| {
        bin()
            .args(["run", "--model"])
            .arg(&model)
            .args(["--prompt", "Hi", "--temperature", "0", "--max-tokens", "5"])
            .args(["--threads", "1"])
            .args(extra)
            .output()
            .unwrap()
    };
    let plain = reply(&[]);
    let cpu = reply(&["--gpu-layers", "0"]);
    assert!(
        cpu.status.success(),
        "{}",
        String::from_utf8_lossy(&cpu.stderr)
    );
    assert_eq!(cpu.stdout, plain.stdout, "the same greedy reply");
    if cfg!(any(feature = "cuda", feature = "vulkan", feature = "metal")) {
        eprintln!("skipped: this test binary has a GPU backend; the refusal is for CPU builds");
        return;
    }
    let gpu = reply(&["--gpu-layers", "4"]);
    assert_eq!(gpu.status.code(), Some(2));
    let err = String::from_utf8_lossy(&gpu.stderr);
    assert!(err.contains("built without a GPU backend"), "{err}");
    assert!(gpu.stdout.is_empty());
}

/// The selected experts of a trace layer, and whether the router was tied there: the k-th and
/// (k+1)-th largest selection scores (the preference where the model biases selection, else
/// the probabilities) within `tie`.
fn selection(l: &moe_tutor::routing::trace::TraceLayer, tie: f32) -> (Vec<u16>, bool) {
    let scores = l.preference.as_deref().unwrap_or(&l.probs);
    let mut sorted = scores.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let k = l.experts.len();
    let tied = k < sorted.len() && sorted[k - 1] - sorted[k] <= tie;
    let mut set = l.experts.clone();
    set.sort_unstable();
    (set, tied)
}

/// With every layer on the GPU the routing trace agrees with a CPU run of the same binary:
/// the same tokens up to the first difference, every selected expert set the same except
/// where the router's scores were tied within 1e-3 on either side (GPU and CPU arithmetic may
/// break a tie either way), the experts on the GPU the top-k of the scores captured there,
/// and no token with an incomplete capture. Needs a GPU build; on one without a GPU at run
/// time it says so and stops.
#[test]
#[cfg_attr(
    not(any(feature = "cuda", feature = "vulkan", feature = "metal")),
    ignore = "needs a GPU build (--features cuda, vulkan or metal) and a GPU"
)]
fn gpu_routing_trace_matches_the_cpu() {
    let model = common::tiny_moe();
    let dir = tempfile::tempdir().unwrap();
    let trace = |ngl: &str| {
        let path = dir.path().join(format!("trace-{ngl}.jsonl"));
        let out = bin()
            .args(["run", "--model"])
            .arg(&model)
            .args(["--prompt", "Why is the sky blue?", "--temperature", "0"])
            .args(["--max-tokens", "24", "--threads", "2", "--gpu-layers", ngl])
            .arg("--trace")
            .arg(&path)
            .output()
            .unwrap();
        (out, path)
    };
    let (gpu, gpu_path) = trace("99");
    let err = String::from_utf8_lossy(&gpu.stderr);
    if gpu.status.code() == Some(2) && err.contains("without a GPU backend") {
        eprintln!("skipped: this build has a GPU backend but llama.cpp found no GPU: {err}");
        return;
    }
    assert!(gpu.status.success(), "{err}");
    let (cpu, cpu_path) = trace("0");
    assert!(cpu.status.success());
    let read = |p: &std::path::Path| read_trace(&std::fs::read_to_string(p).unwrap()).unwrap();
    let (g, c) = (read(&gpu_path), read(&cpu_path));
    assert_eq!(g.len(), c.len());
    let same_until = g
        .iter()
        .zip(&c)
        .position(|(a, b)| a.token_id != b.token_id)
        .map_or(g.len(), |i| i + 1);
    let (mut compared, mut untied_diff) = (0, 0);
    for (a, b) in g.iter().zip(&c).take(same_until) {
        assert!(!a.capture_incomplete && !b.capture_incomplete);
        assert_eq!(a.layers.len(), b.layers.len());
        for (la, lb) in a.layers.iter().zip(&b.layers) {
            let ((sa, ta), (sb, tb)) = (selection(la, 1e-3), selection(lb, 1e-3));
            compared += 1;
            if sa != sb && !ta && !tb {
                untied_diff += 1;
            }
            // On the GPU the experts are the top-k of the scores read there.
            let scores = la.preference.as_deref().unwrap_or(&la.probs);
            let mut order: Vec<usize> = (0..scores.len()).collect();
            order.sort_by(|&x, &y| scores[y].total_cmp(&scores[x]));
            let mut top: Vec<u16> = order[..la.experts.len()]
                .iter()
                .map(|&e| e as u16)
                .collect();
            top.sort_unstable();
            assert!(
                top == sa || ta,
                "layer {}: experts {:?}, top-k {:?}",
                la.layer,
                sa,
                top
            );
        }
    }
    assert!(compared > 0);
    assert_eq!(
        untied_diff, 0,
        "expert sets differ where the router was not tied"
    );
}

/// `--rpc` and `rpc-server` in a binary built without llama.cpp's RPC backend: one line
/// that names the build command, exit status 2, before any model is touched.
#[cfg(not(feature = "rpc"))]
#[test]
fn rpc_needs_an_rpc_build() {
    let model = common::tiny_moe();
    let runs = [
        bin()
            .args(["--rpc", "127.0.0.1:50052", "run", "--model"])
            .arg(&model)
            .args(["--prompt", "Hi"])
            .output()
            .unwrap(),
        bin()
            .args(["rpc-server", "--port", "50052"])
            .output()
            .unwrap(),
    ];
    for out in runs {
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("built without llama.cpp's RPC backend")
                && err.contains("cargo build --release --features rpc"),
            "{err}"
        );
        assert!(out.stdout.is_empty());
    }
    // A malformed list is refused by the parser, in any build.
    let out = bin()
        .args(["--rpc", "no-port", "lessons", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HOST:PORT"));
}

/// Beside as many busy processes as there are cores, a context of two threads computes on
/// one (every barrier of a graph would otherwise wait for a core) and gives the same greedy
/// reply as on a quiet machine; the log says when it switched.
#[test]
fn busy_cores_switch_decoding_to_one_thread_with_the_same_reply() {
    let model = common::tiny_moe();
    let reply = |data: &std::path::Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_moe-tutor"))
            .env("MOE_TUTOR_DATA_DIR", data)
            .env("MOE_TUTOR_PIP", "false")
            .env("MOE_TUTOR_LOG", "debug")
            .args(["run", "--model"])
            .arg(&model)
            .args(["--prompt", "Hi there", "--temperature", "0"])
            .args(["--max-tokens", "24", "--threads", "2"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let log = std::fs::read_to_string(data.join("logs").join("moe-tutor.log")).unwrap();
        (String::from_utf8(out.stdout).unwrap(), log)
    };
    let quiet_dir = tempfile::tempdir().unwrap();
    let (quiet, _) = reply(quiet_dir.path());

    let cores = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(16);
    let mut busy: Vec<std::process::Child> = (0..cores)
        .map(|_| {
            Command::new("sh")
                .args(["-c", "while :; do :; done"])
                .spawn()
                .unwrap()
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let loaded_dir = tempfile::tempdir().unwrap();
    let (loaded, log) = reply(loaded_dir.path());
    for b in &mut busy {
        let _ = b.kill();
        let _ = b.wait();
    }
    assert!(
        log.contains("computing on one thread"),
        "no switch to one thread in the log:\n{log}"
    );
    assert_eq!(loaded, quiet);
}
