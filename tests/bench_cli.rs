//! `moe-tutor bench` runs on the tiny model and ends with a well-formed machine-readable
//! line: with the peer skipped (its ratios say `na`) and with a stand-in llama-bench that
//! prints llama-bench's JSON (its ratios are numbers). No timing is asserted: the figures
//! are ratios the bench measures against a peer in the same run.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

const KEYS: &[&str] = &[
    "capture_on_vs_off",
    "capture_on_vs_llama_bench",
    "capture_off_vs_llama_bench",
    "prompt_on_vs_off",
    "prompt_off_vs_llama_bench",
    "decode_off_tps",
    "decode_on_tps",
    "llama_bench_tg_tps",
    "capture_on_vs_llama_bench_deep",
    "decode_on_deep_tps",
    "llama_bench_tg_deep_tps",
    "depth",
    "prompt_off_tps",
    "prompt_on_tps",
    "llama_bench_pp_tps",
    "token_ms",
    "token_llama_ms",
    "token_sample_ms",
    "token_engine_ms",
    "heatmap_ms",
    "frame_ms",
    "load_view_ms",
    "routing_bytes_per_token",
    "key_to_frame_ms",
    "key_to_frame_p95_ms",
    "startup_ms",
    "startup_median_ms",
    "peak_rss_mb",
    "background_load",
    "decode_idle_tps",
    "decode_load_tps",
    "decode_load_vs_idle",
    "llama_bench_idle_tps",
    "llama_bench_load_tps",
    "llama_bench_load_vs_idle",
    "decode_load_vs_llama_bench_load",
    "llama_bench_load_bounded",
    "reply_frame_200_ms",
    "reply_frame_4000_ms",
    "reply_frame_ratio",
    "view_reply_200_ms",
    "view_reply_4000_ms",
    "rss_before_records_mb",
    "rss_peak_records_mb",
    "record_tokens",
    "load_key_to_frame_ms",
    "load_key_to_frame_p95_ms",
    "load_quit_ctrl_q_ms",
    "load_quit_sigterm_ms",
    "models",
];

fn bench(extra: &[&str]) -> BTreeMap<String, String> {
    bench_output(extra).0
}

/// The last line's fields and the whole of stdout.
fn bench_output(extra: &[&str]) -> (BTreeMap<String, String>, String) {
    let data = tempfile::tempdir().unwrap();
    let model = common::tiny_moe();
    let out = Command::new(env!("CARGO_BIN_EXE_moe-tutor"))
        .env("MOE_TUTOR_DATA_DIR", data.path())
        .args([
            "bench",
            "--model",
            model.to_str().unwrap(),
            "--threads",
            "1",
        ])
        .args(["--reps", "1", "--prompt-tokens", "16", "--gen-tokens", "16"])
        .args(["--latency-secs", "0.5", "--frames", "3"])
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    let fields: BTreeMap<String, String> = last
        .split(' ')
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .unwrap_or_else(|| panic!("{kv:?} in {last}"));
            (k.to_string(), v.to_string())
        })
        .collect();
    for k in KEYS {
        assert!(fields.contains_key(*k), "{k} missing from {last}");
    }
    // The comparison of files adds its own keys (checked by its test).
    let compared = |k: &str| k.starts_with("models") || k.starts_with("vs_");
    assert_eq!(
        fields.keys().filter(|k| !compared(k)).count() + 1,
        KEYS.len(),
        "{last}"
    );
    for (k, v) in &fields {
        if compared(k) {
            continue;
        }
        let optional = k.contains("llama_bench")
            || k.starts_with("startup")
            || k == "peak_rss_mb"
            || k.starts_with("decode_load")
            || k == "decode_idle_tps"
            || k.starts_with("load_");
        if optional && v == "na" {
            continue;
        }
        let x: f64 = v.parse().unwrap_or_else(|_| panic!("{k}={v} in {last}"));
        assert!(x.is_finite() && x >= 0.0, "{k}={v}");
    }
    // The per-token breakdown is of the same decode run: llama.cpp and the sampler are
    // both timed, and together they fit inside the token's time.
    let num = |k: &str| fields[k].parse::<f64>().unwrap();
    assert!(
        num("token_llama_ms") > 0.0 && num("token_sample_ms") > 0.0,
        "{fields:?}"
    );
    assert!(
        num("token_llama_ms") + num("token_sample_ms") <= num("token_ms") * 1.0001 + 0.001,
        "{fields:?}"
    );
    // 48 layers x 128 experts, k = 8, full router probabilities.
    let bytes: usize = fields["routing_bytes_per_token"].parse().unwrap();
    assert!(bytes > 48 * 128 && bytes <= 8 * 1024, "{bytes}");
    assert!(stdout.contains("engine, capture on"), "{stdout}");
    (fields, stdout.into_owned())
}

