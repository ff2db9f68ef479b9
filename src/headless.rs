//! Headless mode: `moe-tutor run`.
