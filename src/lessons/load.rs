//! Reading lesson files: TOML into raw serde types that keep byte spans, then
//! [`super::validate`] into a [`Lesson`]. Every problem becomes a [`Diagnostic`] with the
//! file and line, never a panic: a broken file shows up in the list with its message.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::model::Lesson;
use super::raw::{line_of, Diagnostic, RawLesson};
use super::validate;

/// The project figures lessons refer to as `{fig:KEY}` (`assets/default-model/figures.toml`).
pub use super::validate::figures::{Figure, Figures, Scale, FILE as FIGURES_FILE};

/// One file of the lesson directory: a lesson, or why it could not be loaded.
#[derive(Debug, Clone, PartialEq)]
pub enum LessonEntry {
    Ok(Box<Lesson>),
    Broken {
        path: PathBuf,
        errors: Vec<Diagnostic>,
    },
}

impl LessonEntry {
    pub fn lesson(&self) -> Option<&Lesson> {
        match self {
            LessonEntry::Ok(l) => Some(l),
            LessonEntry::Broken { .. } => None,
        }
    }

    pub fn path(&self) -> &Path {
        match self {
            LessonEntry::Ok(l) => &l.path,
            LessonEntry::Broken { path, .. } => path,
        }
    }

    pub fn errors(&self) -> &[Diagnostic] {
        match self {
            LessonEntry::Ok(_) => &[],
            LessonEntry::Broken { errors, .. } => errors,
        }
    }
}

/// Every lesson file of a directory, in file-name order (`NN-id.toml`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Library {
    pub dir: PathBuf,
    pub entries: Vec<LessonEntry>,
    /// A problem with the directory itself (missing, unreadable).
    pub dir_error: Option<String>,
}

impl Library {
    pub fn lessons(&self) -> impl Iterator<Item = &Lesson> {
        self.entries.iter().filter_map(LessonEntry::lesson)
    }

    pub fn get(&self, id: &str) -> Option<&Lesson> {
        self.lessons().find(|l| l.id == id)
    }

    pub fn diagnostics(&self) -> impl Iterator<Item = &Diagnostic> {
        self.entries.iter().flat_map(LessonEntry::errors)
    }
}

/// Load every `*.toml` file of `dir`. Never fails: problems are in the result.
pub fn load_dir(dir: &Path) -> Library {
    let mut lib = Library {
        dir: dir.to_path_buf(),
        ..Library::default()
    };
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect(),
        Err(e) => {
            lib.dir_error = Some(format!("cannot read {}: {e}", dir.display()));
            return lib;
        }
    };
    files.sort();
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    for path in files {
        let mut entry = load_file(&path);
        if let LessonEntry::Ok(l) = &entry {
            if let Some(first) = seen.get(&l.id) {
                entry = LessonEntry::Broken {
                    errors: vec![Diagnostic {
                        path: path.clone(),
                        line: 1,
                        message: format!("id \"{}\" is already used by {}", l.id, first.display()),
                    }],
                    path,
                };
            } else {
                seen.insert(l.id.clone(), l.path.clone());
            }
        }
        lib.entries.push(entry);
    }
    lib
}

/// All diagnostics of a directory (empty: every lesson is fine).
pub fn check_dir(dir: &Path) -> Vec<Diagnostic> {
    let lib = load_dir(dir);
    let mut out: Vec<Diagnostic> = lib.diagnostics().cloned().collect();
    if let Some(e) = lib.dir_error {
        out.push(Diagnostic {
            path: dir.to_path_buf(),
            line: 0,
            message: e,
        });
    } else if lib.entries.is_empty() {
        out.push(Diagnostic {
            path: dir.to_path_buf(),
            line: 0,
            message: "no lesson files (*.toml) here".into(),
        });
    }
    out
}

pub fn load_file(path: &Path) -> LessonEntry {
    let broken = |line, message: String| LessonEntry::Broken {
        path: path.to_path_buf(),
        errors: vec![Diagnostic {
            path: path.to_path_buf(),
            line,
            message,
        }],
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return broken(0, format!("cannot read: {e}")),
    };
    let src = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            return broken(
                line_of(&String::from_utf8_lossy(&e.into_bytes()[..at]), at),
                "not UTF-8 text".into(),
            );
        }
    };
    load_str(path, &src)
}

/// Parse and validate one lesson's text; `path` names it in diagnostics and gives its
/// order and expected id.
pub fn load_str(path: &Path, src: &str) -> LessonEntry {
    let raw: RawLesson = match toml::from_str(src) {
        Ok(r) => r,
        Err(e) => {
            let line = e.span().map_or(1, |s| line_of(src, s.start));
            return LessonEntry::Broken {
                path: path.to_path_buf(),
                errors: vec![Diagnostic {
                    path: path.to_path_buf(),
                    line,
                    message: e
                        .message()
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .collect::<Vec<_>>()
                        .join(": "),
                }],
            };
        }
    };
    let mut v = validate::Validator::new(path, src);
    match v.lesson(raw) {
        Some(lesson) if v.errors.is_empty() => LessonEntry::Ok(Box::new(lesson)),
        _ => {
            let mut errors = v.errors;
            errors.sort_by_key(|e| e.line);
            LessonEntry::Broken {
                path: path.to_path_buf(),
                errors,
            }
        }
    }
}
