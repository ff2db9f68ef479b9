//! The child-process model check: a file that passes the pre-parser but makes llama.cpp
//! abort is refused with llama.cpp's last line instead of killing `run`; `model check`
//! itself; verdicts remembered by path, size, time and header hash.

mod common;
mod crafted;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output};

fn bin(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_moe-tutor"));
    c.env("MOE_TUTOR_DATA_DIR", data);
    c.env("MOE_TUTOR_PIP", "false");
    c
}

fn run(data: &Path, model: &Path) -> Output {
    bin(data)
        .args([
            "run",
            "--threads",
            "1",
            "--max-tokens",
            "2",
            "--prompt",
            "hi",
            "--model",
        ])
        .arg(model)
        .output()
        .expect("run")
}

/// `run` with the one rule that refuses [`crafted::passes_checks_but_aborts`] skipped
/// (a debug builds' test hook), so the file reaches llama.cpp.
fn run_skipping_the_rule(data: &Path, model: &Path) -> Output {
    bin(data)
        .env(
            "MOE_TUTOR_FAULT",
            format!("skip_rule:{}", crafted::SKIPPED_RULE),
        )
        .args([
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

fn cache(data: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(data.join("model-checks.json")).expect("cache file");
    serde_json::from_str(&text).expect("cache json")
}

fn entry_for(data: &Path, model: &Path) -> serde_json::Value {
    let canonical = std::fs::canonicalize(model).unwrap();
    cache(data)["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"].as_str() == canonical.to_str())
        .cloned()
        .unwrap_or_else(|| panic!("no entry for {}", model.display()))
}

#[test]
fn a_file_llama_cpp_aborts_on_fails_with_its_last_line_not_a_signal() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("cohere2.gguf");
    crafted::passes_checks_but_aborts().write(&model).unwrap();
    // One rule refuses it, and only that one: the test skips it, so llama.cpp gets the file.
    match moe_tutor::model::gguf::GgufFile::open(&model) {
        Err(moe_tutor::model::gguf::GgufError::Refused { rule, .. }) => {
            assert_eq!(rule, crafted::SKIPPED_RULE)
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let data = tempfile::tempdir().unwrap();
    for attempt in ["first (checked in a child)", "second (remembered)"] {
        let out = run_skipping_the_rule(data.path(), &model);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.signal(), None, "{attempt}: {err}");
        assert_eq!(out.status.code(), Some(2), "{attempt}: {err}");
        assert!(
            err.contains("llama.cpp aborted while loading")
                && err.contains(
                    "cohere2.gguf: ggml/src/ggml-backend.cpp:194: GGML_ASSERT(buffer) failed"
                ),
            "{attempt}: {err}"
        );
        let e = entry_for(data.path(), &model);
        assert_eq!(e["verdict"], "aborted");
        assert_eq!(e["size"], std::fs::metadata(&model).unwrap().len());
    }
}

#[test]
fn model_check_says_ok_refuses_or_dies() {
    let data = tempfile::tempdir().unwrap();
    let good = common::tiny_moe();
    let out = bin(data.path())
        .args(["model", "check"])
        .arg(&good)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("ok: moe-tutor tiny deepseek (deepseek), 3 layers,"),
        "{stdout}"
    );

    let dir = tempfile::tempdir().unwrap();
    let case = crafted::cases().into_iter().next().unwrap();
    let bad = case.write(dir.path());
    let out = bin(data.path())
        .args(["model", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("metadata 'deepseek.block_count' is wrong")
    );

    // The check itself is the process llama.cpp kills: that is its job.
    let aborts = dir.path().join("aborts.gguf");
    crafted::passes_checks_but_aborts().write(&aborts).unwrap();
    let out = bin(data.path())
        .env("GGML_NO_BACKTRACE", "1")
        .env(
            "MOE_TUTOR_FAULT",
            format!("skip_rule:{}", crafted::SKIPPED_RULE),
        )
        .args(["model", "check"])
        .arg(&aborts)
        .output()
        .unwrap();
    assert_eq!(out.status.signal(), Some(libc::SIGABRT));
}

#[test]
fn a_remembered_verdict_is_used_until_the_file_changes() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny.gguf");
    std::fs::copy(common::tiny_moe(), &model).unwrap();
    let data = tempfile::tempdir().unwrap();
    let out = run(data.path(), &model);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let e = entry_for(data.path(), &model);
    assert_eq!(e["verdict"], "ok");
    assert_eq!(e["header_sha256"].as_str().map(str::len), Some(64));

    // A verdict stored for exactly this file is trusted without a new check.
    let mut c = cache(data.path());
    for e in c["entries"].as_array_mut().unwrap() {
        e["verdict"] = "aborted".into();
        e["last_line"] = "a remembered abort".into();
    }
    std::fs::write(data.path().join("model-checks.json"), c.to_string()).unwrap();
    let out = run(data.path(), &model);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("a remembered abort"));

    // A new modification time is a new file: checked again, and the verdict replaced.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(&model)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let out = run(data.path(), &model);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(entry_for(data.path(), &model)["verdict"], "ok");
    assert_eq!(cache(data.path())["entries"].as_array().unwrap().len(), 1);
}
