//! `model pull` against a local server the test starts, speaking the hub's resolve API:
//! HEAD/GET `/ORG/NAME/resolve/REV/FILE` answer with a redirect and the `x-repo-commit`,
//! `x-linked-etag`, `x-linked-size` headers; the bytes come from `/cdn/SHA` with `Range`
//! support that can be switched off, a transfer that can break off once, and a pace.
//! The file served is a real tiny MoE GGUF written by the project's generator.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use moe_tutor::model::pull::{self, PullError, PullEvent, PullOptions, PullRequest};
use sha2::{Digest, Sha256};

const REPO: &str = "tiny-org/tiny-moe-GGUF";
const FILE: &str = "tiny-moe.gguf";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

#[derive(Default)]
struct State {
    /// The bytes served.
    body: Vec<u8>,
    /// The sha256 the hub claims (normally that of `body`).
    claimed_sha: String,
    ignore_range: bool,
    /// Break the next transfer off after this many body bytes.
    cut_after: Option<usize>,
    /// Pause after every 16 KiB of body.
    pace: Duration,
    /// The Range header of every GET of the bytes (None: no Range).
    gets: Vec<Option<String>>,
    heads: usize,
}

struct Hub {
    endpoint: String,
    state: Arc<Mutex<State>>,
}

fn sha_hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

impl Hub {
    fn start(body: Vec<u8>) -> Hub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(State {
            claimed_sha: sha_hex(&body),
            body,
            ..State::default()
        }));
        let s = Arc::clone(&state);
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let s = Arc::clone(&s);
                std::thread::spawn(move || serve(conn, &s));
            }
        });
        Hub { endpoint, state }
    }

    fn set(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.state.lock().unwrap())
    }

    fn gets(&self) -> Vec<Option<String>> {
        self.state.lock().unwrap().gets.clone()
    }
}

fn serve(conn: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let mut out = conn;
    let resolve = format!("/{REPO}/resolve/");
    if path.starts_with(&resolve) && path.ends_with(&format!("/{FILE}")) {
        let st = state.lock().unwrap();
        let mut st = st;
        st.heads += 1;
        let head = format!(
            "HTTP/1.1 302 Found\r\nlocation: /cdn/{sha}\r\nx-repo-commit: {COMMIT}\r\n\
             x-linked-etag: \"{sha}\"\r\nx-linked-size: {len}\r\netag: \"0a1b\"\r\n\
             content-length: 0\r\nconnection: close\r\n\r\n",
            sha = st.claimed_sha,
            len = st.body.len()
        );
        let _ = out.write_all(head.as_bytes());
        return;
    }
    if !(method == "GET" && path.starts_with("/cdn/")) {
        let _ = out
            .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        return;
    }
    let (body, start, cut, pace) = {
        let mut st = state.lock().unwrap();
        let range = headers.get("range").cloned();
        st.gets.push(range.clone());
        let start = match (&range, st.ignore_range) {
            (Some(r), false) => r
                .trim_start_matches("bytes=")
                .trim_end_matches('-')
                .parse::<usize>()
                .unwrap_or(0),
            _ => 0,
        };
        (st.body.clone(), start, st.cut_after.take(), st.pace)
    };
    let len = body.len();
    let head = if start > 0 {
        format!(
            "HTTP/1.1 206 Partial Content\r\ncontent-range: bytes {start}-{}/{len}\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n",
            len - 1,
            len - start
        )
    } else {
        format!("HTTP/1.1 200 OK\r\ncontent-length: {len}\r\nconnection: close\r\n\r\n")
    };
    if out.write_all(head.as_bytes()).is_err() {
        return;
    }
    let end = cut.map_or(len, |c| (start + c).min(len));
    for chunk in body[start..end].chunks(16 * 1024) {
        if out.write_all(chunk).is_err() {
            return;
        }
        let _ = out.flush();
        if !pace.is_zero() {
            std::thread::sleep(pace);
        }
    }
    let _ = out.flush();
    let _ = out.shutdown(std::net::Shutdown::Both);
}

