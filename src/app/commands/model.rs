//! Slash commands that change the model or its routers: `/knockout L E [E ...]` removes
//! experts from layer L's choice live (`/knockout clear` brings them back), `/lora on|off`
//! switches the LoRA adapter live, `/experts N` loads the model again with N experts per
//! token.

use super::Args;
use crate::app::App;
use crate::engine::api::EngineCommand;

pub(super) const KNOCKOUT_USAGE: &str =
    "/knockout <layer> <expert> [expert ...], or /knockout clear";

impl App {
    pub(super) fn cmd_knockout(&mut self, args: &Args) -> Vec<EngineCommand> {
        let Some(model) = self.model() else {
            self.error("no model loaded yet");
            return Vec::new();
        };
        if !model.is_moe() {
            self.error("this model has no experts to knock out");
            return Vec::new();
        }
        let (n_layer, n_expert, k) = (model.n_layer, model.n_expert, model.n_expert_used);
        match args.words.as_slice() {
            [] => {
                self.error(format!("usage: {KNOCKOUT_USAGE}"));
                return Vec::new();
            }
            ["clear"] | ["off"] => {
                self.interventions.clear();
                self.info("every expert is back in the routers' choice");
            }
            [layer, experts @ ..] => {
                let Some(layer) = layer.parse::<u32>().ok().filter(|l| *l < n_layer) else {
                    self.error(format!(
                        "layer must be 0..{}: usage: {KNOCKOUT_USAGE}",
                        n_layer.saturating_sub(1)
                    ));
                    return Vec::new();
                };
                let mut ids = Vec::new();
                for e in experts {
                    match e.parse::<u16>() {
                        Ok(e) if u32::from(e) < n_expert => ids.push(e),
                        _ => {
                            self.error(format!(
                                "experts are 0..{}: usage: {KNOCKOUT_USAGE}",
                                n_expert - 1
                            ));
                            return Vec::new();
                        }
                    }
                }
                ids.sort_unstable();
                ids.dedup();
                if ids.len() as u32 > n_expert.saturating_sub(k) {
                    self.error(format!(
                        "at most {} of {n_expert} experts can go: each token still needs {k}",
                        n_expert.saturating_sub(k)
                    ));
                    return Vec::new();
                }
                if ids.is_empty() {
                    self.info(format!("layer {layer}: every expert is back"));
                } else {
                    let list: Vec<String> = ids.iter().map(|e| format!("e{e}")).collect();
                    self.info(format!(
                        "layer {layer}: {} knocked out, from the next token (the routing pane marks them ✗)",
                        list.join(" ")
                    ));
                }
                self.interventions.set_knockout(layer, ids);
            }
        }
        vec![EngineCommand::SetInterventions(self.interventions.clone())]
    }

    pub(super) fn cmd_lora(&mut self, args: &Args) -> Vec<EngineCommand> {
        let Some(adapter) = self.model().and_then(|m| m.lora_adapter.clone()) else {
            self.error("this model was loaded without a LoRA adapter (--lora PATH loads one)");
            return Vec::new();
        };
        let on = match args.first() {
            Some("on") => true,
            Some("off") => false,
            None | Some("toggle") => !self.chat.lora_on,
            Some(_) => {
                self.error("usage: /lora on | off (no argument: switch)");
                return Vec::new();
            }
        };
        self.chat.lora_on = on;
        self.info(format!(
            "LoRA adapter {adapter} {}, from the next token (the next message is read again under it)",
            if on { "on" } else { "off" }
        ));
        vec![EngineCommand::SetLora(on)]
    }

    pub(super) fn cmd_experts(&mut self, args: &Args) -> Vec<EngineCommand> {
        let Some(model) = self.model() else {
            self.error("no model loaded yet");
            return Vec::new();
        };
        if !model.is_moe() {
            self.error("this model has no experts");
            return Vec::new();
        }
        let (n_expert, used) = (model.n_expert, model.n_expert_used);
        let Some(k) = args
            .first()
            .and_then(|a| a.parse::<u32>().ok())
            .filter(|k| (1..=n_expert).contains(k))
        else {
            self.error(format!(
                "usage: /experts <1..{n_expert}>: experts each token uses (now {used})"
            ));
            return Vec::new();
        };
        if self.chat.running.is_some() {
            self.error("wait for the reply to finish (or press Esc) before reloading");
            return Vec::new();
        }
        self.interventions.clear();
        self.chat.engine = crate::app::EngineState::Loading;
        self.info(format!(
            "loading the model again with {k} experts per token; the conversation stays"
        ));
        vec![EngineCommand::Reload {
            experts_used: Some(k),
        }]
    }
}
