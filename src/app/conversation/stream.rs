//! Engine events landing in the conversation: the model loaded, prompt tokens placed by
//! position, reply tokens and the tail of a cut character appended, and the end of a
//! reply.

use super::{Conversation, EngineState, ReplyStatus, Running, Said, TokenRef};
use crate::text::sanitize;
use crate::transcript::{GenStats, ModelInfo, StopReason, TokenEvent};

impl Conversation {
    pub(crate) fn live(&self, generation: u64) -> Option<Running> {
        self.running
            .filter(|r| r.generation == generation && !r.stopping)
    }

    pub(crate) fn loaded(&mut self, mut info: ModelInfo) {
        info.name = sanitize(&info.name);
        info.arch = sanitize(&info.arch);
        info.path = sanitize(&info.path);
        self.lora_on = info.lora_adapter.is_some();
        self.model = Some(info);
        if matches!(self.engine, EngineState::Loading | EngineState::Error) {
            self.engine = EngineState::Ready;
        }
    }

    /// Prompt tokens decoded for the running request, attributed by position: a position
    /// some message already holds keeps the record it got when it was first read or
    /// written (a reload or a LoRA switch decodes the whole transcript again; history is
    /// not rewritten, and every token keeps exactly one record); positions no message
    /// holds yet belong to the user turn being answered.
    pub(crate) fn add_prompt(&mut self, user: usize, tokens: Vec<TokenEvent>) {
        for t in tokens {
            if self.holder_of(t.pos).is_some() {
                continue;
            }
            if let Some(msg) = self.messages.get_mut(user) {
                self.budget
                    .added(t.routing.as_ref().map_or(0, |r| r.payload_bytes()));
                let at = msg.tokens.partition_point(|x| x.pos < t.pos);
                msg.tokens.insert(at, t);
            }
        }
        self.budget.enforce(&mut self.messages);
    }

    /// The token at context position `pos`, if a message holds one.
    fn holder_of(&self, pos: u32) -> Option<TokenRef> {
        self.messages.iter().enumerate().find_map(|(i, m)| {
            let (first, last) = (m.tokens.first()?.pos, m.tokens.last()?.pos);
            if pos < first || pos > last {
                return None;
            }
            let t = m.tokens.binary_search_by_key(&pos, |t| t.pos).ok()?;
            Some(TokenRef {
                message: i,
                token: t,
            })
        })
    }

    pub(crate) fn add_token(&mut self, reply: usize, token: TokenEvent) {
        self.engine = EngineState::Generating;
        self.context_used = self.context_used.max(token.pos + 1);
        let Some(msg) = self.messages.get_mut(reply) else {
            return;
        };
        msg.content.push_str(&token.text);
        self.budget
            .added(token.routing.as_ref().map_or(0, |r| r.payload_bytes()));
        msg.tokens.push(token);
        // Only the reply's last open block is rendered again (a long reply used to be
        // re-rendered whole on every token).
        self.stream.set_text(&msg.content);
        sync_lines(&mut msg.rendered, self.stream.lines());
        self.budget.enforce(&mut self.messages);
    }

    /// The end of a character the reply stopped inside of: part of the text (and of its
    /// last token, so the token strip shows it too).
    pub(crate) fn add_tail(&mut self, reply: usize, text: &str) {
        let Some(msg) = self.messages.get_mut(reply) else {
            return;
        };
        msg.content.push_str(text);
        if let Some(last) = msg.tokens.last_mut() {
            last.text.push_str(text);
        }
        // Only the reply's last open block is rendered again (a long reply used to be
        // re-rendered whole on every token).
        self.stream.set_text(&msg.content);
        sync_lines(&mut msg.rendered, self.stream.lines());
    }

    /// The reply of `generation` ended. Returns what to tell the user.
    pub(crate) fn finish(
        &mut self,
        generation: u64,
        reason: StopReason,
        stats: GenStats,
        max_tokens: u32,
        lang: &str,
    ) -> Option<Said> {
        let r = self.running.filter(|r| r.generation == generation)?;
        self.running = None;
        self.last_stats = Some(stats);
        self.context_used = stats.context_used;
        let status = match reason {
            _ if r.stopping => ReplyStatus::Stopped,
            StopReason::EndOfText => ReplyStatus::Complete,
            StopReason::MaxTokens => ReplyStatus::MaxTokens,
            StopReason::Cancelled => ReplyStatus::Stopped,
            StopReason::ContextFull => ReplyStatus::ContextFull,
        };
        if let Some(m) = self.messages.get_mut(r.reply) {
            m.status = status;
        }
        self.engine = match status {
            ReplyStatus::Stopped => EngineState::Stopped,
            _ => EngineState::Ready,
        };
        let n_ctx = self.model.as_ref().map_or(0, |m| m.n_ctx);
        match status {
            ReplyStatus::MaxTokens => Some(Said::Info(crate::i18n::tr_with(
                "notice.max_tokens",
                lang,
                &[("n", &max_tokens)],
            ))),
            ReplyStatus::ContextFull => Some(Said::Error(crate::i18n::tr_with(
                "notice.context_full",
                lang,
                &[("n", &n_ctx)],
            ))),
            _ => None,
        }
    }

    /// The request of `generation` failed. Returns what to tell the user.
    pub(crate) fn fail(&mut self, generation: u64, message: &str, lang: &str) -> Option<Said> {
        let r = self.running.filter(|r| r.generation == generation)?;
        self.running = None;
        if let Some(m) = self.messages.get_mut(r.reply) {
            m.status = ReplyStatus::Failed;
        }
        self.engine = EngineState::Error;
        Some(Said::Error(crate::i18n::tr_with(
            "notice.engine_error",
            lang,
            &[("why", &message)],
        )))
    }
}

/// Make `rendered` equal `lines`, copying only the lines that changed: a streaming reply's
/// earlier lines stay the same values, and copying them all on every token made each token
/// cost more the longer the reply.
fn sync_lines<'a>(
    rendered: &mut Vec<crate::text::markdown::StyledLine>,
    lines: impl Iterator<Item = &'a crate::text::markdown::StyledLine>,
) {
    let mut n = 0;
    for line in lines {
        match rendered.get_mut(n) {
            Some(old) if old == line => {}
            Some(old) => *old = line.clone(),
            None => rendered.push(line.clone()),
        }
        n += 1;
    }
    rendered.truncate(n);
}

#[cfg(test)]
mod tests {
    use super::sync_lines;
    use crate::text::markdown::{StreamingMarkdown, StyledLine};

    #[test]
    fn synced_lines_equal_the_stream_and_unchanged_ones_are_not_copied() {
        let mut s = StreamingMarkdown::new();
        let mut rendered: Vec<StyledLine> = Vec::new();
        let mut text = String::new();
        for i in 0..300 {
            let t = if i % 25 == 24 {
                ".\n\n".to_string()
            } else {
                format!(" w{i}")
            };
            text.push_str(&t);
            let first = rendered.first().map(|l| l.line.spans[0].content.as_ptr());
            s.set_text(&text);
            sync_lines(&mut rendered, s.lines());
            assert_eq!(rendered, s.to_lines(), "after token {i}");
            // The first paragraph, final since token 24, keeps its allocation.
            if i > 30 {
                assert_eq!(
                    first,
                    rendered.first().map(|l| l.line.spans[0].content.as_ptr())
                );
            }
        }
        // A shorter text (a new reply) drops the lines beyond it.
        s.set_text("one line");
        sync_lines(&mut rendered, s.lines());
        assert_eq!(rendered, s.to_lines());
    }
}