/// The served file: the real tiny MoE, padded with its own bytes to at least `min` bytes
/// where a test needs a longer transfer (the hash covers what is served either way).
fn payload(min: usize) -> Vec<u8> {
    let gguf = std::fs::read(common::tiny_moe()).expect("tiny model");
    let mut b = gguf.clone();
    while b.len() < min {
        b.extend_from_slice(&gguf);
    }
    b
}

fn options(hub: &Hub, cache: &Path) -> PullOptions {
    PullOptions {
        endpoint: hub.endpoint.clone(),
        token: None,
        cache_dir: cache.to_path_buf(),
        wait_for_lock: true,
    }
}

fn run(req: &PullRequest, opts: &PullOptions) -> (Result<PathBuf, PullError>, Vec<PullEvent>) {
    let mut events = Vec::new();
    let r = pull::pull(req, opts, &AtomicBool::new(false), &mut |e| events.push(e));
    (r, events)
}

fn blobs(cache: &Path) -> PathBuf {
    cache.join("models--tiny-org--tiny-moe-GGUF").join("blobs")
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn a_pull_lands_in_the_hub_cache_layout_and_is_not_fetched_twice() {
    let body = payload(0);
    let hub = Hub::start(body.clone());
    let dir = tempfile::tempdir().unwrap();
    let opts = options(&hub, dir.path());
    let (r, events) = run(&PullRequest::new(REPO, FILE), &opts);
    let path = r.expect("pull");
    let repo_dir = dir.path().join("models--tiny-org--tiny-moe-GGUF");
    assert_eq!(path, repo_dir.join("snapshots").join(COMMIT).join(FILE));
    assert!(std::fs::symlink_metadata(&path)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read(&path).unwrap(), body);
    assert_eq!(
        std::fs::read_to_string(repo_dir.join("refs/main")).unwrap(),
        COMMIT
    );
    let sha = sha_hex(&body);
    assert_eq!(
        names(&blobs(dir.path())),
        vec![sha.clone(), format!("{sha}.lock")]
    );
    assert!(matches!(
        events[0],
        PullEvent::Resolved { resume_from: 0, .. }
    ));
    assert!(events
        .iter()
        .any(|e| matches!(e, PullEvent::Progress(p) if p.done == body.len() as u64)));
    assert!(events.contains(&PullEvent::Verifying));
    // The file is a real GGUF the app's own reader accepts.
    moe_tutor::model::gguf::GgufFile::open(&path).expect("a GGUF");
    // A second pull asks the hub, finds the blob and transfers nothing.
    let (again, _) = run(&PullRequest::new(REPO, FILE), &opts);
    assert_eq!(again.unwrap(), path);
    assert_eq!(hub.gets().len(), 1);
}

#[test]
fn a_hash_mismatch_keeps_nothing() {
    let hub = Hub::start(payload(0));
    hub.set(|s| s.claimed_sha = sha_hex(b"other bytes"));
    let dir = tempfile::tempdir().unwrap();
    let (r, _) = run(&PullRequest::new(REPO, FILE), &options(&hub, dir.path()));
    let e = r.expect_err("mismatch");
    assert!(matches!(e, PullError::HashMismatch { .. }), "{e:?}");
    assert!(
        e.message("en").contains("nothing was kept"),
        "{}",
        e.message("en")
    );
    assert!(
        e.message("zh-CN").contains("未保留"),
        "{}",
        e.message("zh-CN")
    );
    // Only the lock file remains: no blob, no .part, no snapshot.
    let sha = sha_hex(b"other bytes");
    assert_eq!(names(&blobs(dir.path())), vec![format!("{sha}.lock")]);
    assert!(!dir
        .path()
        .join("models--tiny-org--tiny-moe-GGUF/snapshots")
        .exists());

    // A pinned hash (curated list) that the hub contradicts is refused before any transfer.
    let hub = Hub::start(payload(0));
    let mut req = PullRequest::new(REPO, FILE);
    req.expected_sha256 = Some("ab".repeat(32));
    let (r, _) = run(&req, &options(&hub, dir.path()));
    assert!(matches!(r, Err(PullError::HashMismatch { .. })));
    assert!(hub.gets().is_empty());
}

#[test]
fn an_interrupted_transfer_resumes_with_a_range_request() {
    let body = payload(600 * 1024);
    let hub = Hub::start(body.clone());
    let cut = body.len() / 3;
    hub.set(|s| s.cut_after = Some(cut));
    let dir = tempfile::tempdir().unwrap();
    let opts = options(&hub, dir.path());
    let (r, _) = run(&PullRequest::new(REPO, FILE), &opts);
    let e = r.expect_err("interrupted");
    let PullError::Interrupted { done, total, .. } = e else {
        panic!("{e:?}")
    };
    assert_eq!(total, body.len() as u64);
    assert!(done > 0 && done < total, "{done}");
    let part = blobs(dir.path()).join(format!("{}.part", sha_hex(&body)));
    assert_eq!(std::fs::metadata(&part).unwrap().len(), done);

    let (r, events) = run(&PullRequest::new(REPO, FILE), &opts);
    let path = r.expect("resumed");
    assert_eq!(std::fs::read(path).unwrap(), body);
    assert_eq!(
        events[0],
        PullEvent::Resolved {
            total,
            resume_from: done
        }
    );
    assert_eq!(hub.gets(), vec![None, Some(format!("bytes={done}-"))]);
    assert!(!part.exists());
}

#[test]
fn a_server_that_ignores_range_restarts_cleanly() {
    let body = payload(600 * 1024);
    let hub = Hub::start(body.clone());
    hub.set(|s| {
        s.cut_after = Some(body.len() / 2);
        s.ignore_range = true;
    });
    let dir = tempfile::tempdir().unwrap();
    let opts = options(&hub, dir.path());
    let (r, _) = run(&PullRequest::new(REPO, FILE), &opts);
    assert!(matches!(r, Err(PullError::Interrupted { .. })));
    let (r, events) = run(&PullRequest::new(REPO, FILE), &opts);
    let path = r.expect("restarted");
    assert!(events.contains(&PullEvent::Restarted), "{events:?}");
    assert_eq!(std::fs::read(path).unwrap(), body);
    let gets = hub.gets();
    assert_eq!(gets.len(), 2);
    assert!(gets[1].is_some(), "the second GET asked for a range");
}

#[test]
fn two_pulls_of_one_file_do_not_collide() {
    let body = payload(512 * 1024);
    let hub = Hub::start(body.clone());
    // About 1.5 s for the whole file.
    hub.set(|s| s.pace = Duration::from_millis(45));
    let dir = tempfile::tempdir().unwrap();
    let opts = options(&hub, dir.path());
    let first = {
        let opts = opts.clone();
        std::thread::spawn(move || run(&PullRequest::new(REPO, FILE), &opts))
    };
    // Wait until the first one is transferring (its .part exists), then start the second.
    let part = blobs(dir.path()).join(format!("{}.part", sha_hex(&body)));
    let t = Instant::now();
    while !part.exists() && t.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(10));
    }
    // A pull told not to wait says so at once.
    let mut no_wait = opts.clone();
    no_wait.wait_for_lock = false;
    let (busy, _) = run(&PullRequest::new(REPO, FILE), &no_wait);
    assert_eq!(busy.unwrap_err(), PullError::Busy);
    let (second, events) = run(&PullRequest::new(REPO, FILE), &opts);
    let (first, _) = first.join().unwrap();
    assert_eq!(first.unwrap(), second.clone().unwrap());
    assert!(events.contains(&PullEvent::WaitingForLock), "{events:?}");
    // The second found the finished blob: one transfer in all.
    assert_eq!(hub.gets().len(), 1);
    assert_eq!(std::fs::read(second.unwrap()).unwrap(), body);
}

