//! Files only their owner can read: conversations, settings, lesson progress, exports and
//! logs are created 0600 in folders created 0700, whatever the umask, and ones left
//! readable by others (by older versions, or by hand) are tightened on start.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const FILE_MODE: u32 = 0o600;
pub const DIR_MODE: u32 = 0o700;

/// Create `dir` and any missing parents readable by the owner only (folders that already
/// exist are left as they are: they may be shared ones such as `~/.local/share`).
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    // The umask may have taken bits the mode asked for; set exactly what is meant.
    fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE))
}

/// Options that create a file readable and writable by the owner only.
pub fn open_options() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.mode(FILE_MODE);
    o
}

/// What a tightening pass changed.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Tightened {
    pub files: usize,
    pub dirs: usize,
}

/// Take group and other permissions off `path` if it has any (symbolic links are left
/// alone). Returns whether it changed anything.
fn tighten_one(path: &Path, is_dir: bool) -> bool {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return false;
    };
    if meta.file_type().is_symlink() {
        return false;
    }
    let mode = meta.permissions().mode() & 0o7777;
    let want = if is_dir { DIR_MODE } else { mode & 0o700 };
    if mode & 0o077 == 0 && (!is_dir || mode & 0o700 == DIR_MODE) {
        return false;
    }
    fs::set_permissions(path, fs::Permissions::from_mode(want)).is_ok()
}

/// Tighten `dir` itself and, `depth` levels down, the folders and files in it.
fn tighten_tree(dir: &Path, depth: u32, out: &mut Tightened) {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(m) if m.is_file() => {
            out.files += usize::from(tighten_one(dir, false));
            return;
        }
        _ => return,
    }
    out.dirs += usize::from(tighten_one(dir, true));
    if depth == 0 {
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() {
            tighten_tree(&e.path(), depth - 1, out);
        } else if t.is_file() {
            out.files += usize::from(tighten_one(&e.path(), false));
        }
    }
}

/// The private places under `data_dir` and the settings file's folder.
fn private_places(data_dir: &Path, config_file: &Path) -> Vec<(PathBuf, u32)> {
    let mut v = vec![(data_dir.to_path_buf(), 0)];
    // Files directly in the data folder (e.g. config.toml when it lives there).
    if let Ok(entries) = fs::read_dir(data_dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_file()) {
                v.push((e.path(), 0));
            }
        }
    }
    for sub in ["conversations", "exports", "lessons", "logs"] {
        v.push((data_dir.join(sub), 4));
    }
    if let Some(dir) = config_file.parent().filter(|d| *d != data_dir) {
        // The settings folder and what is directly in it (config.toml and any damaged
        // copies moved aside).
        v.push((dir.to_path_buf(), 1));
    }
    v
}

/// On start: create the data folder 0700 if it is missing, and take other accounts'
/// access off the data folder, conversations, exports, lesson progress, logs and settings.
/// Returns what to tell the user when a file had been readable by others (folders holding
/// no such file are tightened without a word: nothing of the user's was exposed).
pub fn tighten_on_start(data_dir: &Path, config_file: &Path) -> Option<Exposed> {
    let _ = create_dir_all(data_dir);
    let mut t = Tightened::default();
    for (place, depth) in private_places(data_dir, config_file) {
        tighten_tree(&place, depth, &mut t);
    }
    notice(&t, data_dir)
}

fn notice(t: &Tightened, data_dir: &Path) -> Option<Exposed> {
    (t.files > 0).then(|| Exposed {
        files: t.files,
        dirs: t.dirs,
        data_dir: data_dir.to_path_buf(),
    })
}

/// Files of the user's that other accounts could read before the start-up pass tightened
/// them: the notice the app shows (in the learner's language) or prints (in English).
#[derive(Debug, Clone, PartialEq)]
pub struct Exposed {
    pub files: usize,
    pub dirs: usize,
    pub data_dir: PathBuf,
}

impl Exposed {
    /// The notice in `lang` ("en" or "zh-CN").
    pub fn text(&self, lang: &str) -> String {
        use crate::i18n::tr_with;
        // English needs "1 file" / "2 files"; Chinese has one form for both.
        let n = |k: usize, one: &str, many: &str| {
            tr_with(if k == 1 { one } else { many }, lang, &[("n", &k)])
        };
        let files = n(
            self.files,
            "notice.private_file_one",
            "notice.private_files",
        );
        let what = if self.dirs == 0 {
            files
        } else {
            let dirs = n(
                self.dirs,
                "notice.private_folder_one",
                "notice.private_folders",
            );
            tr_with(
                "notice.private_and",
                lang,
                &[("files", &files), ("folders", &dirs)],
            )
        };
        let dir = crate::text::sanitize(&self.data_dir.display().to_string());
        tr_with(
            "notice.private_tightened",
            lang,
            &[("what", &what), ("dir", &dir)],
        )
    }
}

impl std::fmt::Display for Exposed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text("en"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn tightens_what_others_could_read_and_says_so_once() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        let conv = data.join("conversations");
        let cfg_dir = root.path().join("config");
        fs::create_dir_all(&conv).unwrap();
        fs::create_dir_all(&cfg_dir).unwrap();
        let journal = conv.join("a.jsonl");
        let cfg = cfg_dir.join("config.toml");
        let cache = data.join("default-model");
        fs::create_dir_all(&cache).unwrap();
        for f in [&journal, &cfg, &cache.join("m.gguf")] {
            fs::write(f, b"x").unwrap();
            fs::set_permissions(f, fs::Permissions::from_mode(0o644)).unwrap();
        }
        for d in [&data, &conv, &cfg_dir, &cache] {
            fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
        }
        let exposed = tighten_on_start(&data, &cfg).expect("a notice");
        let msg = exposed.to_string();
        assert!(msg.starts_with("2 files and 3 folders"), "{msg}");
        let zh = exposed.text("zh-CN");
        assert!(zh.contains("2 个文件和 3 个文件夹"), "{zh}");
        assert!(zh.contains("仅你本人可读"), "{zh}");
        assert_eq!(mode(&journal), 0o600);
        assert_eq!(mode(&cfg), 0o600);
        for d in [&data, &conv, &cfg_dir] {
            assert_eq!(mode(d), 0o700, "{}", d.display());
        }
        // The model cache is not private data; the data folder's 0700 covers it.
        assert_eq!(mode(&cache.join("m.gguf")), 0o644);
        assert_eq!(tighten_on_start(&data, &cfg), None);

        // Folders alone (a fresh data folder made under umask 022) are tightened quietly.
        let fresh = root.path().join("fresh");
        fs::create_dir_all(fresh.join("logs")).unwrap();
        for d in [&fresh, &fresh.join("logs")] {
            fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
        }
        assert_eq!(tighten_on_start(&fresh, &fresh.join("config.toml")), None);
        assert_eq!(mode(&fresh), 0o700);
        assert_eq!(mode(&fresh.join("logs")), 0o700);
    }

    #[test]
    fn creates_private_folders_and_files_whatever_was_asked() {
        let root = tempfile::tempdir().unwrap();
        let d = root.path().join("a").join("b");
        create_dir_all(&d).unwrap();
        assert_eq!(mode(&d), 0o700);
        assert_eq!(mode(&root.path().join("a")), 0o700);
        let f = d.join("f");
        open_options().write(true).create(true).open(&f).unwrap();
        assert_eq!(mode(&f), 0o600);
    }
}
