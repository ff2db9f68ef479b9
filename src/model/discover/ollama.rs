//! Ollama's model store: `manifests/<host>/<namespace>/<name>/<tag>` JSON files whose
//! model layer (media type `application/vnd.ollama.image.model`) names a blob by digest,
//! stored as `blobs/sha256-<hex>`.

use std::path::{Path, PathBuf};

use super::walk::{walk, Visit};

const MODEL_LAYER: &str = "application/vnd.ollama.image.model";

/// One manifest: the model's name, and the blob it points to or why it cannot.
pub(super) struct Manifest {
    pub name: String,
    pub manifest: PathBuf,
    pub blob: Result<PathBuf, String>,
}

/// The name Ollama shows for a manifest path under `manifests/`: `name:tag` for the
/// default registry's `library`, `namespace/name:tag` for other namespaces, and the host
/// in front for other registries.
fn display_name(rel: &Path) -> Option<String> {
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let [host, ns, name, tag] = parts.as_slice() else {
        return None;
    };
    Some(match (host.as_str(), ns.as_str()) {
        ("registry.ollama.ai", "library") => format!("{name}:{tag}"),
        ("registry.ollama.ai", _) => format!("{ns}/{name}:{tag}"),
        _ => format!("{host}/{ns}/{name}:{tag}"),
    })
}

fn blob_of(root: &Path, manifest: &Path) -> Result<PathBuf, String> {
    let text = std::fs::read_to_string(manifest).map_err(|e| e.to_string())?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("not a valid manifest: {e}"))?;
    let digest = json
        .get("layers")
        .and_then(|l| l.as_array())
        .and_then(|layers| {
            layers
                .iter()
                .find(|l| l.get("mediaType").and_then(|m| m.as_str()) == Some(MODEL_LAYER))
        })
        .and_then(|l| l.get("digest"))
        .and_then(|d| d.as_str())
        .ok_or_else(|| "the manifest has no model layer".to_string())?;
    let hex = digest
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| "the model layer's digest is not a sha256 digest".to_string())?;
    let blob = root.join("blobs").join(format!("sha256-{hex}"));
    match std::fs::metadata(&blob) {
        Ok(_) => Ok(blob),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!(
            "its blob sha256-{hex} is missing from {}",
            root.join("blobs").display()
        )),
        Err(e) => Err(format!("its blob sha256-{hex}: {e}")),
    }
}

/// Every manifest under `root/manifests`, plus the folders that could not be read.
pub(super) fn manifests(root: &Path, problems: &mut Vec<(PathBuf, String)>) -> Vec<Manifest> {
    let dir = root.join("manifests");
    let mut out = Vec::new();
    walk(&dir, 6, &mut |v| match v {
        Visit::File(path) => {
            let rel = path.strip_prefix(&dir).unwrap_or(&path);
            if let Some(name) = display_name(rel) {
                let blob = blob_of(root, &path);
                out.push(Manifest {
                    name: crate::text::sanitize(&name),
                    manifest: path,
                    blob,
                });
            }
        }
        Visit::Problem(path, why) | Visit::BadFile(path, why) => problems.push((path, why)),
    });
    out
}
