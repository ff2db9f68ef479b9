//! Finding GGUF models on this machine: the folders in the settings (`[models] folders`),
//! the app's data folder, and where other tools keep them (the Hugging Face hub cache,
//! LM Studio, Ollama's blob store read through its manifests, llama.cpp's download cache).
//!
//! Discovery never fails: a folder that cannot be read, a broken link, a missing split part
//! or a file the GGUF reader refuses becomes an entry with its reason. Split models
//! (`name-00001-of-00003.gguf`) are listed once, under their first part.

mod facts;
mod ollama;
mod walk;

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use facts::{app_context, Facts, Group, GroupShare, KvShape, MemoryEstimate};

use crate::model::gguf::GgufFile;
use walk::{walk, Visit};

/// How deep below a root folder discovery looks.
const DEPTH: u32 = 8;

/// Where a model was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A folder from the settings.
    Folder,
    /// The app's data folder.
    App,
    HuggingFace,
    LmStudio,
    Ollama,
    LlamaCpp,
}

impl SourceKind {
    /// A short name for listings (the same in every language: these are product names).
    pub fn label(self) -> &'static str {
        match self {
            SourceKind::Folder => "folder",
            SourceKind::App => "moe-tutor",
            SourceKind::HuggingFace => "hf-hub",
            SourceKind::LmStudio => "lm-studio",
            SourceKind::Ollama => "ollama",
            SourceKind::LlamaCpp => "llama.cpp",
        }
    }
}

/// The folders to look in.
#[derive(Debug, Clone, PartialEq)]
pub struct Locations {
    /// Folders searched for `*.gguf` files, with their subfolders.
    pub folders: Vec<(SourceKind, PathBuf)>,
    /// Hugging Face hub caches (`models--org--name/snapshots/REV/...`).
    pub hf_hub: Vec<PathBuf>,
    /// Ollama model stores (`manifests/` and `blobs/`).
    pub ollama: Vec<PathBuf>,
}

fn expand_home(p: &Path, home: Option<&Path>) -> PathBuf {
    match (p.strip_prefix("~"), home) {
        (Ok(rest), Some(h)) => h.join(rest),
        _ => p.to_path_buf(),
    }
}

impl Locations {
    /// The usual places, read from this process's environment.
    pub fn from_env(config_folders: &[PathBuf], data_dir: &Path) -> Locations {
        Locations::from_lookup(|k| std::env::var_os(k), config_folders, data_dir)
    }

    /// The usual places, with environment variables read through `env` (tests pass a map).
    pub fn from_lookup(
        env: impl Fn(&str) -> Option<OsString>,
        config_folders: &[PathBuf],
        data_dir: &Path,
    ) -> Locations {
        let var = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        let home = var("HOME");
        let cache = var("XDG_CACHE_HOME").or_else(|| home.as_ref().map(|h| h.join(".cache")));
        let mut folders: Vec<(SourceKind, PathBuf)> = config_folders
            .iter()
            .map(|f| (SourceKind::Folder, expand_home(f, home.as_deref())))
            .collect();
        folders.push((SourceKind::App, data_dir.to_path_buf()));
        if let Some(h) = &home {
            folders.push((SourceKind::LmStudio, h.join(".lmstudio").join("models")));
        }
        if let Some(c) = &cache {
            folders.push((SourceKind::LmStudio, c.join("lm-studio").join("models")));
        }
        if let Some(d) = var("LLAMA_CACHE").or_else(|| cache.as_ref().map(|c| c.join("llama.cpp")))
        {
            folders.push((SourceKind::LlamaCpp, d));
        }
        let hf_hub = var("HF_HUB_CACHE")
            .or_else(|| var("HF_HOME").map(|h| h.join("hub")))
            .or_else(|| cache.as_ref().map(|c| c.join("huggingface").join("hub")))
            .into_iter()
            .collect();
        let ollama = var("OLLAMA_MODELS")
            .or_else(|| home.as_ref().map(|h| h.join(".ollama").join("models")))
            .into_iter()
            .collect();
        Locations {
            folders,
            hf_hub,
            ollama,
        }
    }
}

/// A model found, or a reason something that looked like one could not be used.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The file to load (the first part of a split model), or the folder or link at fault.
    pub path: PathBuf,
    /// What to call it: `org/repo/file.gguf` in the hub cache, `name:tag` from Ollama,
    /// otherwise the path below the folder searched. Sanitised.
    pub name: String,
    pub source: SourceKind,
    pub found: Result<Facts, String>,
}

