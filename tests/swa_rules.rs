//! Sliding-window attention, per architecture (the pre-parser's SWA table): architectures
//! with a two-part KV cache and encoders without a cache need at least one sliding-window
//! layer and one full-attention layer, or llama.cpp aborts; the hybrid lfm2 and the
//! switched-off phi3 are exempt. One crafted file per rule and kind of memory: the
//! pre-parser refuses it, headless `run` exits 2 with a message and no signal; where the
//! file is a whole model, `model check` with the rule skipped shows the abort is real, and
//! `run` with the rule skipped still ends in a message (the child check takes the abort).

mod crafted;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output};

use moe_tutor::model::gguf::{Array, GgufError, GgufFile, GgufWriter, Value};
use moe_tutor::model::tiny::TinySpec;

/// gemma3 or gemma-embedding (the same tensors) from the tiny dense model: 3 layers of 4
/// heads of 16, with the QK norms and post norms these architectures add.
fn gemma3_like(arch: &str) -> GgufWriter {
    let spec = TinySpec::dense();
    let extra = crafted::per_layer(spec.n_layer, |i| {
        vec![
            (format!("blk.{i}.attn_q_norm.weight"), vec![16]),
            (format!("blk.{i}.attn_k_norm.weight"), vec![16]),
            (format!("blk.{i}.post_attention_norm.weight"), vec![64]),
            (format!("blk.{i}.post_ffw_norm.weight"), vec![64]),
        ]
    });
    let mut w = crafted::rearch(&spec, arch, |_| true, &extra);
    w.set(format!("{arch}.attention.sliding_window"), 64u32);
    w
}

fn with_period(arch: &str, period: u32) -> GgufWriter {
    let mut w = gemma3_like(arch);
    w.set(format!("{arch}.attention.sliding_window_pattern"), period);
    w
}

/// mimo2 keys over the tiny MoE, with one sliding-window flag per layer.
fn mimo2(flags: [bool; 3]) -> GgufWriter {
    let mut w = crafted::rearch(&TinySpec::default(), "mimo2", |_| true, &[]);
    w.set("mimo2.attention.sliding_window", 64u32).set(
        "mimo2.attention.sliding_window_pattern",
        Value::Array(Array::Bool(flags.to_vec())),
    );
    w
}

/// One crafted file: the rule that refuses it, and whether it is a whole model that
/// llama.cpp loads as far as the abort.
struct Case {
    rule: &'static str,
    name: &'static str,
    whole: bool,
    w: GgufWriter,
}

fn cases() -> Vec<Case> {
    vec![
        // Two-part KV cache: period 1 leaves no sliding-window layer (the context asserts)...
        Case {
            rule: "swa.pattern",
            name: "gemma3-period-1",
            whole: true,
            w: with_period("gemma3", 1),
        },
        // ...period 0 makes every layer one (the first decode fills the unused full cache).
        Case {
            rule: "swa.full_layer",
            name: "gemma3-period-0",
            whole: true,
            w: with_period("gemma3", 0),
        },
        // No cache (an encoder): both masks are filled at every decode.
        Case {
            rule: "swa.pattern",
            name: "gemma-embedding-period-1",
            whole: true,
            w: with_period("gemma-embedding", 1),
        },
        Case {
            rule: "swa.full_layer",
            name: "gemma-embedding-default-period",
            whole: true,
            // The default period of 6 over 3 layers: all three are sliding-window layers.
            w: gemma3_like("gemma-embedding"),
        },
        // One flag per layer (mimo2, step35).
        Case {
            rule: "swa.pattern",
            name: "mimo2-no-flag",
            whole: false,
            w: mimo2([false; 3]),
        },
        Case {
            rule: "swa.full_layer",
            name: "mimo2-every-flag",
            whole: false,
            w: mimo2([true; 3]),
        },
    ]
}

/// Valid twins of the whole crafted models: period 2 over 3 layers makes layers 0 and 2
/// sliding-window layers and layer 1 a full one.
fn controls() -> Vec<(&'static str, GgufWriter)> {
    vec![
        ("gemma3-period-2", with_period("gemma3", 2)),
        (
            "gemma-embedding-period-2",
            with_period("gemma-embedding", 2),
        ),
    ]
}

fn bin(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_moe-tutor"));
    c.env("MOE_TUTOR_DATA_DIR", data)
        .env("MOE_TUTOR_PIP", "false")
        .env("GGML_NO_BACKTRACE", "1");
    c
}

fn run(data: &Path, model: &Path, skip_rule: Option<&str>) -> Output {
    let mut c = bin(data);
    if let Some(rule) = skip_rule {
        c.env("MOE_TUTOR_FAULT", format!("skip_rule:{rule}"));
    }
    c.args([
        "run",
        "--threads",
        "1",
        "--max-tokens",
        "2",
        "--prompt",
        "hi",
    ])
    .arg("--model")
    .arg(model)
    .output()
    .expect("run")
}

fn model_check(data: &Path, model: &Path, skip_rule: Option<&str>) -> Output {
    let mut c = bin(data);
    if let Some(rule) = skip_rule {
        c.env("MOE_TUTOR_FAULT", format!("skip_rule:{rule}"));
    }
    c.args(["model", "check", "--threads", "1"])
        .arg(model)
        .output()
        .expect("model check")
}

