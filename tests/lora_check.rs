//! LoRA adapters are checked against their model before llama.cpp loads them: crafted
//! adapters llama.cpp would abort on are refused by the pre-parser (headless: exit 2 with a
//! message; in the app: a message and the app goes on), and, with that rule skipped (a
//! debug builds' test hook), the child-process check takes llama.cpp's abort instead. A
//! good adapter passes both, and the verdict for the pair is remembered.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use moe_tutor::model::gguf::{check_adapter, GgufFile, GgufWriter, ADAPTER_RULES};

/// An adapter for the tiny MoE (rank 4 on every attn_q), changed by `edit`.
fn adapter(edit: impl FnOnce(&mut GgufWriter)) -> GgufWriter {
    let mut w = GgufWriter::new();
    w.set("general.architecture", "deepseek");
    w.set("general.type", "adapter");
    w.set("adapter.type", "lora");
    w.set("adapter.lora.alpha", 4.0f32);
    for i in 0..3 {
        let name = format!("blk.{i}.attn_q.weight");
        w.add_f32(&format!("{name}.lora_a"), &[64, 4], &[0.01; 256])
            .unwrap();
        w.add_f32(&format!("{name}.lora_b"), &[4, 64], &[0.01; 256])
            .unwrap();
    }
    edit(&mut w);
    w
}

fn n_vocab() -> u64 {
    let base = GgufFile::open(common::tiny_moe()).unwrap();
    base.tensor("token_embd.weight").unwrap().shape[1]
}

/// One crafted adapter per rule: (rule, file name, writer).
fn crafted() -> Vec<(&'static str, &'static str, GgufWriter)> {
    let v = n_vocab();
    vec![
        (
            "lora.string_keys",
            "adapter-type-not-text",
            adapter(|w| {
                w.set("adapter.type", 7u32);
            }),
        ),
        (
            "lora.alpha",
            "alpha-u32",
            adapter(|w| {
                w.set("adapter.lora.alpha", 4u32);
            }),
        ),
        (
            "lora.embd_rank",
            "embd-ranks-4-and-2",
            adapter(|w| {
                let a = vec![0.01f32; (4 * v) as usize];
                w.add_f32("token_embd.weight.lora_a", &[4, v], &a).unwrap();
                w.add_f32("token_embd.weight.lora_b", &[2, 64], &[0.01; 128])
                    .unwrap();
            }),
        ),
        (
            "lora.dims",
            "3d-on-a-matrix",
            adapter(|w| {
                let name = "blk.0.attn_k.weight";
                let k = GgufFile::open(common::tiny_moe()).unwrap();
                let out = k.tensor(name).unwrap().shape[1];
                let b = vec![0.01f32; (4 * out * 2) as usize];
                w.add_f32(&format!("{name}.lora_a"), &[64, 4, 2], &[0.01; 512])
                    .unwrap();
                w.add_f32(&format!("{name}.lora_b"), &[4, out, 2], &b)
                    .unwrap();
            }),
        ),
    ]
}

fn write(dir: &Path, name: &str, w: &GgufWriter) -> PathBuf {
    let p = dir.join(format!("{name}.gguf"));
    w.write(&p).unwrap();
    p
}

fn bin(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_moe-tutor"));
    c.env("MOE_TUTOR_DATA_DIR", data);
    c.env("MOE_TUTOR_PIP", "false");
    c.env("GGML_NO_BACKTRACE", "1");
    c
}

