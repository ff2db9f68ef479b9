//! Reading a journal back, tolerating damage: a line that is not valid UTF-8 or not a
//! record (a torn last line after a crash, a full disk) is skipped and counted.
//!
//! Self-contained (see `record.rs`): the journal fuzz target compiles this file by path.

use super::record::{BranchesRecord, MessageRecord, Record, StartRecord};

/// A conversation as its journal tells it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conversation {
    pub start: Option<StartRecord>,
    pub messages: Vec<MessageRecord>,
    /// The branches of branched replies (format 2), at most one entry per reply.
    pub branches: Vec<BranchesRecord>,
    /// Model switches: (the message index they came before, the model's name).
    pub models: Vec<(usize, String)>,
    /// Lines that could not be read (damaged or from a newer version).
    pub skipped: usize,
}

impl Conversation {
    /// The branches of the reply at `message`, if it was branched.
    pub fn branches_of(&self, message: usize) -> Option<&BranchesRecord> {
        self.branches.iter().find(|b| b.message == message)
    }

    /// The first line of the first user message, at most `max` characters.
    pub fn title(&self, max: usize) -> String {
        let first = self
            .messages
            .iter()
            .find(|m| m.role == super::record::Speaker::User)
            .map(|m| m.content.trim())
            .unwrap_or("");
        let line = first.lines().next().unwrap_or("").trim();
        let mut out: String = line.chars().take(max).collect();
        if line.chars().count() > max {
            out.push('…');
        }
        out
    }
}

/// Replay a journal's bytes.
pub fn parse(bytes: &[u8]) -> Conversation {
    let mut conv = Conversation::default();
    for line in bytes.split(|b| *b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let record = std::str::from_utf8(line)
            .ok()
            .and_then(|s| serde_json::from_str::<Record>(s).ok());
        match record {
            Some(Record::Start(s)) if conv.start.is_none() => conv.start = Some(s),
            Some(Record::Start(_)) => conv.skipped += 1,
            Some(Record::Message(m)) => conv.messages.push(m),
            Some(Record::Truncate { keep }) => {
                conv.messages.truncate(keep);
                conv.branches.retain(|b| b.message < keep);
            }
            Some(Record::Branches(b)) if b.message < conv.messages.len() => {
                conv.branches.retain(|x| x.message != b.message);
                conv.branches.push(b);
            }
            Some(Record::Branches(_)) => conv.skipped += 1,
            Some(Record::Model { model, at, .. }) => conv.models.push((at, model)),
            None => conv.skipped += 1,
        }
    }
    conv
}