#[test]
fn the_pre_parser_refuses_each_crafted_file_by_its_rule() {
    let dir = tempfile::tempdir().expect("tempdir");
    for case in cases() {
        let path = dir.path().join(format!("{}.gguf", case.name));
        case.w.write(&path).expect("write");
        match GgufFile::open(&path) {
            Err(GgufError::Refused { rule, key, .. }) => {
                assert_eq!(rule, case.rule, "{}", case.name);
                assert!(key.ends_with(".attention.sliding_window_pattern"), "{key}");
            }
            other => panic!("{}: expected {}, got {other:?}", case.name, case.rule),
        }
    }
    for (name, w) in controls() {
        let path = dir.path().join(format!("{name}.gguf"));
        w.write(&path).expect("write");
        GgufFile::open(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn every_sliding_window_architecture_names_the_llama_cpp_lines_it_mirrors() {
    let table: Vec<_> = moe_tutor::model::gguf::swa_architectures().collect();
    for arch in [
        "llama4",
        "gemma2",
        "gemma3",
        "gemma-embedding",
        "modern-bert",
        "cohere2",
        "gpt-oss",
        "mimo2",
        "step35",
        "lfm2",
        "phi3",
    ] {
        let (_, rules, mirrors) = table
            .iter()
            .find(|(a, ..)| *a == arch)
            .unwrap_or_else(|| panic!("{arch} is not in the SWA table"));
        assert!(
            mirrors.starts_with("src/llama-model.cpp:"),
            "{arch}: {mirrors}"
        );
        let exempt = matches!(arch, "lfm2" | "phi3");
        assert_eq!(rules.starts_with("exempt"), exempt, "{arch}: {rules}");
    }
}

#[test]
fn exempt_architectures_pass_with_every_layer_a_sliding_window_layer() {
    let dir = tempfile::tempdir().expect("tempdir");
    // lfm2 marks every attention layer as a sliding-window layer, and its hybrid memory
    // fills only the inputs a layer uses; phi3 reads the window and switches it off.
    let mut lfm2 = crafted::rearch(&TinySpec::dense(), "lfm2", |_| true, &[]);
    lfm2.set("lfm2.attention.sliding_window", 64u32);
    let mut phi3 = crafted::rearch(&TinySpec::dense(), "phi3", |_| true, &[]);
    phi3.set("phi3.attention.sliding_window", 64u32)
        .set("phi3.attention.sliding_window_pattern", 0u32);
    for (name, w) in [("lfm2", lfm2), ("phi3", phi3)] {
        let path = dir.path().join(format!("{name}.gguf"));
        w.write(&path).expect("write");
        GgufFile::open(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn headless_run_exits_2_with_a_message_and_never_a_signal() {
    let dir = tempfile::tempdir().expect("tempdir");
    for case in cases() {
        let path = dir.path().join(format!("{}.gguf", case.name));
        case.w.write(&path).expect("write");
        let data = tempfile::tempdir().expect("data");
        let out = run(data.path(), &path, None);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.signal(), None, "{}: {err}", case.name);
        assert_eq!(out.status.code(), Some(2), "{}: {err}", case.name);
        assert!(
            err.starts_with("moe-tutor: error: ")
                && err.contains("attention.sliding_window_pattern")
                && err.contains("sliding-window layer"),
            "{}: {err}",
            case.name
        );
        assert!(out.stdout.is_empty(), "{}", case.name);
    }
}

#[test]
fn with_the_rule_skipped_llama_cpp_aborts_in_the_child_and_run_still_explains() {
    let dir = tempfile::tempdir().expect("tempdir");
    for case in cases().into_iter().filter(|c| c.whole) {
        let path = dir.path().join(format!("{}.gguf", case.name));
        case.w.write(&path).expect("write");
        let data = tempfile::tempdir().expect("data");
        // The rule is not made up: llama.cpp, given the file, kills the process.
        let out = model_check(data.path(), &path, Some(case.rule));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGABRT),
            "{}: {}",
            case.name,
            err.lines().rev().take(4).collect::<Vec<_>>().join(" | ")
        );
        eprintln!(
            "{}: {}",
            case.name,
            err.lines()
                .rev()
                .find(|l| l.contains("GGML_ASSERT"))
                .unwrap_or("?")
        );
        // `run` tries it in a child first: a message and exit 2, never the abort.
        let out = run(data.path(), &path, Some(case.rule));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.signal(), None, "{}: {err}", case.name);
        assert_eq!(out.status.code(), Some(2), "{}: {err}", case.name);
        assert!(
            err.contains("llama.cpp aborted while loading"),
            "{}: {err}",
            case.name
        );
    }
    for (name, w) in controls() {
        let path = dir.path().join(format!("{name}.gguf"));
        w.write(&path).expect("write");
        let data = tempfile::tempdir().expect("data");
        let out = model_check(data.path(), &path, None);
        assert_eq!(
            out.status.signal(),
            None,
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
