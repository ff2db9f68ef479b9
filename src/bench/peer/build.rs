//! Building the peer once: fetch the `llama-cpp-python` source distribution with pip, unpack
//! it, and build its llama.cpp tree's `llama-bench` with CMake, reporting progress at each
//! stage (pip's lines and bytes, the unpacking, CMake's percentage).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::model::acquire::{self, DownloadRequest, Pip, PipEvent};

/// The source distribution that carries a full llama.cpp tree (with tools/llama-bench).
pub const SDIST: &str = "llama-cpp-python==0.3.36";
/// Its name and version as a file name starts, before normalisation.
const SDIST_STEM: &str = "llama-cpp-python-0.3.36";

/// A distribution file name compared the way package tools compare names: case and the
/// separators `-`, `_`, `.` do not matter.
fn normalise(name: &str) -> String {
    name.to_ascii_lowercase().replace(['-', '.'], "_")
}

/// The source archive pip saved in `dir`, whatever spelling of the name it used: today's
/// pip writes `llama_cpp_python-0.3.36.tar.gz` (PEP 625), older ones the dashed name.
pub fn find_sdist(dir: &Path) -> Option<PathBuf> {
    let want = normalise(&format!("{SDIST_STEM}.tar.gz"));
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.is_file()
                && p.file_name()
                    .is_some_and(|n| normalise(&n.to_string_lossy()) == want)
        })
}

/// The unpacked llama.cpp tree: `<top>/vendor/llama.cpp` under `src`, whatever the
/// archive's top folder is called.
fn find_tree(src: &Path) -> Option<PathBuf> {
    std::fs::read_dir(src)
        .ok()?
        .flatten()
        .map(|e| e.path().join("vendor").join("llama.cpp"))
        .find(|t| t.join("CMakeLists.txt").is_file())
}

/// Run `cmd`, handing each line it prints to `on_line`; on failure, the last line of its
/// error output.
fn run_streaming(
    what: &str,
    cmd: &mut Command,
    on_line: &mut dyn FnMut(&str),
) -> Result<(), String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{what}: cannot run {:?}: {e}", cmd.get_program()))?;
    let (tx, rx) = mpsc::channel::<(bool, String)>();
    let pipes: [(bool, Option<Box<dyn Read + Send>>); 2] = [
        (false, child.stdout.take().map(|r| Box::new(r) as _)),
        (true, child.stderr.take().map(|r| Box::new(r) as _)),
    ];
    for (is_err, pipe) in pipes {
        let (Some(pipe), tx) = (pipe, tx.clone()) else {
            continue;
        };
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if tx.send((is_err, line)).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    let mut last_err = String::new();
    for (is_err, line) in rx {
        let line = crate::text::sanitize(line.trim());
        if line.is_empty() {
            continue;
        }
        if is_err {
            last_err.clone_from(&line);
        }
        on_line(&line);
    }
    let status = child
        .wait()
        .map_err(|e| format!("{what}: waiting for it: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        let last = if last_err.is_empty() {
            "no message"
        } else {
            &last_err
        };
        Err(format!("{what} failed ({status}): {last}"))
    }
}

/// CMake's "[ 45%] Building CXX object ...": the percentage.
fn build_percent(line: &str) -> Option<u32> {
    let rest = line.trim_start().strip_prefix('[')?;
    let (num, _) = rest.split_once("%]")?;
    num.trim().parse().ok()
}

