//! The machine as the set-up step sees it: which programs are on the search path and what
//! they answer. Every probe goes through here, so tests can stand in a folder of fake
//! programs for the real system.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The operating system family, which decides the package manager and package names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Linux,
    MacOs,
    Other,
}

/// Where programs are looked up, and the environment they run with.
#[derive(Debug, Clone)]
pub struct Host {
    pub os: Os,
    /// Folders searched for programs, in order.
    pub dirs: Vec<PathBuf>,
    /// The `PATH` handed to the programs that run.
    pub path_var: OsString,
    /// `LIBCLANG_PATH`, which bindgen honours before searching.
    pub libclang_path: Option<PathBuf>,
    /// Whether a person can answer a password prompt (stdin is a terminal).
    pub interactive: bool,
}

impl Host {
    /// This process's machine: `PATH`, plus the system folders where `ldconfig` lives for
    /// accounts whose `PATH` leaves them out.
    pub fn from_env() -> Host {
        use std::io::IsTerminal;
        let path_var = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs: Vec<PathBuf> = std::env::split_paths(&path_var).collect();
        for extra in ["/usr/sbin", "/sbin"] {
            let p = PathBuf::from(extra);
            if !dirs.contains(&p) {
                dirs.push(p);
            }
        }
        let os = if cfg!(target_os = "macos") {
            Os::MacOs
        } else if cfg!(target_os = "linux") {
            Os::Linux
        } else {
            Os::Other
        };
        Host {
            os,
            dirs,
            path_var,
            libclang_path: std::env::var_os("LIBCLANG_PATH").map(PathBuf::from),
            interactive: std::io::stdin().is_terminal(),
        }
    }

    /// A host that sees only the programs in `dir` (for tests).
    pub fn only(dir: &Path, os: Os) -> Host {
        Host {
            os,
            dirs: vec![dir.to_path_buf()],
            path_var: dir.as_os_str().to_owned(),
            libclang_path: None,
            interactive: false,
        }
    }

    /// The program `name` on the search path, if it is there and executable.
    pub fn find(&self, name: &str) -> Option<PathBuf> {
        self.dirs
            .iter()
            .map(|d| d.join(name))
            .find(|p| is_executable(p))
    }

    pub fn has(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    fn command(&self, name: &str) -> Option<Command> {
        let mut cmd = Command::new(self.find(name)?);
        cmd.env("PATH", &self.path_var);
        Some(cmd)
    }

    /// Run `name args` quietly; true when it exits with status 0.
    pub fn succeeds(&self, name: &str, args: &[&str]) -> bool {
        self.command(name).is_some_and(|mut c| {
            c.args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
    }

    /// What `name args` prints on stdout, when it runs and succeeds.
    pub fn output(&self, name: &str, args: &[&str]) -> Option<String> {
        let out = self
            .command(name)?
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Run `argv` with the terminal attached (the package manager shows its own progress).
    pub fn run_visible(&self, argv: &[String], env: &[(&str, &str)]) -> Result<(), String> {
        let (name, args) = argv.split_first().ok_or("empty command")?;
        let mut cmd = self
            .command(name)
            .ok_or_else(|| format!("{name} is not on PATH"))?;
        cmd.args(args).envs(env.iter().copied());
        let status = cmd
            .status()
            .map_err(|e| format!("cannot run {name}: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("`{}` failed ({status})", argv.join(" ")))
        }
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
