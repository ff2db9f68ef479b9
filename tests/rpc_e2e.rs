//! `--rpc` end to end (`cargo test --features rpc --test rpc_e2e`): two `moe-tutor
//! rpc-server` workers on localhost, started here, hold the tiny MoE's layers; a greedy
//! `run` through them gives the same reply and routing trace as a local run. Each worker is
//! reached through a byte-counting TCP relay in this test, which shows that the workers did
//! the work (the weights and every decode went through them) and measures what routing
//! capture costs on the wire.
#![cfg(feature = "rpc")]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use moe_tutor::routing::trace::{read_trace, TraceRecord};
use moe_tutor::routing::Phase;

const PROMPT: &str = "Which experts answer this?";

fn bin(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_moe-tutor"));
    c.env("MOE_TUTOR_DATA_DIR", data);
    c.env("MOE_TUTOR_PIP", "false");
    c
}

/// A running `moe-tutor rpc-server`, killed on drop (also when the test panics).
struct Worker {
    child: Child,
    port: u16,
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().unwrap().port()
}

/// Start a worker on a free port (with `extra` options) and wait for its ready line.
fn start_worker(data: &Path, extra: &[&std::ffi::OsStr]) -> Worker {
    let port = free_port();
    let mut child = bin(data)
        .args(["rpc-server", "--host", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .args(["--threads", "1"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rpc-server");
    let stderr = child.stderr.take().unwrap();
    let worker = Worker { child, port };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Read to the end, so the worker never blocks on a full pipe.
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) if line.contains("rpc-server listening on") => {
                assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");
                return worker;
            }
            Ok(line) => seen.push(line),
            Err(e) => panic!("no ready line from the worker ({e:?}): {seen:?}"),
        }
    }
}

/// A TCP relay from a local port to a worker, counting the bytes both ways.
struct Relay {
    port: u16,
    /// Client to worker, worker to client.
    bytes: Arc<[AtomicU64; 2]>,
}

impl Relay {
    fn start(to: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let bytes: Arc<[AtomicU64; 2]> = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
        let counts = bytes.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                let Ok(server) = TcpStream::connect(("127.0.0.1", to)) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                for (dir, (from, into)) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server.try_clone().unwrap(), client.try_clone().unwrap()),
                ]
                .into_iter()
                .enumerate()
                {
                    let counts = counts.clone();
                    std::thread::spawn(move || pipe(from, into, &counts[dir]));
                }
            }
        });
        Relay { port, bytes }
    }

    fn total(&self) -> u64 {
        self.bytes.iter().map(|b| b.load(Ordering::SeqCst)).sum()
    }
}

fn pipe(mut from: TcpStream, mut into: TcpStream, count: &AtomicU64) {
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if into.write_all(&buf[..n]).is_err() {
                    break;
                }
                count.fetch_add(n as u64, Ordering::SeqCst);
            }
        }
    }
    let _ = into.shutdown(Shutdown::Write);
}

/// One greedy `run` (stdout, the trace when asked for); panics with stderr on failure.
fn run(model: &Path, rpc: Option<&str>, max_tokens: u32, trace: Option<&Path>) -> String {
    let data = tempfile::tempdir().unwrap();
    let mut cmd = bin(data.path());
    if let Some(list) = rpc {
        cmd.args(["--rpc", list, "--gpu-layers", "99"]);
    }
    cmd.args(["run", "--model"])
        .arg(model)
        .args(["--prompt", PROMPT, "--temperature", "0", "--threads", "1"])
        .args(["--max-tokens", &max_tokens.to_string()]);
    if let Some(t) = trace {
        cmd.arg("--trace").arg(t);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        rpc,
        String::from_utf8_lossy(&out.stderr)
    );
    if let Some(list) = rpc {
        // llama.cpp's load report (in the log file) gives every worker a share of the
        // weights: "RPC0[127.0.0.1:PORT] model buffer size = ...".
        let log = std::fs::read_to_string(data.path().join("logs/moe-tutor.log")).unwrap();
        for endpoint in list.split(',') {
            assert!(
                log.contains(&format!("[{endpoint}] model buffer size")),
                "no weights on {endpoint}: {log}"
            );
        }
    }
    String::from_utf8(out.stdout).unwrap()
}

