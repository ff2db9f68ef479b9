//! `/branch N` and `/branch "TEXT"`: continue the selected step's reply from candidate N of
//! that step (as the sampling pane numbers them) or from the typed text, as a new branch;
//! `/branches [K]`: show the next branch of the reply (or branch K). Keys: Alt+B branches
//! from the most likely candidate not tried at the step yet, Alt+[ / Alt+] switch branches.

use super::Args;
use crate::app::App;
use crate::engine::api::{EngineCommand, Forced};
use crate::i18n::{tr, tr_with};

pub(super) const BRANCH_USAGE: &str = "/branch <candidate number> | /branch \"text\"";
pub(super) const BRANCHES_USAGE: &str = "/branches [branch number]";

/// What `/branch`'s argument asks for: a candidate by its number, or text.
fn parse(rest: &str) -> Option<Result<usize, String>> {
    let rest = rest.trim();
    if rest.is_empty() {
        return None;
    }
    if let Ok(n) = rest.parse::<usize>() {
        return Some(Ok(n));
    }
    let text = rest
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(rest);
    (!text.is_empty()).then(|| Err(text.to_string()))
}

impl App {
    pub(super) fn cmd_branch(&mut self, args: &Args) -> Vec<EngineCommand> {
        let lang = self.lang().code();
        let Some(want) = parse(args.rest) else {
            self.usage(BRANCH_USAGE);
            return Vec::new();
        };
        let Some((at, token)) = self.selected_token() else {
            self.info(tr("branch.no_step", lang));
            return Vec::new();
        };
        let forced = match want {
            Ok(n) => {
                let n_cand = token.step.as_ref().map_or(0, |s| s.candidates.len());
                match token
                    .step
                    .as_ref()
                    .and_then(|s| n.checked_sub(1).and_then(|i| s.candidates.get(i)))
                {
                    Some(c) => Forced::Token(c.token_id),
                    None if n_cand == 0 => {
                        self.info(tr("branch.no_step", lang));
                        return Vec::new();
                    }
                    None => {
                        self.error(tr_with("branch.bad_candidate", lang, &[("n", &n_cand)]));
                        return Vec::new();
                    }
                }
            }
            Err(text) => Forced::Text(text),
        };
        let (params, max_tokens) = (self.params(), self.config().max_tokens);
        match self.chat.start_branch(at, forced, params, max_tokens, lang) {
            Ok(cmd) => {
                self.cursor.fix(&self.chat);
                let m = &self.chat.messages()[at.message];
                let (k, n) = (m.branch_index() + 1, m.branch_count());
                self.info(tr_with(
                    "branch.started",
                    lang,
                    &[("k", &k), ("n", &n), ("step", &at.token)],
                ));
                vec![cmd]
            }
            Err(said) => {
                self.say(said);
                Vec::new()
            }
        }
    }

    pub(super) fn cmd_branches(&mut self, args: &Args) -> Vec<EngineCommand> {
        let Some(message) = self.branched_message() else {
            self.info(tr("branch.none", self.lang().code()));
            return Vec::new();
        };
        let m = &self.chat.messages()[message];
        let n = m.branch_count();
        let to = match args.first() {
            None => (m.branch_index() + 1) % n,
            Some(a) => match a.parse::<usize>() {
                Ok(k) if (1..=n).contains(&k) => k - 1,
                _ => {
                    self.usage(&format!("{BRANCHES_USAGE} (1..{n})"));
                    return Vec::new();
                }
            },
        };
        self.show_branch(message, to);
        Vec::new()
    }

    /// The reply whose branches `/branches` and Alt+[ / Alt+] switch: the selected one if
    /// it has branches, else the last reply that has.
    fn branched_message(&self) -> Option<usize> {
        self.selected()
            .map(|r| r.message)
            .filter(|&i| self.chat.messages()[i].branch_count() > 1)
            .or_else(|| {
                self.chat
                    .messages()
                    .iter()
                    .rposition(|m| m.branch_count() > 1)
            })
    }

    fn show_branch(&mut self, message: usize, to: usize) {
        let lang = self.lang().code();
        let n = self.chat.messages()[message].branch_count();
        if !self.chat.switch_branch(message, to) {
            self.info(tr("branch.busy", lang));
            return;
        }
        self.cursor.fix(&self.chat);
        if let Err(e) = self.journal.forget_from(message) {
            self.error(tr_with("notice.save_failed", lang, &[("why", &e)]));
            return;
        }
        self.info(tr_with(
            "branch.shown",
            lang,
            &[("k", &(to + 1)), ("n", &n)],
        ));
    }

    /// Alt+[ / Alt+]: the previous or next branch of the reply (wrapping round).
    pub(crate) fn step_branch(&mut self, forward: bool) {
        let Some(message) = self.branched_message() else {
            self.info(tr("branch.none", self.lang().code()));
            return;
        };
        let m = &self.chat.messages()[message];
        let (cur, n) = (m.branch_index(), m.branch_count());
        let to = if forward {
            (cur + 1) % n
        } else {
            (cur + n - 1) % n
        };
        self.show_branch(message, to);
    }

    /// Alt+B: branch at the selected step from the most likely candidate that neither the
    /// shown branch nor any other branch sharing its tokens wrote there.
    pub(crate) fn branch_candidate(&mut self) -> Vec<EngineCommand> {
        let lang = self.lang().code();
        let Some((at, token)) = self.selected_token() else {
            self.info(tr("branch.no_step", lang));
            return Vec::new();
        };
        let Some(step) = token.step.as_ref() else {
            self.info(tr("branch.no_step", lang));
            return Vec::new();
        };
        let m = &self.chat.messages()[at.message];
        let mut tried = vec![token.token_id];
        for (_, b) in m.other_branches() {
            let same_before = b.tokens.len() > at.token
                && b.tokens[..at.token]
                    .iter()
                    .zip(&m.tokens[..at.token])
                    .all(|(x, y)| x.token_id == y.token_id);
            if same_before {
                tried.push(b.tokens[at.token].token_id);
            }
        }
        let Some(n) = step
            .candidates
            .iter()
            .position(|c| !tried.contains(&c.token_id))
        else {
            self.info(tr("branch.all_tried", lang));
            return Vec::new();
        };
        let line = format!("/branch {}", n + 1);
        self.slash_command(&line)
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn a_number_picks_a_candidate_and_anything_else_is_text() {
        assert_eq!(parse(" 2 "), Some(Ok(2)));
        assert_eq!(parse("\"7\""), Some(Err("7".into())));
        assert_eq!(parse("hello there"), Some(Err("hello there".into())));
        assert_eq!(parse(""), None);
        assert_eq!(parse("\"\""), None);
    }
}
