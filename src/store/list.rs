//! The conversations folder: list journals newest first, search their text, export one to
//! Markdown.

use std::io;
use std::path::{Path, PathBuf};

use super::reader::{parse, Conversation};
use super::record::Speaker;

/// One conversation in the list.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub path: PathBuf,
    /// Unix seconds (from the journal's start line, else the file's time).
    pub created: u64,
    pub title: String,
    pub messages: usize,
    pub skipped: usize,
    /// Every message's text, lower-cased, for search.
    pub(crate) haystack: String,
}

impl Summary {
    fn of(path: PathBuf, conv: &Conversation, file_time: u64) -> Summary {
        let haystack = conv
            .messages
            .iter()
            .map(|m| m.content.to_lowercase())
            .collect::<Vec<_>>()
            .join("\n");
        Summary {
            created: conv.start.as_ref().map_or(file_time, |s| s.created),
            title: conv.title(60),
            messages: conv.messages.len(),
            skipped: conv.skipped,
            haystack,
            path,
        }
    }

    /// Whether every word of `query` occurs in the conversation (case-insensitive).
    pub fn matches(&self, query: &str) -> bool {
        query
            .split_whitespace()
            .all(|w| self.haystack.contains(&w.to_lowercase()))
    }

    /// A short piece of text around the first word of `query`, on one line.
    pub fn snippet(&self, query: &str, width: usize) -> Option<String> {
        let word = query.split_whitespace().next()?.to_lowercase();
        let at = self.haystack.find(&word)?;
        let start = self.haystack[..at]
            .char_indices()
            .rev()
            .nth(width / 3)
            .map_or(0, |(i, _)| i);
        let text: String = self.haystack[start..]
            .chars()
            .map(|c| if c == '\n' { ' ' } else { c })
            .take(width)
            .collect();
        Some(text)
    }
}

/// Read one journal.
pub fn read(path: &Path) -> io::Result<Conversation> {
    Ok(parse(&std::fs::read(path)?))
}

/// All journals in `dir`, newest first. A missing folder is an empty list; a file that
/// cannot be read is left out.
pub fn list(dir: &Path) -> io::Result<Vec<Summary>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("jsonl") {
            continue;
        }
        let file_time = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        if let Ok(conv) = read(&path) {
            if !conv.messages.is_empty() {
                out.push(Summary::of(path, &conv, file_time));
            }
        }
    }
    out.sort_by(|a, b| b.created.cmp(&a.created).then(b.path.cmp(&a.path)));
    Ok(out)
}

/// Conversations whose text contains every word of `query`, newest first.
pub fn search<'a>(all: &'a [Summary], query: &str) -> Vec<&'a Summary> {
    all.iter().filter(|s| s.matches(query)).collect()
}

/// A conversation as Markdown: a heading, then each message under its speaker.
pub fn to_markdown(conv: &Conversation) -> String {
    let mut md = String::new();
    let title = crate::text::sanitize(&conv.title(80));
    md.push_str(&format!(
        "# {}\n\n",
        if title.is_empty() {
            "Conversation"
        } else {
            &title
        }
    ));
    if let Some(s) = &conv.start {
        md.push_str(&format!("- started: {}\n", super::time::human(s.created)));
        if !s.model.is_empty() {
            md.push_str(&format!("- model: {}\n", crate::text::sanitize(&s.model)));
        }
        md.push('\n');
    }
    for m in &conv.messages {
        let who = match m.role {
            Speaker::User => "You",
            Speaker::Assistant => "Model",
            Speaker::System => "System",
        };
        md.push_str(&format!("## {who}\n\n"));
        if let Some(p) = &m.sampling {
            md.push_str(&format!(
                "*T {:.2} · top_p {:.2} · seed {}*\n\n",
                p.temperature, p.top_p, p.seed
            ));
        }
        md.push_str(crate::text::sanitize(&m.content).trim_end());
        md.push_str("\n\n");
        if m.status != "complete" {
            md.push_str(&format!("*({})*\n\n", m.status.replace('_', " ")));
        }
    }
    md
}

/// Write `conv` as Markdown to `path`, atomically.
pub fn export(conv: &Conversation, path: &Path) -> io::Result<()> {
    super::atomic::write_atomic(path, to_markdown(conv).as_bytes())
}
