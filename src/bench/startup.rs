//! Start-up as a person sees it: the real binary launched in a pseudo-terminal, timed from
//! launch until its status bar says `ready`; then one short chat, after which the
//! process's peak resident memory is read.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, CommandBuilder, PtySize};

/// What to launch.
#[derive(Debug, Clone)]
pub struct StartupOptions {
    /// The app binary (the bench's own).
    pub exe: PathBuf,
    /// Its arguments (`--model`, `--threads`, ...).
    pub args: Vec<OsString>,
    /// Timed launches after one warm-up launch.
    pub runs: u32,
}

/// Launch to ready prompt, and memory while chatting.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Startup {
    /// Best and median of the timed launches, milliseconds.
    pub ready_ms: f64,
    pub ready_median_ms: f64,
    pub runs: usize,
    /// Peak resident set (VmHWM) after one exchange, MB; 0 where /proc is missing.
    pub peak_rss_mb: f64,
}

const READY: &str = "ready │";
const GENERATING: &str = "generating │";
const TIMEOUT: Duration = Duration::from_secs(120);

struct Running {
    parser: Arc<Mutex<vt100::Parser>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    _master: Box<dyn portable_pty::MasterPty + Send>,
}

impl Running {
    fn launch(opts: &StartupOptions) -> Result<Running, String> {
        let err = |e: &dyn std::fmt::Display| format!("startup: {e}");
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: 34,
                cols: 120,
                pixel_width: 0,
                pixel_height: 0,
            })
            .map_err(|e| err(&e))?;
        let mut cmd = CommandBuilder::new(&opts.exe);
        cmd.args(&opts.args);
        cmd.env("TERM", "xterm-256color");
        // Launched as a user launches it: the app picks its OpenMP setting itself (and
        // starts itself again for it), unless the user had set one.
        let marker = crate::engine::threads::CHOSEN_MARKER;
        if std::env::var_os(marker).is_some() {
            cmd.env_remove("GOMP_SPINCOUNT");
            cmd.env_remove(marker);
        }
        if let Ok(dir) = std::env::current_dir() {
            cmd.cwd(dir);
        }
        let child = pair.slave.spawn_command(cmd).map_err(|e| err(&e))?;
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().map_err(|e| err(&e))?;
        let writer = pair.master.take_writer().map_err(|e| err(&e))?;
        let parser = Arc::new(Mutex::new(vt100::Parser::new(34, 120, 0)));
        let p = parser.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut p) = p.lock() {
                    p.process(&buf[..n]);
                }
            }
        });
        Ok(Running {
            parser,
            writer,
            child,
            _master: pair.master,
        })
    }

    fn screen(&self) -> String {
        self.parser
            .lock()
            .map(|p| p.screen().contents())
            .unwrap_or_default()
    }

    /// Poll the screen until `ok` holds; fails if the app exits or time runs out.
    fn wait(&mut self, what: &str, ok: impl Fn(&str) -> bool) -> Result<(), String> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if ok(&self.screen()) {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "startup: the app exited ({status:?}) before {what}; its screen: {}",
                    crate::text::sanitize(self.screen().trim())
                ));
            }
            if Instant::now() > deadline {
                return Err(format!("startup: timed out waiting for {what}"));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn send(&mut self, s: &str) -> Result<(), String> {
        self.writer
            .write_all(s.as_bytes())
            .and_then(|()| self.writer.flush())
            .map_err(|e| format!("startup: typing into the app: {e}"))
    }

    /// Ctrl-Q, then wait for the exit (killed after 5 s).
    fn quit(mut self) {
        let _ = self.send("\x11");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An app left behind by a measurement that failed half-way would compete for the cores
/// with every later one: stop it.
impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// How the app is told to quit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuitBy {
    CtrlQ,
    SigTerm,
}

/// `args` with the reply limit set to `n` tokens.
fn with_max_tokens(args: &[OsString], n: u32) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--max-tokens" {
            it.next();
        } else {
            out.push(a.clone());
        }
    }
    out.extend(["--max-tokens".into(), n.to_string().into()]);
    out
}

/// Launch the app, ask for a long reply, and while it streams quit it `how`: the time
/// from the key press (or signal) to the process's exit, in ms. An app that has not
/// ended after 10 s is killed and counts as 10 s.
pub fn quit_latency(opts: &StartupOptions, how: QuitBy) -> Result<f64, String> {
    let o = StartupOptions {
        args: with_max_tokens(&opts.args, 4000),
        ..opts.clone()
    };
    let mut app = Running::launch(&o)?;
    app.wait("a ready prompt", |s| s.contains(READY))?;
    app.send("Write a very long story about routers and experts.")?;
    app.wait("the typed text", |s| s.contains("experts."))?;
    app.send("\r")?;
    app.wait("the reply to stream", |s| s.contains(GENERATING))?;
    // Some tokens in, so the engine is inside a decode when the quit comes (a model whose
    // context is tiny may have ended its reply by then: the quit is timed all the same).
    std::thread::sleep(Duration::from_millis(100));
    let t0 = Instant::now();
    match how {
        QuitBy::CtrlQ => app.send("\x11")?,
        QuitBy::SigTerm => {
            let pid = app
                .child
                .process_id()
                .and_then(|p| i32::try_from(p).ok())
                .ok_or("quit: no process id")?;
            let pid = nix::unistd::Pid::from_raw(pid);
            nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)
                .map_err(|e| format!("quit: SIGTERM: {e}"))?;
        }
    }
    let limit = Duration::from_secs(10);
    while t0.elapsed() < limit {
        if let Ok(Some(_)) = app.child.try_wait() {
            return Ok(t0.elapsed().as_secs_f64() * 1000.0);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = app.child.kill();
    let _ = app.child.wait();
    Ok(limit.as_secs_f64() * 1000.0)
}

/// Peak resident set of `pid` in MB (VmHWM), from /proc.
fn peak_rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Launch the app `1 + runs` times (the first warms the file cache and is not counted),
/// time each to its ready prompt; in the last, chat once and read the peak memory.
pub fn measure(opts: &StartupOptions) -> Result<Startup, String> {
    let mut times = Vec::new();
    let mut peak = 0.0;
    let total = opts.runs.max(1) + 1;
    for i in 0..total {
        let t0 = Instant::now();
        let mut app = Running::launch(opts)?;
        app.wait("a ready prompt", |s| s.contains(READY))?;
        let ms = t0.elapsed().as_secs_f64() * 1000.0;
        if i > 0 {
            times.push(ms);
        }
        if i + 1 == total {
            app.send("Hello! What can you tell me about experts?")?;
            app.wait("the typed text", |s| s.contains("experts?"))?;
            app.send("\r")?;
            app.wait("the reply to end", |s| {
                s.contains("tok/s") && s.contains(READY)
            })?;
            peak = app.child.process_id().map_or(0.0, peak_rss_mb);
        }
        app.quit();
    }
    let best = times.iter().copied().fold(f64::INFINITY, f64::min);
    let runs = times.len();
    Ok(Startup {
        ready_ms: best,
        ready_median_ms: super::quantile(&mut times, 0.5),
        runs,
        peak_rss_mb: peak,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quit_run_asks_for_a_long_reply() {
        let args: Vec<OsString> = ["--model", "m.gguf", "--max-tokens", "48", "--threads", "2"]
            .map(OsString::from)
            .to_vec();
        let got = with_max_tokens(&args, 4000);
        let want: Vec<OsString> = [
            "--model",
            "m.gguf",
            "--threads",
            "2",
            "--max-tokens",
            "4000",
        ]
        .map(OsString::from)
        .to_vec();
        assert_eq!(got, want);
    }
}
