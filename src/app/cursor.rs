//! The cursor part: which token the strip, routing and sampling panes show (the newest
//! while following, else the one the learner picked) and which MoE layer is marked.

use super::conversation::{Conversation, TokenRef};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    selection: Option<TokenRef>,
    follow: bool,
    /// The MoE layer slot (0 = the first layer with a router).
    layer: usize,
    /// The routing pane's cell cursor: an expert column of the marked layer, once the
    /// learner moves it (Shift+←/→).
    expert: Option<usize>,
}

impl Default for Cursor {
    fn default() -> Self {
        Cursor {
            selection: None,
            follow: true,
            layer: 0,
            expert: None,
        }
    }
}

impl Cursor {
    /// Whether the selection follows the newest token.
    pub fn is_following(&self) -> bool {
        self.follow
    }

    /// The selected token: the learner's pick, or the newest while following.
    pub fn selected(&self, chat: &Conversation) -> Option<TokenRef> {
        if self.follow {
            return chat.newest_token();
        }
        self.selection
            .filter(|r| chat.token(*r).is_some())
            .or_else(|| chat.newest_token())
    }

    /// Select `r` (following again when it is the newest token).
    pub fn select(&mut self, r: TokenRef, chat: &Conversation) {
        self.follow = chat.newest_token() == Some(r);
        self.selection = (!self.follow).then_some(r);
    }

    /// Select the newest token and follow new ones.
    pub fn follow_newest(&mut self) {
        self.follow = true;
        self.selection = None;
    }

    /// After the transcript shrank: a selection that no longer exists follows again.
    pub fn fix(&mut self, chat: &Conversation) {
        if self.selection.is_some_and(|r| chat.token(r).is_none()) {
            self.follow_newest();
        }
    }

    pub fn step_token(&mut self, forward: bool, chat: &Conversation) {
        let Some(cur) = self.selected(chat) else {
            return;
        };
        let next = if forward {
            chat.token_refs()
                .find(|r| (r.message, r.token) > (cur.message, cur.token))
        } else {
            chat.token_refs()
                .rev()
                .find(|r| (r.message, r.token) < (cur.message, cur.token))
        };
        self.select(next.unwrap_or(cur), chat);
    }

    pub fn step_turn(&mut self, forward: bool, chat: &Conversation) {
        let Some(cur) = self.selected(chat) else {
            return;
        };
        let msgs = chat.messages();
        let has_tokens = |i: &usize| msgs.get(*i).is_some_and(|m| !m.tokens.is_empty());
        let target = if forward {
            (cur.message + 1..msgs.len()).find(has_tokens)
        } else if cur.token > 0 {
            Some(cur.message)
        } else {
            (0..cur.message).rev().find(has_tokens)
        };
        if let Some(message) = target {
            self.select(TokenRef { message, token: 0 }, chat);
        }
    }

    /// The marked layer slot, within `n_moe` MoE layers.
    pub fn layer_slot(&self, n_moe: usize) -> usize {
        self.layer.min(n_moe.saturating_sub(1))
    }

    pub fn set_layer_slot(&mut self, slot: usize) {
        self.layer = slot;
    }

    /// One MoE layer up or down, within `n_moe` layers.
    pub fn step_layer(&mut self, forward: bool, n_moe: usize) {
        let cur = self.layer_slot(n_moe);
        self.layer = if forward {
            (cur + 1).min(n_moe.saturating_sub(1))
        } else {
            cur.saturating_sub(1)
        };
    }

    /// The cell cursor's expert, within `n_expert` experts (`None` until it is moved).
    pub fn expert(&self, n_expert: usize) -> Option<usize> {
        self.expert.map(|e| e.min(n_expert.saturating_sub(1)))
    }

    /// Move the cell cursor one expert left or right (its first move shows it at the
    /// first expert).
    pub fn step_expert(&mut self, forward: bool, n_expert: usize) {
        let last = n_expert.saturating_sub(1);
        self.expert = Some(match self.expert(n_expert) {
            None => 0,
            Some(e) if forward => (e + 1).min(last),
            Some(e) => e.saturating_sub(1),
        });
    }
}
