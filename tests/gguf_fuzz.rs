//! The `gguf` fuzz target's body (`fuzz/common/gguf.rs`) on stable Rust: over a seed
//! corpus of real tiny models (every architecture the generator writes), their metadata
//! alone, crafted damage and every truncation, then a seeded mutator. Any panic here is a
//! parser crash. `MOE_TUTOR_FUZZ_CORPUS=DIR` also saves the seeds there for `cargo fuzz`;
//! the ignored `mutate_for_a_while` runs the mutator for `MOE_TUTOR_FUZZ_SECS` seconds and
//! prints how many inputs it ran.

use std::path::Path;
use std::time::{Duration, Instant};

use moe_tutor::model::gguf::{GgufFile, GgufWriter};
use moe_tutor::model::tiny::{self, TinySpec};

// The body names the parser as the crate does.
mod model {
    pub use moe_tutor::model::gguf;
}
mod text {
    pub use moe_tutor::text::sanitize;
}
#[path = "../fuzz/common/gguf.rs"]
mod body;

use body::{check, Outcome};

fn specs() -> Vec<TinySpec> {
    vec![
        TinySpec::default(),
        TinySpec::dense(),
        TinySpec::mixtral(),
        TinySpec::qwen3moe(),
        TinySpec::dots1(),
        TinySpec::gpt_oss(),
        TinySpec::granitemoe(),
        TinySpec::olmoe(),
        TinySpec::deepseek2(),
    ]
}

/// A file holding only `bytes`' metadata (no tensors): small, and it reaches the
/// hyper-parameter rules, which run after the layout checks.
fn metadata_only(bytes: &[u8], dir: &Path) -> Vec<u8> {
    let path = dir.join("full.gguf");
    std::fs::write(&path, bytes).unwrap();
    let f = GgufFile::open(&path).expect("the generator's file parses");
    let mut w = GgufWriter::new();
    for (k, v) in f.metadata() {
        w.set(k, v.clone());
    }
    w.to_bytes().unwrap()
}

