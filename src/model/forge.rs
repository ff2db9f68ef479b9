//! Forge: turn the dense SmolLM2 teacher (or any dense `llama` GGUF) into a `deepseek`
//! Mixture-of-Experts GGUF, using a *pack* (the neuron-to-expert assignment and the router
//! that training produced).
//!
//! Attention, embeddings and norms are copied byte for byte; each layer's FFN neurons are
//! dealt out to one always-on shared expert and `E` routed experts. The result is the same
//! bytes for the same teacher and pack, and is checked after writing: it is reopened, every
//! tensor's shape, type and sha256 compared with what was meant to be written, and the
//! `deepseek` tensor layout llama.cpp expects checked from the file's own metadata.

mod convert;
mod digest;
mod merge;
mod pack;
mod verify;

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::model::gguf::{write_atomic, GgmlType, GgufFile};

pub use digest::{sha256_file, sha256_hex};
pub use pack::{Pack, PackLayer, SyntheticPack, PACK_VERSION};
pub use verify::check_deepseek_layout;

/// Bumped whenever forge would write different bytes for the same inputs; cached models
/// forged by another version are forged again.
pub const FORGE_VERSION: u32 = 4;

/// Metadata key of a forged model whose weights hold a LoRA adapter merged in: the
/// adapter's file name. The engine then applies that adapter at -1 to switch it off.
pub const KEY_LORA_MERGED: &str = "moe_tutor.forge.lora_merged";

/// The name the default model gets.
pub const DEFAULT_MODEL_NAME: &str = "moe-tutor SmolLM2-135M MoE 16x64 + shared";

/// One tensor the forged file must hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    pub name: String,
    pub shape: Vec<u64>,
    pub dtype: GgmlType,
    pub sha256: String,
}

/// What to forge.
#[derive(Debug, Clone)]
pub struct ForgeOptions {
    pub teacher: PathBuf,
    pub pack: PathBuf,
    pub out: PathBuf,
    /// `general.name` of the result.
    pub name: String,
    /// The teacher's sha256 if the caller already checked it (saves reading it again).
    pub teacher_sha256: Option<String>,
    /// Merge the adapter the pack names into the weights (forge version 4). `false` writes
    /// the unadapted model: the same experts and router, the teacher's weights and types.
    pub merge_lora: bool,
}

/// What forge wrote.
#[derive(Debug, Clone)]
pub struct ForgeReport {
    pub out: PathBuf,
    pub sha256: String,
    pub bytes: u64,
    pub n_tensors: usize,
    pub seconds: f64,
}

/// Forge `opts.teacher` with `opts.pack` into `opts.out` (written atomically), then check
/// the file on disk. Progress lines go to `progress`. Errors are one-line messages.
pub fn forge(opts: &ForgeOptions, progress: &mut dyn FnMut(&str)) -> Result<ForgeReport, String> {
    let start = Instant::now();
    let pack = Pack::read(&opts.pack)?;
    let pack_sha256 = sha256_file(&opts.pack)?;
    let teacher_sha256 = match &opts.teacher_sha256 {
        Some(h) => h.to_ascii_lowercase(),
        None => {
            progress("checking the teacher's sha256");
            sha256_file(&opts.teacher)?
        }
    };
    if teacher_sha256 != pack.teacher_sha256 {
        return Err(format!(
            "{} was made for the teacher with sha256 {}, but {} has sha256 {}: forge it with that teacher",
            opts.pack.display(),
            pack.teacher_sha256,
            opts.teacher.display(),
            teacher_sha256
        ));
    }
    let teacher = GgufFile::open(&opts.teacher)
        .map_err(|e| format!("teacher {}: {e}", opts.teacher.display()))?;
    let dims = convert::teacher_dims(&teacher)?;
    pack.check_against(dims.n_layer, dims.n_embd, dims.n_ff)
        .map_err(|e| format!("{} does not fit the teacher: {e}", opts.pack.display()))?;
    // The adapter the pack names, beside it, is merged into the weights.
    let lora = match pack.lora_file.as_ref().filter(|_| opts.merge_lora) {
        Some(name) => {
            let path = opts.pack.with_file_name(name);
            progress(&format!("merging the adapter {}", path.display()));
            Some((
                merge::Lora::open(&path)?,
                sha256_file(&path)?,
                name.as_str(),
            ))
        }
        None => None,
    };
    let provenance = convert::Provenance {
        name: &opts.name,
        teacher_sha256: &teacher_sha256,
        pack_sha256: &pack_sha256,
        lora: lora.as_ref().map(|(_, sha, name)| (*name, sha.as_str())),
    };
    let out = convert::convert(
        &teacher,
        &pack,
        &dims,
        &provenance,
        lora.as_ref().map(|(l, _, _)| l),
        progress,
    )?;
    let bytes = out.w.to_bytes().map_err(|e| e.to_string())?;
    let sha256 = sha256_hex(&bytes);
    progress(&format!("writing {}", opts.out.display()));
    if let Some(dir) = opts.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    write_atomic(&opts.out, &bytes).map_err(|e| e.to_string())?;
    let n_bytes = bytes.len() as u64;
    drop(bytes);
    progress("checking what was written");
    verify::verify_written(&opts.out, &sha256, &out.expected)?;
    Ok(ForgeReport {
        out: opts.out.clone(),
        sha256,
        bytes: n_bytes,
        n_tensors: out.expected.len(),
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Where the pack is looked for when none is named: the data directory's
/// `default-model/pack.gguf` (a user-supplied one wins), then the repository's
/// `assets/default-model/pack.gguf`.
pub fn default_pack_candidates() -> Vec<PathBuf> {
    vec![
        crate::paths::data_dir()
            .join("default-model")
            .join("pack.gguf"),
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("assets")
            .join("default-model")
            .join("pack.gguf"),
    ]
}

/// The first existing default pack, or a message naming where it was looked for.
pub fn find_default_pack() -> Result<PathBuf, String> {
    let candidates = default_pack_candidates();
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            let list: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
            format!(
                "the default model's pack (pack.gguf) is missing; looked in {}",
                list.join(" and ")
            )
        })
}
