//! A bounded folder walk that never fails: files (symlinks followed, as the Hugging Face
//! cache links snapshots to blobs) and the reasons a folder or link could not be read.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

pub(super) enum Visit {
    File(PathBuf),
    /// A folder that cannot be read.
    Problem(PathBuf, String),
    /// A file entry that cannot be followed (a broken link).
    BadFile(PathBuf, String),
}

/// Visit the files under `root` down to `depth` folders. A missing root visits nothing;
/// folders reached twice through links are visited once.
pub(super) fn walk(root: &Path, depth: u32, visit: &mut dyn FnMut(Visit)) {
    if std::fs::symlink_metadata(root).is_err() {
        return;
    }
    let mut seen = HashSet::new();
    walk_dir(root, depth, &mut seen, visit);
}

fn walk_dir(dir: &Path, depth: u32, seen: &mut HashSet<PathBuf>, visit: &mut dyn FnMut(Visit)) {
    if let Ok(canon) = std::fs::canonicalize(dir) {
        if !seen.insert(canon) {
            return;
        }
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            visit(Visit::Problem(
                dir.to_path_buf(),
                format!("folder cannot be read: {e}"),
            ));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => {
                if depth > 0 {
                    walk_dir(&path, depth - 1, seen, visit);
                }
            }
            Ok(_) => visit(Visit::File(path)),
            Err(e) => {
                let is_link =
                    std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
                let why = if is_link {
                    match std::fs::read_link(&path) {
                        Ok(target) => format!("broken link to {}", target.display()),
                        Err(_) => "broken link".to_string(),
                    }
                } else {
                    e.to_string()
                };
                visit(Visit::BadFile(path, why));
            }
        }
    }
}
