//! Branches of a reply: the learner takes a reply back to one of its sampling steps, puts
//! another token there, and the model goes on from it. A reply keeps every branch; one is
//! current (its text and tokens are the message's own fields, so every view reads it as
//! before), the others are parked here in order.

use super::{Conversation, Message, ReplyStatus, Running, Said, TokenRef};
use crate::engine::api::{BranchRequest, EngineCommand, Forced, GenerateRequest};
use crate::sampling::SamplingParams;
use crate::transcript::{Role, TokenEvent};

/// A reply's text and tokens on one branch.
#[derive(Debug, Clone, PartialEq)]
pub struct BranchBody {
    pub content: String,
    pub tokens: Vec<TokenEvent>,
    pub status: ReplyStatus,
    /// The step (token index) where this branch left the first one; `None` for the first.
    pub split: Option<usize>,
}

/// The branches of a reply besides the one shown.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Branches {
    /// The other branches, in order, without the current one.
    pub(crate) others: Vec<BranchBody>,
    /// The current branch's number (0-based) among all of them.
    pub(crate) current: usize,
    /// Where the current branch left the first one.
    pub(crate) split: Option<usize>,
}

impl Message {
    /// How many branches the reply has (1 when it was never branched).
    pub fn branch_count(&self) -> usize {
        self.branches.others.len() + 1
    }

    /// The current branch's number, 0-based.
    pub fn branch_index(&self) -> usize {
        self.branches.current
    }

    /// Where the current branch split from the first one (a token index).
    pub fn split(&self) -> Option<usize> {
        self.branches.split
    }

    /// Every branch in order, the current one included (a copy, for files and views).
    pub fn all_branches(&self) -> Vec<BranchBody> {
        let mut all = self.branches.others.clone();
        all.insert(self.branches.current.min(all.len()), self.body());
        all
    }

    /// The other branches with their numbers (0-based), in order.
    pub fn other_branches(&self) -> impl Iterator<Item = (usize, &BranchBody)> {
        let cur = self.branches.current;
        self.branches
            .others
            .iter()
            .enumerate()
            .map(move |(i, b)| (if i < cur { i } else { i + 1 }, b))
    }

    fn body(&self) -> BranchBody {
        BranchBody {
            content: self.content.clone(),
            tokens: self.tokens.clone(),
            status: self.status,
            split: self.branches.split,
        }
    }

    fn take_body(&mut self) -> BranchBody {
        BranchBody {
            content: std::mem::take(&mut self.content),
            tokens: std::mem::take(&mut self.tokens),
            status: self.status,
            split: self.branches.split,
        }
    }

    fn put_body(&mut self, b: BranchBody) {
        self.content = b.content;
        self.tokens = b.tokens;
        self.status = b.status;
        self.branches.split = b.split;
    }

    /// Make branch `to` current. False when there is no such branch or it is current.
    pub(crate) fn switch_branch(&mut self, to: usize) -> bool {
        let cur = self.branches.current;
        if to >= self.branch_count() || to == cur {
            return false;
        }
        let body = self.take_body();
        let mut all = std::mem::take(&mut self.branches.others);
        all.insert(cur, body);
        let next = all.remove(to);
        self.branches.others = all;
        self.branches.current = to;
        self.put_body(next);
        true
    }

    /// Add `body` as the last branch and make it current.
    pub(crate) fn push_branch(&mut self, body: BranchBody) {
        let old = self.take_body();
        let cur = self.branches.current.min(self.branches.others.len());
        self.branches.others.insert(cur, old);
        self.branches.current = self.branches.others.len();
        self.put_body(body);
    }

    /// Set every branch at once (a reopened journal); `current` is clamped.
    pub(crate) fn set_branches(&mut self, mut all: Vec<BranchBody>, current: usize) {
        if all.is_empty() {
            return;
        }
        let current = current.min(all.len() - 1);
        let body = all.remove(current);
        self.branches = Branches {
            others: all,
            current,
            split: None,
        };
        self.put_body(body);
    }
}

/// Why a branch cannot start at a token.
pub(crate) fn why_not(c: &Conversation, at: TokenRef) -> Option<&'static str> {
    let m = c.messages.get(at.message)?;
    if m.role != Role::Assistant {
        return Some("branch.not_reply");
    }
    if at.message + 1 != c.messages.len() {
        return Some("branch.not_last");
    }
    match m.tokens.get(at.token) {
        Some(t) if t.step.is_some() => None,
        _ => Some("branch.no_step"),
    }
}

