//! `eval kl` loads its LoRA adapter through the same checked path as the app: a crafted
//! adapter llama.cpp would abort on is refused with a message by the pre-parser, and with
//! that rule skipped (the debug builds' test hook) the child-process check takes
//! llama.cpp's abort instead. Either way the process exits below 128, with no signal.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output};

use moe_tutor::model::gguf::GgufWriter;

const TEXT: &str = "The router picks the experts for each token in each layer, and the \
mixture of their outputs is what the next layer reads. ";

/// A rank-4 adapter on every attn_q of the tiny MoE whose alpha is a u32, not an f32:
/// llama.cpp reads it through gguf's typed getter, which aborts (rule `lora.alpha`).
fn adapter_with_u32_alpha(path: &Path) {
    let mut w = GgufWriter::new();
    w.set("general.architecture", "deepseek");
    w.set("general.type", "adapter");
    w.set("adapter.type", "lora");
    w.set("adapter.lora.alpha", 4u32);
    for i in 0..3 {
        let name = format!("blk.{i}.attn_q.weight");
        w.add_f32(&format!("{name}.lora_a"), &[64, 4], &[0.01; 256])
            .unwrap();
        w.add_f32(&format!("{name}.lora_b"), &[4, 64], &[0.01; 256])
            .unwrap();
    }
    w.write(path).unwrap();
}

fn eval_kl(data: &Path, text: &Path, lora: &Path, skip_rule: Option<&str>) -> Output {
    let model = common::tiny_moe();
    let mut c = Command::new(env!("CARGO_BIN_EXE_moe-tutor"));
    c.env("MOE_TUTOR_DATA_DIR", data)
        .env("MOE_TUTOR_PIP", "false")
        .env("GGML_NO_BACKTRACE", "1");
    if let Some(rule) = skip_rule {
        c.env("MOE_TUTOR_FAULT", format!("skip_rule:{rule}"));
    }
    c.args([
        "eval",
        "kl",
        "--threads",
        "1",
        "--max-tokens",
        "16",
        "--reference",
    ])
    .arg(&model)
    .arg("--model")
    .arg(&model)
    .arg("--text")
    .arg(text)
    .arg("--lora")
    .arg(lora)
    .output()
    .unwrap()
}

#[test]
fn eval_kl_refuses_a_crafted_adapter_with_a_message_and_no_signal() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("text.txt");
    std::fs::write(&text, TEXT.repeat(8)).unwrap();
    let lora = dir.path().join("alpha-u32.gguf");
    adapter_with_u32_alpha(&lora);

    // The pre-parser refuses it before llama.cpp sees it.
    let data = tempfile::tempdir().unwrap();
    let out = eval_kl(data.path(), &text, &lora, None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), None, "{err}");
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("LoRA adapter")
            && err.contains("alpha-u32.gguf")
            && err.contains("adapter.lora.alpha")
            && err.contains("llama.cpp would abort on it"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "no report line on failure");

    // Without that rule, the child check is what llama.cpp kills; `eval kl` reports it.
    let data = tempfile::tempdir().unwrap();
    let out = eval_kl(data.path(), &text, &lora, Some("lora.alpha"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), None, "{err}");
    let code = out.status.code().expect("an exit code");
    assert!((1..128).contains(&code), "exit {code}: {err}");
    assert!(
        err.contains("llama.cpp aborted while loading the LoRA adapter")
            && err.contains("alpha-u32.gguf"),
        "{err}"
    );
}