#[test]
fn bench_without_a_peer_prints_na_for_its_ratios() {
    let f = bench(&["--no-peer", "--startup-runs", "1"]);
    assert_eq!(f["capture_on_vs_llama_bench"], "na");
    assert_eq!(f["llama_bench_tg_tps"], "na");
    assert!(f["capture_on_vs_off"].parse::<f64>().unwrap() > 0.0);
    // The app was launched in a terminal, reached its ready prompt and chatted.
    let ms: f64 = f["startup_ms"].parse().unwrap();
    assert!(ms > 0.0 && ms < 120_000.0, "{f:?}");
    let rss: f64 = f["peak_rss_mb"].parse().unwrap();
    assert!(rss > 1.0, "{f:?}");
    assert_eq!(f["background_load"], "0");
    assert_eq!(f["decode_load_tps"], "na");
    assert_eq!(f["load_quit_ctrl_q_ms"], "na");
}

#[test]
fn bench_reads_llama_bench_json() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("llama-bench");
    // Prints what llama-bench -o json prints (generation at depth 0 and at the prompt's
    // length), whatever it is asked, and keeps the arguments of every call.
    let json = r#"[{"n_prompt": 16, "n_gen": 0, "n_depth": 0, "avg_ts": 90.0, "samples_ts": [80.0, 100.0]},
{"n_prompt": 0, "n_gen": 16, "n_depth": 0, "avg_ts": 40.0, "samples_ts": [50.0, 30.0]},
{"n_prompt": 16, "n_gen": 0, "n_depth": 16, "avg_ts": 70.0, "samples_ts": [70.0]},
{"n_prompt": 0, "n_gen": 16, "n_depth": 16, "avg_ts": 45.0, "samples_ts": [45.0, 44.0]}]"#;
    let args = dir.path().join("args");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\ncat <<'EOF'\n{json}\nEOF\n",
            args.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let f = bench(&[
        "--llama-bench",
        fake.to_str().unwrap(),
        "--startup-runs",
        "0",
        "--background-load",
        "1",
    ]);
    assert_eq!(f["startup_ms"], "na");
    // Contention: both idle and loaded rates of engine and peer, in the same run.
    assert_eq!(f["background_load"], "1");
    let num = |k: &str| f[k].parse::<f64>().unwrap();
    assert!(
        num("decode_idle_tps") > 0.0 && num("decode_load_tps") > 0.0,
        "{f:?}"
    );
    let r = num("decode_load_vs_idle");
    assert!(
        (r - num("decode_load_tps") / num("decode_idle_tps")).abs() < 0.01,
        "{f:?}"
    );
    // The stand-in peer answers the same under load.
    assert_eq!(f["llama_bench_idle_tps"], f["llama_bench_load_tps"]);
    assert_eq!(f["llama_bench_load_vs_idle"], "1.000");
    assert_eq!(f["llama_bench_load_bounded"], "0");
    // Beside the same load: keys answered while a reply streams, and the real app quit
    // mid-reply by Ctrl-Q and by SIGTERM (killed at 10 s, which would read 10000).
    assert!(num("load_key_to_frame_ms") > 0.0, "{f:?}");
    assert!(num("load_key_to_frame_p95_ms") >= num("load_key_to_frame_ms"));
    for k in ["load_quit_ctrl_q_ms", "load_quit_sigterm_ms"] {
        assert!(num(k) > 0.0 && num(k) < 10_000.0, "{k}: {f:?}");
    }
    // The peer runs generation from an empty cache and after the engine's prompt length.
    let args = std::fs::read_to_string(&args).unwrap();
    let depth: u32 = f["depth"].parse().unwrap();
    assert!(depth > 1, "{f:?}");
    assert!(args.contains(&format!("-d 0,{depth}")), "{args}");
    // And, for the contention rounds, generation alone (idle and loaded, two rounds).
    assert_eq!(args.matches("-p 0 -n 16").count(), 4, "{args}");
    assert_eq!(f["llama_bench_tg_tps"], "50.0");
    assert_eq!(f["llama_bench_tg_deep_tps"], "45.0");
    let deep: f64 = f["decode_on_deep_tps"].parse().unwrap();
    let r: f64 = f["capture_on_vs_llama_bench_deep"].parse().unwrap();
    assert!((r - deep / 45.0).abs() < 0.01 * r.max(1.0), "{f:?}");
    assert_eq!(f["llama_bench_pp_tps"], "100.0");
    let on: f64 = f["decode_on_tps"].parse().unwrap();
    let ratio: f64 = f["capture_on_vs_llama_bench"].parse().unwrap();
    assert!((ratio - on / 50.0).abs() < 0.01 * ratio.max(1.0), "{f:?}");
}

