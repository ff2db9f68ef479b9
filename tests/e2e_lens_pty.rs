//! The layer lens in the real binary, in a pseudo-terminal: chat, Alt+L, the rows arrive
//! from the engine thread, Alt+← asks again for the previous token, Esc closes it.

mod common;

use common::pty::Tui;

const ALT_L: &str = "\x1bl";
const ALT_LEFT: &str = "\x1b[1;3D";
const ESC: &str = "\x1b";
const CTRL_Q: &str = "\x11";

#[test]
fn alt_l_shows_each_layers_prediction_in_a_real_terminal() {
    let model = common::tiny_moe();
    let mut tui = Tui::start(
        &[
            "--model",
            model.to_str().unwrap(),
            "--threads",
            "1",
            "--max-tokens",
            "6",
            "--temperature",
            "0",
        ],
        120,
        34,
    );
    tui.wait_for("the model to load", |s| s.contains("ready"));
    tui.send("Hello lens");
    tui.send("\r");
    tui.wait_for("the reply to finish", |s| {
        s.contains("tok/s") && s.contains("ready")
    });
    tui.send(ALT_L);
    let s = tui.wait_for("the lens rows", |s| {
        s.contains("layer lens") && s.contains("L2 ") && s.contains("last row")
    });
    // Beside the routing pane, which stays on screen.
    assert!(s.contains("routing"), "{s}");
    assert!(s.contains("L0 ") && s.contains("L1 "), "{s}");
    assert!(!s.contains('\u{1b}'), "raw escape on screen");
    let pos = |s: &str| {
        s.lines().find_map(|l| {
            l.split("(pos ")
                .nth(1)?
                .split(')')
                .next()?
                .parse::<u32>()
                .ok()
        })
    };
    let first = pos(&s).expect("the lens names its position");
    tui.send(ALT_LEFT);
    tui.wait_for("the lens of the previous token", |s| {
        pos(s) == Some(first - 1) && s.contains("last row")
    });
    tui.send(ESC);
    tui.wait_for("the lens to close", |s| !s.contains("layer lens"));
    tui.send(CTRL_Q);
    assert!(tui.wait_exit().success());
}
