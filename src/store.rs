//! Conversations on disk. Each conversation is an append-only JSON Lines journal in
//! `<data dir>/conversations/` (see [`record`] for the lines); whole-file saves (exports,
//! the config) go through [`atomic`]. Reading tolerates a torn or damaged line. Everything
//! written here is readable by its owner only ([`private`]).

pub mod atomic;
pub mod journal;
pub mod list;
pub mod private;
pub mod reader;
pub mod record;
pub mod time;

use std::path::{Path, PathBuf};

pub use journal::{Journal, Sink};
pub use list::Summary;
pub use reader::Conversation;
pub use record::{
    BranchRecord, BranchesRecord, MessageRecord, Record, RoutingSummary, SamplingRecord, Speaker,
};

use crate::transcript::{Role, TokenEvent};

/// The folders conversations and exports live in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    pub conversations: PathBuf,
    pub exports: PathBuf,
}

impl Store {
    /// The store under a data directory.
    pub fn in_data_dir(data: &Path) -> Store {
        Store {
            conversations: data.join("conversations"),
            exports: data.join("exports"),
        }
    }
}

impl From<Role> for Speaker {
    fn from(r: Role) -> Speaker {
        match r {
            Role::System => Speaker::System,
            Role::User => Speaker::User,
            Role::Assistant => Speaker::Assistant,
        }
    }
}

impl From<Speaker> for Role {
    fn from(s: Speaker) -> Role {
        match s {
            Speaker::System => Role::System,
            Speaker::User => Role::User,
            Speaker::Assistant => Role::Assistant,
        }
    }
}

/// How often each expert was chosen, per MoE layer, over a message's tokens. `None` when
/// no token carries routing (a dense model, capture off).
pub fn routing_summary(tokens: &[TokenEvent]) -> Option<RoutingSummary> {
    let mut summary: Option<RoutingSummary> = None;
    for r in tokens.iter().filter_map(|t| t.routing.as_ref()) {
        let s = summary.get_or_insert_with(|| RoutingSummary {
            tokens: 0,
            n_expert: r.n_expert,
            layers: r
                .layers
                .iter()
                .map(|&layer| record::LayerUse {
                    layer,
                    counts: vec![0; r.n_expert as usize],
                })
                .collect(),
        });
        s.tokens += 1;
        for view in r.iter().filter(|v| v.computed) {
            let Some(slot) = s.layers.iter_mut().find(|l| l.layer == view.layer) else {
                continue;
            };
            for &e in view.experts {
                if let Some(c) = slot.counts.get_mut(e as usize) {
                    *c += 1;
                }
            }
        }
    }
    summary
}
