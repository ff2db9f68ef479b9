//! `moe-tutor eval kl` end to end on tiny generated models: identical models give zero KL
//! and equal perplexities, fewer experts give a positive KL, the last line parses, and
//! errors are one line.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_moe-tutor");

const TEXT: &str = "Hello world, the model has experts and a router. What is the answer to the \
question? The router picks the experts for each token in each layer. People like to learn \
about the mixture of experts, so write some more text: the water was long and the day was \
first, and we could look at them all. 你好世界 专家模型";

fn moe_tutor(data: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env("MOE_TUTOR_DATA_DIR", data)
        .output()
        .expect("runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn field(line: &str, key: &str) -> f64 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {line}"))
}

#[test]
fn kl_through_the_cli() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let p = |n: &str| d.join(n).to_string_lossy().into_owned();
    for (name, extra) in [
        ("moe.gguf", vec![]),
        ("moe2.gguf", vec!["--weights-seed", "2"]),
    ] {
        let mut args = vec!["model", "tiny", "--out"];
        let out = p(name);
        args.push(&out);
        args.extend(extra);
        assert!(moe_tutor(d, &args).0, "tiny model");
    }
    std::fs::write(d.join("text.txt"), TEXT.repeat(4)).expect("text");
    let (moe, moe2, text) = (p("moe.gguf"), p("moe2.gguf"), p("text.txt"));
    let kl = |model: &str, extra: &[&str]| {
        let mut args = vec![
            "eval",
            "kl",
            "--reference",
            &moe,
            "--model",
            model,
            "--text",
            &text,
        ];
        args.extend_from_slice(extra);
        let (ok, stdout, stderr) = moe_tutor(d, &args);
        assert!(ok, "{stderr}");
        stdout.lines().last().expect("a result line").to_string()
    };

    let same = kl(&moe, &[]);
    assert_eq!(field(&same, "kl"), 0.0, "{same}");
    assert_eq!(field(&same, "ppl_reference"), field(&same, "ppl_model"));
    assert!(field(&same, "tokens") > 100.0, "{same}");

    let fewer = kl(&moe, &["--experts-used", "1"]);
    assert!(field(&fewer, "kl") > 1e-4, "{fewer}");
    assert_eq!(
        field(&fewer, "ppl_reference"),
        field(&same, "ppl_reference")
    );

    let capped = kl(&moe2, &["--max-tokens", "50"]);
    assert_eq!(field(&capped, "tokens"), 50.0, "{capped}");
    assert!(field(&capped, "kl") > 1e-3, "other weights: {capped}");

    let (ok, _, stderr) = moe_tutor(
        d,
        &[
            "eval",
            "kl",
            "--reference",
            &moe,
            "--model",
            &moe,
            "--text",
            &p("missing.txt"),
        ],
    );
    assert!(!ok);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cannot read text"), "{stderr}");
}

mod common;

#[test]
fn kl_with_an_adapter_through_the_cli() {
    // Regression: the adapter was freed while llama.cpp still used it (a segfault).
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("text.txt"), TEXT.repeat(2)).expect("text");
    let (moe, lora) = (common::tiny_moe(), common::tiny_lora());
    let text = d.join("text.txt");
    let kl = |scale: &str| {
        let (ok, out, err) = moe_tutor(
            d,
            &[
                "--lora",
                lora.to_str().unwrap(),
                "eval",
                "kl",
                "--reference",
                moe.to_str().unwrap(),
                "--model",
                moe.to_str().unwrap(),
                "--text",
                text.to_str().unwrap(),
                "--lora-scale",
                scale,
            ],
        );
        assert!(ok, "{err}");
        field(out.lines().last().expect("a line"), "kl")
    };
    assert!(kl("1") > 1e-4, "the adapter changes the model");
    assert!(kl("0") < 1e-6, "at scale 0 it is the reference itself");
    assert!(
        kl("-1") > 1e-4,
        "a negative scale applies the adapter the other way"
    );
}
