//! What moe-tutor writes about you is readable by you only, whatever the umask: started
//! under umask 022 (which would leave files 0644 and folders 0755), a chat's journal, the
//! settings file, lesson progress and the log come out 0600 in 0700 folders. Files left
//! readable by older versions are tightened on the next start, with a notice.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::pty::Tui;

const F10: &str = "\x1b[21~";
const CTRL_Q: &str = "\x11";
const UMASK_022: &[&str] = &["sh", "-c", "umask 022; exec \"$0\" \"$@\""];

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

fn only_file(dir: &Path) -> std::path::PathBuf {
    let files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

#[test]
fn a_chat_under_umask_022_leaves_only_private_files() {
    let model = common::tiny_moe();
    let mut tui = Tui::start_under(
        UMASK_022,
        &[
            "--model",
            model.to_str().unwrap(),
            "--threads",
            "1",
            "--max-tokens",
            "8",
        ],
        100,
        30,
    );
    tui.wait_for("the model to load", |s| s.contains("ready"));
    tui.send("A private question");
    tui.wait_for("typed text", |s| s.contains("A private question"));
    tui.send("\r");
    tui.wait_for("the reply to finish", |s| {
        s.contains("tok/s") && s.contains("ready")
    });
    // F10 switches the lessons' language, which is saved with the lesson progress.
    tui.send(F10);
    let data = tui.data_dir().to_path_buf();
    let progress = data.join("lessons").join("progress.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !progress.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    tui.send(CTRL_Q);
    assert!(tui.wait_exit().success());

    let conversations = data.join("conversations");
    let journal = only_file(&conversations);
    assert_eq!(mode(&journal), 0o600, "journal {}", journal.display());
    assert_eq!(mode(&conversations), 0o700);
    let config = data.join("config.toml");
    assert_eq!(mode(&config), 0o600, "settings");
    assert_eq!(mode(&progress), 0o600, "lesson progress");
    assert_eq!(mode(&data.join("lessons")), 0o700);
    let log = data.join("logs").join("moe-tutor.log");
    assert_eq!(mode(&log), 0o600, "log");
    assert_eq!(mode(&data.join("logs")), 0o700);
    // And the log holds nothing of what was said.
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("private question"), "{text}");
}

#[test]
fn files_left_readable_are_tightened_on_start_with_a_notice() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let conversations = data.join("conversations");
    let logs = data.join("logs");
    std::fs::create_dir_all(&conversations).unwrap();
    std::fs::create_dir_all(&logs).unwrap();
    let journal = conversations.join("2024-01-01T00-00-00.jsonl");
    let log = logs.join("moe-tutor.log");
    for f in [&journal, &log] {
        std::fs::write(f, b"").unwrap();
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    for d in [&data, &conversations, &logs] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let run = || {
        Command::new("sh")
            .args(["-c", "umask 022; exec \"$0\" \"$@\""])
            .arg(env!("CARGO_BIN_EXE_moe-tutor"))
            .args(["lessons", "list"])
            .env("MOE_TUTOR_DATA_DIR", &data)
            .output()
            .unwrap()
    };
    let out = run();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("2 files and 3 folders") && err.contains("readable by you only"),
        "{err}"
    );
    for f in [&journal, &log] {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    for d in [&data, &conversations, &logs] {
        assert_eq!(mode(d), 0o700, "{}", d.display());
    }
    // Nothing left to tighten: no notice the next time.
    let out = run();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("readable by you only"));
}
