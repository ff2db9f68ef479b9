//! Slash commands that change the model or its routers: `/knockout`, `/force` and
//! `/restrict L E [E ...]` change layer L's choice live (L may be `all`; `clear` removes the
//! rule), checked against the model first; `/lora on|off` switches the LoRA adapter live;
//! `/experts N` loads the model again with N experts per token. The routing pane's cell
//! form (a cursor on layer x expert, Alt+K / Alt+F / Alt+C) changes the same rules through
//! the same check.

use super::Args;
use crate::app::App;
use crate::engine::api::EngineCommand;
use crate::i18n::{tr, tr_with};
use crate::routing::interventions::Refusal;
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

    fn done(self, lang: &str) -> String {
        match self {
            Rule::Knockout => tr("notice.done_knockout", lang),
            Rule::Force => tr("notice.done_force", lang),
            Rule::Restrict => tr("notice.done_restrict", lang),
        }
    }
}

/// What a cell key does to the cell's expert in the cell's layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CellRule {
    Knockout,
    Force,
    /// Take the expert out of the layer's knock-out and force lists.
    Clear,
}

impl App {
    /// The routing pane's cell cursor: (model layer, expert), once the learner moved it
    /// onto an expert (Shift+←/→); the layer is the marked one (▶).
    pub fn routing_cell(&self) -> Option<(u32, usize)> {
        let model = self.model().filter(|m| m.is_moe())?;
        let expert = self.cursor.expert(model.n_expert as usize)?;
        let slot = self.layer_slot();
        let layer = self
            .selected_token()
            .and_then(|(_, t)| t.routing.as_ref())
            .and_then(|r| r.layers.get(slot).copied())
            .map_or(model.n_dense_lead + slot as u32, u32::from);
        Some((layer, expert))
    }

    /// The loaded model when it has experts to intervene on; otherwise says why not.
    fn moe_to_intervene_on(&mut self) -> Option<crate::transcript::ModelInfo> {
        let lang = self.lang().code();
        let refusal = match self.model() {
            Some(m) if m.is_moe() => return Some(m.clone()),
            Some(_) => "notice.no_experts_to_intervene",
            None => "notice.no_model",
        };
        self.error(tr(refusal, lang));
        None
    }