fn fetch(sdist: &Path, progress: &mut dyn FnMut(&str)) -> Result<PathBuf, String> {
    progress(&format!("llama-bench: fetching {SDIST} (source) with pip"));
    let work = sdist.join(".pip-work");
    let request = DownloadRequest {
        options: &["--no-binary", ":all:"],
        requirement: SDIST,
        dest: sdist,
        work: &work,
        expected_bytes: None,
    };
    let never = AtomicBool::new(false);
    let mut last = None::<Instant>;
    let result = acquire::pip_download(&Pip::from_env(), &request, &never, &mut |e| match e {
        PipEvent::Line(l) => progress(&format!("llama-bench: pip: {l}")),
        PipEvent::Transfer(t) => {
            if last.is_none_or(|l| l.elapsed() >= Duration::from_secs(2)) {
                last = Some(Instant::now());
                progress(&format!("llama-bench: {}", acquire::describe_transfer(&t)));
            }
        }
    });
    let _ = std::fs::remove_dir_all(&work);
    result.map_err(|e| match e {
        acquire::AcquireError::PipMissing => {
            "pip was not found (tried pip, pip3, python3 -m pip); give --llama-bench PATH or \
             --no-peer"
                .to_string()
        }
        e => format!("fetching {SDIST} failed: {e}"),
    })?;
    find_sdist(sdist).ok_or_else(|| {
        let saved: Vec<String> = std::fs::read_dir(sdist)
            .map(|r| {
                r.flatten()
                    .map(|e| crate::text::sanitize(&e.file_name().to_string_lossy()))
                    .collect()
            })
            .unwrap_or_default();
        format!(
            "pip reported success but saved no {SDIST_STEM} source archive in {} (it holds: {})",
            sdist.display(),
            if saved.is_empty() {
                "nothing".to_string()
            } else {
                saved.join(", ")
            }
        )
    })
}

/// The llama-bench binary: cached, or built now (about 10 minutes on 2 cores, once).
pub fn ensure_llama_bench(progress: &mut dyn FnMut(&str)) -> Result<PathBuf, String> {
    if let Some(p) = super::cached_llama_bench() {
        return Ok(p);
    }
    let dir = super::peer_dir();
    let sdist = dir.join("sdist");
    let src = dir.join("src");
    let build = dir.join("build");
    std::fs::create_dir_all(&sdist).map_err(|e| format!("{}: {e}", sdist.display()))?;
    let tree = match find_tree(&src) {
        Some(t) => t,
        None => {
            let tarball = match find_sdist(&sdist) {
                Some(t) => t,
                None => fetch(&sdist, progress)?,
            };
            let size = std::fs::metadata(&tarball).map(|m| m.len()).unwrap_or(0);
            progress(&format!(
                "llama-bench: unpacking {} ({:.1} MB)",
                tarball
                    .file_name()
                    .map(|n| crate::text::sanitize(&n.to_string_lossy()))
                    .unwrap_or_default(),
                size as f64 / 1e6
            ));
            let t0 = Instant::now();
            let _ = std::fs::remove_dir_all(&src);
            std::fs::create_dir_all(&src).map_err(|e| format!("{}: {e}", src.display()))?;
            run_streaming(
                "unpacking the source",
                Command::new("tar")
                    .arg("-xzf")
                    .arg(&tarball)
                    .arg("-C")
                    .arg(&src),
                &mut |_| {},
            )?;
            let tree = find_tree(&src).ok_or_else(|| {
                format!(
                    "{} holds no vendor/llama.cpp tree with a CMakeLists.txt",
                    tarball.display()
                )
            })?;
            progress(&format!(
                "llama-bench: unpacked in {:.1} s",
                t0.elapsed().as_secs_f64()
            ));
            tree
        }
    };
    // A build from before the compilers below (AMX kernels in) is started again.
    if !build.join(NO_AMX_STAMP).is_file() {
        let _ = std::fs::remove_dir_all(&build);
    }
    let (cc, cxx) = no_amx_compilers(&dir)?;
    progress("llama-bench: configuring llama.cpp with cmake");
    run_streaming(
        "cmake (configure)",
        Command::new("cmake")
            .arg("-S")
            .arg(&tree)
            .arg("-B")
            .arg(&build)
            .arg(format!("-DCMAKE_C_COMPILER={}", cc.display()))
            .arg(format!("-DCMAKE_CXX_COMPILER={}", cxx.display()))
            .args([
                "-DCMAKE_BUILD_TYPE=Release",
                "-DLLAMA_CURL=OFF",
                "-DLLAMA_OPENSSL=OFF",
                "-DLLAMA_BUILD_SERVER=OFF",
                "-DLLAMA_BUILD_TESTS=OFF",
                "-DBUILD_SHARED_LIBS=OFF",
            ]),
        &mut |_| {},
    )?;
    let jobs = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .to_string();
    progress("llama-bench: building llama.cpp's llama-bench (about 10 minutes on 2 cores, once)");
    let t0 = Instant::now();
    let mut shown = None::<u32>;
    run_streaming(
        "cmake (build)",
        Command::new("cmake").arg("--build").arg(&build).args([
            "--target",
            "llama-bench",
            "-j",
            &jobs,
        ]),
        &mut |line| {
            if let Some(p) = build_percent(line) {
                if shown.is_none_or(|s| p >= s + 5 || (p == 100 && s < 100)) {
                    shown = Some(p);
                    progress(&format!(
                        "llama-bench: building {p}% ({:.0} s)",
                        t0.elapsed().as_secs_f64()
                    ));
                }
            }
        },
    )?;
    std::fs::write(build.join(NO_AMX_STAMP), "built with -mno-amx-*\n")
        .map_err(|e| format!("{}: {e}", build.display()))?;
    super::cached_llama_bench().ok_or_else(|| "the llama-bench build produced no binary".into())
}

