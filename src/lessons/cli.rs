//! `moe-tutor lessons list` and `moe-tutor lessons check [DIR]`.

use std::io::Write;
use std::path::Path;

use unicode_width::UnicodeWidthStr;

use super::load::{check_dir, load_dir, LessonEntry};
use super::model::Lang;

fn pad(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(s.width())))
}

/// One line per lesson: `id  title  en,zh-CN  N steps`; a file that does not load gets a
/// line saying so. Returns whether every file loaded.
pub fn list(dir: &Path, lang: Lang, out: &mut dyn Write) -> std::io::Result<bool> {
    let lib = load_dir(dir);
    if let Some(e) = &lib.dir_error {
        writeln!(out, "{e}")?;
        return Ok(false);
    }
    let id_w = lib.lessons().map(|l| l.id.width()).max().unwrap_or(0);
    let title_w = lib
        .lessons()
        .map(|l| l.title.get(lang).width())
        .max()
        .unwrap_or(0);
    let langs: Vec<&str> = Lang::ALL.iter().map(|l| l.code()).collect();
    let mut ok = true;
    for entry in &lib.entries {
        match entry {
            LessonEntry::Ok(l) => {
                let n = l.steps.len();
                writeln!(
                    out,
                    "{}  {}  {}  {n} step{}",
                    pad(&l.id, id_w),
                    pad(l.title.get(lang), title_w),
                    langs.join(","),
                    if n == 1 { "" } else { "s" }
                )?;
            }
            LessonEntry::Broken { path, errors } => {
                ok = false;
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                let first = errors.first().map(|e| e.to_string()).unwrap_or_default();
                writeln!(
                    out,
                    "{}  (does not load: {first}; see `moe-tutor lessons check`)",
                    name.unwrap_or_default()
                )?;
            }
        }
    }
    Ok(ok)
}

/// Every problem as `file:line: message`, then a summary line. Returns whether there
/// were none.
pub fn check(dir: &Path, out: &mut dyn Write) -> std::io::Result<bool> {
    let errors = check_dir(dir);
    for e in &errors {
        writeln!(out, "{e}")?;
    }
    if errors.is_empty() {
        let n = load_dir(dir).entries.len();
        writeln!(
            out,
            "{n} lesson{} ok in {}",
            if n == 1 { "" } else { "s" },
            dir.display()
        )?;
    } else {
        let n = errors.len();
        writeln!(out, "{n} problem{} found", if n == 1 { "" } else { "s" })?;
    }
    Ok(errors.is_empty())
}
