//! `moe-tutor run --lens STEP` on the tiny MoE: the per-layer lines after the reply, and
//! clear errors for a step the reply does not have.

mod common;

use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_moe-tutor"));
    let data = tempfile::tempdir().expect("tempdir").keep();
    c.env("MOE_TUTOR_DATA_DIR", data);
    c.env("MOE_TUTOR_PIP", "false");
    c
}

fn run(lens: &str, max_tokens: &str) -> std::process::Output {
    bin()
        .args(["run", "--model"])
        .arg(common::tiny_moe())
        .args([
            "--prompt",
            "Hi there",
            "--temperature",
            "0",
            "--threads",
            "1",
        ])
        .args(["--max-tokens", max_tokens, "--lens", lens])
        .output()
        .unwrap()
}

#[test]
fn run_prints_one_lens_line_per_layer_after_the_reply() {
    let out = run("2", "4");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let at = stdout
        .find("layer lens at reply token 2")
        .unwrap_or_else(|| panic!("no lens header in {stdout:?}"));
    let lines: Vec<&str> = stdout[at..].lines().skip(1).collect();
    // The tiny MoE has 3 layers.
    assert_eq!(lines.len(), 3, "{stdout}");
    for (i, line) in lines.iter().enumerate() {
        assert!(line.trim_start().starts_with(&format!("L{i} ")), "{line}");
        // Five candidates, each a quoted token and a probability.
        let probs: Vec<f32> = line
            .split_whitespace()
            .filter_map(|w| w.parse::<f32>().ok())
            .filter(|p| (0.0..=1.0).contains(p))
            .collect();
        assert!(probs.len() >= 5, "{line}");
        assert!(!line.contains('\u{1b}'), "raw escape in {line:?}");
    }
}

#[test]
fn a_step_past_the_reply_is_a_clear_error() {
    let out = run("9", "3");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--lens 9"), "{stderr}");
    assert!(stderr.contains("pick a step from 1 to"), "{stderr}");
    let out = run("0", "3");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--lens"), "{stderr}");
}
