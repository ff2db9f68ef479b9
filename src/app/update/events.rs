//! Engine events into the app: the model loading, prompt tokens landing on the turn that
//! holds their position, reply tokens filling the reply, and the end of a reply. Events of
//! any generation but the running one are dropped (a lesson's experiment runs take theirs
//! first).

use crate::app::conversation::EngineState;
use crate::app::App;
use crate::engine::api::EngineEvent;

impl App {
    /// Feed one engine event in.
    pub fn on_engine_event(&mut self, ev: EngineEvent) {
        self.dirty = true;
        self.prep_engine_event(&ev);
        if self.lesson_engine_event(&ev) {
            return;
        }
        if self.experiment_engine_event(&ev) {
            self.lesson_tick();
            return;
        }
        self.engine_event(ev);
        self.lesson_tick();
    }

    fn engine_event(&mut self, ev: EngineEvent) {
        let lang = self.lang().code();
        let said = match ev {
            EngineEvent::Loaded(info) => {
                if let Some(name) = self.switching_to.take() {
                    let at = self.chat.messages.len();
                    if let Err(e) = self.journal.note_model(&info.name, &info.path, at) {
                        tracing::warn!("could not journal the switch to {name}: {e}");
                    }
                }
                self.chat.loaded(*info);
                None
            }
            EngineEvent::LoadFailed(msg) => {
                self.chat.engine = EngineState::Error;
                Some(crate::app::conversation::Said::Error(crate::i18n::tr_with(
                    "notice.load_failed",
                    lang,
                    &[("why", &msg)],
                )))
            }
            EngineEvent::Prompt { generation, tokens } => {
                if let Some(r) = self.chat.live(generation) {
                    self.chat.add_prompt(r.user, tokens);
                    self.cursor.fix(&self.chat);
                }
                None
            }
            EngineEvent::PrefillProgress {
                generation,
                done,
                total,
            } => {
                if self.chat.live(generation).is_some() {
                    self.chat.engine = EngineState::Prefill { done, total };
                }
                None
            }
            EngineEvent::Token { generation, token } => {
                if let Some(r) = self.chat.live(generation) {
                    self.chat.add_token(r.reply, *token);
                }
                None
            }
            EngineEvent::Tail { generation, text } => {
                if let Some(r) = self.chat.live(generation) {
                    self.chat.add_tail(r.reply, &text);
                }
                None
            }
            // A reply the model ended before writing any text: say which token ended it.
            EngineEvent::Ended { generation, token } => {
                let empty = self.chat.live(generation).is_some_and(|r| {
                    self.chat
                        .messages
                        .get(r.reply)
                        .is_some_and(|m| m.content.trim().is_empty())
                });
                empty.then(|| {
                    crate::app::conversation::Said::Info(crate::i18n::tr_with(
                        "reply.empty_ended_by",
                        self.lang().code(),
                        &[
                            ("id", &token.token_id),
                            ("token", &format!("{:?}", token.text)),
                        ],
                    ))
                })
            }
            EngineEvent::Done {
                generation,
                reason,
                stats,
            } => {
                let max_tokens = self.config().max_tokens;
                self.chat
                    .finish(generation, reason, stats, max_tokens, lang)
            }
            EngineEvent::Error {
                generation,
                message,
            } => match self.lens_answer(generation, Err(message.clone())) {
                true => None,
                false => self.chat.fail(generation, &message, lang),
            },
            // The engine thread survived a panic but dropped the model: the reply (if one
            // ran) ends as failed, and /experts (a reload) or a restart loads it again.
            EngineEvent::Crashed {
                generation,
                message,
            } => {
                if let Some(g) = generation {
                    let _ = self.chat.fail(g, &message, lang);
                }
                self.chat.running = None;
                self.chat.engine = EngineState::Error;
                Some(crate::app::conversation::Said::Error(crate::i18n::tr_with(
                    "notice.engine_crashed",
                    lang,
                    &[("why", &message)],
                )))
            }
            // The engine keeps the model it had.
            EngineEvent::SwitchRefused { path, message } => {
                self.switching_to = None;
                let args: [(&str, &dyn std::fmt::Display); 2] =
                    [("path", &path), ("why", &message)];
                Some(crate::app::conversation::Said::Error(crate::i18n::tr_with(
                    "notice.switch_refused",
                    lang,
                    &args,
                )))
            }
            // The lens overlay takes its answer (a stale one is dropped).
            EngineEvent::Lens { generation, lens } => {
                self.lens_answer(generation, Ok(*lens));
                None
            }
            // The engine keeps the interventions it had: so does the app.
            EngineEvent::InterventionsRefused { message } => {
                self.interventions = self.interventions_before.clone();
                Some(crate::app::conversation::Said::Error(message))
            }
        };
        if let Some(s) = said {
            self.say(s);
        }
        self.persist();
    }
}