fn trace(path: &Path) -> Vec<TraceRecord> {
    read_trace(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Same tokens, same experts per layer; probabilities and weights within `tol`. Returns
/// the largest difference seen.
fn same_routing(local: &[TraceRecord], remote: &[TraceRecord], tol: f32) -> f32 {
    assert_eq!(local.len(), remote.len(), "as many tokens");
    let mut worst = 0f32;
    for (a, b) in local.iter().zip(remote) {
        assert_eq!((a.phase, a.pos, a.token_id), (b.phase, b.pos, b.token_id));
        assert_eq!(a.text, b.text);
        assert_eq!(a.layers.len(), b.layers.len());
        for (la, lb) in a.layers.iter().zip(&b.layers) {
            assert_eq!(la.layer, lb.layer);
            assert_eq!(la.experts, lb.experts, "token {} layer {}", a.pos, la.layer);
            for (x, y) in la
                .probs
                .iter()
                .zip(&lb.probs)
                .chain(la.weights.iter().zip(&lb.weights))
            {
                worst = worst.max((x - y).abs());
            }
        }
    }
    assert!(worst <= tol, "largest probability difference {worst}");
    worst
}

/// Two workers behind relays, and the `--rpc` list that reaches them.
struct Cluster {
    // Dropped after the relays' users: the workers are killed at the end (or on a panic).
    _workers: [Worker; 2],
    relays: Vec<Relay>,
    list: String,
}

impl Cluster {
    fn start() -> Cluster {
        let data = tempfile::tempdir().unwrap();
        let workers = [
            start_worker(data.path(), &[]),
            start_worker(data.path(), &[]),
        ];
        let relays: Vec<Relay> = workers.iter().map(|w| Relay::start(w.port)).collect();
        let list = relays
            .iter()
            .map(|r| format!("127.0.0.1:{}", r.port))
            .collect::<Vec<_>>()
            .join(",");
        Cluster {
            _workers: workers,
            relays,
            list,
        }
    }

    fn total(&self) -> u64 {
        self.relays.iter().map(Relay::total).sum()
    }

    /// Bytes on the wire for one greedy run through the workers, its reply, and its number
    /// of generated tokens (read from the trace when capture is on).
    fn measure(&self, model: &Path, max_tokens: u32, capture: bool) -> (u64, String, usize) {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("t.jsonl");
        let before = self.total();
        let out = run(
            model,
            Some(&self.list),
            max_tokens,
            capture.then_some(t.as_path()),
        );
        let n = if capture { generated(&trace(&t)) } else { 0 };
        (self.total() - before, out, n)
    }

    /// Bytes per generated token with capture off and on: runs of 24 and 8 tokens, the
    /// difference divided by the difference in tokens (so loading and the prompt cancel).
    fn per_token(&self, model: &Path) -> (f64, f64) {
        let (on_long, out_on, n_long) = self.measure(model, 24, true);
        let (off_long, out_off, _) = self.measure(model, 24, false);
        let (on_short, _, n_short) = self.measure(model, 8, true);
        let (off_short, _, _) = self.measure(model, 8, false);
        assert_eq!(out_on, out_off, "capture does not change the reply");
        assert!(
            n_long > n_short,
            "the long reply is longer ({n_long} vs {n_short})"
        );
        let steps = (n_long - n_short) as f64;
        (
            (off_long - off_short) as f64 / steps,
            (on_long - on_short) as f64 / steps,
        )
    }
}

fn generated(t: &[TraceRecord]) -> usize {
    t.iter().filter(|r| r.phase == Phase::Generated).count()
}

#[test]
fn two_workers_give_the_local_reply_and_routing() {
    let model = common::tiny_moe();
    let size = std::fs::metadata(&model).unwrap().len();
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let (t_local, t_remote) = (dir.path().join("local.jsonl"), dir.path().join("rpc.jsonl"));

    let local = run(&model, None, 24, Some(&t_local));
    let before: Vec<u64> = cluster.relays.iter().map(Relay::total).collect();
    let remote = run(&model, Some(&cluster.list), 24, Some(&t_remote));
    assert_eq!(remote, local, "the same greedy reply");
    assert!(!local.trim().is_empty());
    let (local_trace, remote_trace) = (trace(&t_local), trace(&t_remote));
    let worst = same_routing(&local_trace, &remote_trace, 1e-4);
    eprintln!("largest difference of a routing probability or weight, local vs RPC: {worst:e}");

    // Both workers carried the model: each relay saw a good part of the weights go by.
    for (r, b) in cluster.relays.iter().zip(&before) {
        let moved = r.total() - b;
        assert!(
            moved > size / 10,
            "worker on {} moved {moved} bytes",
            r.port
        );
    }

    // What capture costs on the wire, per generated token.
    let (off, on) = cluster.per_token(&model);
    let first = &local_trace[0];
    let (layers, experts, k) = (
        first.layers.len(),
        first.layers[0].probs.len(),
        first.layers[0].experts.len(),
    );
    eprintln!(
        "rpc bytes per generated token (both workers, both ways): capture off {off:.0}, on \
         {on:.0}; capture's share {:.0}, of which tensor data {} ({layers} MoE layers x \
         ({experts} probs + {k} ids + {k} weights) x 4 B)",
        on - off,
        layers * (experts + 2 * k) * 4
    );
    assert!(on > off, "capture reads router tensors over the wire");
}

/// Capture's traffic grows with the number of MoE layers: measured on tiny `deepseek2`
/// models (DeepSeek-V2/V3's architecture in llama.cpp) of 2 and 6 MoE layers, for the
/// README's estimate of a large model.
#[test]
fn capture_traffic_per_moe_layer() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::start();
    let mut share = Vec::new();
    for n_layer in [3u32, 7] {
        let path = dir.path().join(format!("ds2-{n_layer}.gguf"));
        let spec = moe_tutor::model::tiny::TinySpec {
            n_layer,
            ..moe_tutor::model::tiny::TinySpec::deepseek2()
        };
        moe_tutor::model::tiny::write(&path, &spec).unwrap();
        let (off, on) = cluster.per_token(&path);
        eprintln!(
            "deepseek2, {} MoE layers: rpc bytes per generated token, capture off {off:.0}, \
             on {on:.0}",
            n_layer - 1
        );
        share.push((off, on));
    }
    let per_layer = |i: usize| (share[1].0 - share[0].0) / 4.0 * (i as f64);
    let capture = ((share[1].1 - share[1].0) - (share[0].1 - share[0].0)) / 4.0;
    eprintln!(
        "deepseek2: per MoE layer and generated token, capture off {:.0} B, capture's share \
         {capture:.0} B",
        per_layer(1)
    );
    assert!(capture > 0.0, "capture's traffic grows with the MoE layers");
}

/// `rpc-server --cache DIR`: the worker keeps the tensors over 10 MB it receives, by hash,
/// so loading the same model again sends their hashes instead of their bytes.
#[test]
fn a_worker_cache_saves_sending_large_tensors_again() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("wide.gguf");
    // One MoE layer whose three expert tensors are 512 x 1536 x 8 f16 = 12.6 MB each.
    let spec = moe_tutor::model::tiny::TinySpec {
        n_layer: 2,
        n_embd: 512,
        n_ff_exp: 1536,
        ..Default::default()
    };
    moe_tutor::model::tiny::write(&model, &spec).unwrap();
    let cache = dir.path().join("cache");
    let worker = start_worker(dir.path(), &["--cache".as_ref(), cache.as_os_str()]);
    let relay = Relay::start(worker.port);
    let list = format!("127.0.0.1:{}", relay.port);
    let mut sent = Vec::new();
    let mut replies = Vec::new();
    for _ in 0..2 {
        let before = relay.total();
        replies.push(run(&model, Some(&list), 2, None));
        sent.push(relay.total() - before);
    }
    let cached = std::fs::read_dir(&cache).unwrap().count();
    eprintln!(
        "worker cache: {cached} files; bytes on the wire, first load {}, second {}",
        sent[0], sent[1]
    );
    assert_eq!(replies[0], replies[1]);
    assert_eq!(cached, 3, "the three expert tensors");
    assert!(sent[1] < sent[0] / 4, "{sent:?}");
}

