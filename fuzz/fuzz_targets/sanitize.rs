//! The sanitiser on arbitrary text: never panics, and nothing that can drive a terminal
//! survives it.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/text/sanitize.rs"]
#[allow(dead_code)]
mod sanitize;

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let out = sanitize::sanitize(&input);
    for c in out.chars() {
        assert!(!sanitize::is_unsafe(c), "{c:?} survived in {out:?}");
    }
    // Idempotent: sanitising twice changes nothing.
    assert_eq!(sanitize::sanitize(&out), out);
});
