//! The transfer: lock, free-space check, resume with `Range`, hash while writing, rename
//! into `blobs/` only after the hash matched.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::hub::{self, CachePaths, HubFile};
use super::progress::RateMeter;
use super::{PullError, PullEvent, PullOptions, PullRequest};

const CHUNK: usize = 256 * 1024;

fn io(e: std::io::Error) -> PullError {
    PullError::Io(e.to_string())
}

/// Fetch `req` into the hub cache; returns the snapshot path (a link into `blobs/`).
/// Progress goes to `on`; setting `cancel` stops it, keeping the `.part` file.
pub fn pull(
    req: &PullRequest,
    opts: &PullOptions,
    cancel: &AtomicBool,
    on: &mut dyn FnMut(PullEvent),
) -> Result<PathBuf, PullError> {
    hub::check_names(req)?;
    let agent = hub::agent();
    let file = hub::resolve(&agent, opts, req)?;
    let paths = hub::cache_paths(&opts.cache_dir, req, &file);
    if complete(&paths.blob, file.size) {
        hub::link_snapshot(&opts.cache_dir, req, &file, &paths).map_err(io)?;
        return Ok(paths.snapshot);
    }
    std::fs::create_dir_all(&paths.blobs).map_err(io)?;
    let _lock = lock(&paths.lock, opts.wait_for_lock, cancel, on)?;
    // The pull that held the lock may have finished the file meanwhile.
    if !complete(&paths.blob, file.size) {
        download(&agent, opts, &file, &paths, cancel, on)?;
    }
    hub::link_snapshot(&opts.cache_dir, req, &file, &paths).map_err(io)?;
    Ok(paths.snapshot)
}

fn complete(blob: &Path, size: u64) -> bool {
    std::fs::metadata(blob).is_ok_and(|m| m.is_file() && m.len() == size)
}

