//! The real binary in a pseudo-terminal: type a prompt, watch the reply stream, move the
//! token selection, open the routing pane, raise the temperature, quit — then check the
//! terminal was given back as it was.

mod common;

use std::time::{Duration, Instant};

use common::pty::Tui;

const ALT_LEFT: &str = "\x1b[1;3D";
const F2: &str = "\x1bOQ";
const F6: &str = "\x1b[17~";
const CTRL_Q: &str = "\x11";

#[test]
fn chat_select_route_sample_quit_in_a_real_terminal() {
    let model = common::tiny_moe();
    let mut tui = Tui::start(
        &[
            "--model",
            model.to_str().unwrap(),
            "--threads",
            "1",
            "--max-tokens",
            "24",
            "--temperature",
            "0.7",
        ],
        100,
        30,
    );
    tui.wait_for("the model to load", |s| s.contains("ready"));
    tui.send("Hello router");
    tui.wait_for("typed text", |s| s.contains("Hello router"));
    tui.send("\r");
    // The reply streams, then ends: the status goes back to ready with a token rate.
    let s = tui.wait_for("the reply to finish", |s| {
        s.contains("tok/s") && s.contains("ready")
    });
    assert!(s.contains("Hello router"));

    // Move the selection back along the transcript: the strip stops following the newest
    // token and the sampling readout names an earlier position.
    let before = tui.screen();
    assert!(before.contains("following"), "{before}");
    tui.send(ALT_LEFT);
    tui.send(ALT_LEFT);
    tui.wait_for("the selection to move", |s| {
        !s.contains("following") && s != before
    });

    // Open the routing pane: layers x experts for the selected token.
    tui.send(F2);
    tui.wait_for("the routing pane", |s| {
        s.contains("routing") && s.contains("L1")
    });

    // Raise the temperature: the status bar shows the new value.
    tui.send(F6);
    tui.send(F6);
    tui.wait_for("temperature 0.9", |s| s.contains("T 0.90"));

    tui.send(CTRL_Q);
    let status = tui.wait_exit();
    assert!(status.success(), "{status:?}");
    // Wait for the reader thread to drain the last bytes.
    std::thread::sleep(Duration::from_millis(200));
    let parser = tui.parser.lock().unwrap();
    assert!(
        !parser.screen().alternate_screen(),
        "left the alternate screen"
    );
    assert!(!parser.screen().hide_cursor(), "cursor shown again");
    drop(parser);
    let termios = tui.master.get_termios().expect("termios");
    // portable-pty hands back its own nix's termios: compare the raw bits.
    let want = (libc::ICANON | libc::ECHO) as u64;
    assert_eq!(
        termios.local_flags.bits() as u64 & want,
        want,
        "raw mode left on: {:?}",
        termios.local_flags
    );
}

fn signal_ends_the_app(sig: nix::sys::signal::Signal) {
    let model = common::tiny_moe();
    let mut tui = Tui::start(
        &["--model", model.to_str().unwrap(), "--threads", "1"],
        80,
        24,
    );
    tui.wait_for("the model to load", |s| s.contains("ready"));
    let pid = tui.child.process_id().expect("pid") as i32;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig).unwrap();
    let started = Instant::now();
    tui.wait_exit();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(!tui.parser.lock().unwrap().screen().alternate_screen());
}

#[test]
fn hangup_ends_the_app_and_restores_the_terminal() {
    // What the kernel sends when the terminal window closes.
    signal_ends_the_app(nix::sys::signal::Signal::SIGHUP);
}

#[test]
fn sigterm_ends_the_app_and_restores_the_terminal() {
    signal_ends_the_app(nix::sys::signal::Signal::SIGTERM);
}

#[test]
fn a_tiny_terminal_gets_a_notice_not_a_crash() {
    let model = common::tiny_moe();
    let mut tui = Tui::start(
        &["--model", model.to_str().unwrap(), "--threads", "1"],
        30,
        8,
    );
    tui.wait_for("the too-small notice", |s| {
        s.to_lowercase().contains("too small")
    });
    // The parser follows the new size too: a screen read back at the old size mixes
    // rows of the new layout, and whether a word shows depends on redraw timing.
    tui.resize(100, 30);
    tui.wait_for("the full layout after resize", |s| s.contains("ready"));
    tui.send(CTRL_Q);
    assert!(tui.wait_exit().success());
}

/// A token whose decode a loaded machine has slowed to seconds (stood in for by a debug
/// build's stall of every generated token's decode) does not hold quitting: the app
/// leaves within about a second, terminal restored, and says in its log that it left the
/// engine thread busy.
fn quit_mid_token(quit: impl FnOnce(&mut Tui)) {
    let model = common::tiny_moe();
    let mut tui = Tui::start_with_env(
        &[("MOE_TUTOR_DEBUG_DECODE_STALL_MS", "20000")],
        &[
            "--model",
            model.to_str().unwrap(),
            "--threads",
            "1",
            "--max-tokens",
            "40",
        ],
        100,
        30,
    );
    tui.wait_for("the model to load", |s| s.contains("ready"));
    tui.send("Hello router");
    tui.wait_for("typed text", |s| s.contains("Hello router"));
    tui.send("\r");
    tui.wait_for("the reply to start", |s| s.contains("generating"));
    // Inside the stalled decode of the first token.
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    quit(&mut tui);
    let status = tui.wait_exit();
    let took = started.elapsed();
    assert!(status.success(), "{status:?}");
    // Without the quit deadline this waits out the 20 s stall.
    assert!(took < Duration::from_secs(8), "quitting took {took:?}");
    std::thread::sleep(Duration::from_millis(200));
    assert!(!tui.parser.lock().unwrap().screen().alternate_screen());
    let log = std::fs::read_to_string(tui.data_dir().join("logs").join("moe-tutor.log"))
        .expect("log file");
    assert!(log.contains("quit: engine still busy"), "{log}");
}

#[test]
fn ctrl_q_mid_token_does_not_wait_for_the_decode() {
    quit_mid_token(|tui| tui.send(CTRL_Q));
}

#[test]
fn sigterm_mid_token_does_not_wait_for_the_decode() {
    quit_mid_token(|tui| {
        let pid = tui.child.process_id().expect("pid") as i32;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
    });
}
