//! The UI keeps drawing while the engine reads a long prompt, and Esc stops the prefill
//! before it reaches the end: the real binary in a pseudo-terminal, a synthetic MoE big
//! enough (and a prompt long enough) that prefill takes many batches on one thread.
//! Nothing here is timed: the screen must show the prefill percentage rising through
//! values strictly between 0 and 100, and after Esc the reply must end "stopped" with no
//! token written, at a percentage below 100.

mod common;

use std::time::{Duration, Instant};

use common::pty::Tui;
use moe_tutor::model::tiny::{self, TinySpec};

/// The percentage in the status bar's "prefill N%", if shown.
fn prefill_percent(screen: &str) -> Option<u32> {
    let rest = &screen[screen.find("prefill ")? + "prefill ".len()..];
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    rest[digits.len()..]
        .starts_with('%')
        .then(|| digits.parse().ok())
        .flatten()
}

/// Wider and deeper than the standard tiny model, with a long context: a few thousand
/// prompt tokens take many 512-token batches on one thread.
fn long_context_moe(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("prefill-moe.gguf");
    let spec = TinySpec {
        n_layer: 6,
        n_embd: 256,
        n_head: 8,
        n_head_kv: 4,
        n_ff: 512,
        n_expert: 16,
        n_expert_used: 4,
        n_ff_exp: 128,
        n_ctx: 8192,
        ..TinySpec::default()
    };
    tiny::write(&path, &spec).unwrap();
    path
}

#[test]
fn ui_redraws_during_a_long_prefill_and_esc_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let model = long_context_moe(dir.path());
    let mut tui = Tui::start(
        &[
            "--model",
            model.to_str().unwrap(),
            "--threads",
            "1",
            "--ctx",
            "8192",
            "--max-tokens",
            "8",
        ],
        120,
        30,
    );
    tui.wait_for("the model to load", |s| s.contains("ready"));
    // Single letters and digits are one token each in the tiny vocabulary: about 7,000
    // prompt tokens, pasted (bracketed paste puts them in the input, not sent).
    let text: String = (0..3500)
        .map(|i| ["q ", "z ", "7 ", "x ", "j "][i % 5])
        .collect();
    tui.send(&format!("\x1b[200~{text}\x1b[201~"));
    tui.wait_for("the pasted text", |s| s.contains("q z 7 x j"));
    tui.send("\r");

    // The screen keeps changing while the prompt is read: two different percentages
    // strictly between 0 and 100.
    let first = tui.wait_for("prefill progress", |s| {
        prefill_percent(s).is_some_and(|p| p > 0 && p < 100)
    });
    let p1 = prefill_percent(&first).unwrap();
    let second = tui.wait_for("more prefill progress", |s| {
        prefill_percent(s).is_some_and(|p| p > p1 && p < 100)
    });
    let p2 = prefill_percent(&second).unwrap();

    // Esc stops it before it reaches the end.
    tui.send("\x1b");
    let stopped = tui.wait_for("the reply to stop", |s| {
        s.contains("stopped") && prefill_percent(s).is_none()
    });
    assert!(
        !stopped.contains("writing…") && !stopped.contains("tok/s"),
        "a token was written after Esc:\n{stopped}"
    );
    assert!(p2 < 100, "{p2}");

    tui.send("\x11");
    let deadline = Instant::now() + Duration::from_secs(20);
    while tui.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the app did not quit");
        std::thread::sleep(Duration::from_millis(50));
    }
}
