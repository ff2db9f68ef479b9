//! The body of the `gguf` fuzz target, shared with `tests/gguf_fuzz.rs` so that the same
//! checks run on stable Rust over a seed corpus and a simple mutator.
//!
//! It drives the whole pre-parser path a model file takes before llama.cpp may see it
//! (`GgufFile::open`: header, metadata, tensor table, layout, then the hyper-parameter
//! rules), and then what the app does with an accepted file (summary, tensor reads). The
//! includer provides `crate::model::gguf` and `crate::text::sanitize`.

use std::path::Path;

use crate::model::gguf::GgufFile;
use crate::text::sanitize::is_unsafe;

/// What one input did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Refused,
}

/// Largest tensor the check reads back in full.
const READ_LIMIT: u64 = 1 << 16;

fn assert_printable(what: &str, text: &str) {
    assert!(
        !text.chars().any(is_unsafe),
        "{what} carries a terminal control character: {text:?}"
    );
}

/// Write `data` to `scratch`, parse it, and check what must hold for any input. Panics
/// (the fuzzer's crash) when something does not.
pub fn check(data: &[u8], scratch: &Path) -> Outcome {
    if std::fs::write(scratch, data).is_err() {
        // The scratch file is the harness's, not the parser's: nothing to judge.
        return Outcome::Refused;
    }
    let file = match GgufFile::open(scratch) {
        Ok(f) => f,
        Err(e) => {
            // Refusals reach the user's terminal: file text inside them must be clean.
            assert_printable("a refusal", &e.to_string());
            return Outcome::Refused;
        }
    };
    let len = data.len() as u64;
    assert_eq!(file.file_len(), len);
    assert!(matches!(file.version(), 2 | 3), "{}", file.version());
    assert!(file.alignment().is_power_of_two());
    let mut end_of_last = file.data_offset();
    for t in file.tensors() {
        assert!(t.file_offset >= file.data_offset(), "{t:?}");
        assert!(
            t.file_offset
                .checked_add(t.n_bytes)
                .is_some_and(|e| e <= len),
            "{t:?}"
        );
        assert!(
            t.file_offset >= end_of_last || t.n_bytes == 0,
            "overlap at {t:?}"
        );
        end_of_last = end_of_last.max(t.file_offset + t.n_bytes);
        assert!(t.shape.len() <= 4);
        if t.n_bytes <= READ_LIMIT {
            let bytes = file
                .read_tensor_bytes(t)
                .expect("an accepted tensor reads back");
            assert_eq!(bytes.len() as u64, t.n_bytes);
            if let Ok(values) = file.read_tensor_f32(t) {
                assert_eq!(values.len() as u64, t.n_elements(), "{t:?}");
            }
        }
    }
    let s = file.summary();
    for text in [&s.name, &s.architecture].into_iter().flatten() {
        assert_printable("the summary", text);
    }
    assert!(
        s.n_bytes <= len,
        "{} bytes of tensors in a {len}-byte file",
        s.n_bytes
    );
    let _ = s.bits_per_weight();
    Outcome::Accepted
}
