//! Test hooks: faults a test switches on through the environment to show that the app
//! survives them. Debug builds only; a release build ignores the variable.
//!
//! `MOE_TUTOR_FAULT=engine_panic_on_generate`: the engine thread panics while handling
//! the first `Generate` request of the process (later ones run normally, so a test can
//! reload and generate again).

/// The variable the hooks read.
#[cfg_attr(not(debug_assertions), allow(dead_code))]
pub const ENV: &str = "MOE_TUTOR_FAULT";

/// Panic here if the test hook asks for it (once per process).
pub(super) fn maybe_panic_on_generate() {
    #[cfg(debug_assertions)]
    {
        use std::sync::atomic::{AtomicBool, Ordering};
        static FIRED: AtomicBool = AtomicBool::new(false);
        let asked = std::env::var(ENV).is_ok_and(|v| v == "engine_panic_on_generate");
        if asked && !FIRED.swap(true, Ordering::SeqCst) {
            panic!("{ENV}=engine_panic_on_generate: a deliberate panic in the engine thread");
        }
    }
}
