//! The memory estimate of `model info` against what llama.cpp reports when the engine
//! loads the same tiny model with the same context: the KV cache (cells, K and V sizes)
//! must match at the precision llama.cpp prints (0.01 MiB), and the compute-buffer
//! estimate must be within the tolerance stated below of the buffer llama.cpp reserves.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use moe_tutor::model::discover::Facts;
use moe_tutor::model::gguf::GgufFile;
use moe_tutor::model::tiny::{self, TinySpec};

/// The compute estimate may be off by this factor either way: it is a sizing aid for
/// "does it fit", not llama.cpp's graph allocator.
const COMPUTE_TOLERANCE: f64 = 1.25;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The number after `key` in `line`, e.g. "K (f16):    0.75 MiB" -> "0.75".
fn number_after<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = &line[line.find(key)? + key.len()..];
    rest.split_whitespace()
        .next()
        .map(|s| s.trim_end_matches(','))
}

fn mib(bytes: u64) -> String {
    format!("{:.2}", bytes as f64 / (1024.0 * 1024.0))
}

#[test]
fn kv_cache_matches_llama_cpp_and_compute_is_within_tolerance() {
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("one subscriber");

    // A tiny MoE trained (nominally) for 8192 tokens, so a 4096-token context is not
    // clamped and the KV sizes are whole hundredths of a MiB. At 4096 and 1000 tokens the
    // attention mask is the largest part of the compute buffer, at 200 (256 cells) the
    // logits are.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tiny-long.gguf");
    tiny::write(
        &path,
        &TinySpec {
            n_ctx: 8192,
            ..TinySpec::default()
        },
    )
    .expect("write model");
    let file = GgufFile::open(&path).expect("open");
    let facts = Facts::from_shards(std::slice::from_ref(&file)).expect("facts");

    for n_ctx in [4096u32, 1000, 200] {
        if let Ok(mut v) = log.0.lock() {
            v.clear();
        }
        let est = facts.memory(n_ctx);
        let mut opts = common::load_options(&path);
        opts.n_ctx = n_ctx;
        let engine = common::start(opts).expect("load");
        drop(engine);
        let text = String::from_utf8_lossy(&log.0.lock().expect("log").clone()).into_owned();
        let kv = text
            .lines()
            .find(|l| l.contains(" cells,") && l.contains("K (f16):"))
            .unwrap_or_else(|| panic!("no KV line in the log:\n{text}"));
        assert_eq!(
            number_after(kv, "MiB (").map(str::to_string),
            Some(est.n_cells.to_string()),
            "cells: {kv}"
        );
        assert_eq!(
            number_after(kv, "K (f16):"),
            Some(mib(est.kv_k).as_str()),
            "{kv}"
        );
        assert_eq!(
            number_after(kv, "V (f16):"),
            Some(mib(est.kv_v).as_str()),
            "{kv}"
        );
        assert_eq!(
            number_after(kv, "size ="),
            Some(mib(est.kv()).as_str()),
            "{kv}"
        );

        let reported: f64 = text
            .lines()
            .filter(|l| l.contains("compute buffer size ="))
            .filter_map(|l| number_after(l, "size ="))
            .filter_map(|n| n.parse::<f64>().ok())
            .sum::<f64>()
            * 1024.0
            * 1024.0;
        assert!(reported > 0.0, "no buffer lines:\n{text}");
        let ratio = est.compute as f64 / reported;
        eprintln!(
            "n_ctx {n_ctx}: compute estimate {} B, llama.cpp {reported:.0} B, ratio {ratio:.2}",
            est.compute
        );
        assert!(
            (1.0 / COMPUTE_TOLERANCE..=COMPUTE_TOLERANCE).contains(&ratio),
            "compute estimate {} vs reported {reported:.0} (ratio {ratio:.2})",
            est.compute
        );
    }
}
