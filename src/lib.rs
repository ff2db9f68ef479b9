//! moe-tutor: chat with a local Mixture-of-Experts model and watch its routers think.
//!
//! Layers, with arrows pointing one way: `app` (TUI) and `headless` drive `engine` (the one
//! thread that owns llama.cpp), and everything meets in plain data (`routing`, `sampling`,
//! `engine::api`). Views import plain data only.
//!
//! Unsafe code is denied everywhere but `engine::capture` and `engine::ffi`.

#![deny(unsafe_code)]

// The app's own text in English and Simplified Chinese (assets/i18n/app.toml).
rust_i18n::i18n!("assets/i18n", fallback = "en");

pub mod app;
pub mod bench;
pub mod cli;
pub mod config;
pub mod engine;
pub mod eval;
pub mod experiments;
pub mod headless;
pub mod i18n;
pub mod lessons;
pub mod model;
pub mod pane;
pub mod paths;
pub mod routing;
pub mod sampling;
pub mod store;
pub mod text;
pub mod transcript;
pub mod tui;
