//! What building llama.cpp needs beyond Rust, how to tell whether it is there, and how to
//! install what is missing with the platform's package manager.
//!
//! `llama-cpp-sys-2` compiles llama.cpp with CMake and a C++ compiler and generates its
//! bindings with bindgen, which loads libclang. A crate's own build script runs only after
//! its dependencies' build scripts, so these checks live here, in a step that runs first.

use std::io::Write;

use crate::host::{Host, Os};

/// A system requirement of the build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Cmake,
    Libclang,
    Cxx,
}

impl Need {
    pub fn describe(self) -> &'static str {
        match self {
            Need::Cmake => "cmake",
            Need::Libclang => "libclang (for bindgen)",
            Need::Cxx => "a C++ compiler",
        }
    }
}

/// Package managers the set-up step knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manager {
    Apt,
    Dnf,
    Pacman,
    Zypper,
    Brew,
}

impl Manager {
    /// The platform's manager: Homebrew on macOS; on Linux the first of apt-get, dnf,
    /// pacman and zypper found on the search path.
    pub fn detect(host: &Host) -> Option<Manager> {
        let candidates: &[(&str, Manager)] = match host.os {
            Os::MacOs => &[("brew", Manager::Brew)],
            Os::Linux => &[
                ("apt-get", Manager::Apt),
                ("dnf", Manager::Dnf),
                ("pacman", Manager::Pacman),
                ("zypper", Manager::Zypper),
            ],
            Os::Other => &[],
        };
        candidates
            .iter()
            .find(|(prog, _)| host.has(prog))
            .map(|(_, m)| *m)
    }

    pub fn program(self) -> &'static str {
        match self {
            Manager::Apt => "apt-get",
            Manager::Dnf => "dnf",
            Manager::Pacman => "pacman",
            Manager::Zypper => "zypper",
            Manager::Brew => "brew",
        }
    }

    /// The package that provides `need`, if this manager can install it (on macOS libclang
    /// and the compiler come with Apple's Command Line Tools, not with Homebrew).
    pub fn package(self, need: Need) -> Option<&'static str> {
        Some(match (self, need) {
            (_, Need::Cmake) => "cmake",
            (Manager::Apt, Need::Libclang) => "libclang-dev",
            (Manager::Apt, Need::Cxx) => "g++",
            (Manager::Dnf | Manager::Zypper, Need::Libclang) => "clang-devel",
            (Manager::Dnf | Manager::Zypper, Need::Cxx) => "gcc-c++",
            (Manager::Pacman, Need::Libclang) => "clang",
            (Manager::Pacman, Need::Cxx) => "gcc",
            (Manager::Brew, _) => return None,
        })
    }

    /// The commands that install `packages`, in order.
    pub fn commands(self, packages: &[&str]) -> Vec<Vec<String>> {
        let with = |lead: &[&str]| -> Vec<String> {
            lead.iter().chain(packages).map(|s| s.to_string()).collect()
        };
        match self {
            Manager::Apt => vec![
                vec!["apt-get".into(), "update".into()],
                with(&["apt-get", "install", "-y"]),
            ],
            Manager::Dnf => vec![with(&["dnf", "install", "-y"])],
            Manager::Pacman => vec![with(&["pacman", "-S", "--needed", "--noconfirm"])],
            Manager::Zypper => vec![with(&["zypper", "--non-interactive", "install"])],
            Manager::Brew => vec![with(&["brew", "install"])],
        }
    }

    /// Whether installing needs root (Homebrew refuses to run as root).
    pub fn needs_root(self) -> bool {
        self != Manager::Brew
    }
}

/// libclang as bindgen finds it: `LIBCLANG_PATH`; on Debian/Ubuntu the `libclang-dev`
/// package (a machine may carry only `libclang-cpp`, which bindgen cannot use, so the
/// package is asked for rather than files globbed); on macOS the Command Line Tools;
/// elsewhere a `libclang.so` / `libclang-N.so` in the linker cache.
fn has_libclang(host: &Host) -> bool {
    if host.libclang_path.as_ref().is_some_and(|p| p.exists()) {
        return true;
    }
    match host.os {
        Os::MacOs => host.succeeds("xcode-select", &["-p"]),
        _ if host.has("dpkg-query") => host
            .output("dpkg-query", &["-W", "-f=${Status}", "libclang-dev"])
            .is_some_and(|s| s.trim() == "install ok installed"),
        _ => host.output("ldconfig", &["-p"]).is_some_and(|s| {
            s.lines().any(|l| {
                let name = l.trim_start();
                name.starts_with("libclang.so")
                    || name
                        .strip_prefix("libclang-")
                        .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
            })
        }),
    }
}

