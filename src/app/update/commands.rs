//! Slash commands typed into the input: `/temp 0.8`, `/top_p 0.9`, `/seed 7`, `/regen`,
//! `/edit`, `/clear`, `/history`, `/export [FILE]`, `/help`. A message starting with `//` is sent with one `/` removed.

use super::super::keymap::Action;
use super::super::state::{App, EngineState, Scroll};
use crate::engine::api::EngineCommand;

impl App {
    pub(crate) fn slash_command(&mut self, line: &str) -> Vec<EngineCommand> {
        let mut words = line.split_whitespace();
        let cmd = words.next().unwrap_or("");
        let arg = words.next();
        match cmd {
            "/temp" | "/temperature" => {
                let Some(t) = arg
                    .and_then(|a| a.parse::<f32>().ok())
                    .filter(|t| t.is_finite())
                else {
                    self.error(
                        "usage: /temp <0..2>, e.g. /temp 0.8 (0 = always the most likely token)",
                    );
                    return Vec::new();
                };
                let mut p = self.params;
                p.temperature = t;
                let cmds = self.set_params(p);
                self.info(format!(
                    "temperature {:.2}, from the next token",
                    self.params.temperature
                ));
                cmds
            }
            "/top_p" | "/topp" | "/top-p" => {
                let Some(v) = arg
                    .and_then(|a| a.parse::<f32>().ok())
                    .filter(|v| v.is_finite())
                else {
                    self.error("usage: /top_p <0.05..1>, e.g. /top_p 0.9");
                    return Vec::new();
                };
                let mut p = self.params;
                p.top_p = v;
                let cmds = self.set_params(p);
                self.info(format!(
                    "top_p {:.2}, from the next token",
                    self.params.top_p
                ));
                cmds
            }
            "/seed" => {
                let Some(seed) = arg.and_then(|a| a.parse::<u64>().ok()) else {
                    self.error("usage: /seed <number>, e.g. /seed 7");
                    return Vec::new();
                };
                let mut p = self.params;
                p.seed = seed;
                let cmds = self.set_params(p);
                self.info(format!("seed {seed}"));
                cmds
            }
            "/regen" | "/regenerate" => self.update(Action::Regenerate),
            "/edit" => self.update(Action::EditLast),
            "/clear" | "/new" => self.clear(),
            "/knockout" | "/ko" => self.knockout_command(line),
            "/lora" => self.lora_command(arg),
            "/experts" | "/k" => self.experts_command(arg),
            "/help" | "/?" => self.update(Action::ToggleHelp),
            "/history" | "/conversations" => {
                self.open_browser();
                Vec::new()
            }
            "/export" => {
                let rest = line.split_once(char::is_whitespace).map(|(_, r)| r.trim());
                self.export(rest.filter(|r| !r.is_empty()));
                Vec::new()
            }
            other => {
                self.error(format!("unknown command {other}: /help lists the commands"));
                Vec::new()
            }
        }
    }

    /// Start a new conversation: stop any reply, forget messages and the KV cache.
    fn clear(&mut self) -> Vec<EngineCommand> {
        let mut cmds = Vec::new();
        if let Some(r) = self.running.take() {
            cmds.push(EngineCommand::Cancel {
                generation: r.generation,
            });
        }
        cmds.push(EngineCommand::Reset);
        self.messages.clear();
        self.close_journal();
        self.reset_conversation_view();
        self.info("new conversation");
        cmds
    }

    /// After the transcript was replaced: select and follow the newest token, scroll to the
    /// end, and count the context from zero (the engine decodes the new history again).
    pub(crate) fn reset_conversation_view(&mut self) {
        self.selection = None;
        self.follow = true;
        self.scroll = Scroll::Follow;
        self.context_used = 0;
        if self.model.is_some() {
            self.engine = EngineState::Ready;
        }
    }
}