impl Entry {
    fn problem(source: SourceKind, path: PathBuf, name: String, why: String) -> Entry {
        Entry {
            path,
            name: crate::text::sanitize(&name),
            source,
            found: Err(crate::text::sanitize(&why)),
        }
    }
}

fn is_gguf(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
}

/// `prefix-00002-of-00005.gguf` -> ("prefix", 2, 5).
fn split_part(path: &Path) -> Option<(String, u32, u32)> {
    let stem = path.file_stem()?.to_str()?;
    let (rest, total) = stem.rsplit_once("-of-")?;
    let (prefix, index) = rest.rsplit_once('-')?;
    let digits = |s: &str| s.len() == 5 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(index) || !digits(total) {
        return None;
    }
    Some((prefix.to_string(), index.parse().ok()?, total.parse().ok()?))
}

fn part_path(first: &Path, prefix: &str, index: u32, total: u32) -> PathBuf {
    first.with_file_name(format!("{prefix}-{index:05}-of-{total:05}.gguf"))
}

struct Candidate {
    source: SourceKind,
    name: String,
    path: PathBuf,
}

fn rel_name(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Collect candidate files and problems from every location.
fn candidates(locs: &Locations, problems: &mut Vec<Entry>) -> Vec<Candidate> {
    let mut out = Vec::new();
    // The hub and Ollama first: where a settings folder links to the same file, their
    // names (repository, model:tag) are the ones kept.
    for root in &locs.hf_hub {
        let Ok(repos) = std::fs::read_dir(root) else {
            if root.exists() {
                problems.push(Entry::problem(
                    SourceKind::HuggingFace,
                    root.clone(),
                    root.display().to_string(),
                    "folder cannot be read".into(),
                ));
            }
            continue;
        };
        let mut repos: Vec<PathBuf> = repos.filter_map(|e| e.ok().map(|e| e.path())).collect();
        repos.sort();
        for repo in repos {
            let Some(id) = repo
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("models--"))
                .map(|n| n.replace("--", "/"))
            else {
                continue;
            };
            let snapshots = repo.join("snapshots");
            // One level per revision, then the file's path inside the repository.
            let file_name = |p: &Path| {
                let rel = p.strip_prefix(&snapshots).unwrap_or(p);
                let inner: PathBuf = rel.components().skip(1).collect();
                format!("{id}/{}", inner.display())
            };
            walk(&snapshots, DEPTH, &mut |v| match v {
                Visit::File(p) if is_gguf(&p) => out.push(Candidate {
                    source: SourceKind::HuggingFace,
                    name: file_name(&p),
                    path: p,
                }),
                Visit::BadFile(p, why) if is_gguf(&p) => problems.push(Entry::problem(
                    SourceKind::HuggingFace,
                    p.clone(),
                    file_name(&p),
                    why,
                )),
                Visit::Problem(p, why) => problems.push(Entry::problem(
                    SourceKind::HuggingFace,
                    p.clone(),
                    id.clone(),
                    why,
                )),
                _ => {}
            });
        }
    }
    for root in &locs.ollama {
        let mut folder_problems = Vec::new();
        for m in ollama::manifests(root, &mut folder_problems) {
            match m.blob {
                Ok(blob) => out.push(Candidate {
                    source: SourceKind::Ollama,
                    name: m.name,
                    path: blob,
                }),
                Err(why) => {
                    problems.push(Entry::problem(SourceKind::Ollama, m.manifest, m.name, why))
                }
            }
        }
        for (p, why) in folder_problems {
            let name = p.display().to_string();
            problems.push(Entry::problem(SourceKind::Ollama, p, name, why));
        }
    }
    for (source, root) in &locs.folders {
        walk(root, DEPTH, &mut |v| match v {
            Visit::File(p) if is_gguf(&p) => out.push(Candidate {
                source: *source,
                name: rel_name(root, &p),
                path: p,
            }),
            Visit::File(_) => {}
            Visit::BadFile(p, why) if is_gguf(&p) => {
                problems.push(Entry::problem(*source, p.clone(), rel_name(root, &p), why))
            }
            Visit::BadFile(..) => {}
            Visit::Problem(p, why) => {
                problems.push(Entry::problem(*source, p.clone(), rel_name(root, &p), why))
            }
        });
    }
    out
}