/// A 1 MiB tmpfs (needs root; the test says so and stops where mounting is not allowed).
struct Tmpfs(PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_is_reported_before_the_transfer() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&mnt)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: cannot mount a tmpfs here (not root?)");
        return;
    }
    let _guard = Tmpfs(mnt.clone());
    let body = payload(3 * 1024 * 1024);
    let hub = Hub::start(body.clone());
    let (r, _) = run(&PullRequest::new(REPO, FILE), &options(&hub, &mnt));
    let e = r.expect_err("no space");
    let PullError::NoSpace { need, free, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(*need, body.len() as u64);
    assert!(*free < *need);
    assert!(
        e.message("en").starts_with("not enough free space in"),
        "{}",
        e.message("en")
    );
    assert!(e.message("zh-CN").contains("可用空间不足"));
    assert!(hub.gets().is_empty(), "nothing was transferred");
    let sha = sha_hex(&body);
    assert_eq!(names(&blobs(&mnt)), vec![format!("{sha}.lock")]);
}

fn bin(hub: &Hub, cache: &Path, data: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_moe-tutor"));
    c.env("HF_ENDPOINT", &hub.endpoint)
        .env("HF_HUB_CACHE", cache)
        .env_remove("HF_TOKEN")
        .env("HF_HOME", data.join("hf-home"))
        .env("MOE_TUTOR_DATA_DIR", data)
        .env("LANG", "C.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES");
    c
}

