use std::ffi::OsString;
use std::process::{Command, ExitCode};

use xtask::{cargo_args, host::Host, parse, setup, Mode};

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let (mode, rest) = parse(&args);
    // For machines set up by other means (e.g. a libclang bindgen finds on its own).
    let skip = std::env::var_os("MOE_TUTOR_SKIP_SETUP").is_some_and(|v| !v.is_empty());
    if !skip {
        if let Err(message) = setup::ensure(&Host::from_env(), &mut std::io::stderr()) {
            eprintln!("cargo tutor: {message}");
            return ExitCode::FAILURE;
        }
    }
    if mode == Mode::Setup {
        return ExitCode::SUCCESS;
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.args(cargo_args(&mode)).args(rest);
    // Become cargo, so that signals, the terminal and the exit status are its own.
    use std::os::unix::process::CommandExt;
    let err = cmd.exec();
    eprintln!("cargo tutor: cannot run {}: {err}", cargo.to_string_lossy());
    ExitCode::FAILURE
}
