//! A bound on the routing detail a conversation keeps in memory. A record of a 48-layer,
//! 128-expert model is about 8 KB a token, so a long conversation would grow without end.
//! Past the budget, the oldest tokens first lose their router probabilities (they keep
//! which experts were chosen and the weights: the strip and the load view still work), and
//! if that is not enough their choices are folded into a running expert-load count and the
//! record is dropped. The newest tokens always keep everything.

use super::{Message, TokenRef};
use crate::routing::ExpertLoad;

/// Default: 64 MiB of routing records.
pub const DEFAULT_LIMIT: usize = 64 << 20;

/// The newest tokens are never trimmed, whatever the budget.
const KEEP_NEWEST: usize = 256;

#[derive(Debug, Clone)]
pub struct RoutingBudget {
    /// Bytes of routing records kept before older tokens are trimmed.
    pub(crate) limit: usize,
    /// Bytes held now (payload of every record in the transcript).
    bytes: usize,
    /// Tokens before this one (transcript order) have been compacted.
    compacted: TokenRef,
    /// Tokens before this one have been folded into `folded`.
    folded_upto: TokenRef,
    /// Expert choices of the folded tokens.
    folded: ExpertLoad,
}

const START: TokenRef = TokenRef {
    message: 0,
    token: 0,
};

impl Default for RoutingBudget {
    fn default() -> Self {
        RoutingBudget {
            limit: DEFAULT_LIMIT,
            bytes: 0,
            compacted: START,
            folded_upto: START,
            folded: ExpertLoad::default(),
        }
    }
}

fn key(r: TokenRef) -> (usize, usize) {
    (r.message, r.token)
}

impl RoutingBudget {
    /// Bytes of routing records held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Expert choices of tokens whose records were folded away.
    pub fn folded(&self) -> &ExpertLoad {
        &self.folded
    }

    /// Whether the record of `r` was folded away (it had one).
    pub fn was_folded(&self, r: TokenRef) -> bool {
        key(r) < key(self.folded_upto)
    }

    /// A record of `bytes` joined the transcript.
    pub(super) fn added(&mut self, bytes: usize) {
        self.bytes += bytes;
    }

    /// The transcript lost its tail or was replaced: count again, and never skip tokens
    /// that will be appended where removed ones were.
    pub(super) fn recount(&mut self, messages: &[Message], replaced: bool) {
        self.bytes = messages
            .iter()
            .flat_map(|m| &m.tokens)
            .filter_map(|t| t.routing.as_ref())
            .map(|r| r.payload_bytes())
            .sum();
        let end = end_of(messages);
        if replaced {
            *self = RoutingBudget {
                limit: self.limit,
                bytes: self.bytes,
                ..RoutingBudget::default()
            };
        } else {
            self.compacted = min(self.compacted, end);
            self.folded_upto = min(self.folded_upto, end);
        }
    }

    /// Trim the oldest records until the budget holds (or only the newest are left).
    pub(super) fn enforce(&mut self, messages: &mut [Message]) {
        if self.bytes <= self.limit {
            return;
        }
        let total: usize = messages.iter().map(|m| m.tokens.len()).sum();
        let stop = nth_ref(messages, total.saturating_sub(KEEP_NEWEST));
        // First pass: drop probabilities.
        let mut at = self.compacted;
        while self.bytes > self.limit && key(at) < key(stop) {
            if let Some(r) = token_mut(messages, at).and_then(|t| t.routing.as_mut()) {
                if !r.is_compact() {
                    let before = r.payload_bytes();
                    r.compact();
                    self.bytes -= before - r.payload_bytes();
                }
            }
            at = next(messages, at);
        }
        self.compacted = max(self.compacted, at);
        // Second pass: fold the choices into the running count and drop the record.
        let mut at = self.folded_upto;
        while self.bytes > self.limit && key(at) < key(stop) {
            if let Some(t) = token_mut(messages, at) {
                if let Some(r) = t.routing.take() {
                    self.folded.add(&r);
                    self.bytes -= r.payload_bytes();
                }
            }
            at = next(messages, at);
        }
        self.folded_upto = max(self.folded_upto, at);
    }
}

fn min(a: TokenRef, b: TokenRef) -> TokenRef {
    if key(a) <= key(b) {
        a
    } else {
        b
    }
}

fn max(a: TokenRef, b: TokenRef) -> TokenRef {
    if key(a) >= key(b) {
        a
    } else {
        b
    }
}

fn token_mut(messages: &mut [Message], r: TokenRef) -> Option<&mut crate::transcript::TokenEvent> {
    messages.get_mut(r.message)?.tokens.get_mut(r.token)
}

/// The token after `r` in transcript order (or the end).
fn next(messages: &[Message], r: TokenRef) -> TokenRef {
    let mut m = r.message;
    let mut t = r.token + 1;
    while m < messages.len() && t >= messages[m].tokens.len() {
        m += 1;
        t = 0;
    }
    TokenRef {
        message: m,
        token: t,
    }
}

/// One past the last token.
fn end_of(messages: &[Message]) -> TokenRef {
    TokenRef {
        message: messages.len(),
        token: 0,
    }
}

/// The `n`-th token in transcript order (the end when there are fewer).
fn nth_ref(messages: &[Message], mut n: usize) -> TokenRef {
    for (i, m) in messages.iter().enumerate() {
        if n < m.tokens.len() {
            return TokenRef {
                message: i,
                token: n,
            };
        }
        n -= m.tokens.len();
    }
    end_of(messages)
}
