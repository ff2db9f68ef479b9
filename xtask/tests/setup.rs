//! The set-up step against a folder of fake programs standing in for the system: a package
//! manager that records what it is asked to install (and then "installs" it, so the check
//! afterwards passes), `dpkg-query` / `ldconfig` answering from what is installed, `id`,
//! `sudo`. Each test checks that exactly what is missing is asked for, and nothing when all
//! is present.

use std::path::{Path, PathBuf};
use std::process::Command;

use xtask::host::{Host, Os};
use xtask::setup::{self, Need};

struct Fake {
    _dir: tempfile::TempDir,
    bin: PathBuf,
    log: PathBuf,
}

fn script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

impl Fake {
    /// An empty system with `uid` from `id -u`.
    fn new(uid: u32) -> Fake {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        let stash = dir.path().join("stash");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(&stash).unwrap();
        let log = dir.path().join("calls.log");
        script(&bin.join("id"), &format!("echo {uid}"));
        for tool in ["cmake", "c++"] {
            script(&stash.join(tool), "exit 0");
        }
        Fake {
            _dir: dir,
            bin,
            log,
        }
    }

    fn root(&self) -> PathBuf {
        self.bin.parent().unwrap().to_path_buf()
    }

    /// A package manager called `name` that logs its arguments and installs: `cmake`
    /// puts cmake on the path, `cxx` (each manager's compiler package) puts c++ there,
    /// `clang` marks libclang installed.
    fn manager(&self, name: &str, cxx: &str, clang: &str) -> &Self {
        let root = self.root();
        script(
            &self.bin.join(name),
            &format!(
                "echo \"{name} $*\" >> '{log}'\n\
                 for p in \"$@\"; do case \"$p\" in\n\
                 cmake) /bin/cp -p '{r}/stash/cmake' '{r}/bin/' ;;\n\
                 {cxx}) /bin/cp -p '{r}/stash/c++' '{r}/bin/' ;;\n\
                 {clang}) : > '{r}/libclang' ;;\n\
                 esac; done",
                log = self.log.display(),
                r = root.display(),
            ),
        );
        self
    }

    /// Debian's package database: libclang-dev is installed once the marker exists.
    fn dpkg(&self) -> &Self {
        let marker = self.root().join("libclang");
        script(
            &self.bin.join("dpkg-query"),
            &format!(
                "if [ -e '{}' ]; then printf 'install ok installed'; \
                 else echo 'dpkg-query: no packages found' >&2; exit 1; fi",
                marker.display()
            ),
        );
        self
    }

    /// The linker cache: lists libclang once the marker exists, always libclang-cpp.
    fn ldconfig(&self) -> &Self {
        let marker = self.root().join("libclang");
        script(
            &self.bin.join("ldconfig"),
            &format!(
                "echo '\tlibclang-cpp.so.16 (libc6,x86-64) => /usr/lib/libclang-cpp.so.16'\n\
                 if [ -e '{}' ]; then echo '\tlibclang.so.16 (libc6,x86-64) => /usr/lib/libclang.so.16'; fi",
                marker.display()
            ),
        );
        self
    }

    fn have(&self, tool: &str) -> &Self {
        let src = self
            .root()
            .join("stash")
            .join(if tool == "cmake" { "cmake" } else { "c++" });
        std::fs::copy(src, self.bin.join(tool)).unwrap();
        self
    }

    fn have_libclang(&self) -> &Self {
        std::fs::write(self.root().join("libclang"), b"").unwrap();
        self
    }

    /// A sudo that logs, says whether it would ask for a password, and runs the command.
    fn sudo(&self, needs_password: bool) -> &Self {
        let status = if needs_password { 1 } else { 0 };
        script(
            &self.bin.join("sudo"),
            &format!(
                "if [ \"$1\" = -n ] && [ \"$2\" = true ]; then exit {status}; fi\n\
                 echo \"sudo $*\" >> '{}'\nif [ \"$1\" = -n ]; then shift; fi\nexec \"$@\"",
                self.log.display()
            ),
        );
        self
    }

