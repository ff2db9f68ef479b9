//! `model pull`: fetch one GGUF file from a Hugging Face style hub into the hub cache
//! layout (`models--org--name/{blobs,snapshots,refs}`), where model discovery finds it.
//!
//! The hub's layout and token file come from the `hf-hub` crate; the transfer is our own
//! blocking loop (ureq) because it must resume with `Range`, hash as it writes, hold a
//! lock and stop on a cancel flag. What lands in `blobs/` was renamed there from
//! `<sha256>.part` only after its sha256 matched the hub's LFS hash.

pub mod cli;
mod curated;
mod hub;
mod progress;
mod transfer;

pub use curated::{curated, curated_offers, find_curated, CuratedModel, Offer};
pub use hub::{hub_cache_dir, HubFile, PullOptions};
pub use progress::{human_bytes, Progress, ProgressBar};
pub use transfer::pull;

use std::path::PathBuf;

use crate::i18n::tr_with;

/// Exit status of `model pull` stopped by Ctrl-C (SIGINT) or SIGTERM: the `.part` file is
/// kept and the next pull of the same file resumes it.
pub const EXIT_CANCELLED: u8 = 130;

/// What to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    /// `org/name` on the hub.
    pub repo: String,
    /// Path of the file inside the repository.
    pub file: String,
    /// Branch, tag or commit (default `main`).
    pub revision: String,
    /// sha256 the file must have (from the curated list); the hub's own hash must agree.
    pub expected_sha256: Option<String>,
}

impl PullRequest {
    pub fn new(repo: &str, file: &str) -> Self {
        PullRequest {
            repo: repo.to_string(),
            file: file.to_string(),
            revision: "main".into(),
            expected_sha256: None,
        }
    }
}

/// What a pull reports while it works.
#[derive(Debug, Clone, PartialEq)]
pub enum PullEvent {
    /// The hub answered: size and hash are known; `resume_from` bytes are already on disk.
    Resolved {
        total: u64,
        resume_from: u64,
    },
    /// Another pull of the same file holds its lock; this one waits for it.
    WaitingForLock,
    /// The server ignored the range request: the transfer starts again from byte 0.
    Restarted,
    Progress(Progress),
    /// All bytes are there; the hash is being compared.
    Verifying,
}

/// Why a pull stopped. Each has a message in English and Chinese ([`PullError::message`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullError {
    /// Stopped through the cancel flag; `done` bytes stay in the resumable `.part` file.
    Cancelled { done: u64, total: u64 },
    /// The connection ended early; `done` bytes are kept for the next run to resume.
    Interrupted {
        done: u64,
        total: u64,
        reason: String,
    },
    /// The bytes do not hash to what the hub (or the curated list) says: nothing is kept.
    HashMismatch { expected: String, got: String },
    /// Not enough free space where the file would go.
    NoSpace { need: u64, free: u64, dir: PathBuf },
    /// Another pull of the file holds the lock and waiting was not asked for.
    Busy,
    /// The hub gave no sha256 for the file and none was expected.
    NoHash,
    /// Authentication needed or refused (gated repository).
    Denied { status: u16 },
    /// No such repository, revision or file.
    NotFound,
    /// A bad repository or file name (e.g. `..`).
    BadName(String),
    /// Any other HTTP or network failure.
    Http(String),
    /// A file system error.
    Io(String),
}

impl PullError {
    /// The process exit status `model pull` uses for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            PullError::Cancelled { .. } => EXIT_CANCELLED,
            _ => 1,
        }
    }

    /// The message in `lang` ("en" or "zh-CN"), without control characters.
    pub fn message(&self, lang: &str) -> String {
        let s = match self {
            PullError::Cancelled { done, total } => tr_with(
                "pull.err.cancelled",
                lang,
                &[
                    ("done", &human_bytes(*done)),
                    ("total", &human_bytes(*total)),
                ],
            ),
            PullError::Interrupted {
                done,
                total,
                reason,
            } => tr_with(
                "pull.err.interrupted",
                lang,
                &[
                    ("done", &human_bytes(*done)),
                    ("total", &human_bytes(*total)),
                    ("reason", reason),
                ],
            ),
            PullError::HashMismatch { expected, got } => tr_with(
                "pull.err.hash",
                lang,
                &[("expected", expected), ("got", got)],
            ),
            PullError::NoSpace { need, free, dir } => tr_with(
                "pull.err.space",
                lang,
                &[
                    ("need", &human_bytes(*need)),
                    ("free", &human_bytes(*free)),
                    ("dir", &dir.display()),
                ],
            ),
            PullError::Busy => tr_with("pull.err.busy", lang, &[]),
            PullError::NoHash => tr_with("pull.err.no_hash", lang, &[]),
            PullError::Denied { status } => tr_with("pull.err.denied", lang, &[("status", status)]),
            PullError::NotFound => tr_with("pull.err.not_found", lang, &[]),
            PullError::BadName(n) => tr_with("pull.err.bad_name", lang, &[("name", n)]),
            PullError::Http(e) => tr_with("pull.err.http", lang, &[("error", e)]),
            PullError::Io(e) => tr_with("pull.err.io", lang, &[("error", e)]),
        };
        crate::text::sanitize(&s)
    }
}

impl std::fmt::Display for PullError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message("en"))
    }
}

impl std::error::Error for PullError {}
