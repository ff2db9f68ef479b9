//! The journal part: where the conversation on screen is saved. Every message goes into
//! the journal as soon as it is final (a user message when sent, a reply when it ends);
//! regenerating or editing appends a `truncate` line.

use std::io;
use std::path::Path;

use super::conversation::{Message, ReplyStatus};
use crate::sampling::SamplingParams;
use crate::store::{self, time, Journal, MessageRecord, Record, SamplingRecord, Store};

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
            }
            self.saved += 1;
        }
        Ok(())
    }
}

fn record_of(m: &Message, fallback: SamplingParams, max_tokens: u32) -> MessageRecord {
    let params = m
        .tokens
        .iter()
        .find_map(|t| t.step.as_ref().map(|s| s.params))
        .unwrap_or(fallback);
    let status = match m.status {
        ReplyStatus::Complete => "complete",
        ReplyStatus::Streaming | ReplyStatus::Stopped => "stopped",
        ReplyStatus::MaxTokens => "max_tokens",
        ReplyStatus::ContextFull => "context_full",
        ReplyStatus::Failed => "failed",
    };
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