/// Read a candidate (all its parts) into an entry; `None` for GGUF files that are not
/// models (LoRA adapters).
/// Open every part of the model at `path` (one file, or all parts of a split model named
/// by its first or any part); errors are one-line messages.
pub fn open_parts(path: &Path) -> Result<Vec<GgufFile>, String> {
    let parts: Vec<PathBuf> = match split_part(path) {
        Some((prefix, _, total)) => (1..=total)
            .map(|i| part_path(path, &prefix, i, total))
            .collect(),
        None => vec![path.to_path_buf()],
    };
    let mut files = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        if parts.len() > 1 && !p.exists() {
            return Err(format!(
                "part {} of {} ({}) is missing",
                i + 1,
                parts.len(),
                p.display()
            ));
        }
        match GgufFile::open(p) {
            Ok(f) => files.push(f),
            Err(e) if parts.len() > 1 => {
                return Err(format!("part {} of {}: {e}", i + 1, parts.len()))
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(files)
}

fn inspect(c: Candidate) -> Option<Entry> {
    let files = match open_parts(&c.path) {
        Ok(f) => f,
        Err(why) => return Some(Entry::problem(c.source, c.path, c.name, why)),
    };
    if files
        .first()
        .and_then(|f| f.get_str("general.type"))
        .is_some_and(|t| t == "adapter")
    {
        return None;
    }
    let facts = Facts::from_shards(&files)?;
    Some(Entry {
        path: c.path,
        name: crate::text::sanitize(&c.name),
        source: c.source,
        found: Ok(facts),
    })
}

/// Every model in `locs`: usable MoE models first, then dense ones (each by name), then
/// the problems.
pub fn discover(locs: &Locations) -> Vec<Entry> {
    let mut problems = Vec::new();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    // Split parts other than the first: remembered to report a split model whose first
    // part is missing.
    let mut later_parts: BTreeMap<(PathBuf, String, u32), Candidate> = BTreeMap::new();
    let mut firsts: HashSet<(PathBuf, String, u32)> = HashSet::new();
    let mut entries = Vec::new();
    for c in candidates(locs, &mut problems) {
        let canon = std::fs::canonicalize(&c.path).unwrap_or_else(|_| c.path.clone());
        if !seen.insert(canon) {
            continue;
        }
        if let Some((prefix, index, total)) = split_part(&c.path) {
            let dir = c.path.parent().map(Path::to_path_buf).unwrap_or_default();
            let key = (dir, prefix, total);
            if index != 1 {
                later_parts.entry(key).or_insert(c);
                continue;
            }
            firsts.insert(key);
        }
        entries.extend(inspect(c));
    }
    for (key, c) in later_parts {
        if !firsts.contains(&key) {
            let (_, prefix, total) = key;
            let first = part_path(&c.path, &prefix, 1, total);
            problems.push(Entry::problem(
                c.source,
                c.path,
                c.name,
                format!("split model without its first part ({})", first.display()),
            ));
        }
    }
    entries.sort_by(|a, b| {
        let moe = |e: &Entry| !e.found.as_ref().is_ok_and(|f| f.is_moe());
        moe(a).cmp(&moe(b)).then_with(|| a.name.cmp(&b.name))
    });
    let (ok, mut bad): (Vec<Entry>, Vec<Entry>) =
        entries.into_iter().partition(|e| e.found.is_ok());
    bad.extend(problems);
    ok.into_iter().chain(bad).collect()
}

/// Memory the system can give without swapping (`MemAvailable`), where known.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// One entry as JSON for `model list --json`.
pub fn to_json(e: &Entry, n_ctx: u32, free: Option<u64>) -> serde_json::Value {
    let mut v = serde_json::json!({
        "path": e.path.display().to_string(),
        "name": e.name,
        "source": e.source,
    });
    match &e.found {
        Err(why) => v["problem"] = serde_json::Value::from(why.as_str()),
        Ok(f) => {
            let mem = f.memory(n_ctx);
            v["architecture"] = serde_json::json!(f.architecture);
            v["model_name"] = serde_json::json!(f.name);
            v["total_params"] = f.total_params.into();
            v["active_params"] = f.active_params.into();
            v["experts"] = match &f.moe {
                Some(m) => serde_json::json!({
                    "routed": m.expert_count,
                    "used": m.expert_used_count,
                    "shared": m.expert_shared_count.unwrap_or(0),
                }),
                None => serde_json::Value::Null,
            };
            v["context_length"] = serde_json::json!(f.context_length);
            v["quantization"] = f
                .quant
                .iter()
                .map(|s| serde_json::json!({"type": s.dtype.name(), "bytes": s.n_bytes}))
                .collect();
            v["file_size"] = f.file_size.into();
            v["shards"] = f.shards.into();
            v["memory"] = serde_json::json!({
                "n_ctx": mem.n_ctx,
                "weights": mem.weights,
                "kv_cache": mem.kv(),
                "compute": mem.compute,
                "output": mem.output,
                "total": mem.total(),
            });
            v["fits"] = serde_json::json!(free.map(|free| mem.total() <= free));
        }
    }
    v
}
