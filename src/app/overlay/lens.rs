//! The lens part: the layer lens of the selected token, asked of the engine on demand
//! (`EngineCommand::Lens`) and kept in its overlay until the answer comes. It follows the
//! selection: moving to another token with the lens open asks again.

use super::Overlay;
use crate::app::conversation::{Conversation, TokenRef};
use crate::app::App;
use crate::engine::api::EngineCommand;
use crate::i18n::{tr, tr_with};
use crate::routing::lens::LayerLens;

/// What the lens overlay shows.
#[derive(Debug, Clone, PartialEq)]
pub enum LensState {
    /// Asked; the answer of this generation is awaited.
    Pending {
        generation: u64,
    },
    Ready(Box<LayerLens>),
    /// Why there is no lens for this token (a message in the app's language, or the
    /// engine's error).
    Unavailable(String),
}

/// The lens overlay: for which token, and what is known.
#[derive(Debug, Clone, PartialEq)]
pub struct LensView {
    pub target: Option<TokenRef>,
    pub state: LensState,
}

/// The context the engine predicted the token at `r` from, as far as the transcript knows
/// it: `(start, ids)`, the token ids at positions `start..pos` (the engine holds the ones
/// before `start` in its cache: a request reports only the tokens it had to decode).
/// Tokens carry their positions; a later request that decoded again from an earlier
/// position (a new turn re-reading the last reply) replaces what followed, so walking the
/// transcript in order rebuilds what the engine had.
pub fn context_before(chat: &Conversation, r: TokenRef) -> Option<(u32, Vec<u32>)> {
    let (mut start, mut ids): (usize, Vec<u32>) = (0, Vec::new());
    for at in chat.token_refs() {
        let t = chat.token(at)?;
        let pos = t.pos as usize;
        if at == r {
            // The token itself may start a run (its context is all in the cache).
            if pos < start || pos > start + ids.len() {
                return Some((t.pos, Vec::new()));
            }
            ids.truncate(pos - start);
            return Some((start as u32, ids));
        }
        if pos < start || pos > start + ids.len() {
            // A run that starts elsewhere (a request that reused the cache, or tokens
            // that were never shown): begin again from here.
            (start, ids) = (pos, Vec::new());
        }
        ids.truncate(pos - start);
        ids.push(t.token_id);
    }
    None
}

impl App {
    /// Alt+L, `/lens`: open the lens for the selected token, or close it.
    pub(crate) fn toggle_lens(&mut self) -> Vec<EngineCommand> {
        if matches!(self.overlay, Some(Overlay::Lens(_))) {
            self.overlay = None;
            return Vec::new();
        }
        self.overlay = Some(Overlay::Lens(Box::new(LensView {
            target: None,
            state: LensState::Unavailable(String::new()),
        })));
        self.lens_follow()
    }

    /// With the lens open, ask again when the selection moved to another token. Not while
    /// a reply is being written: the engine would serve the lens only after it, and a lesson
    /// step reads the reply's generation number right after sending.
    pub(crate) fn lens_follow(&mut self) -> Vec<EngineCommand> {
        let selected = self.selected();
        let generating = self.chat.is_generating();
        let lang = self.lang().code();
        let Some(Overlay::Lens(view)) = self.overlay.as_mut() else {
            return Vec::new();
        };
        if view.target == selected && view.target.is_some() {
            return Vec::new();
        }
        if generating {
            if view.target.is_none() {
                view.state = LensState::Unavailable(tr("lens.after_reply", lang));
            }
            return Vec::new();
        }
        let context = selected.and_then(|r| context_before(&self.chat, r));
        let state = match (selected, context) {
            (None, _) => Err(tr("lens.nothing_yet", lang)),
            (Some(_), None) => Err(tr("lens.no_tokens", lang)),
            (Some(_), Some((0, c))) if c.is_empty() => Err(tr("lens.first_token", lang)),
            (Some(_), Some(_)) if self.chat.model.is_none() => {
                Err(tr("notice.no_model_loaded", lang))
            }
            (Some(_), Some(c)) => Ok(c),
        };
        let (state, cmds) = match state {
            Err(why) => (LensState::Unavailable(why), Vec::new()),
            Ok((start, tokens)) => {
                // The lens reads the token before the selected one: its rows predict the
                // selected token.
                let generation = self.chat.next_generation();
                (
                    LensState::Pending { generation },
                    vec![EngineCommand::Lens {
                        generation,
                        start,
                        tokens,
                    }],
                )
            }
        };
        if let Some(Overlay::Lens(view)) = self.overlay.as_mut() {
            view.target = selected;
            view.state = state;
        }
        cmds
    }

    /// An answer (or an error) for the lens; returns whether it was one.
    pub(crate) fn lens_answer(
        &mut self,
        generation: u64,
        answer: Result<LayerLens, String>,
    ) -> bool {
        let lang = self.lang().code();
        let Some(Overlay::Lens(view)) = self.overlay.as_mut() else {
            return false;
        };
        if view.state != (LensState::Pending { generation }) {
            return false;
        }
        view.state = match answer {
            Ok(l) => LensState::Ready(Box::new(l)),
            Err(e) => LensState::Unavailable(tr_with("lens.failed", lang, &[("why", &e)])),
        };
        true
    }

    /// The open lens overlay, if any.
    pub fn lens(&self) -> Option<&LensView> {
        match self.overlay.as_ref() {
            Some(Overlay::Lens(v)) => Some(v),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{Message, ReplyStatus};
    use crate::routing::Phase;
    use crate::transcript::{Role, TokenEvent};

    fn tok(pos: u32, id: u32) -> TokenEvent {
        TokenEvent {
            phase: Phase::Prompt,
            pos,
            token_id: id,
            text: String::new(),
            routing: None,
            step: None,
        }
    }

    #[test]
    fn the_context_follows_positions_across_turns() {
        let mut chat = Conversation::default();
        let msg = |role, tokens| {
            let mut m = Message::new(role, String::new(), ReplyStatus::Complete);
            m.tokens = tokens;
            m
        };
        chat.messages = vec![
            msg(Role::User, vec![tok(0, 10), tok(1, 11)]),
            msg(Role::Assistant, vec![tok(2, 20), tok(3, 21)]),
            // The next turn decoded again from position 3 (the reply re-tokenized).
            msg(Role::User, vec![tok(3, 30), tok(4, 31)]),
        ];
        let r = |message, token| TokenRef { message, token };
        assert_eq!(context_before(&chat, r(0, 0)), Some((0, vec![])));
        assert_eq!(context_before(&chat, r(1, 1)), Some((0, vec![10, 11, 20])));
        assert_eq!(
            context_before(&chat, r(2, 1)),
            Some((0, vec![10, 11, 20, 30]))
        );
        assert_eq!(context_before(&chat, r(2, 5)), None);
        // A new conversation whose request reused 7 cached tokens reports from position 7.
        chat.messages = vec![
            msg(Role::User, vec![tok(7, 40), tok(8, 41)]),
            msg(Role::Assistant, vec![tok(9, 50)]),
        ];
        assert_eq!(context_before(&chat, r(1, 0)), Some((7, vec![40, 41])));
        assert_eq!(context_before(&chat, r(0, 0)), Some((7, vec![])));
    }
}
