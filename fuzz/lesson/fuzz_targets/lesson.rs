//! The lesson loader (TOML text -> a validated lesson, or file:line diagnostics) on
//! arbitrary text: never panics, and every diagnostic names a line inside the text.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use moe_tutor::lessons::load::{load_str, LessonEntry};

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let lines = src.split('\n').count() + 1;
    if let LessonEntry::Broken { errors, .. } = load_str(Path::new("lessons/01-fuzz.toml"), src) {
        assert!(!errors.is_empty());
        for e in errors {
            assert!(e.line <= lines, "line {} of {lines}: {}", e.line, e.message);
        }
    }
});