impl Conversation {
    /// Start a new branch of the reply holding `at`: its tokens before `at` are kept, the
    /// `forced` token takes `at`'s place, and the engine goes on from there.
    pub(crate) fn start_branch(
        &mut self,
        at: TokenRef,
        forced: Forced,
        params: SamplingParams,
        max_tokens: u32,
        lang: &str,
    ) -> Result<EngineCommand, Said> {
        if let Some(why) = self.cannot_start(lang) {
            return Err(Said::Info(why));
        }

        if let Some(key) = why_not(self, at) {
            return Err(Said::Info(crate::i18n::tr(key, lang)));
        }
        let messages = self.request_upto(at.message);
        let generation = self.next_generation();
        let Some(msg) = self.messages.get_mut(at.message) else {
            return Err(Said::Info(crate::i18n::tr("branch.no_step", lang)));
        };
        let tokens: Vec<TokenEvent> = msg.tokens[..at.token].to_vec();
        let kept = tokens.iter().map(|t| t.token_id).collect();
        let content: String = tokens.iter().map(|t| t.text.as_str()).collect();
        msg.push_branch(BranchBody {
            content,
            tokens,
            status: ReplyStatus::Streaming,
            split: Some(at.token),
        });
        self.stream.clear();
        super::stream::show_stream(&mut self.stream, &mut self.stream_owner, msg);
        self.budget.recount(&self.messages, false);
        self.running = Some(Running {
            generation,
            user: at.message.saturating_sub(1),
            reply: at.message,
            stopping: false,
        });
        self.engine = super::EngineState::Prefill { done: 0, total: 0 };
        Ok(EngineCommand::Branch {
            generation,
            branch: Box::new(BranchRequest {
                request: GenerateRequest {
                    messages,
                    raw: false,
                    max_tokens,
                    params,
                },
                kept,
                forced,
            }),
        })
    }

    /// Show branch `to` of message `message`. False when there is nothing to switch to.
    pub(crate) fn switch_branch(&mut self, message: usize, to: usize) -> bool {
        if self.running.is_some_and(|r| r.reply == message) {
            return false;
        }
        let Some(m) = self.messages.get_mut(message) else {
            return false;
        };
        if !m.switch_branch(to) {
            return false;
        }
        let (role, content) = (m.role, m.content.clone());
        let rendered = self.rendered(role, &content);
        if let Some(m) = self.messages.get_mut(message) {
            m.rendered.set(rendered);
        }
        self.budget.recount(&self.messages, false);
        true
    }

    /// The conversation before message `end`, as the engine should see it.
    fn request_upto(&self, end: usize) -> Vec<crate::transcript::ChatMessage> {
        let mut all = self.request();
        let dropped = self.messages[end.min(self.messages.len())..]
            .iter()
            .filter(|m| !(m.role == Role::Assistant && m.content.is_empty()))
            .count();
        all.truncate(all.len().saturating_sub(dropped));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(text: &str, split: Option<usize>) -> BranchBody {
        BranchBody {
            content: text.into(),
            tokens: Vec::new(),
            status: ReplyStatus::Complete,
            split,
        }
    }

    #[test]
    fn branches_keep_their_order_when_switching() {
        let mut m = Message::new(Role::Assistant, "one".into(), ReplyStatus::Complete);
        m.push_branch(body("two", Some(1)));
        m.push_branch(body("three", Some(2)));
        assert_eq!((m.branch_count(), m.branch_index()), (3, 2));
        assert_eq!(m.content, "three");
        assert!(m.switch_branch(0));
        assert_eq!((m.content.as_str(), m.split()), ("one", None));
        assert!(m.switch_branch(1));
        assert_eq!((m.content.as_str(), m.split()), ("two", Some(1)));
        let texts: Vec<String> = m.all_branches().into_iter().map(|b| b.content).collect();
        assert_eq!(texts, ["one", "two", "three"]);
        let others: Vec<usize> = m.other_branches().map(|(i, _)| i).collect();
        assert_eq!(others, [0, 2]);
        assert!(!m.switch_branch(1), "already current");
        assert!(!m.switch_branch(3), "no such branch");
    }

    #[test]
    fn set_branches_restores_every_branch_and_the_current_one() {
        let mut m = Message::new(Role::Assistant, String::new(), ReplyStatus::Complete);
        m.set_branches(vec![body("a", None), body("b", Some(3))], 1);
        assert_eq!((m.content.as_str(), m.branch_count()), ("b", 2));
        assert_eq!(m.split(), Some(3));
        assert_eq!(m.all_branches()[0].content, "a");
    }
}
