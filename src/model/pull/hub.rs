//! The hub side of a pull: where to ask (`HF_ENDPOINT`), with which token (`HF_TOKEN` or
//! the token file hf-hub knows), what the resolve API says about a file (commit, sha256,
//! size, where the bytes are), and where the file goes in the hub cache.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hf_hub::{Cache, Repo, RepoType};

use super::{PullError, PullRequest};

/// The public hub, used when `HF_ENDPOINT` is not set.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// Where and how to pull.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// Base address of the hub, without a trailing slash.
    pub endpoint: String,
    /// Bearer token for gated repositories.
    pub token: Option<String>,
    /// The hub cache (the folder holding `models--org--name`).
    pub cache_dir: PathBuf,
    /// When another pull holds the file's lock: wait for it (true) or stop with `Busy`.
    pub wait_for_lock: bool,
}

impl PullOptions {
    /// From the environment, as the hub's own tools read it: `HF_ENDPOINT`, `HF_TOKEN`
    /// (else the token file in `HF_HOME`), `HF_HUB_CACHE` / `HF_HOME`.
    pub fn from_env() -> Self {
        let cache_dir = hub_cache_dir();
        let endpoint = std::env::var("HF_ENDPOINT")
            .ok()
            .filter(|e| !e.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
        let token = std::env::var("HF_TOKEN")
            .ok()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .or_else(|| token_cache().token());
        PullOptions {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            token,
            cache_dir,
            wait_for_lock: true,
        }
    }
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

/// The hf-hub cache whose parent holds the token file (`$HF_HOME/token`).
fn token_cache() -> Cache {
    match std::env::var_os("HF_HOME").filter(|h| !h.is_empty()) {
        Some(h) => Cache::new(PathBuf::from(h).join("hub")),
        None => Cache::new(home().join(".cache/huggingface/hub")),
    }
}

/// The hub cache: `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`.
pub fn hub_cache_dir() -> PathBuf {
    match std::env::var_os("HF_HUB_CACHE").filter(|h| !h.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => token_cache().path().clone(),
    }
}

/// What the resolve API said about one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubFile {
    /// The commit the revision points at.
    pub commit: String,
    /// Lower-case hex sha256 of the file.
    pub sha256: String,
    pub size: u64,
    /// Where to GET the bytes (the resolve address, or where it redirects).
    pub download_url: String,
}

/// Names go into URLs and paths: no empty parts, no `.`/`..`, no backslashes or controls.
pub(super) fn check_names(req: &PullRequest) -> Result<(), PullError> {
    let bad = |s: &str| {
        s.is_empty()
            || s.starts_with('/')
            || s.contains('\\')
            || s.chars().any(|c| c.is_control() || c == '?' || c == '#')
            || s.split('/').any(|p| p.is_empty() || p == "." || p == "..")
    };
    for n in [&req.repo, &req.file, &req.revision] {
        if bad(n) {
            return Err(PullError::BadName(n.clone()));
        }
    }
    if req.repo.split('/').count() != 2 {
        return Err(PullError::BadName(req.repo.clone()));
    }
    Ok(())
}

pub(super) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .user_agent(concat!("moe-tutor/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

pub(super) fn resolve_url(opts: &PullOptions, req: &PullRequest) -> String {
    format!(
        "{}/{}/resolve/{}/{}",
        opts.endpoint,
        req.repo,
        req.revision.replace('/', "%2F"),
        req.file
    )
}

fn header(resp: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
}

/// A sha256 from an etag header: quotes and a weak `W/` prefix removed; None unless it is
/// 64 hex digits (a git blob's etag is a sha1 and says nothing about the content's sha256).
fn etag_sha256(v: &str) -> Option<String> {
    let v = v.trim().trim_start_matches("W/").trim_matches('"');
    (v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit())).then(|| v.to_ascii_lowercase())
}

pub(super) fn status_error(status: u16, what: &str) -> PullError {
    match status {
        401 | 403 => PullError::Denied { status },
        404 => PullError::NotFound,
        _ => PullError::Http(format!("{what}: HTTP {status}")),
    }
}

/// HEAD on the resolve address, without following redirects (the hub's headers are on its
/// own answer; the bytes may live elsewhere).
pub(super) fn resolve(
    agent: &ureq::Agent,
    opts: &PullOptions,
    req: &PullRequest,
) -> Result<HubFile, PullError> {
    let url = resolve_url(opts, req);
    let mut r = agent.head(&url).header("Accept-Encoding", "identity");
    if let Some(t) = &opts.token {
        r = r.header("Authorization", &format!("Bearer {t}"));
    }
    let resp = r.call().map_err(|e| PullError::Http(e.to_string()))?;
    let status = resp.status().as_u16();
    let download_url = if (300..400).contains(&status) {
        let loc = header(&resp, "location")
            .ok_or_else(|| PullError::Http(format!("HTTP {status} without a location")))?;
        absolute(&opts.endpoint, &loc)
    } else if (200..300).contains(&status) {
        url
    } else {
        return Err(status_error(status, "resolve"));
    };
    let hub_sha = header(&resp, "x-linked-etag")
        .as_deref()
        .and_then(etag_sha256)
        .or_else(|| header(&resp, "etag").as_deref().and_then(etag_sha256));
    let expected = req.expected_sha256.as_ref().map(|s| s.to_ascii_lowercase());
    let sha256 = match (hub_sha, expected) {
        (Some(h), Some(e)) if h != e => {
            return Err(PullError::HashMismatch {
                expected: e,
                got: h,
            })
        }
        (Some(h), _) | (None, Some(h)) => h,
        (None, None) => return Err(PullError::NoHash),
    };
    let size = header(&resp, "x-linked-size")
        .or_else(|| header(&resp, "content-length"))
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| PullError::Http("the hub gave no file size".into()))?;
    let commit = header(&resp, "x-repo-commit")
        .filter(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or_else(|| req.revision.clone());
    Ok(HubFile {
        commit,
        sha256,
        size,
        download_url,
    })
}

/// A redirect target made absolute against the endpoint.
fn absolute(endpoint: &str, loc: &str) -> String {
    if loc.starts_with("http://") || loc.starts_with("https://") {
        return loc.to_string();
    }
    // The endpoint's scheme and host, then the absolute path.
    let host_end = endpoint
        .find("://")
        .and_then(|i| endpoint[i + 3..].find('/').map(|j| i + 3 + j))
        .unwrap_or(endpoint.len());
    if loc.starts_with('/') {
        format!("{}{}", &endpoint[..host_end], loc)
    } else {
        format!("{}/{}", endpoint.trim_end_matches('/'), loc)
    }
}

/// Where a file lives in the hub cache.
#[derive(Debug, Clone)]
pub(super) struct CachePaths {
    pub blobs: PathBuf,
    pub blob: PathBuf,
    pub part: PathBuf,
    pub lock: PathBuf,
    pub snapshot: PathBuf,
}

pub(super) fn cache_paths(cache_dir: &Path, req: &PullRequest, f: &HubFile) -> CachePaths {
    let repo = Repo::with_revision(req.repo.clone(), RepoType::Model, req.revision.clone());
    let dir = cache_dir.join(repo.folder_name());
    let blobs = dir.join("blobs");
    CachePaths {
        blob: blobs.join(&f.sha256),
        part: blobs.join(format!("{}.part", f.sha256)),
        lock: blobs.join(format!("{}.lock", f.sha256)),
        snapshot: dir.join("snapshots").join(&f.commit).join(&req.file),
        blobs,
    }
}

/// `snapshots/COMMIT/FILE` as a relative link to `blobs/SHA`, and `refs/REVISION` naming
/// the commit (through hf-hub, which owns that layout).
pub(super) fn link_snapshot(
    cache_dir: &Path,
    req: &PullRequest,
    f: &HubFile,
    p: &CachePaths,
) -> std::io::Result<()> {
    let parent = p.snapshot.parent().unwrap_or(cache_dir);
    std::fs::create_dir_all(parent)?;
    let depth = req.file.matches('/').count() + 2;
    let mut target = PathBuf::new();
    for _ in 0..depth {
        target.push("..");
    }
    target.push("blobs");
    target.push(&f.sha256);
    if std::fs::symlink_metadata(&p.snapshot).is_ok() {
        std::fs::remove_file(&p.snapshot)?;
    }
    std::os::unix::fs::symlink(&target, &p.snapshot)?;
    let repo = Repo::with_revision(req.repo.clone(), RepoType::Model, req.revision.clone());
    Cache::new(cache_dir.to_path_buf())
        .repo(repo)
        .create_ref(&f.commit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_and_redirects() {
        let h = "A".repeat(64);
        assert_eq!(etag_sha256(&format!("\"{h}\"")), Some("a".repeat(64)));
        assert_eq!(etag_sha256("W/\"abc\""), None);
        assert_eq!(
            absolute("http://127.0.0.1:9/x", "/cdn/f"),
            "http://127.0.0.1:9/cdn/f"
        );
        assert_eq!(absolute("http://h", "https://cdn/f"), "https://cdn/f");
    }

    #[test]
    fn names_that_would_escape_the_cache_are_refused() {
        for (repo, file) in [("a/b", "../x"), ("a", "f"), ("a/b", "/f"), ("a/b", "d//f")] {
            assert!(
                check_names(&PullRequest::new(repo, file)).is_err(),
                "{repo} {file}"
            );
        }
        assert!(check_names(&PullRequest::new("a/b", "sub/f.gguf")).is_ok());
    }
}
