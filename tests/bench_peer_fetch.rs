//! `moe-tutor bench` from an empty data directory: the peer's source is fetched with pip
//! (a stand-in pip that serves a locally built source archive under the name today's pip
//! gives it, `llama_cpp_python-0.3.36.tar.gz`), unpacked, configured and built with CMake,
//! run, and reused on the next run without pip.
//!
//! So that the test takes seconds, not the real build's 10 minutes on 2 cores, the archive's
//! `vendor/llama.cpp` is a small CMake project whose `llama-bench` target is a stand-in
//! program printing llama-bench's JSON; every step the bench takes is the real one.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const STAND_IN: &str = r#"#include <stdio.h>
int main(void) {
    puts("[{\"n_prompt\": 16, \"n_gen\": 0, \"n_depth\": 0, \"avg_ts\": 90.0, \"samples_ts\": [90.0]},"
         "{\"n_prompt\": 0, \"n_gen\": 16, \"n_depth\": 0, \"avg_ts\": 50.0, \"samples_ts\": [50.0]},"
         "{\"n_prompt\": 0, \"n_gen\": 16, \"n_depth\": 16, \"avg_ts\": 45.0, \"samples_ts\": [45.0]}]");
    return 0;
}
"#;

const CMAKE: &str = "cmake_minimum_required(VERSION 3.10)\n\
project(llama_cpp_stand_in C)\n\
set(CMAKE_RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)\n\
add_executable(llama-bench stand_in.c)\n";

/// The source archive, named as pip 23+ saves it, and a pip that serves it.
fn fake_index(root: &Path) -> (PathBuf, PathBuf) {
    let top = root.join("pkg").join("llama_cpp_python-0.3.36");
    let tree = top.join("vendor").join("llama.cpp");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("CMakeLists.txt"), CMAKE).unwrap();
    std::fs::write(tree.join("stand_in.c"), STAND_IN).unwrap();
    std::fs::write(
        top.join("PKG-INFO"),
        "Name: llama_cpp_python\nVersion: 0.3.36\n",
    )
    .unwrap();
    let tarball = root.join("llama_cpp_python-0.3.36.tar.gz");
    let ok = Command::new("tar")
        .arg("-czf")
        .arg(&tarball)
        .arg("-C")
        .arg(root.join("pkg"))
        .arg("llama_cpp_python-0.3.36")
        .status()
        .unwrap();
    assert!(ok.success());
    let calls = root.join("pip-calls");
    let pip = root.join("pip.sh");
    std::fs::write(
        &pip,
        format!(
            "echo \"$@\" >> '{calls}'\n\
             while [ $# -gt 0 ]; do if [ \"$1\" = --dest ]; then d=$2; fi; shift; done\n\
             echo 'Collecting llama-cpp-python==0.3.36'\n\
             echo '  Downloading llama_cpp_python-0.3.36.tar.gz (1.0 kB)'\n\
             cp '{tar}' \"$d/\"\n\
             echo \"Saved $d/llama_cpp_python-0.3.36.tar.gz\"\n",
            calls = calls.display(),
            tar = tarball.display()
        ),
    )
    .unwrap();
    (pip, calls)
}

fn bench(data: &Path, pip: &Path) -> (bool, String, String) {
    let model = common::tiny_moe();
    let out = Command::new(env!("CARGO_BIN_EXE_moe-tutor"))
        .env("MOE_TUTOR_DATA_DIR", data)
        .env("MOE_TUTOR_PIP", format!("sh {}", pip.display()))
        .args([
            "bench",
            "--model",
            model.to_str().unwrap(),
            "--threads",
            "1",
        ])
        .args(["--reps", "1", "--prompt-tokens", "16", "--gen-tokens", "16"])
        .args([
            "--latency-secs",
            "0.3",
            "--frames",
            "3",
            "--startup-runs",
            "0",
        ])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bench_builds_its_peer_from_an_empty_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (pip, calls) = fake_index(dir.path());
    let data = dir.path().join("data");
    let (ok, stdout, stderr) = bench(&data, &pip);
    assert!(ok, "bench failed:\n{stderr}\n{stdout}");
    // Progress at every stage.
    for want in [
        "fetching llama-cpp-python==0.3.36",
        "pip: Downloading llama_cpp_python-0.3.36.tar.gz",
        "unpacking llama_cpp_python-0.3.36.tar.gz",
        "configuring llama.cpp with cmake",
        "building 100%",
    ] {
        assert!(stderr.contains(want), "{want:?} missing from:\n{stderr}");
    }
    let args = std::fs::read_to_string(&calls).unwrap();
    assert!(
        args.contains("download") && args.contains("--no-binary :all:"),
        "{args}"
    );
    assert!(
        args.trim_end().ends_with("llama-cpp-python==0.3.36"),
        "{args}"
    );
    // The stand-in's figures reached the last line.
    let last = stdout.lines().last().unwrap_or_default();
    assert!(last.contains("llama_bench_tg_tps=50.0"), "{last}");
    assert!(last.contains("llama_bench_tg_deep_tps=45.0"), "{last}");
    let bin = data.join("peer/llama-bench/build/bin/llama-bench");
    assert!(bin.is_file(), "{}", bin.display());

    // Built once: the next run neither fetches nor builds.
    let (ok, stdout, stderr) = bench(&data, &pip);
    assert!(ok, "second bench failed:\n{stderr}\n{stdout}");
    assert_eq!(std::fs::read_to_string(&calls).unwrap().lines().count(), 1);
    assert!(
        !stderr.contains("fetching") && !stderr.contains("building"),
        "{stderr}"
    );
}

#[test]
fn a_pip_that_saves_nothing_is_reported_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let pip = dir.path().join("pip.sh");
    std::fs::write(&pip, "echo 'Successfully downloaded nothing'\n").unwrap();
    let (ok, _, stderr) = bench(&dir.path().join("data"), &pip);
    assert!(!ok);
    assert!(
        stderr.contains("pip reported success but saved no llama-cpp-python-0.3.36 source archive"),
        "{stderr}"
    );
    assert!(!stderr.contains("tar:"), "{stderr}");
}
