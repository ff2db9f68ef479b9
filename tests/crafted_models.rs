//! Model files crafted to break each relation llama.cpp asserts on (tests/crafted): without
//! the pre-parser llama.cpp kills the process on every one of them; with it, each is
//! refused by the rule that mirrors the assert, and `moe-tutor run` exits with status 2
//! and says why.

mod crafted;

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use moe_tutor::model::gguf::{GgufError, GgufFile};

const CHILD_ENV: &str = "MOE_TUTOR_TEST_RAW_LOAD";

/// Child side: load the file named by `MOE_TUTOR_TEST_RAW_LOAD` straight through
/// llama.cpp (no pre-parser, no child check), make a context, tokenize a prompt with
/// special tokens as the app does, and decode it. Does nothing in a normal test run.
#[test]
fn raw_llama_cpp_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    use llama_cpp_2::context::params::LlamaContextParams;
    use llama_cpp_2::llama_backend::LlamaBackend;
    use llama_cpp_2::llama_batch::LlamaBatch;
    use llama_cpp_2::model::params::LlamaModelParams;
    use llama_cpp_2::model::{AddBos, LlamaModel};
    let backend = LlamaBackend::init().expect("backend");
    let params = LlamaModelParams::default();
    let model = match LlamaModel::load_from_file(&backend, &path, &params) {
        Ok(m) => m,
        Err(e) => {
            println!("RAW: clean load failure: {e}");
            return;
        }
    };
    let cparams = LlamaContextParams::default()
        .with_n_ctx(std::num::NonZeroU32::new(256))
        .with_n_threads(1)
        .with_n_threads_batch(1);
    let mut ctx = match model.new_context(&backend, cparams) {
        Ok(c) => c,
        Err(e) => {
            println!("RAW: clean context failure: {e}");
            return;
        }
    };
    let tokens = match model.str_to_token("Hello there, experts\n", AddBos::Always) {
        Ok(t) => t,
        Err(e) => {
            println!("RAW: clean tokenize failure: {e}");
            return;
        }
    };
    let mut batch = LlamaBatch::new(256, 1);
    let n = tokens.len().min(200);
    for (i, t) in tokens[..n].iter().enumerate() {
        batch.add(*t, i as i32, &[0], i + 1 == n).expect("batch");
    }
    match ctx.decode(&mut batch) {
        Ok(()) => println!("RAW: loaded and decoded {n} tokens"),
        Err(e) => println!("RAW: clean decode failure: {e}"),
    }
}

/// How the raw child ended.
struct Raw {
    signal: Option<i32>,
    code: Option<i32>,
    timed_out: bool,
    output: String,
}

/// Run [`raw_llama_cpp_child`] on `path` in a child process with a 3 GiB address-space
/// limit (a runaway loop then fails instead of eating the machine) and a time limit.
fn raw_load(path: &std::path::Path) -> Raw {
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 3000000; exec \"$0\" \"$@\"")
        .arg(exe)
        .args([
            "--exact",
            "raw_llama_cpp_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, path)
        .env("GGML_NO_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let (status, timed_out) = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break (Some(s), false);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break (child.wait().ok(), true);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = format!(
        "{}{}",
        t_out.join().unwrap_or_default(),
        t_err.join().unwrap_or_default()
    );
    Raw {
        signal: status.and_then(|s| s.signal()),
        code: status.and_then(|s| s.code()),
        timed_out,
        output,
    }
}

fn last_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[test]
fn every_rule_has_a_crafted_file() {
    let cases = crafted::cases();
    for rule in moe_tutor::model::gguf::rules() {
        assert!(
            cases.iter().any(|c| c.rule == rule.id),
            "no crafted file for rule {}",
            rule.id
        );
    }
}

#[test]
fn without_the_check_llama_cpp_kills_the_process_on_every_crafted_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut survived = Vec::new();
    for case in crafted::cases() {
        let path = case.write(dir.path());
        let raw = raw_load(&path);
        let killed = raw.signal.is_some() || raw.timed_out;
        // A runaway loop under the address-space limit ends in a failed allocation.
        let runaway = raw.output.contains("bad_alloc");
        if !(killed || runaway) {
            survived.push(format!(
                "{} ({}): exit {:?}\n{}",
                case.name,
                case.rule,
                raw.code,
                last_lines(&raw.output, 6)
            ));
        } else {
            eprintln!(
                "{}: signal {:?}, timed out {}: {}",
                case.name,
                raw.signal,
                raw.timed_out,
                last_lines(&raw.output, 1)
            );
        }
    }
    assert!(
        survived.is_empty(),
        "llama.cpp survived:\n{}",
        survived.join("\n\n")
    );
}

#[test]
fn the_valid_twins_load_and_decode_without_the_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    for case in crafted::controls() {
        let path = case.write(dir.path());
        let raw = raw_load(&path);
        assert!(
            raw.code == Some(0) && raw.output.contains("RAW: loaded and decoded"),
            "{}: signal {:?}\n{}",
            case.name,
            raw.signal,
            last_lines(&raw.output, 8)
        );
        GgufFile::open(&path).unwrap_or_else(|e| panic!("{}: {e}", case.name));
    }
}

#[test]
fn the_pre_parser_refuses_every_crafted_file_by_its_rule() {
    let dir = tempfile::tempdir().expect("tempdir");
    for case in crafted::cases() {
        let path = case.write(dir.path());
        match GgufFile::open(&path) {
            Err(GgufError::Refused { rule, .. }) => {
                assert_eq!(rule, case.rule, "{}", case.name)
            }
            other => panic!("{}: expected rule {}, got {other:?}", case.name, case.rule),
        }
    }
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_moe-tutor"));
    let data = tempfile::tempdir().expect("tempdir").keep();
    c.env("MOE_TUTOR_DATA_DIR", data);
    c.env("MOE_TUTOR_PIP", "false");
    c
}

#[test]
fn run_exits_2_with_a_message_for_every_crafted_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    for case in crafted::cases() {
        let path = case.write(dir.path());
        let out = bin()
            .args([
                "run",
                "--threads",
                "1",
                "--max-tokens",
                "2",
                "--prompt",
                "hi",
                "--model",
            ])
            .arg(&path)
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {err}", case.name);
        assert!(
            err.starts_with("moe-tutor: error: ")
                && err.contains("metadata '")
                && err.contains("is wrong: "),
            "{}: {err}",
            case.name
        );
        assert!(out.stdout.is_empty(), "{}", case.name);
        eprintln!("{}: {}", case.name, err.trim());
    }
}
