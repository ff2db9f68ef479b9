//! Verdicts of the child-process model check, kept in one small JSON file so that a file
//! already checked loads without the extra start-up. A verdict is keyed by the file's
//! canonical path, size, modification time and a SHA-256 of its header (metadata and
//! tensor table), and by the program that reached it (another build may judge otherwise).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// At most this many files are remembered; the oldest verdicts go first.
const MAX_ENTRIES: usize = 64;
/// Header bytes hashed at most (a vocabulary of 256k tokens is a few MB).
const MAX_HASHED: u64 = 64 << 20;

/// Who reached a verdict: this crate and the llama.cpp it links.
pub fn checker() -> String {
    format!(
        "moe-tutor {} llama-cpp-sys-2 0.1.139",
        env!("CARGO_PKG_VERSION")
    )
}

/// What identifies one version of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileKey {
    pub path: PathBuf,
    pub size: u64,
    pub mtime_ns: u64,
    pub header_sha256: String,
}

impl FileKey {
    /// The key of the file at `path`, whose header ends at `header_len` bytes.
    pub fn of(path: &Path, header_len: u64) -> std::io::Result<FileKey> {
        let path = std::fs::canonicalize(path)?;
        let meta = std::fs::metadata(&path)?;
        let mtime_ns = meta
            .modified()?
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        let mut hasher = Sha256::new();
        let file = std::fs::File::open(&path)?;
        let mut limited = file.take(header_len.min(MAX_HASHED));
        std::io::copy(&mut limited, &mut hasher)?;
        Ok(FileKey {
            path,
            size: meta.len(),
            mtime_ns,
            header_sha256: format!("{:x}", hasher.finalize()),
        })
    }
}

impl FileKey {
    /// The key of this adapter file applied to the model file `base`: the same file on
    /// another model (or another version of it) is another check.
    pub fn applied_to(mut self, base: &FileKey) -> FileKey {
        let mut hasher = Sha256::new();
        hasher.update(self.header_sha256.as_bytes());
        hasher.update(base.path.to_string_lossy().as_bytes());
        hasher.update(base.size.to_le_bytes());
        hasher.update(base.mtime_ns.to_le_bytes());
        hasher.update(base.header_sha256.as_bytes());
        self.header_sha256 = format!("{:x}", hasher.finalize());
        self
    }
}

/// What the child check concluded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// llama.cpp loaded the file, made a context and decoded a prompt.
    Ok,
    /// llama.cpp killed the child with `signal` (an assert aborts: SIGABRT); `last_line` is
    /// the last thing it printed.
    Aborted {
        #[serde(default = "sigabrt")]
        signal: i32,
        last_line: String,
    },
}

fn sigabrt() -> i32 {
    libc::SIGABRT
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    #[serde(flatten)]
    key: FileKey,
    checker: String,
    #[serde(flatten)]
    verdict: Verdict,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CacheFile {
    version: u32,
    entries: Vec<Entry>,
}

fn read(file: &Path) -> CacheFile {
    std::fs::read(file)
        .ok()
        .and_then(|b| serde_json::from_slice::<CacheFile>(&b).ok())
        .filter(|c| c.version == 1)
        .unwrap_or_default()
}

/// The verdict remembered for exactly this version of the file, by this program.
pub fn lookup(file: &Path, key: &FileKey) -> Option<Verdict> {
    let checker = checker();
    read(file)
        .entries
        .into_iter()
        .find(|e| &e.key == key && e.checker == checker)
        .map(|e| e.verdict)
}

/// Remember `verdict` for `key`, replacing what was known about the same path. Failing to
/// save only costs a check next time, so errors are logged, not returned.
pub fn store(file: &Path, key: &FileKey, verdict: &Verdict) {
    let mut cache = read(file);
    cache.version = 1;
    cache.entries.retain(|e| e.key.path != key.path);
    cache.entries.push(Entry {
        key: key.clone(),
        checker: checker(),
        verdict: verdict.clone(),
    });
    let excess = cache.entries.len().saturating_sub(MAX_ENTRIES);
    cache.entries.drain(..excess);
    let saved = serde_json::to_vec_pretty(&cache)
        .map_err(std::io::Error::other)
        .and_then(|bytes| crate::store::atomic::write_atomic(file, &bytes));
    if let Err(e) = saved {
        tracing::warn!(
            "could not save model check verdicts to {}: {e}",
            file.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_for(dir: &Path, name: &str, body: &[u8]) -> FileKey {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        FileKey::of(&p, 4).unwrap()
    }

    #[test]
    fn verdicts_are_found_by_exact_key_and_replaced_per_path() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("checks.json");
        let a = key_for(dir.path(), "a.gguf", b"GGUFaaaa");
        assert_eq!(lookup(&cache, &a), None);
        store(&cache, &a, &Verdict::Ok);
        assert_eq!(lookup(&cache, &a), Some(Verdict::Ok));
        let aborted = Verdict::Aborted {
            signal: libc::SIGABRT,
            last_line: "x.cpp:1: GGML_ASSERT(y) failed".into(),
        };
        store(&cache, &a, &aborted);
        assert_eq!(lookup(&cache, &a), Some(aborted));
        // Another size (or time, or header) is another file.
        let changed = key_for(dir.path(), "a.gguf", b"GGUFaaaab");
        assert_eq!(lookup(&cache, &changed), None);
        let other_header = FileKey {
            header_sha256: "0".into(),
            ..a.clone()
        };
        assert_eq!(lookup(&cache, &other_header), None);
    }

    #[test]
    fn the_cache_keeps_the_newest_entries_and_survives_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("checks.json");
        std::fs::write(&cache, b"{ not json").unwrap();
        let keys: Vec<FileKey> = (0..MAX_ENTRIES + 3)
            .map(|i| key_for(dir.path(), &format!("m{i}.gguf"), b"GGUF"))
            .collect();
        for k in &keys {
            store(&cache, k, &Verdict::Ok);
        }
        assert_eq!(lookup(&cache, &keys[0]), None, "the oldest is dropped");
        assert_eq!(lookup(&cache, &keys[keys.len() - 1]), Some(Verdict::Ok));
    }
}