    fn host(&self, os: Os) -> Host {
        Host::only(&self.bin, os)
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .map(|s| s.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }
}

#[test]
fn debian_as_root_installs_exactly_what_is_missing() {
    let f = Fake::new(0);
    f.manager("apt-get", "g++", "libclang-dev").dpkg();
    let host = f.host(Os::Linux);
    assert_eq!(
        setup::missing(&host),
        vec![Need::Cmake, Need::Libclang, Need::Cxx]
    );
    let mut out = Vec::new();
    setup::ensure(&host, &mut out).expect("installs");
    assert_eq!(
        f.calls(),
        vec![
            "apt-get update",
            "apt-get install -y cmake libclang-dev g++"
        ]
    );
    assert!(setup::missing(&host).is_empty());
    assert!(String::from_utf8_lossy(&out).contains("installing cmake libclang-dev g++"));

    // Everything present now: nothing is asked for.
    std::fs::remove_file(&f.log).unwrap();
    setup::ensure(&host, &mut Vec::new()).expect("nothing to do");
    assert!(f.calls().is_empty(), "{:?}", f.calls());
}

#[test]
fn only_the_missing_package_is_asked_for() {
    let f = Fake::new(0);
    f.manager("apt-get", "g++", "libclang-dev")
        .dpkg()
        .have("cmake")
        .have("g++");
    let host = f.host(Os::Linux);
    assert_eq!(setup::missing(&host), vec![Need::Libclang]);
    setup::ensure(&host, &mut Vec::new()).expect("installs");
    assert_eq!(
        f.calls(),
        vec!["apt-get update", "apt-get install -y libclang-dev"]
    );
}

#[test]
fn without_root_or_sudo_it_prints_the_exact_command_and_installs_nothing() {
    let f = Fake::new(1000);
    f.manager("apt-get", "g++", "libclang-dev")
        .dpkg()
        .have("cmake");
    let err = setup::ensure(&f.host(Os::Linux), &mut Vec::new()).expect_err("cannot install");
    assert!(f.calls().is_empty(), "{:?}", f.calls());
    assert!(
        err.contains("sudo apt-get install -y libclang-dev g++"),
        "{err}"
    );
    assert!(
        err.contains("libclang") && err.contains("C++ compiler"),
        "{err}"
    );

    // A sudo that wants a password, with nobody at a terminal to type it: the same message.
    f.sudo(true);
    let err = setup::ensure(&f.host(Os::Linux), &mut Vec::new()).expect_err("cannot install");
    assert!(
        err.contains("sudo apt-get install -y libclang-dev g++"),
        "{err}"
    );
    assert!(f.calls().is_empty(), "{:?}", f.calls());
}

#[test]
fn with_passwordless_sudo_it_installs_through_sudo() {
    let f = Fake::new(1000);
    f.manager("apt-get", "g++", "libclang-dev")
        .dpkg()
        .have("c++")
        .have_libclang()
        .sudo(false);
    setup::ensure(&f.host(Os::Linux), &mut Vec::new()).expect("installs");
    assert_eq!(
        f.calls(),
        vec![
            "sudo -n apt-get update",
            "apt-get update",
            "sudo -n apt-get install -y cmake",
            "apt-get install -y cmake",
        ]
    );
}

#[test]
fn fedora_and_arch_use_their_own_package_names() {
    let f = Fake::new(0);
    f.manager("dnf", "gcc-c++", "clang-devel").ldconfig();
    setup::ensure(&f.host(Os::Linux), &mut Vec::new()).expect("installs");
    assert_eq!(f.calls(), vec!["dnf install -y cmake clang-devel gcc-c++"]);

    let f = Fake::new(0);
    f.manager("pacman", "gcc", "clang").ldconfig().have("cmake");
    let host = f.host(Os::Linux);
    // libclang-cpp alone does not count.
    assert_eq!(setup::missing(&host), vec![Need::Libclang, Need::Cxx]);
    setup::ensure(&host, &mut Vec::new()).expect("installs");
    assert_eq!(f.calls(), vec!["pacman -S --needed --noconfirm clang gcc"]);
}

#[test]
fn macos_without_command_line_tools_is_told_how() {
    let f = Fake::new(501);
    f.manager("brew", "-", "-");
    script(&f.bin.join("xcode-select"), "exit 2");
    let err = setup::ensure(&f.host(Os::MacOs), &mut Vec::new()).expect_err("needs CLT");
    assert!(err.contains("xcode-select --install"), "{err}");
    assert!(err.contains("brew install cmake"), "{err}");
    assert!(f.calls().is_empty(), "{:?}", f.calls());

    // With the Command Line Tools, only cmake is missing: Homebrew installs it as the user.
    script(
        &f.bin.join("xcode-select"),
        "echo /Library/Developer/CommandLineTools",
    );
    f.have("c++");
    setup::ensure(&f.host(Os::MacOs), &mut Vec::new()).expect("installs");
    assert_eq!(f.calls(), vec!["brew install cmake"]);
}

/// The binary itself, as `cargo tutor setup` runs it, with only the fake programs on PATH.
#[test]
fn the_setup_command_runs_against_what_is_on_path() {
    let f = Fake::new(0);
    f.manager("apt-get", "g++", "libclang-dev")
        .dpkg()
        .have("cmake")
        .have("c++");
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .arg("setup")
            .env("PATH", &f.bin)
            .env_remove("LIBCLANG_PATH")
            .env_remove("MOE_TUTOR_SKIP_SETUP")
            .output()
            .unwrap()
    };
    let out = run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        f.calls(),
        vec!["apt-get update", "apt-get install -y libclang-dev"]
    );
    // Run again: all present, nothing asked for, nothing said.
    std::fs::remove_file(&f.log).unwrap();
    let out = run();
    assert!(out.status.success());
    assert!(f.calls().is_empty(), "{:?}", f.calls());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Not root and no sudo: exit status 1 and the command to run by hand.
    let f = Fake::new(1000);
    f.manager("apt-get", "g++", "libclang-dev").dpkg();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("setup")
        .env("PATH", &f.bin)
        .env_remove("LIBCLANG_PATH")
        .env_remove("MOE_TUTOR_SKIP_SETUP")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sudo apt-get install -y cmake libclang-dev g++"),
        "{err}"
    );
    assert!(f.calls().is_empty(), "{:?}", f.calls());
}

#[test]
fn arguments_pick_the_cargo_command() {
    use std::ffi::OsString;
    let a = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
    let args = a(&["test", "--", "--nocapture"]);
    let (mode, rest) = xtask::parse(&args);
    assert_eq!(mode, xtask::Mode::Test);
    assert_eq!(rest, &a(&["--", "--nocapture"])[..]);
    assert_eq!(xtask::cargo_args(&mode), &["test", "--workspace"]);
    let args = a(&["--model", "m.gguf"]);
    let (mode, rest) = xtask::parse(&args);
    assert_eq!(mode, xtask::Mode::App);
    assert_eq!(rest.len(), 2);
    assert_eq!(
        xtask::cargo_args(&mode),
        &["run", "--release", "--package", "moe-tutor", "--"]
    );
}