/// The full-screen app through two workers: a reply streams, the routing pane shows it,
/// Ctrl+Q quits cleanly, and llama.cpp put weights on both workers.
#[test]
fn the_app_runs_on_workers_in_a_real_terminal() {
    let model = common::tiny_moe();
    let cluster = Cluster::start();
    let mut tui = common::pty::Tui::start(
        &[
            "--rpc",
            &cluster.list,
            "--model",
            model.to_str().unwrap(),
            "--threads",
            "1",
            "--max-tokens",
            "16",
        ],
        100,
        30,
    );
    tui.wait_for("the model to load", |s| s.contains("ready"));
    tui.send("Hello router\r");
    tui.wait_for("the reply to finish", |s| {
        s.contains("tok/s") && s.contains("ready")
    });
    tui.send("\x1bOQ"); // F2: the routing pane
    tui.wait_for("the routing pane", |s| {
        s.contains("routing") && s.contains("L1")
    });
    tui.send("\x11"); // Ctrl+Q
    assert!(tui.wait_exit().success());
    let log = std::fs::read_to_string(tui.data_dir().join("logs/moe-tutor.log")).unwrap();
    for endpoint in cluster.list.split(',') {
        assert!(
            log.contains(&format!("[{endpoint}] model buffer size")),
            "{log}"
        );
    }
}

/// Without a worker at the address, the run fails with a message naming it (exit 2).
#[test]
fn a_missing_worker_is_named() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = bin(data.path())
        .args(["--rpc", &format!("127.0.0.1:{port}"), "run", "--model"])
        .arg(common::tiny_moe())
        .args(["--prompt", "Hi", "--max-tokens", "2", "--threads", "1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
}
