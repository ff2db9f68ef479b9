//! Slash commands that change the loaded model: `/lora on|off` switches the LoRA adapter
//! live, `/experts N` loads the model again with N experts per token.

use super::super::state::{App, EngineState};
use crate::engine::api::EngineCommand;

impl App {
    pub(crate) fn lora_command(&mut self, arg: Option<&str>) -> Vec<EngineCommand> {
        let Some(adapter) = self.model.as_ref().and_then(|m| m.lora_adapter.clone()) else {
            self.error("this model was loaded without a LoRA adapter (--lora PATH loads one)");
            return Vec::new();
        };
        let on = match arg {
            Some("on") => true,
            Some("off") => false,
            None | Some("toggle") => !self.lora_on,
            Some(_) => {
                self.error("usage: /lora on | off (no argument: switch)");
                return Vec::new();
            }
        };
        self.lora_on = on;
        self.info(format!(
            "LoRA adapter {adapter} {}, from the next token (the next message is read again under it)",
            if on { "on" } else { "off" }
        ));
        vec![EngineCommand::SetLora(on)]
    }

    pub(crate) fn experts_command(&mut self, arg: Option<&str>) -> Vec<EngineCommand> {
        let Some(model) = self.model.as_ref() else {
            self.error("no model loaded yet");
            return Vec::new();
        };
        if !model.is_moe() {
            self.error("this model has no experts");
            return Vec::new();
        }
        let n_expert = model.n_expert;
        let Some(k) = arg
            .and_then(|a| a.parse::<u32>().ok())
            .filter(|k| (1..=n_expert).contains(k))
        else {
            self.error(format!(
                "usage: /experts <1..{n_expert}>: experts each token uses (now {})",
                model.n_expert_used
            ));
            return Vec::new();
        };
        if self.running.is_some() {
            self.error("wait for the reply to finish (or press Esc) before reloading");
            return Vec::new();
        }
        self.interventions.clear();
        self.engine = EngineState::Loading;
        self.info(format!(
            "loading the model again with {k} experts per token; the conversation stays"
        ));
        vec![EngineCommand::Reload {
            experts_used: Some(k),
        }]
    }
}