/// Hand-made headers: each a way a file can lie about itself.
fn crafted() -> Vec<Vec<u8>> {
    let head = |version: u32, n_tensors: u64, n_kv: u64| -> Vec<u8> {
        let mut v = b"GGUF".to_vec();
        v.extend(version.to_le_bytes());
        v.extend(n_tensors.to_le_bytes());
        v.extend(n_kv.to_le_bytes());
        v
    };
    let string = |s: &[u8]| -> Vec<u8> {
        let mut v = (s.len() as u64).to_le_bytes().to_vec();
        v.extend(s);
        v
    };
    let kv = |key: &str, ty: u32, value: &[u8]| -> Vec<u8> {
        let mut v = string(key.as_bytes());
        v.extend(ty.to_le_bytes());
        v.extend(value);
        v
    };
    let mut out = vec![
        vec![],
        b"GG".to_vec(),
        b"GGUF".to_vec(),
        b"GGML\x03\0\0\0".to_vec(),
        head(3, 0, 0),
        head(1, 0, 0),
        head(0x0300_0000, 0, 0),
        head(3, u64::MAX, 0),
        head(3, 0, u64::MAX),
        head(3, u64::MAX / 24, u64::MAX / 13),
    ];
    // A key whose length runs past the end; a string value with a huge length.
    let mut v = head(3, 0, 1);
    v.extend((u64::MAX).to_le_bytes());
    out.push(v);
    let mut v = head(3, 0, 1);
    v.extend(kv("general.name", 8, &(1u64 << 62).to_le_bytes()));
    out.push(v);
    // An array of arrays of huge length; an unknown value type; a duplicate key.
    let mut v = head(3, 0, 1);
    let mut arr = 9u32.to_le_bytes().to_vec();
    arr.extend(u64::MAX.to_le_bytes());
    v.extend(kv("a", 9, &arr));
    out.push(v);
    let mut v = head(3, 0, 1);
    v.extend(kv("a", 99, &[0; 8]));
    out.push(v);
    let mut v = head(3, 0, 2);
    v.extend(kv("a", 4, &7u32.to_le_bytes()));
    v.extend(kv("a", 4, &7u32.to_le_bytes()));
    out.push(v);
    // Alignment 0, 3 and of the wrong type; control characters in a key and a name.
    for value in [0u32, 3] {
        let mut v = head(3, 0, 1);
        v.extend(kv("general.alignment", 4, &value.to_le_bytes()));
        out.push(v);
    }
    let mut v = head(3, 0, 1);
    v.extend(kv("general.alignment", 8, &string(b"32")));
    out.push(v);
    let mut v = head(3, 0, 2);
    v.extend(kv("\x1b[31mkey\x07", 4, &1u32.to_le_bytes()));
    v.extend(kv(
        "general.architecture",
        8,
        &string("\x1b]0;title\x07\u{202e}".as_bytes()),
    ));
    out.push(v);
    // Tensor infos: five dimensions; an element count that overflows; an unknown type;
    // a misaligned offset; an offset past the end; a zero dimension after huge ones.
    let tensor = |dims: &[u64], ty: u32, offset: u64| -> Vec<u8> {
        let mut v = head(3, 1, 0);
        v.extend(string(b"t"));
        v.extend((dims.len() as u32).to_le_bytes());
        for d in dims {
            v.extend(d.to_le_bytes());
        }
        v.extend(ty.to_le_bytes());
        v.extend(offset.to_le_bytes());
        v.resize(v.len().next_multiple_of(32) + 64, 0);
        v
    };
    out.push(tensor(&[1, 1, 1, 1, 1], 0, 0));
    out.push(tensor(&[u64::MAX, 2], 0, 0));
    out.push(tensor(&[1 << 40, 1 << 40, 0], 0, 0));
    out.push(tensor(&[4], 0xdead, 0));
    out.push(tensor(&[4], 0, 3));
    out.push(tensor(&[4], 0, 1 << 20));
    out.push(tensor(&[16], 0, 0));
    out.push(tensor(&[16], 1, 0));
    out.push(tensor(&[32], 8, 0));
    out
}

/// Every seed: real files, their metadata alone, crafted headers.
fn seeds(dir: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for spec in specs() {
        let bytes = tiny::build(&spec).unwrap().to_bytes().unwrap();
        out.push(metadata_only(&bytes, dir));
        out.push(bytes);
    }
    out.extend(crafted());
    out
}

/// SplitMix64: a deterministic mutator needs no crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One to four edits of the kinds that move a parser: bit flips, interesting integers
/// written over counts and lengths, truncation, a repeated or removed chunk.
fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        if v.is_empty() {
            v.push(rng.next() as u8);
            continue;
        }
        // Most structure lives in the first few kilobytes.
        let span = if rng.below(4) == 0 {
            v.len()
        } else {
            v.len().min(4096)
        };
        let at = rng.below(span);
        match rng.below(7) {
            0 => v[at] ^= 1 << rng.below(8),
            1 => v[at] = [0, 1, 0x7f, 0x80, 0xff][rng.below(5)],
            2 => {
                let vals: [u64; 8] = [0, 1, 2, 3, 32, 0xffff_ffff, 1 << 32, u64::MAX];
                let bytes = vals[rng.below(8)].to_le_bytes();
                let n = [1, 2, 4, 8][rng.below(4)];
                for (i, b) in bytes.iter().take(n).enumerate() {
                    if let Some(slot) = v.get_mut(at + i) {
                        *slot = *b;
                    }
                }
            }
            3 => v.truncate(at),
            4 => {
                let end = (at + 1 + rng.below(64)).min(v.len());
                let chunk = v[at..end].to_vec();
                let to = rng.below(v.len());
                v.splice(to..to, chunk);
            }
            5 => {
                let end = (at + 1 + rng.below(64)).min(v.len());
                v.drain(at..end);
            }
            _ => {
                let n = rng.below(16);
                for i in 0..n {
                    if let Some(slot) = v.get_mut(at + i) {
                        *slot = rng.next() as u8;
                    }
                }
            }
        }
    }
    v
}