fn run(data: &Path, lora: &Path, skip: Option<&str>) -> Output {
    let mut c = bin(data);
    if let Some(rule) = skip {
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
    .arg(common::tiny_moe())
    .arg("--lora")
    .arg(lora)
    .output()
    .unwrap()
}

#[test]
fn every_adapter_rule_has_a_crafted_file_the_pre_parser_refuses_by_it() {
    let base = GgufFile::open(common::tiny_moe()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cases = crafted();
    for rule in ADAPTER_RULES {
        assert!(cases.iter().any(|(r, ..)| *r == rule.id), "{}", rule.id);
    }
    for (rule, name, w) in &cases {
        let lora = GgufFile::open(write(dir.path(), name, w)).unwrap();
        let e = check_adapter(&lora, &base).expect_err(name);
        assert_eq!(e.rule, Some(*rule), "{name}: {e}");
    }
    let good = GgufFile::open(common::tiny_lora()).unwrap();
    check_adapter(&good, &base).expect("the tiny adapter fits its model");
}

#[test]
fn headless_a_crafted_adapter_is_a_message_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for (_, name, w) in crafted() {
        let data = tempfile::tempdir().unwrap();
        let out = run(data.path(), &write(dir.path(), name, &w), None);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(
            err.contains("LoRA adapter") && err.contains("llama.cpp would abort on it"),
            "{name}: {err}"
        );
    }
}

#[test]
fn with_its_rule_skipped_llama_cpp_aborts_in_the_child_check_not_here() {
    let dir = tempfile::tempdir().unwrap();
    for (rule, name, w) in crafted() {
        let lora = write(dir.path(), name, &w);
        // `model check` is the process llama.cpp kills: the rule is not made up.
        let data = tempfile::tempdir().unwrap();
        let out = bin(data.path())
            .env("MOE_TUTOR_FAULT", format!("skip_rule:{rule}"))
            .args(["model", "check", "--threads", "1", "--lora"])
            .arg(&lora)
            .arg(common::tiny_moe())
            .output()
            .unwrap();
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGABRT),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // `run` checks the pair in a child: the abort becomes a message, twice (the
        // second time from the remembered verdict).
        for attempt in ["first", "remembered"] {
            let out = run(data.path(), &lora, Some(rule));
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.signal(), None, "{name} {attempt}: {err}");
            assert_eq!(out.status.code(), Some(2), "{name} {attempt}: {err}");
            assert!(
                err.contains("llama.cpp aborted while loading the LoRA adapter")
                    && err.contains(&format!("{name}.gguf")),
                "{name} {attempt}: {err}"
            );
        }
    }
}

#[test]
fn a_good_adapter_passes_the_child_check_and_the_pair_is_remembered() {
    let data = tempfile::tempdir().unwrap();
    let out = bin(data.path())
        .args(["model", "check", "--threads", "1", "--lora"])
        .arg(common::tiny_lora())
        .arg(common::tiny_moe())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("with the LoRA adapter"), "{stdout}");
    let out = run(data.path(), &common::tiny_lora(), None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cache: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(data.path().join("model-checks.json")).unwrap(),
    )
    .unwrap();
    let lora = std::fs::canonicalize(common::tiny_lora()).unwrap();
    let entry = cache["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"].as_str() == lora.to_str())
        .unwrap_or_else(|| panic!("no verdict for the adapter: {cache}"));
    assert_eq!(entry["verdict"], "ok");
}

#[test]
fn in_the_app_a_crafted_adapter_is_a_notice_and_the_app_stays_usable() {
    let dir = tempfile::tempdir().unwrap();
    let (_, name, w) = crafted().swap_remove(1);
    let lora = write(dir.path(), name, &w);
    let model = common::tiny_moe();
    let args = [
        "--model",
        model.to_str().unwrap(),
        "--lora",
        lora.to_str().unwrap(),
        "--threads",
        "1",
    ];
    let mut t = common::pty::Tui::start(&args, 160, 30);
    let s = t.wait_for("the refusal", |s| s.contains("adapter.lora.alpha"));
    assert!(s.contains("could not load the model"), "{s}");
    t.send("still here");
    t.wait_for("typed text", |s| s.contains("still here"));
    assert!(t.child.try_wait().unwrap().is_none(), "the app ended");
    t.send("\x11");
    let status = t.wait_exit();
    assert!(status.success(), "{status:?}");
}
