//! The streaming UTF-8 decoder: bytes split at arbitrary points decode to exactly what
//! decoding them at once gives (`String::from_utf8_lossy`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/engine/utf8.rs"]
#[allow(dead_code)]
mod utf8;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the split points: chunks of 1..=8 bytes.
    let Some((&seed, bytes)) = data.split_first() else {
        return;
    };
    let mut stream = utf8::Utf8Stream::new();
    let mut out = String::new();
    let mut rest = bytes;
    let mut i = 0u32;
    while !rest.is_empty() {
        let n = (((seed as u32).wrapping_mul(i + 7) >> 2) % 8 + 1) as usize;
        let (chunk, tail) = rest.split_at(n.min(rest.len()));
        out.push_str(&stream.push(chunk));
        rest = tail;
        i += 1;
    }
    out.push_str(&stream.finish());
    assert_eq!(out, String::from_utf8_lossy(bytes));
});