/// Run the mutator until `deadline` or `max` inputs; returns (inputs, accepted).
fn mutate_loop(seeds: &[Vec<u8>], scratch: &Path, deadline: Instant, max: u64) -> (u64, u64) {
    let mut rng = Rng(0x5eed);
    let (mut runs, mut accepted) = (0u64, 0u64);
    // Small seeds (metadata only, crafted) first: they run much faster.
    let small: Vec<&Vec<u8>> = seeds.iter().filter(|s| s.len() < 64 << 10).collect();
    while runs < max && Instant::now() < deadline {
        let seed = if rng.below(8) == 0 {
            &seeds[rng.below(seeds.len())]
        } else {
            small[rng.below(small.len())]
        };
        let input = mutate(seed, &mut rng);
        if check(&input, scratch) == Outcome::Accepted {
            accepted += 1;
        }
        runs += 1;
    }
    (runs, accepted)
}

#[test]
fn every_seed_parses_or_is_refused_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let scratch = dir.path().join("input.gguf");
    let seeds = seeds(dir.path());
    let mut accepted = 0;
    for s in &seeds {
        if check(s, &scratch) == Outcome::Accepted {
            accepted += 1;
        }
    }
    // Every real model and its metadata alone are accepted; the crafted ones are refused
    // (except the few well-formed one-tensor files).
    assert!(accepted >= 2 * specs().len(), "{accepted} accepted");
    if let Some(dir) = std::env::var_os("MOE_TUTOR_FUZZ_CORPUS") {
        std::fs::create_dir_all(&dir).unwrap();
        for (i, s) in seeds.iter().enumerate() {
            std::fs::write(Path::new(&dir).join(format!("seed-{i:03}.gguf")), s).unwrap();
        }
    }
}

#[test]
fn every_truncation_of_a_model_is_refused_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let scratch = dir.path().join("input.gguf");
    let full = tiny::build(&TinySpec::deepseek2())
        .unwrap()
        .to_bytes()
        .unwrap();
    let meta = metadata_only(&full, dir.path());
    for len in (0..meta.len()).step_by(7).chain([meta.len() - 1]) {
        // A file without tensors ends in the padding before its (empty) data section:
        // losing only that padding leaves a whole file.
        let only_padding = meta.len() - len < 32 && meta[len..].iter().all(|&b| b == 0);
        let outcome = check(&meta[..len], &scratch);
        assert!(
            outcome == Outcome::Refused || only_padding,
            "length {len}: {outcome:?}"
        );
    }
    for len in (meta.len()..full.len()).step_by(full.len() / 97) {
        assert_eq!(
            check(&full[..len], &scratch),
            Outcome::Refused,
            "length {len}"
        );
    }
}

#[test]
fn mutated_seeds_never_crash_the_parser() {
    let dir = tempfile::tempdir().unwrap();
    let scratch = dir.path().join("input.gguf");
    let seeds = seeds(dir.path());
    let (runs, _) = mutate_loop(
        &seeds,
        &scratch,
        Instant::now() + Duration::from_secs(10),
        2_000,
    );
    assert!(runs > 100, "only {runs} inputs ran");
}

#[test]
#[ignore = "long: MOE_TUTOR_FUZZ_SECS seconds of mutation (default 600)"]
fn mutate_for_a_while() {
    let secs = std::env::var("MOE_TUTOR_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let dir = tempfile::tempdir().unwrap();
    let scratch = dir.path().join("input.gguf");
    let seeds = seeds(dir.path());
    let start = Instant::now();
    let (runs, accepted) = mutate_loop(
        &seeds,
        &scratch,
        start + Duration::from_secs(secs),
        u64::MAX,
    );
    eprintln!(
        "gguf mutation: {runs} inputs in {:.0} s, {accepted} accepted, no crash",
        start.elapsed().as_secs_f64()
    );
}
