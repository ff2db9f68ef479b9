//! The real binary in a pseudo-terminal that this test owns outright (the only master fd,
//! read by polling, no reader thread): a kill -9 mid-reply loses only that reply, hostile
//! text reaches neither the screen nor the terminal's state, closing the terminal ends
//! the app at once, and a panic gives the terminal back.

mod common;
mod crafted;

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use moe_tutor::store::{list, Journal, MessageRecord, Record, Speaker};

struct Term {
    master: Option<OwnedFd>,
    child: Child,
    parser: vt100::Parser,
    /// Every byte the app wrote.
    raw: Vec<u8>,
}

fn winsize(rows: u16, cols: u16) -> nix::pty::Winsize {
    nix::pty::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

impl Term {
    /// Start the app on a new pty. `ctty`: the pty is the app's controlling terminal
    /// (closing it sends SIGHUP); without, closing it shows only as end of input.
    fn start(args: &[&str], data: &Path, env: &[(&str, &str)], ctty: bool) -> Term {
        let (rows, cols) = (30, 100);
        let pty = nix::pty::openpty(&winsize(rows, cols), None).unwrap();
        let (master, slave): (OwnedFd, OwnedFd) = (pty.master, pty.slave);
        let flags = unsafe { libc::fcntl(master.as_raw_fd(), libc::F_GETFD) };
        unsafe { libc::fcntl(master.as_raw_fd(), libc::F_SETFD, flags | libc::FD_CLOEXEC) };
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_moe-tutor"));
        cmd.args(args)
            .env_remove("MOE_TUTOR_CONFIG_DIR")
            .env_remove("NO_COLOR")
            .env("MOE_TUTOR_DATA_DIR", data)
            .env("TERM", "xterm-256color")
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        for (k, v) in env {
            cmd.env(k, v);
        }
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                libc::setsid();
                if ctty {
                    libc::ioctl(0, libc::TIOCSCTTY as _, 0);
                }
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap();
        // `cmd` holds the slave copies; drop them so the master sees the app's end.
        drop(cmd);
        Term {
            master: Some(master),
            child,
            parser: vt100::Parser::new(rows, cols, 0),
            raw: Vec::new(),
        }
    }

    /// Read whatever the app wrote within `ms`.
    fn pump(&mut self, ms: i32) {
        let Some(fd) = self.master.as_ref().map(|m| m.as_raw_fd()) else {
            return;
        };
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let mut buf = [0u8; 65536];
        let mut wait = ms;
        // SAFETY: one valid pollfd; `buf` outlives the read.
        while unsafe { libc::poll(&mut pfd, 1, wait) } > 0 {
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return;
            }
            self.parser.process(&buf[..n as usize]);
            self.raw.extend_from_slice(&buf[..n as usize]);
            wait = 0;
        }
    }

    fn screen(&self) -> String {
        self.parser.screen().contents()
    }

    fn wait_for(&mut self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            self.pump(50);
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{s}\nraw bytes: {}, exited: {:?}",
                self.raw.len(),
                self.child.try_wait()
            );
        }
    }

    fn send(&mut self, text: &str) {
        let fd = self.master.as_ref().unwrap().as_raw_fd();
        // SAFETY: writes from a live buffer to our own descriptor.
        let n = unsafe { libc::write(fd, text.as_ptr().cast(), text.len()) };
        assert_eq!(n, text.len() as isize);
        self.pump(20);
    }

    fn resize(&mut self, rows: u16, cols: u16) {
        let fd = self.master.as_ref().unwrap().as_raw_fd();
        let ws = winsize(rows, cols);
        // SAFETY: TIOCSWINSZ reads one winsize.
        unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) };
        self.parser.set_size(rows, cols);
    }

    /// User and system CPU time of the app so far, in clock ticks (also of a zombie).
    fn cpu_ticks(&self) -> u64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        let after = stat.rsplit(')').next().unwrap_or("");
        let f: Vec<&str> = after.split_whitespace().collect();
        // Fields 14 and 15 of stat, counted from the state (field 3) here.
        f.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
            + f.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0)
    }

    fn is_zombie(&self) -> bool {
        std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true)
    }

    /// Wait for the app to end (reading its last output); how long it took.
    fn wait_exit(&mut self, limit: Duration) -> (std::process::ExitStatus, Duration) {
        let start = Instant::now();
        loop {
            self.pump(10);
            if let Some(status) = self.child.try_wait().unwrap() {
                self.pump(50);
                return (status, start.elapsed());
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                panic!(
                    "the app did not exit within {limit:?}; screen:\n{}",
                    self.screen()
                );
            }
        }
    }

    fn assert_terminal_restored(&self) {
        let screen = self.parser.screen();
        assert!(!screen.alternate_screen(), "still on the alternate screen");
        assert!(!screen.hide_cursor(), "cursor still hidden");
        let fd = self.master.as_ref().unwrap().as_raw_fd();
        // SAFETY: tcgetattr fills the termios we pass.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::tcgetattr(fd, &mut t) }, 0);
        assert!(
            t.c_lflag & libc::ICANON != 0 && t.c_lflag & libc::ECHO != 0,
            "raw mode left on"
        );
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

const F9: &str = "\x1b[20~";
const PGUP: &str = "\x1b[5~";
const ESC: &str = "\x1b";

fn model_args(model: &Path, max_tokens: &str) -> Vec<String> {
    [
        "--model",
        model.to_str().unwrap(),
        "--threads",
        "1",
        "--max-tokens",
        max_tokens,
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn kill_9_mid_reply_loses_only_that_reply() {
    let model = common::tiny_moe();
    let data = tempfile::tempdir().unwrap();
    let args = model_args(&model, "3000");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut t = Term::start(&args, data.path(), &[], true);
    t.wait_for("the model to load", |s| s.contains("ready"));
    // A first exchange, stopped early with Esc so it stays short.
    t.send("first question\r");
    t.wait_for("the first reply", |s| s.contains("generating"));
    t.send(ESC);
    t.wait_for("the first reply to stop", |s| {
        s.contains("stopped") && !s.contains("generating")
    });
    std::thread::sleep(Duration::from_millis(300));
    // Ask until a reply is caught in flight: the app is frozen (SIGSTOP) while generating
    // and the journal read; its last line is the question exactly when the reply is
    // still being written (a random model may end a reply at any token).
    let pid = nix::unistd::Pid::from_raw(t.child.id() as i32);
    let journal = || {
        let saved = list::list(&data.path().join("conversations")).unwrap();
        assert_eq!(saved.len(), 1);
        list::read(&saved[0].path).unwrap()
    };
    let mut resized = false;
    let conv = (2..8)
        .find_map(|n| {
            let question = format!("question {n}");
            t.send(&format!("{question}\r"));
            let deadline = Instant::now() + Duration::from_secs(30);
            while !journal().messages.iter().any(|m| m.content == question) {
                assert!(Instant::now() < deadline, "{question} was not saved");
                t.pump(20);
            }
            if !resized {
                // Resizing mid-reply redraws at the new size.
                t.resize(36, 130);
                t.wait_for("the wide layout", |s| {
                    s.contains("sampling") && s.contains("routing")
                });
                resized = true;
            }
            nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
            let conv = journal();
            if conv.messages.last().map(|m| m.role) == Some(Speaker::User) {
                return Some(conv);
            }
            nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
            None
        })
        .expect("no reply was caught in flight in six tries");
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    let _ = t.child.wait();

    // What the journal held at the kill is what is on disk: nothing was lost but the
    // reply in flight, and nothing is torn.
    let after = journal();
    assert_eq!(after, conv);
    assert_eq!(after.skipped, 0);
    assert_eq!(after.messages[0].content, "first question");
    assert_eq!(after.messages[1].status, "stopped");
    let n = after.messages.len();
    let last_question = after.messages[n - 1].content.clone();

    // Restart: the history lists it; reopening shows every earlier message.
    let mut t = Term::start(&args, data.path(), &[], true);
    t.wait_for("the model to load again", |s| s.contains("ready"));
    t.send(F9);
    t.wait_for("the history", |s| {
        s.contains("saved conversations")
            && s.contains("first question")
            && s.contains(&format!("{n} msgs"))
    });
    t.send("\r");
    t.wait_for("the reopened conversation", |s| {
        s.contains("reopened") && s.contains(&last_question)
    });
    let s = t.screen();
    assert!(s.contains(&format!("({n} messages)")), "{s}");
    assert!(s.contains(&last_question), "{s}");
    for _ in 0..60 {
        if t.screen().contains("first question") {
            break;
        }
        t.send(PGUP);
        t.pump(50);
    }
    let s = t.screen();
    assert!(s.contains("first question"), "{s}");
    t.send("\x11");
    assert!(t.wait_exit(Duration::from_secs(10)).0.success());
}

/// Text that would take over a terminal that let it through: a clipboard write (OSC 52),
/// a window title, a hyperlink, leaving the alternate screen, clearing it, moving the
/// cursor, hiding the cursor, a DCS and an APC, C1 CSI, bidi override.
const HOSTILE: &str = "\u{1b}]52;c;cHduZWQ=\u{7}\u{1b}]0;PWNED-TITLE\u{7}\u{1b}]8;;http://evil\u{1b}\\link\u{1b}]8;;\u{1b}\\\u{1b}[?1049l\u{1b}[2J\u{1b}[H\u{1b}[?25l\u{1b}P+q\u{1b}\\\u{1b}_apc\u{1b}\\\u{9b}31mX\u{202e}";

fn assert_untouched(t: &Term) {
    let raw = String::from_utf8_lossy(&t.raw);
    for bad in ["]52;", "PWNED", "http://", "P+q", "_apc", "\u{202e}"] {
        assert!(!raw.contains(bad), "{bad:?} reached the terminal");
    }
    let screen = t.parser.screen();
    assert!(screen.alternate_screen(), "left the alternate screen");
    assert_eq!(screen.title(), "");
    assert!(!screen.hide_cursor() || !screen.contents().is_empty());
}

#[test]
fn escapes_in_model_metadata_journals_and_pastes_never_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    // A model whose name carries the sequences.
    let mut w =
        moe_tutor::model::tiny::build(&moe_tutor::model::tiny::TinySpec::default()).unwrap();
    w.set("general.name", format!("evil{HOSTILE}name"));
    let model = dir.path().join("hostile.gguf");
    w.write(&model).unwrap();
    // A saved conversation carrying them too.
    let data = tempfile::tempdir().unwrap();
    let mut j = Journal::create(&data.path().join("conversations"), 1_000, "m").unwrap();
    for (role, content) in [
        (Speaker::User, format!("hello{HOSTILE}there")),
        (Speaker::Assistant, format!("reply{HOSTILE}done")),
    ] {
        j.append(&Record::Message(MessageRecord {
            role,
            content,
            status: "complete".into(),
            time: 1_000,
            sampling: None,
            routing: None,
        }))
        .unwrap();
    }
    let args = model_args(&model, "8");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut t = Term::start(&args, data.path(), &[], true);
    let s = t.wait_for("the model to load", |s| s.contains("ready"));
    assert!(s.contains("evillinkXname"), "{s}");
    assert_untouched(&t);

    t.send(F9);
    t.wait_for("the history", |s| s.contains("saved conversations"));
    t.send("\r");
    let s = t.wait_for("the reopened conversation", |s| s.contains("reopened"));
    assert!(
        s.contains("hellolinkXthere") && s.contains("replylinkXdone"),
        "{s}"
    );
    assert_untouched(&t);

    // A bracketed paste is typed into the input, cleaned.
    t.send(&format!("\x1b[200~pasted{HOSTILE}text\x1b[201~"));
    let s = t.wait_for("the paste", |s| s.contains("pasted"));
    assert!(s.contains("pastedlinkXtext") || s.contains("pasted"), "{s}");
    assert_untouched(&t);

    t.send("\x11");
    assert!(t.wait_exit(Duration::from_secs(10)).0.success());
    t.assert_terminal_restored();
}

fn closing_the_terminal_ends_the_app(ctty: bool) {
    let model = common::tiny_moe();
    let data = tempfile::tempdir().unwrap();
    let args = model_args(&model, "8");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut t = Term::start(&args, data.path(), &[], ctty);
    t.wait_for("the model to load", |s| s.contains("ready"));
    let before = t.cpu_ticks();
    // Close the only master descriptor: the terminal window is gone.
    t.master = None;
    let start = Instant::now();
    while !t.is_zombie() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the app outlived its terminal"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = start.elapsed();
    let spent = t.cpu_ticks().saturating_sub(before);
    let _ = t.child.wait();
    assert!(took < Duration::from_secs(1), "took {took:?}");
    // 100 ticks a second: the way out costs well under half a second of CPU.
    assert!(spent < 50, "spent {spent} ticks of CPU on the way out");
}

#[test]
fn closing_the_controlling_terminal_ends_the_app_within_a_second() {
    closing_the_terminal_ends_the_app(true);
}

#[test]
fn closing_a_terminal_that_is_only_stdin_ends_the_app_within_a_second() {
    closing_the_terminal_ends_the_app(false);
}

#[test]
fn a_panic_gives_the_terminal_back() {
    let model = common::tiny_moe();
    let data = tempfile::tempdir().unwrap();
    let args = model_args(&model, "8");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut t = Term::start(&args, data.path(), &[("MOE_TUTOR_DEBUG_PANIC", "1")], true);
    let (status, _) = t.wait_exit(Duration::from_secs(30));
    assert!(!status.success());
    t.assert_terminal_restored();
    let s = t.screen();
    assert!(s.contains("internal error"), "{s}");
    let _ = std::io::stdout().flush();
}

#[test]
fn a_model_llama_cpp_aborts_on_is_a_message_and_the_app_stays() {
    // With the one rule that refuses it skipped, it passes the pre-parser and llama.cpp
    // aborts on it. The child-process check takes the abort, the app shows why and keeps
    // running.
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("aborts.gguf");
    crafted::passes_checks_but_aborts().write(&model).unwrap();
    let data = tempfile::tempdir().unwrap();
    let args = model_args(&model, "8");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let skip = format!("skip_rule:{}", crafted::SKIPPED_RULE);
    let mut t = Term::start(
        &args,
        data.path(),
        &[("MOE_TUTOR_FAULT", skip.as_str())],
        true,
    );
    let s = t.wait_for("the load failure", |s| s.contains("llama.cpp aborted"));
    assert!(s.contains("could not load the model"), "{s}");
    // Still alive and answering keys.
    t.send("still here");
    t.wait_for("typed text", |s| s.contains("still here"));
    assert!(t.child.try_wait().unwrap().is_none(), "the app ended");
    t.send("\x11");
    let (status, _) = t.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    t.assert_terminal_restored();
}

#[test]
fn a_model_the_pre_parser_refuses_is_a_message_and_the_app_stays() {
    let dir = tempfile::tempdir().unwrap();
    let case = crafted::cases()
        .into_iter()
        .find(|c| c.rule == "experts.groups_lt_count")
        .unwrap();
    let model = case.write(dir.path());
    let data = tempfile::tempdir().unwrap();
    let args = model_args(&model, "8");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut t = Term::start(&args, data.path(), &[], true);
    // The line is cut at the screen's width: the file and the key's start show.
    let s = t.wait_for("the refusal", |s| {
        s.contains("could not load the model")
            && s.contains("8-groups-of-8.gguf: metadata 'deepseek.expert")
    });
    assert!(s.contains("error"), "{s}");
    t.send("still here");
    t.wait_for("typed text", |s| s.contains("still here"));
    t.send("\x11");
    let (status, _) = t.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    t.assert_terminal_restored();
}

#[test]
fn an_engine_panic_is_shown_and_the_model_loads_again() {
    let model = common::tiny_moe();
    let data = tempfile::tempdir().unwrap();
    let args = model_args(&model, "8");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut t = Term::start(
        &args,
        data.path(),
        &[("MOE_TUTOR_FAULT", "engine_panic_on_generate")],
        true,
    );
    t.wait_for("the model to load", |s| s.contains("ready"));
    t.send("hello\r");
    t.wait_for("the crash report", |s| s.contains("the engine crashed"));
    assert!(t.child.try_wait().unwrap().is_none(), "the app ended");
    let screen = t.parser.screen();
    assert!(screen.alternate_screen(), "the terminal was given back");
    // /experts reloads the model; the next question is answered.
    t.send("/experts 2\r");
    t.wait_for("the reload", |s| {
        s.contains("ready") && !s.contains("the engine crashed")
    });
    t.send("again\r");
    t.wait_for("a reply", |s| s.contains("tokens written"));
    t.send("\x11");
    let (status, _) = t.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    t.assert_terminal_restored();
}
