//! `/knockout L E [E ...]` removes experts from the routers' choice in layer L, live;
//! `/knockout clear` (or `/knockout L` with no experts) brings them back.

use super::super::state::App;
use crate::engine::api::EngineCommand;

const USAGE: &str = "usage: /knockout <layer> <expert> [expert ...], or /knockout clear";

impl App {
    pub(crate) fn knockout_command(&mut self, line: &str) -> Vec<EngineCommand> {
        let args: Vec<&str> = line.split_whitespace().skip(1).collect();
        let Some(model) = self.model.as_ref() else {
            self.error("no model loaded yet");
            return Vec::new();
        };
        if !model.is_moe() {
            self.error("this model has no experts to knock out");
            return Vec::new();
        }
        let (n_layer, n_expert, k) = (model.n_layer, model.n_expert, model.n_expert_used);
        match args.as_slice() {
            [] => {
                self.error(USAGE);
                return Vec::new();
            }
            ["clear"] | ["off"] => {
                self.interventions.clear();
                self.info("every expert is back in the routers' choice");
            }
            [layer, experts @ ..] => {
                let Some(layer) = layer.parse::<u32>().ok().filter(|l| *l < n_layer) else {
                    self.error(format!(
                        "layer must be 0..{}: {USAGE}",
                        n_layer.saturating_sub(1)
                    ));
                    return Vec::new();
                };
                let mut ids = Vec::new();
                for e in experts {
                    match e.parse::<u16>() {
                        Ok(e) if u32::from(e) < n_expert => ids.push(e),
                        _ => {
                            self.error(format!("experts are 0..{}: {USAGE}", n_expert - 1));
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
                    self.interventions.set_knockout(layer, ids);
                    self.info(format!("layer {layer}: every expert is back"));
                } else {
                    let list: Vec<String> = ids.iter().map(|e| format!("e{e}")).collect();
                    self.info(format!(
                        "layer {layer}: {} knocked out, from the next token (the routing pane marks them ✗)",
                        list.join(" ")
                    ));
                    self.interventions.set_knockout(layer, ids);
                }
            }
        }
        vec![EngineCommand::SetInterventions(self.interventions.clone())]
    }
}