/// An exclusive lock on `<sha>.lock` (released when the file closes, also if the process
/// dies). The lock file itself stays: removing it could let a waiter lock a stale inode.
fn lock(
    path: &Path,
    wait: bool,
    cancel: &AtomicBool,
    on: &mut dyn FnMut(PullEvent),
) -> Result<File, PullError> {
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io)?;
    let mut announced = false;
    loop {
        match f.try_lock() {
            Ok(()) => return Ok(f),
            Err(std::fs::TryLockError::WouldBlock) => {
                if !wait {
                    return Err(PullError::Busy);
                }
                if !announced {
                    on(PullEvent::WaitingForLock);
                    announced = true;
                }
                if cancel.load(Ordering::Relaxed) {
                    return Err(PullError::Cancelled { done: 0, total: 0 });
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
    }
}

/// Bytes the file system lets this user write under `dir`.
fn free_space(dir: &Path) -> Option<u64> {
    let s = nix::sys::statvfs::statvfs(dir).ok()?;
    Some((s.blocks_available() as u64).saturating_mul(s.fragment_size() as u64))
}

fn download(
    agent: &ureq::Agent,
    opts: &PullOptions,
    file: &HubFile,
    paths: &CachePaths,
    cancel: &AtomicBool,
    on: &mut dyn FnMut(PullEvent),
) -> Result<(), PullError> {
    let mut have = std::fs::metadata(&paths.part).map_or(0, |m| m.len());
    if have > file.size {
        std::fs::remove_file(&paths.part).map_err(io)?;
        have = 0;
    }
    on(PullEvent::Resolved {
        total: file.size,
        resume_from: have,
    });
    let need = file.size - have;
    if let Some(free) = free_space(&paths.blobs) {
        if free < need {
            return Err(PullError::NoSpace {
                need,
                free,
                dir: paths.blobs.clone(),
            });
        }
    }
    if have == file.size {
        // A complete .part from a run stopped before its rename: check it, no transfer.
        let hasher = hash_file(&paths.part, Sha256::new())?;
        if finish(hasher, file, paths, on).is_ok() {
            return Ok(());
        }
        have = 0;
    }
    let mut r = agent
        .get(&file.download_url)
        .header("Accept-Encoding", "identity");
    if let Some(t) = &opts.token {
        // Only to the hub itself: a redirect target on another host gets no token.
        if file.download_url.starts_with(&opts.endpoint) {
            r = r.header("Authorization", &format!("Bearer {t}"));
        }
    }
    if have > 0 && have < file.size {
        r = r.header("Range", &format!("bytes={have}-"));
    }
    let resp = r
        .call()
        .map_err(|e| interrupted(have, file.size, e.to_string()))?;
    let status = resp.status().as_u16();
    let append = match status {
        206 => {
            // The range must start where the part ends, or the bytes would not line up.
            let start = resp
                .headers()
                .get("content-range")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("bytes "))
                .and_then(|v| v.split('-').next())
                .and_then(|v| v.trim().parse::<u64>().ok());
            if start != Some(have) {
                return Err(PullError::Http(format!(
                    "the server answered a different range ({start:?} for {have})"
                )));
            }
            true
        }
        200 => {
            if have > 0 {
                on(PullEvent::Restarted);
            }
            false
        }
        s => return Err(hub::status_error(s, "download")),
    };
    let mut hasher = Sha256::new();
    let mut part = if append {
        // Resume: the bytes already on disk go through the hash first.
        hasher = hash_file(&paths.part, hasher)?;
        OpenOptions::new()
            .append(true)
            .open(&paths.part)
            .map_err(io)?
    } else {
        have = 0;
        File::create(&paths.part).map_err(io)?
    };
    let mut body = resp.into_body().into_reader();
    let mut buf = vec![0u8; CHUNK];
    let mut meter = RateMeter::new(have, file.size);
    let mut last = Instant::now();
    let mut done = have;
    while done < file.size {
        if cancel.load(Ordering::Relaxed) {
            let _ = part.sync_all();
            return Err(PullError::Cancelled {
                done,
                total: file.size,
            });
        }
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = part.sync_all();
                return Err(interrupted(done, file.size, e.to_string()));
            }
        };
        let n = n.min((file.size - done) as usize);
        if let Err(e) = part.write_all(&buf[..n]) {
            let _ = part.sync_all();
            return Err(write_error(e, file.size - done, &paths.blobs));
        }
        hasher.update(&buf[..n]);
        done += n as u64;
        if last.elapsed() >= Duration::from_millis(100) || done == file.size {
            last = Instant::now();
            on(PullEvent::Progress(meter.update(done)));
        }
    }
    if done < file.size {
        let _ = part.sync_all();
        return Err(interrupted(
            done,
            file.size,
            "the connection closed early".into(),
        ));
    }
    part.sync_all()
        .map_err(|e| write_error(e, 0, &paths.blobs))?;
    drop(part);
    finish(hasher, file, paths, on)
}

/// `hasher` fed with the whole of `path`.
fn hash_file(path: &Path, mut hasher: Sha256) -> Result<Sha256, PullError> {
    let mut f = File::open(path).map_err(io)?;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            return Ok(hasher);
        }
        hasher.update(&buf[..n]);
    }
}

/// Compare the hash of the complete `.part`; rename it into `blobs/` only if it matches,
/// remove it if not.
fn finish(
    hasher: Sha256,
    file: &HubFile,
    paths: &CachePaths,
    on: &mut dyn FnMut(PullEvent),
) -> Result<(), PullError> {
    on(PullEvent::Verifying);
    let got = hex(&hasher.finalize());
    if got != file.sha256 {
        let _ = std::fs::remove_file(&paths.part);
        return Err(PullError::HashMismatch {
            expected: file.sha256.clone(),
            got,
        });
    }
    std::fs::rename(&paths.part, &paths.blob).map_err(io)?;
    if let Ok(d) = File::open(&paths.blobs) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn interrupted(done: u64, total: u64, reason: String) -> PullError {
    PullError::Interrupted {
        done,
        total,
        reason,
    }
}

fn write_error(e: std::io::Error, need: u64, dir: &Path) -> PullError {
    if e.raw_os_error() == Some(nix::libc::ENOSPC) {
        PullError::NoSpace {
            need,
            free: free_space(dir).unwrap_or(0),
            dir: dir.to_path_buf(),
        }
    } else {
        io(e)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
