//! The journal part: where the conversation on screen is saved. Every message goes into
//! the journal as soon as it is final (a user message when sent, a reply when it ends);
//! regenerating or editing appends a `truncate` line. A branched reply is followed by a
//! `branches` line with every branch; switching branches takes the reply back and writes it
//! again.

use std::io;
use std::path::Path;

use super::conversation::{BranchBody, Message, ReplyStatus};
use crate::sampling::SamplingParams;
use crate::store::{
    self, time, BranchRecord, BranchesRecord, Journal, MessageRecord, Record, SamplingRecord, Store,
};

#[derive(Debug, Default)]
pub struct Journaling {
    /// Where conversations are saved; `None`: nothing is saved (tests, a read-only disk).
    store: Option<Store>,
    /// The journal of the conversation on screen, opened with its first message.
    journal: Option<Journal>,
    /// How many messages the journal holds.
    saved: usize,
}

impl Journaling {
    pub fn new(store: Option<Store>) -> Self {
        Journaling {
            store,
            journal: None,
            saved: 0,
        }
    }

    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }

    /// The journal file of the conversation on screen, once it has one.
    pub fn path(&self) -> Option<&Path> {
        self.journal.as_ref().map(|j| j.path())
    }

    /// A new conversation: the next message starts a new journal.
    pub fn close(&mut self) {
        self.journal = None;
        self.saved = 0;
    }

    /// Go on appending to a reopened journal that already holds `saved` messages (`None`:
    /// it could not be opened for writing; new messages start a new journal).
    pub fn adopt(&mut self, journal: Option<Journal>, saved: usize) {
        self.saved = if journal.is_some() { saved } else { 0 };
        self.journal = journal;
    }

    /// Message `index` changed after it was saved (another branch shown): take it back so
    /// the next [`Journaling::sync`] writes it again.
    pub fn forget_from(&mut self, index: usize) -> io::Result<()> {
        if index >= self.saved {
            return Ok(());
        }
        if let Some(j) = self.journal.as_mut() {
            j.append(&Record::Truncate { keep: index })?;
        }
        self.saved = index;
        Ok(())
    }

    /// Note in the journal (when the conversation has one) that the model changed to
    /// `name` (file `path`) before message `at`.
    pub fn note_model(&mut self, name: &str, path: &str, at: usize) -> io::Result<()> {
        match self.journal.as_mut() {
            Some(j) => j.append(&Record::Model {
                model: name.to_string(),
                path: path.to_string(),
                at,
            }),
            None => Ok(()),
        }
    }

    /// Bring the journal up to date with the first `upto` messages (those that are
    /// final). Cheap when nothing changed.
    pub fn sync(
        &mut self,
        messages: &[Message],
        upto: usize,
        params: SamplingParams,
        max_tokens: u32,
        model: &str,
    ) -> io::Result<()> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        if upto < self.saved {
            if let Some(j) = self.journal.as_mut() {
                j.append(&Record::Truncate { keep: upto })?;
            }
            self.saved = upto;
        }
        if upto == self.saved {
            return Ok(());
        }
        if self.journal.is_none() {
            self.journal = Some(Journal::create(&store.conversations, time::now(), model)?);
        }
        while self.saved < upto {
            let record = messages
                .get(self.saved)
                .map(|m| record_of(m, params, max_tokens));
            if let (Some(j), Some(r)) = (self.journal.as_mut(), record) {
                j.append(&Record::Message(r))?;
                if let Some(b) = messages
                    .get(self.saved)
                    .and_then(|m| branches_of(self.saved, m))
                {
                    j.append(&Record::Branches(b))?;
                }
            }
            self.saved += 1;
        }
        Ok(())
    }
}

/// The `branches` line of a branched reply.
fn branches_of(index: usize, m: &Message) -> Option<BranchesRecord> {
    if m.branch_count() < 2 {
        return None;
    }
    Some(BranchesRecord {
        message: index,
        current: m.branch_index(),
        branches: m.all_branches().iter().map(branch_record).collect(),
    })
}

fn branch_record(b: &BranchBody) -> BranchRecord {
    BranchRecord {
        content: b.content.clone(),
        status: status_name(b.status).into(),
        split: b.split,
        tokens: b.tokens.iter().map(|t| t.token_id).collect(),
        routing: store::routing_summary(&b.tokens),
    }
}

/// How a reply's status is written in the journal.
fn status_name(s: ReplyStatus) -> &'static str {
    match s {
        ReplyStatus::Complete => "complete",
        ReplyStatus::Streaming | ReplyStatus::Stopped => "stopped",
        ReplyStatus::MaxTokens => "max_tokens",
        ReplyStatus::ContextFull => "context_full",
        ReplyStatus::Failed => "failed",
    }
}

/// A status read back from the journal (anything unknown reads as stopped).
pub(crate) fn status_from(s: &str) -> ReplyStatus {
    match s {
        "complete" => ReplyStatus::Complete,
        "max_tokens" => ReplyStatus::MaxTokens,
        "context_full" => ReplyStatus::ContextFull,
        "failed" => ReplyStatus::Failed,
        _ => ReplyStatus::Stopped,
    }
}

/// The branches of a reopened reply, as the conversation holds them (text only: token
/// records are not saved).
pub(crate) fn bodies_of(b: &BranchesRecord) -> Vec<BranchBody> {
    b.branches
        .iter()
        .map(|r| BranchBody {
            content: crate::text::sanitize(&r.content),
            tokens: Vec::new(),
            status: status_from(&r.status),
            split: r.split,
        })
        .collect()
}

fn record_of(m: &Message, fallback: SamplingParams, max_tokens: u32) -> MessageRecord {
    let params = m
        .tokens
        .iter()
        .find_map(|t| t.step.as_ref().map(|s| s.params))
        .unwrap_or(fallback);
    let status = status_name(m.status);
    MessageRecord {
        role: m.role.into(),
        content: m.content.clone(),
        status: status.into(),
        time: time::now(),
        sampling: Some(SamplingRecord {
            temperature: params.temperature,
            top_p: params.top_p,
            seed: params.seed,
            max_tokens,
        }),
        routing: store::routing_summary(&m.tokens),
    }
}
