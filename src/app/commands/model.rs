//! Slash commands that change the model or its routers: `/knockout`, `/force` and
//! `/restrict L E [E ...]` change layer L's choice live (L may be `all`; `clear` removes the
//! rule), checked against the model first; `/lora on|off` switches the LoRA adapter live;
//! `/experts N` loads the model again with N experts per token.

use super::Args;
use crate::app::App;
use crate::engine::api::EngineCommand;
use crate::routing::Interventions;

pub(super) const KNOCKOUT_USAGE: &str =
    "/knockout <layer|all> <expert> [expert ...], or /knockout clear";
pub(super) const FORCE_USAGE: &str = "/force <layer|all> <expert> [expert ...], or /force clear";
pub(super) const RESTRICT_USAGE: &str =
    "/restrict <layer|all> <expert> [expert ...], or /restrict clear";

/// Which rule an intervention command sets.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Rule {
    Knockout,
    Force,
    Restrict,
}

impl Rule {
    fn usage(self) -> &'static str {
        match self {
            Rule::Knockout => KNOCKOUT_USAGE,
            Rule::Force => FORCE_USAGE,
            Rule::Restrict => RESTRICT_USAGE,
        }
    }

    fn set(self, i: &mut Interventions, layer: u32, experts: Vec<u16>) {
        match self {
            Rule::Knockout => i.set_knockout(layer, experts),
            Rule::Force => i.set_force(layer, experts),
            Rule::Restrict => i.set_restrict(layer, experts),
        }
    }

    fn map(self, i: &mut Interventions) -> &mut std::collections::BTreeMap<u32, Vec<u16>> {
        match self {
            Rule::Knockout => &mut i.knockout,
            Rule::Force => &mut i.force,
            Rule::Restrict => &mut i.restrict,
        }
    }

    fn done(self) -> &'static str {
        match self {
            Rule::Knockout => "knocked out (the routing pane marks them ✗)",
            Rule::Force => "forced into every token's choice (★)",
            Rule::Restrict => "are the only experts the layer may choose",
        }
    }
}

impl App {
    pub(super) fn cmd_knockout(&mut self, args: &Args) -> Vec<EngineCommand> {
        self.intervene(Rule::Knockout, args)
    }

    pub(super) fn cmd_force(&mut self, args: &Args) -> Vec<EngineCommand> {
        self.intervene(Rule::Force, args)
    }

    pub(super) fn cmd_restrict(&mut self, args: &Args) -> Vec<EngineCommand> {
        self.intervene(Rule::Restrict, args)
    }

    /// `/knockout`, `/force`, `/restrict`: change one rule for one layer (or every MoE
    /// layer), check the whole set against the model, and send it.
    fn intervene(&mut self, rule: Rule, args: &Args) -> Vec<EngineCommand> {
        let usage = rule.usage();
        let Some(model) = self.model() else {
            self.error("no model loaded yet");
            return Vec::new();
        };
        if !model.is_moe() {
            self.error("this model has no experts to intervene on");
            return Vec::new();
        }
        let (n_layer, n_expert, k, lead) = (
            model.n_layer,
            model.n_expert,
            model.n_expert_used,
            model.n_dense_lead,
        );
        let mut next = self.interventions.clone();
        let said = match args.words.as_slice() {
            [] => {
                self.error(format!("usage: {usage}"));
                return Vec::new();
            }
            ["clear"] | ["off"] => {
                rule.map(&mut next).clear();
                "cleared in every layer".to_string()
            }
            [layer, experts @ ..] => {
                let layers: Vec<u32> = if *layer == "all" {
                    (lead..n_layer).collect()
                } else {
                    match layer.parse::<u32>() {
                        Ok(l) => vec![l],
                        Err(_) => {
                            self.error(format!("usage: {usage}"));
                            return Vec::new();
                        }
                    }
                };
                let mut ids = Vec::new();
                for e in experts {
                    match e.parse::<u16>() {
                        Ok(e) => ids.push(e),
                        Err(_) => {
                            self.error(format!(
                                "experts are numbers 0..{}: usage: {usage}",
                                n_expert.saturating_sub(1)
                            ));
                            return Vec::new();
                        }
                    }
                }
                for &l in &layers {
                    rule.set(&mut next, l, ids.clone());
                }
                let at = if *layer == "all" {
                    "every MoE layer".to_string()
                } else {
                    format!("layer {layer}")
                };
                if ids.is_empty() {
                    format!("{at}: rule cleared")
                } else {
                    let list: Vec<String> = ids.iter().map(|e| format!("e{e}")).collect();
                    format!(
                        "{at}: {} {}, from the next token",
                        list.join(" "),
                        rule.done()
                    )
                }
            }
        };
        if let Err(why) = next.validate(n_layer, n_expert, k, lead) {
            self.error(why);
            return Vec::new();
        }
        self.interventions_before = std::mem::replace(&mut self.interventions, next);
        self.info(said);
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
