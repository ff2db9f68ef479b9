//! The GGUF pre-parser on arbitrary bytes: header, metadata, tensor table, layout and the
//! hyper-parameter rules never panic; refusals carry no raw control characters; accepted
//! files keep every tensor inside the file and read back. The body is `common/gguf.rs`
//! (shared with `tests/gguf_fuzz.rs`).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

// The parser compiles by path with the two small modules it uses, laid out as in the
// crate (`crate::model::gguf`, `crate::text::sanitize`, `crate::store::atomic`), so this
// target builds without llama.cpp.
#[path = "../../src/model"]
#[allow(dead_code, unused_imports)]
mod model {
    pub mod gguf;
}
#[path = "../../src/text"]
#[allow(dead_code)]
mod text {
    pub mod sanitize;
    pub use sanitize::sanitize;
}
#[path = "../../src/store"]
#[allow(dead_code)]
mod store {
    pub mod atomic;
    mod private;
}
#[path = "../common/gguf.rs"]
mod body;

fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("moe-tutor-fuzz-gguf-{}.gguf", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    body::check(data, scratch());
});
