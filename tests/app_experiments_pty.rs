//! The real binary in a pseudo-terminal: chat once, open the experiments overlay (its
//! prompt is the last message), define a 2x2 grid (temperature x seed), run it on the
//! chat's model, see the four results side by side, open the chart.

mod common;

use common::pty::Tui;

const F11: &str = "\x1b[23~";
const DOWN: &str = "\x1b[B";
const BACKSPACE: &str = "\x7f";
const ESC: &str = "\x1b";
const CTRL_Q: &str = "\x11";

fn replace_field(tui: &mut Tui, text: &str) {
    tui.send(&BACKSPACE.repeat(20));
    tui.send(text);
}

#[test]
fn a_2x2_grid_defined_in_the_tui_shows_4_results_and_a_chart() {
    let model = common::tiny_moe();
    let mut tui = Tui::start(
        &[
            "--model",
            model.to_str().unwrap(),
            "--threads",
            "1",
            "--max-tokens",
            "4",
        ],
        120,
        32,
    );
    tui.wait_for("the model to load", |s| s.contains("ready"));
    tui.send("Hello router\r");
    tui.wait_for("the reply to finish", |s| {
        s.contains("tok/s") && s.contains("ready")
    });

    tui.send(F11);
    tui.wait_for("the form, its prompt the last message", |s| {
        s.contains("experiments") && s.contains("Hello router") && s.contains("runs: 1")
    });
    tui.send(DOWN);
    replace_field(&mut tui, "0.2, 1.0");
    tui.send(&DOWN.repeat(2));
    replace_field(&mut tui, "1, 2");
    tui.send(&DOWN.repeat(3));
    replace_field(&mut tui, "4");
    tui.wait_for("runs: 4", |s| s.contains("runs: 4"));
    tui.send("\r");

    let s = tui.wait_for("four results side by side", |s| s.contains("runs 1-4 of 4"));
    let row = s
        .lines()
        .find(|l| l.contains("r000"))
        .unwrap_or_else(|| panic!("{s}"));
    for id in ["r001", "r002", "r003"] {
        assert!(row.contains(id), "{id} not beside r000: {row}");
    }
    assert!(s.contains("experiments"), "{s}");
    let folder = tui.data_dir().join("experiments");
    let dirs: Vec<_> = std::fs::read_dir(&folder).unwrap().collect();
    assert_eq!(dirs.len(), 1, "one dated folder");

    tui.send("c");
    tui.wait_for("the chart", |s| s.contains("against temperature"));
    tui.send(ESC);
    tui.wait_for("the table again", |s| s.contains("runs 1-4 of 4"));
    tui.send(ESC);
    tui.wait_for("the chat again", |s| {
        !s.contains("runs 1-4 of 4") && s.contains("Hello router")
    });
    tui.send(CTRL_Q);
    assert!(tui.wait_exit().success());
}