/// What the build needs and this machine lacks.
pub fn missing(host: &Host) -> Vec<Need> {
    let mut v = Vec::new();
    if !host.has("cmake") {
        v.push(Need::Cmake);
    }
    if !has_libclang(host) {
        v.push(Need::Libclang);
    }
    let compiler = ["c++", "g++", "clang++"].iter().any(|c| host.has(c));
    if !compiler {
        v.push(Need::Cxx);
    }
    v
}

/// How the install commands get the rights they need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rights {
    /// Running as root, or the manager needs no root.
    Direct,
    /// Through `sudo` (`-n`: without a password prompt).
    Sudo { prompt: bool },
    /// No way to become root from here.
    None,
}

fn rights(host: &Host, manager: Manager) -> Rights {
    if !manager.needs_root() || host.output("id", &["-u"]).is_some_and(|u| u.trim() == "0") {
        return Rights::Direct;
    }
    if !host.has("sudo") {
        return Rights::None;
    }
    if host.succeeds("sudo", &["-n", "true"]) {
        Rights::Sudo { prompt: false }
    } else if host.interactive {
        Rights::Sudo { prompt: true }
    } else {
        Rights::None
    }
}

fn names(needs: &[Need]) -> String {
    needs
        .iter()
        .map(|n| n.describe())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The one message for when nothing can be installed from here: what is missing and the
/// exact command to run.
fn by_hand(needs: &[Need], manager: Option<Manager>, host: &Host) -> String {
    let mut s = format!(
        "building llama.cpp needs {}, which this machine lacks.",
        names(needs)
    );
    match manager {
        Some(Manager::Brew) | None if host.os == Os::MacOs => {
            if needs.iter().any(|n| *n != Need::Cmake) {
                s.push_str(" Install Apple's Command Line Tools with:\n    xcode-select --install");
            }
            if needs.contains(&Need::Cmake) {
                s.push_str("\nand cmake with Homebrew (https://brew.sh):\n    brew install cmake");
            }
        }
        Some(m) => {
            let packages: Vec<&str> = needs.iter().filter_map(|n| m.package(*n)).collect();
            let sudo = if m.needs_root() { "sudo " } else { "" };
            s.push_str(" Install them with:");
            for c in m.commands(&packages) {
                s.push_str(&format!("\n    {sudo}{}", c.join(" ")));
            }
        }
        None => s.push_str(
            " No package manager this step knows (apt-get, dnf, pacman, zypper, brew) was \
             found: install cmake, libclang and a C++ compiler with your system's tools.",
        ),
    }
    s.push_str("\nthen run this command again.");
    s
}

/// Install what is missing, or explain how. `Ok` when nothing is missing afterwards.
pub fn ensure(host: &Host, log: &mut dyn Write) -> Result<(), String> {
    let needs = missing(host);
    if needs.is_empty() {
        return Ok(());
    }
    let manager = Manager::detect(host);
    let Some(m) = manager else {
        return Err(by_hand(&needs, None, host));
    };
    let installable: Vec<Need> = needs
        .iter()
        .copied()
        .filter(|n| m.package(*n).is_some())
        .collect();
    if installable.len() < needs.len() {
        // macOS without the Command Line Tools: they come from Apple's own installer.
        return Err(by_hand(&needs, manager, host));
    }
    let rights = rights(host, m);
    if rights == Rights::None {
        return Err(by_hand(&needs, manager, host));
    }
    let packages: Vec<&str> = needs.iter().filter_map(|n| m.package(*n)).collect();
    let _ = writeln!(
        log,
        "cargo tutor: building llama.cpp needs {}; installing {} with {}",
        names(&needs),
        packages.join(" "),
        m.program()
    );
    if rights == (Rights::Sudo { prompt: true }) {
        let _ = writeln!(log, "cargo tutor: sudo may ask for your password");
    }
    for argv in m.commands(&packages) {
        let (argv, env): (Vec<String>, Vec<(&str, &str)>) = match rights {
            Rights::Sudo { prompt } => {
                let mut v = vec!["sudo".to_string()];
                if !prompt {
                    v.push("-n".into());
                }
                v.extend(argv);
                (v, vec![])
            }
            _ => (argv, vec![("DEBIAN_FRONTEND", "noninteractive")]),
        };
        host.run_visible(&argv, &env)?;
    }
    let left = missing(host);
    if left.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "after installing {}, still missing: {}",
            packages.join(" "),
            names(&left)
        ))
    }
}