/// Written into the build folder once llama-bench was built with [`no_amx_compilers`]; a
/// cached binary without it is not used (see `super::cached_llama_bench`).
pub(crate) const NO_AMX_STAMP: &str = "moe-tutor-no-amx";

/// Compiler wrappers for the peer's llama.cpp, the same as the app's own build uses
/// (`tools/cc-no-amx`, `.cargo/config.toml`): on x86-64 they add `-mno-amx-*` after
/// everything else, so `-march=native` leaves out the AMX kernels that fault on machines
/// advertising AMX without enabling it. Both builds then compile the same kernels, and the
/// comparison stays fair. Written into `dir` as small shell scripts.
fn no_amx_compilers(dir: &Path) -> Result<(PathBuf, PathBuf), String> {
    use std::os::unix::fs::PermissionsExt;
    let write = |name: &str, var: &str, default: &str| -> Result<PathBuf, String> {
        let path = dir.join(name);
        let script = format!(
            "#!/bin/sh\n# moe-tutor bench: llama.cpp for llama-bench without AMX kernels.\n\
             real=\"${{{var}:-{default}}}\"\n\
             case \"$(uname -m)\" in\n\
             \x20 x86_64|amd64) exec \"$real\" \"$@\" -mno-amx-tile -mno-amx-int8 -mno-amx-bf16 ;;\n\
             \x20 *) exec \"$real\" \"$@\" ;;\n\
             esac\n"
        );
        std::fs::write(&path, script).map_err(|e| format!("{}: {e}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    };
    Ok((
        write("cc-no-amx", "MOE_TUTOR_CC", "cc")?,
        write("cxx-no-amx", "MOE_TUTOR_CXX", "c++")?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peer_compilers_switch_amx_off_after_the_callers_flags() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cc, cxx) = no_amx_compilers(dir.path()).expect("wrappers");
        for (wrapper, var) in [(cc, "MOE_TUTOR_CC"), (cxx, "MOE_TUTOR_CXX")] {
            let out = Command::new(&wrapper)
                .args(["-march=native", "-c", "x.c"])
                .env(var, "echo")
                .output()
                .expect("run the wrapper");
            let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if cfg!(target_arch = "x86_64") {
                assert_eq!(
                    line,
                    "-march=native -c x.c -mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
                );
            } else {
                assert_eq!(line, "-march=native -c x.c");
            }
        }
    }

    #[test]
    fn finds_the_sdist_under_either_spelling() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(find_sdist(dir.path()), None);
        std::fs::write(dir.path().join("other-1.0.tar.gz"), b"").unwrap();
        std::fs::write(dir.path().join("llama_cpp_python-0.3.35.tar.gz"), b"").unwrap();
        assert_eq!(find_sdist(dir.path()), None);
        let pep625 = dir.path().join("llama_cpp_python-0.3.36.tar.gz");
        std::fs::write(&pep625, b"").unwrap();
        assert_eq!(find_sdist(dir.path()), Some(pep625.clone()));
        std::fs::remove_file(&pep625).unwrap();
        let dashed = dir.path().join("llama-cpp-python-0.3.36.tar.gz");
        std::fs::write(&dashed, b"").unwrap();
        assert_eq!(find_sdist(dir.path()), Some(dashed));
    }

    #[test]
    fn reads_cmake_percentages() {
        assert_eq!(
            build_percent("[ 45%] Building CXX object ggml/src/x.o"),
            Some(45)
        );
        assert_eq!(build_percent("[100%] Built target llama-bench"), Some(100));
        assert_eq!(build_percent("-- Configuring done"), None);
    }
}