#[test]
fn ctrl_c_keeps_a_resumable_part_and_exits_130() {
    let body = payload(1024 * 1024);
    let hub = Hub::start(body.clone());
    hub.set(|s| s.pace = Duration::from_millis(50));
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("hub");
    let child = bin(&hub, &cache, dir.path())
        .args(["model", "pull", REPO, FILE])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let part = blobs(&cache).join(format!("{}.part", sha_hex(&body)));
    let t = Instant::now();
    while std::fs::metadata(&part).map_or(0, |m| m.len()) == 0 {
        assert!(t.elapsed() < Duration::from_secs(60), "no transfer started");
        std::thread::sleep(Duration::from_millis(20));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("kill");
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("run the same pull again to resume"),
        "{stderr}"
    );
    let kept = std::fs::metadata(&part).expect("part kept").len();
    assert!(kept > 0 && kept < body.len() as u64);

    hub.set(|s| s.pace = Duration::ZERO);
    let out = bin(&hub, &cache, dir.path())
        .args(["model", "pull", REPO, FILE])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("resuming at"), "{stderr}");
    assert!(stderr.contains("100%"), "{stderr}");
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(std::fs::read(&path).unwrap(), body);
    assert_eq!(hub.gets().last().unwrap(), &Some(format!("bytes={kept}-")));
}

#[test]
fn the_curated_list_prints_in_both_languages_and_unknown_names_are_explained() {
    let hub = Hub::start(Vec::new());
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("hub");
    let out = bin(&hub, &cache, dir.path())
        .args(["model", "pull", "--curated"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    let first = text.lines().next().unwrap_or("");
    assert!(
        first.starts_with("granite-1b-a400m") && first.contains("~822 MB"),
        "{text}"
    );
    assert!(
        text.contains("size unknown") && text.contains("26.5 GiB"),
        "{text}"
    );
    let out = bin(&hub, &cache, dir.path())
        .args(["--lang", "zh-CN", "model", "pull", "--curated"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("大小未知"));
    let out = bin(&hub, &cache, dir.path())
        .args(["model", "pull", "no-such-model"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("model pull --curated"));
}

#[test]
fn a_complete_part_left_before_its_rename_is_checked_not_fetched_again() {
    let body = payload(0);
    let hub = Hub::start(body.clone());
    let dir = tempfile::tempdir().unwrap();
    let part = blobs(dir.path()).join(format!("{}.part", sha_hex(&body)));
    std::fs::create_dir_all(part.parent().unwrap()).unwrap();
    std::fs::write(&part, &body).unwrap();
    let (r, _) = run(&PullRequest::new(REPO, FILE), &options(&hub, dir.path()));
    assert_eq!(std::fs::read(r.expect("pull")).unwrap(), body);
    assert!(hub.gets().is_empty(), "nothing transferred");
    // A damaged one of the right length is thrown away and fetched whole.
    let dir = tempfile::tempdir().unwrap();
    let part = blobs(dir.path()).join(format!("{}.part", sha_hex(&body)));
    std::fs::create_dir_all(part.parent().unwrap()).unwrap();
    std::fs::write(&part, vec![0u8; body.len()]).unwrap();
    let (r, _) = run(&PullRequest::new(REPO, FILE), &options(&hub, dir.path()));
    assert_eq!(std::fs::read(r.expect("pull")).unwrap(), body);
    assert_eq!(hub.gets(), vec![None]);
}
