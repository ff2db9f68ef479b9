//! Engine events landing in the conversation: the model loaded, prompt tokens placed by
//! position, reply tokens and the tail of a cut character appended, and the end of a
//! reply.

use super::{Conversation, EngineState, Message, ReplyStatus, Running, Said, TokenRef};
use crate::text::markdown::StreamingMarkdown;
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
        show_stream(&mut self.stream, &mut self.stream_owner, msg);
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
        show_stream(&mut self.stream, &mut self.stream_owner, msg);
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

/// Bring `msg`'s rendered lines up to date with its text through the incremental
/// renderer. Per token this costs the reply's open tail, not the whole reply: only the
/// text after what the stream holds is rendered (the last open block again), only the
/// lines from the first one the stream may have changed are compared, and only those
/// that differ are copied and restamped (so the chat view wraps only them again).
pub(super) fn show_stream(
    stream: &mut StreamingMarkdown,
    owner: &mut Option<u64>,
    msg: &mut Message,
) {
    let same = *owner == Some(msg.id);
    match msg.content.get(stream.text().len()..) {
        Some(delta) if same && msg.content.starts_with(stream.text()) => stream.push_str(delta),
        _ => stream.set_text(&msg.content),
    }
    // The stream last showed another message: compare every line once.
    let from = if same { stream.take_changed_from() } else { 0 };
    msg.rendered.sync_from(from, stream.lines_from(from));
    if !same {
        stream.take_changed_from();
    }
    *owner = Some(msg.id);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::conversation::RenderedLines;
    use crate::text::markdown::MarkdownRenderer;
    use crate::transcript::Role;

    fn reply() -> Message {
        Message::new(Role::Assistant, String::new(), ReplyStatus::Streaming)
    }

    #[test]
    fn streamed_lines_equal_a_full_render_and_only_the_tail_is_restamped() {
        let mut stream = StreamingMarkdown::new();
        let mut owner = None;
        let mut msg = reply();
        let mut full = MarkdownRenderer::new();
        let mut first = None;
        for i in 0..300 {
            let t = match i % 25 {
                24 => ".\n\n".to_string(),
                10 => "\n\n- 列表 item".to_string(),
                _ => format!(" w{i}"),
            };
            msg.content.push_str(&t);
            let seen = msg.rendered.stamps().to_vec();
            show_stream(&mut stream, &mut owner, &mut msg);
            assert_eq!(
                msg.rendered.lines(),
                &full.render(&msg.content)[..],
                "token {i}"
            );
            // Lines of finished paragraphs keep their stamps (and their allocation).
            let kept = msg.rendered.unchanged_prefix(&seen);
            assert!(
                kept + 3 >= seen.len(),
                "token {i}: {kept} of {}",
                seen.len()
            );
            if i > 30 {
                let p = msg.rendered.lines()[0].line.spans[0].content.as_ptr();
                assert_eq!(*first.get_or_insert(p), p);
            }
        }
    }

    #[test]
    fn another_message_or_an_edited_text_is_synced_whole() {
        let mut stream = StreamingMarkdown::new();
        let mut owner = None;
        let mut a = reply();
        a.content = "# A\n\nfirst reply\n\nmore".into();
        show_stream(&mut stream, &mut owner, &mut a);
        // A second message whose text extends the first one's: its lines are its own.
        let mut b = reply();
        b.rendered = RenderedLines::from(MarkdownRenderer::new().render("stale\n\nlines"));
        b.content = "# A\n\nfirst reply\n\nmore and more".into();
        show_stream(&mut stream, &mut owner, &mut b);
        assert_eq!(
            b.rendered.lines(),
            &MarkdownRenderer::new().render(&b.content)[..]
        );
        // The same message with its text cut back (a branch): rendered anew.
        b.content.truncate(5);
        show_stream(&mut stream, &mut owner, &mut b);
        assert_eq!(
            b.rendered.lines(),
            &MarkdownRenderer::new().render(&b.content)[..]
        );
    }
}