/// A stand-in llama-bench that prints llama-bench's JSON with a generation rate of its own
/// per model file (`rates`: file name -> tok/s) and logs every call's arguments to `args`.
fn fake_peer(
    dir: &std::path::Path,
    rates: &[(&str, f64)],
) -> (std::path::PathBuf, std::path::PathBuf) {
    let fake = dir.join("llama-bench");
    let args = dir.join("args");
    let mut script = format!("#!/bin/sh\necho \"$@\" >> '{}'\ntg=10.0\n", args.display());
    for (name, tg) in rates {
        script.push_str(&format!("case \"$*\" in *{name}*) tg={tg};; esac\n"));
    }
    script.push_str(
        "cat <<EOF\n[{\"n_prompt\": 16, \"n_gen\": 0, \"n_depth\": 0, \"avg_ts\": 90.0},\n\
         {\"n_prompt\": 0, \"n_gen\": 16, \"n_depth\": 0, \"avg_ts\": $tg},\n\
         {\"n_prompt\": 0, \"n_gen\": 16, \"n_depth\": 16, \"avg_ts\": $tg}]\nEOF\n",
    );
    std::fs::write(&fake, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    (fake, args)
}

#[test]
fn bench_compares_model_files_round_by_round() {
    let dir = tempfile::tempdir().unwrap();
    let dense = common::tiny_dense();
    let mixtral = common::tiny_mixtral();
    let (fake, args) = fake_peer(
        dir.path(),
        &[
            (dense.file_name().unwrap().to_str().unwrap(), 40.0),
            (mixtral.file_name().unwrap().to_str().unwrap(), 25.0),
            ("tiny-moe", 50.0),
        ],
    );
    let (f, stdout) = bench_output(&[
        "--llama-bench",
        fake.to_str().unwrap(),
        "--startup-runs",
        "0",
        "--compare",
        dense.to_str().unwrap(),
        "--compare",
        mixtral.to_str().unwrap(),
        // For the MoE files; the dense one is measured as it is.
        "--experts-used",
        "1",
    ]);
    // Three files, the measured one first, each measured in the engine and in llama-bench.
    let labels: Vec<&str> = f["models"].split(',').collect();
    assert_eq!(labels.len(), 3, "{f:?}");
    assert_eq!(labels[0], "measured");
    let stem = |p: &std::path::Path| p.file_stem().unwrap().to_str().unwrap().replace('.', "_");
    assert_eq!(labels[1], stem(&dense));
    assert_eq!(labels[2], stem(&mixtral));
    let list = |k: &str| -> Vec<f64> {
        f[k].split(',')
            .map(|v| v.parse().unwrap_or_else(|_| panic!("{k}: {f:?}")))
            .collect()
    };
    let engine = list("models_decode_tps");
    assert!(engine.iter().all(|&v| v > 0.0), "{f:?}");
    assert!(
        list("models_decode_deep_tps").iter().all(|&v| v > 0.0),
        "{f:?}"
    );
    // llama-bench ran once more on every file, the measured one included (its first run
    // is the main peer run).
    let peer = list("models_llama_bench_tg_tps");
    assert_eq!(peer, [50.0, 40.0, 25.0], "{f:?}");
    assert_eq!(f["llama_bench_tg_tps"], "50.0");
    let calls = std::fs::read_to_string(&args).unwrap();
    for p in [&dense, &mixtral] {
        assert_eq!(calls.matches(p.to_str().unwrap()).count(), 1, "{calls}");
    }
    let measured = common::tiny_moe();
    assert_eq!(
        calls.matches(measured.to_str().unwrap()).count(),
        2,
        "{calls}"
    );
    // The ratios are of the figures on the same line.
    let num = |k: &str| f[k].parse::<f64>().unwrap_or_else(|_| panic!("{k}: {f:?}"));
    let l = labels[1];
    assert!(
        (num(&format!("vs_{l}")) - engine[0] / engine[1]).abs()
            < 0.002 * num(&format!("vs_{l}")).max(1.0),
        "{f:?}"
    );
    assert!(
        (num(&format!("vs_{l}_llama_bench")) - peer[0] / 40.0).abs() < 0.002,
        "{f:?}"
    );
    assert!(
        (num(&format!("vs_{l}_in_llama_bench")) - engine[0] / 40.0).abs() < 0.01 * engine[0],
        "{f:?}"
    );
    assert!(
        stdout.contains(&format!("measured / {l}: engine ")),
        "{stdout}"
    );
}

#[test]
fn bench_says_which_compared_file_is_missing() {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_moe-tutor"))
        .env("MOE_TUTOR_DATA_DIR", data.path())
        .args(["bench", "--model", common::tiny_moe().to_str().unwrap()])
        .args(["--no-peer", "--startup-runs", "0", "--reps", "1"])
        .args([
            "--gen-tokens",
            "8",
            "--frames",
            "2",
            "--latency-secs",
            "0.2",
        ])
        .args(["--compare", "/nonexistent/other.gguf"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("other: no model file at /nonexistent/other.gguf"),
        "{err}"
    );
}
