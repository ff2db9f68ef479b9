//! `cargo tutor`: the step behind the README's two commands. It checks what building
//! llama.cpp needs (cmake, libclang, a C++ compiler), installs what is missing with the
//! platform's package manager (or says exactly how), then hands over to cargo.

pub mod host;
pub mod setup;

/// What `cargo tutor` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// `cargo tutor [ARGS]`: the app, `cargo run --release -- ARGS`.
    App,
    /// `cargo tutor test [ARGS]`: `cargo test --workspace ARGS`.
    Test,
    /// `cargo tutor setup`: only the set-up.
    Setup,
}

/// Split the arguments into the mode and what is passed on.
pub fn parse(args: &[std::ffi::OsString]) -> (Mode, &[std::ffi::OsString]) {
    match args.first().and_then(|a| a.to_str()) {
        Some("test") => (Mode::Test, &args[1..]),
        Some("setup") => (Mode::Setup, &args[1..]),
        _ => (Mode::App, args),
    }
}

/// The cargo arguments that follow the set-up.
pub fn cargo_args(mode: &Mode) -> &'static [&'static str] {
    match mode {
        Mode::App => &["run", "--release", "--package", "moe-tutor", "--"],
        Mode::Test => &["test", "--workspace"],
        Mode::Setup => &[],
    }
}