    /// A cell key: knock out, force or clear the cell's expert in the cell's layer, checked
    /// and sent like `/knockout L E` and `/force L E`.
    pub(crate) fn intervene_cell(&mut self, what: CellRule) -> Vec<EngineCommand> {
        let lang = self.lang().code();
        if self.moe_to_intervene_on().is_none() {
            return Vec::new();
        }
        let Some((layer, e)) = self.routing_cell() else {
            self.error(tr("notice.pick_cell", lang));
            return Vec::new();
        };
        let at = tr_with("notice.at_layer", lang, &[("layer", &layer)]);
        let e = e as u16;
        let mut next = self.interventions.clone();
        let without =
            |list: &[u16]| -> Vec<u16> { list.iter().copied().filter(|&x| x != e).collect() };
        let knocked = without(next.knocked_out(layer));
        let forced = without(next.forced(layer));
        let said = match what {
            CellRule::Knockout => {
                let mut k = knocked;
                k.push(e);
                next.set_knockout(layer, k);
                next.set_force(layer, forced);
                rule_applied(lang, &at, &format!("e{e}"), Rule::Knockout)
            }
            CellRule::Force => {
                let mut f = forced;
                f.push(e);
                next.set_force(layer, f);
                next.set_knockout(layer, knocked);
                rule_applied(lang, &at, &format!("e{e}"), Rule::Force)
            }
            CellRule::Clear => {
                if knocked.len() == next.knocked_out(layer).len()
                    && forced.len() == next.forced(layer).len()
                {
                    let args: [(&str, &dyn std::fmt::Display); 2] = [("layer", &layer), ("e", &e)];
                    self.info(tr_with("notice.cell_not_set", lang, &args));
                    return Vec::new();
                }
                next.set_knockout(layer, knocked);
                next.set_force(layer, forced);
                tr_with("notice.cell_cleared", lang, &[("layer", &layer), ("e", &e)])
            }
        };
        self.send_interventions(next, said)
    }

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
        let lang = self.lang().code();
        let Some(model) = self.moe_to_intervene_on() else {
            return Vec::new();
        };
        let (n_layer, n_expert, lead) = (model.n_layer, model.n_expert, model.n_dense_lead);
        let mut next = self.interventions.clone();
        let said = match args.words.as_slice() {
            [] => {
                self.usage(usage);
                return Vec::new();
            }
            ["clear"] | ["off"] => {
                rule.map(&mut next).clear();
                tr("notice.rule_cleared_all", lang)
            }
            [layer, experts @ ..] => {
                let layers: Vec<u32> = if *layer == "all" {
                    (lead..n_layer).collect()
                } else {
                    match layer.parse::<u32>() {
                        Ok(l) => vec![l],
                        Err(_) => {
                            self.usage(usage);
                            return Vec::new();
                        }
                    }
                };
                let mut ids = Vec::new();
                for e in experts {
                    match e.parse::<u16>() {
                        Ok(e) => ids.push(e),
                        Err(_) => {
                            let last = n_expert.saturating_sub(1);
                            let args: [(&str, &dyn std::fmt::Display); 2] =
                                [("last", &last), ("usage", &usage)];
                            self.error(tr_with("notice.experts_are_numbers", lang, &args));
                            return Vec::new();
                        }
                    }
                }
                for &l in &layers {
                    rule.set(&mut next, l, ids.clone());
                }
                let at = if *layer == "all" {
                    tr("notice.at_all_layers", lang)
                } else {
                    tr_with("notice.at_layer", lang, &[("layer", layer)])
                };
                if ids.is_empty() {
                    tr_with("notice.rule_cleared_at", lang, &[("at", &at)])
                } else {
                    let list: Vec<String> = ids.iter().map(|e| format!("e{e}")).collect();
                    rule_applied(lang, &at, &list.join(" "), rule)
                }
            }
        };
        self.send_interventions(next, said)
    }

    /// Check `next` against the model, then make it the routers' rules and tell the
    /// engine (the app goes back to the rules before if the engine refuses them).
    fn send_interventions(&mut self, next: Interventions, said: String) -> Vec<EngineCommand> {
        let Some(m) = self.model() else {
            self.error(tr("notice.no_model", self.lang().code()));
            return Vec::new();
        };
        if let Err(why) = next.check(m.n_layer, m.n_expert, m.n_expert_used, m.n_dense_lead) {
            self.error(refusal(&why, self.lang().code()));
            return Vec::new();
        }
        self.interventions_before = std::mem::replace(&mut self.interventions, next);
        self.info(said);
        vec![EngineCommand::SetInterventions(self.interventions.clone())]
    }

    pub(super) fn cmd_lora(&mut self, args: &Args) -> Vec<EngineCommand> {
        let Some(adapter) = self.model().and_then(|m| m.lora_adapter.clone()) else {
            self.error(tr("notice.no_lora", self.lang().code()));
            return Vec::new();
        };
        let on = match args.first() {
            Some("on") => true,
            Some("off") => false,
            None | Some("toggle") => !self.chat.lora_on,
            Some(_) => {
                self.error(tr("notice.lora_usage", self.lang().code()));
                return Vec::new();
            }
        };
        self.chat.lora_on = on;
        let lang = self.lang().code();
        let said = if on {
            tr_with("notice.lora_on", lang, &[("name", &adapter)])
        } else {
            tr_with("notice.lora_off", lang, &[("name", &adapter)])
        };
        self.info(said);
        vec![EngineCommand::SetLora(on)]
    }

    pub(super) fn cmd_experts(&mut self, args: &Args) -> Vec<EngineCommand> {
        let lang = self.lang().code();
        let Some(model) = self.model() else {
            self.error(tr("notice.no_model", lang));
            return Vec::new();
        };
        if !model.is_moe() {
            self.error(tr("notice.no_experts", lang));
            return Vec::new();
        }
        let (n_expert, used) = (model.n_expert, model.n_expert_used);
        let Some(k) = args
            .first()
            .and_then(|a| a.parse::<u32>().ok())
            .filter(|k| (1..=n_expert).contains(k))
        else {
            let args: [(&str, &dyn std::fmt::Display); 2] = [("n", &n_expert), ("used", &used)];
            self.error(tr_with("notice.experts_usage", lang, &args));
            return Vec::new();
        };
        if self.chat.running.is_some() {
            self.error(tr("notice.wait_before_reload", lang));
            return Vec::new();
        }
        self.interventions.clear();
        self.chat.engine = crate::app::EngineState::Loading;
        self.info(tr_with("notice.reloading_experts", lang, &[("k", &k)]));

        vec![EngineCommand::Reload {
            experts_used: Some(k),
        }]
    }
}

/// "layer 3: e1 e2 knocked out …, from the next token", in the learner's language.
fn rule_applied(lang: &str, at: &str, experts: &str, rule: Rule) -> String {
    let done = rule.done(lang);
    let args: [(&str, &dyn std::fmt::Display); 3] =
        [("at", &at), ("experts", &experts), ("done", &done)];
    tr_with("notice.rule_applied", lang, &args)
}

/// Why the rules do not fit the model, in the learner's language.
fn refusal(r: &Refusal, lang: &str) -> String {
    type Values<'a> = Vec<(&'a str, &'a dyn std::fmt::Display)>;
    let args: Values = match r {
        Refusal::NoExperts => Vec::new(),
        Refusal::NoLayer { layer, last } => vec![("layer", layer), ("last", last)],
        Refusal::DenseLayer { layer, lead, last } => {
            vec![("layer", layer), ("lead", lead), ("last", last)]
        }
        Refusal::NoExpert {
            layer,
            expert,
            last,
        } => vec![("layer", layer), ("expert", expert), ("last", last)],
        Refusal::TooManyForced { layer, n, k } => vec![("layer", layer), ("n", n), ("k", k)],
        Refusal::ForcedBlocked { layer, experts } => vec![("layer", layer), ("experts", experts)],
        Refusal::TooFewLeft {
            layer,
            left,
            n_expert,
            k,
        } => vec![("layer", layer), ("left", left), ("n", n_expert), ("k", k)],
    };
    match r {
        Refusal::NoExperts => tr("notice.refused_no_experts", lang),
        Refusal::NoLayer { .. } => tr_with("notice.refused_no_layer", lang, &args),
        Refusal::DenseLayer { .. } => tr_with("notice.refused_dense_layer", lang, &args),
        Refusal::NoExpert { .. } => tr_with("notice.refused_no_expert", lang, &args),
        Refusal::TooManyForced { .. } => tr_with("notice.refused_too_many_forced", lang, &args),
        Refusal::ForcedBlocked { .. } => tr_with("notice.refused_forced_blocked", lang, &args),
        Refusal::TooFewLeft { .. } => tr_with("notice.refused_too_few_left", lang, &args),
    }
}
