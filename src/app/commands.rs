//! Slash commands typed into the input. One table ([`SLASH`]) holds each command's names,
//! usage, help rows and handler: dispatch, the help overlay and `/help` all read it, so a
//! command cannot be dispatched without being listed or listed without being dispatched.
//! A message starting with `//` is sent with one `/` removed.

mod branch;
mod model;
mod stats;

pub(crate) use model::CellRule;

use super::keymap::Action;
use super::App;
use crate::engine::api::EngineCommand;
use crate::i18n::{tr, tr_with};
use crate::pane::Pane;

type Run = fn(&mut App, &Args) -> Vec<EngineCommand>;

/// The words after the command name.
pub struct Args<'a> {
    /// The whole line, command included.
    pub line: &'a str,
    /// Whitespace-separated words after the name.
    pub words: Vec<&'a str>,
    /// Everything after the name, trimmed.
    pub rest: &'a str,
}

impl Args<'_> {
    pub fn first(&self) -> Option<&str> {
        self.words.first().copied()
    }
}

/// One slash command.
pub struct SlashCommand {
    /// Its names, the first one canonical (`/temp`, then aliases).
    pub names: &'static [&'static str],
    /// How to call it, shown when it is called wrongly.
    pub usage: &'static str,
    /// Rows of the help overlay: an example call and what it does (a message key).
    pub help: &'static [(&'static str, &'static str)],
    run: Run,
}

impl SlashCommand {
    /// Whether `name` (with its `/`) calls this command.
    pub fn answers_to(&self, name: &str) -> bool {
        self.names.contains(&name)
    }
}

const TEMP_USAGE: &str = "/temp <0..2>, e.g. /temp 0.8 (0 = always the most likely token)";
const TOP_P_USAGE: &str = "/top_p <0.05..1>, e.g. /top_p 0.9";
const SEED_USAGE: &str = "/seed <number>, e.g. /seed 7";
const EXPORT_USAGE: &str = "/export [FILE]";
const LORA_USAGE: &str = "/lora on | off (no argument: switch)";
const LAYER_USAGE: &str = "/layer <model layer>, e.g. /layer 12";

/// Every slash command, in help order.
pub const SLASH: &[SlashCommand] = &[
    SlashCommand {
        names: &["/temp", "/temperature"],
        usage: TEMP_USAGE,
        help: &[("/temp 0.8", "slash.temp")],
        run: App::cmd_temperature,
    },
    SlashCommand {
        names: &["/top_p", "/topp", "/top-p"],
        usage: TOP_P_USAGE,
        help: &[("/top_p 0.9", "slash.top_p")],
        run: App::cmd_top_p,
    },
    SlashCommand {
        names: &["/seed"],
        usage: SEED_USAGE,
        help: &[("/seed 7", "slash.seed")],
        run: App::cmd_seed,
    },
    SlashCommand {
        names: &["/regen", "/regenerate"],
        usage: "/regen",
        help: &[("/regen", "slash.regen")],
        run: |app, _| app.update(Action::Regenerate),
    },
    SlashCommand {
        names: &["/edit"],
        usage: "/edit",
        help: &[("/edit", "slash.edit")],
        run: |app, _| app.update(Action::EditLast),
    },
    SlashCommand {
        names: &["/clear", "/new"],
        usage: "/clear",
        help: &[("/clear", "slash.clear")],
        run: |app, _| app.clear(),
    },
    SlashCommand {
        names: &["/history", "/conversations"],
        usage: "/history",
        help: &[("/history", "slash.history")],
        run: |app, _| app.update(Action::Conversations),
    },
    SlashCommand {
        names: &["/export"],
        usage: EXPORT_USAGE,
        help: &[("/export", "slash.export")],
        run: |app, args| {
            app.export((!args.rest.is_empty()).then_some(args.rest));
            Vec::new()
        },
    },
    SlashCommand {
        names: &["/branch"],
        usage: branch::BRANCH_USAGE,
        help: &[
            ("/branch 2", "slash.branch"),
            ("/branch \"text\"", "slash.branch_text"),
        ],
        run: App::cmd_branch,
    },
    SlashCommand {
        names: &["/branches"],
        usage: branch::BRANCHES_USAGE,
        help: &[("/branches", "slash.branches")],
        run: App::cmd_branches,
    },
    SlashCommand {
        names: &["/stats"],
        usage: stats::STATS_USAGE,
        help: &[
            ("/stats 1.25", "slash.stats"),
            ("/stats export FILE.csv", "slash.stats_export"),
        ],
        run: App::cmd_stats,
    },
    SlashCommand {
        names: &["/knockout", "/ko"],
        usage: model::KNOCKOUT_USAGE,
        help: &[
            ("/knockout 1 3 5", "slash.knockout"),
            ("/knockout clear", "slash.knockout_clear"),
        ],
        run: App::cmd_knockout,
    },
    SlashCommand {
        names: &["/force"],
        usage: model::FORCE_USAGE,
        help: &[("/force 1 2", "slash.force")],
        run: App::cmd_force,
    },
    SlashCommand {
        names: &["/restrict"],
        usage: model::RESTRICT_USAGE,
        help: &[("/restrict all 0 1 2 3", "slash.restrict")],
        run: App::cmd_restrict,
    },
    SlashCommand {
        names: &["/experts", "/k"],
        usage: "/experts <1..E>",
        help: &[("/experts 8", "slash.experts")],
        run: App::cmd_experts,
    },
    SlashCommand {
        names: &["/lora"],
        usage: LORA_USAGE,
        help: &[("/lora off", "slash.lora")],
        run: App::cmd_lora,
    },
    SlashCommand {
        names: &["/pane"],
        usage: "/pane chat | routing | sampling | strip | status | stats",
        help: &[("/pane routing", "slash.pane")],
        run: App::cmd_pane,
    },
    SlashCommand {
        names: &["/layer"],
        usage: LAYER_USAGE,
        help: &[("/layer 12", "slash.layer")],
        run: App::cmd_layer,
    },
    SlashCommand {
        names: &["/lens"],
        usage: "/lens",
        help: &[("/lens", "slash.lens")],
        run: |app, _| app.update(Action::Lens),
    },
    SlashCommand {
        names: &["/experiment", "/exp"],
        usage: "/experiment [GRID.toml]",
        help: &[
            ("/experiment", "slash.experiment"),
            ("/experiment grid.toml", "slash.experiment_file"),
        ],
        run: App::cmd_experiment,
    },
    SlashCommand {
        names: &["/pull"],
        usage: "/pull NAME | /pull REPO FILE | /pull cancel",
        help: &[
            ("/pull granite-1b-a400m", "slash.pull"),
            ("/pull cancel", "slash.pull_cancel"),
        ],
        run: App::cmd_pull,
    },
    SlashCommand {
        names: &["/models"],
        usage: "/models",
        help: &[("/models", "slash.models")],
        run: |app, _| app.update(Action::Models),
    },
    SlashCommand {
        names: &["/help", "/?"],
        usage: "/help",
        help: &[("/help", "slash.help")],
        run: |app, _| app.update(Action::ToggleHelp),
    },
];

/// The command `name` calls, if any.
pub fn find(name: &str) -> Option<&'static SlashCommand> {
    SLASH.iter().find(|c| c.answers_to(name))
}

impl App {
    pub(crate) fn slash_command(&mut self, line: &str) -> Vec<EngineCommand> {
        let mut words = line.split_whitespace();
        let name = words.next().unwrap_or("");
        let Some(cmd) = find(name) else {
            let lang = self.lang().code();
            self.error(tr_with("notice.unknown_command", lang, &[("name", &name)]));
            return Vec::new();
        };
        let rest = line
            .trim_start()
            .split_once(char::is_whitespace)
            .map_or("", |(_, r)| r.trim());
        let args = Args {
            line,
            words: words.collect(),
            rest,
        };
        (cmd.run)(self, &args)
    }

    fn number<T: std::str::FromStr>(&mut self, args: &Args, usage: &str) -> Option<T> {
        let v = args.first().and_then(|a| a.parse::<T>().ok());
        if v.is_none() {
            self.usage(usage);
        }
        v
    }

    fn cmd_temperature(&mut self, args: &Args) -> Vec<EngineCommand> {
        let usage = TEMP_USAGE;
        let Some(t) = self.number::<f32>(args, usage) else {
            return Vec::new();
        };
        if !t.is_finite() {
            self.usage(usage);
            return Vec::new();
        }
        let mut p = self.params();
        p.temperature = t;
        let cmds = self.update(Action::SetSampling(p));
        let t = format!("{:.2}", self.params().temperature);
        self.info(tr_with(
            "notice.temperature_set",
            self.lang().code(),
            &[("t", &t)],
        ));
        cmds
    }

    fn cmd_top_p(&mut self, args: &Args) -> Vec<EngineCommand> {
        let usage = TOP_P_USAGE;
        let Some(v) = self.number::<f32>(args, usage) else {
            return Vec::new();
        };
        if !v.is_finite() {
            self.usage(usage);
            return Vec::new();
        }
        let mut p = self.params();
        p.top_p = v;
        let cmds = self.update(Action::SetSampling(p));
        let p = format!("{:.2}", self.params().top_p);
        self.info(tr_with(
            "notice.top_p_set",
            self.lang().code(),
            &[("p", &p)],
        ));
        cmds
    }

    fn cmd_pane(&mut self, args: &Args) -> Vec<EngineCommand> {
        match args.first().and_then(Pane::parse) {
            Some(pane) => self.update(Action::ShowPane(pane)),
            None => {
                let names: Vec<&str> = Pane::ALL.iter().map(|p| p.name()).collect();
                self.usage(&format!("/pane {}", names.join(" | ")));
                Vec::new()
            }
        }
    }

    fn cmd_layer(&mut self, args: &Args) -> Vec<EngineCommand> {
        let Some(model) = self.model() else {
            self.error(tr("notice.no_model", self.lang().code()));
            return Vec::new();
        };
        if !model.is_moe() {
            self.error(tr("notice.no_moe_layers", self.lang().code()));
            return Vec::new();
        }
        let (lead, n_layer) = (model.n_dense_lead, model.n_layer);
        match args.first().and_then(|a| a.parse::<u32>().ok()) {
            Some(l) if (lead..n_layer).contains(&l) => self.update(Action::SelectLayer(l)),
            _ => {
                let last = n_layer.saturating_sub(1);
                self.error(tr_with(
                    "notice.layer_usage",
                    self.lang().code(),
                    &[("lead", &lead), ("last", &last)],
                ));
                Vec::new()
            }
        }
    }

    fn cmd_seed(&mut self, args: &Args) -> Vec<EngineCommand> {
        let Some(seed) = self.number::<u64>(args, SEED_USAGE) else {
            return Vec::new();
        };
        let mut p = self.params();
        p.seed = seed;
        let cmds = self.update(Action::SetSampling(p));
        self.info(tr_with(
            "notice.seed_set",
            self.lang().code(),
            &[("seed", &seed)],
        ));
        cmds
    }

    /// Refuse a command's arguments, showing how it is called (command names and
    /// keywords stay as typed; the words around them follow the learner's language).
    pub(crate) fn usage(&mut self, usage: &str) {
        let lang = self.lang().code();
        let usage = localise_usage(usage, lang);
        self.error(tr_with("notice.usage", lang, &[("usage", &usage)]));
    }
}

/// Every usage line that has words in it, with its catalogue entry (whose English is the
/// line itself; a test keeps the two equal).
const USAGE_KEYS: &[(&str, &str)] = &[
    (TEMP_USAGE, "usage.temp"),
    (TOP_P_USAGE, "usage.top_p"),
    (SEED_USAGE, "usage.seed"),
    (branch::BRANCH_USAGE, "usage.branch"),
    (branch::BRANCHES_USAGE, "usage.branches"),
    (stats::STATS_USAGE, "usage.stats"),
    (model::KNOCKOUT_USAGE, "usage.knockout"),
    (model::FORCE_USAGE, "usage.force"),
    (model::RESTRICT_USAGE, "usage.restrict"),
    (EXPORT_USAGE, "usage.export"),
    (LORA_USAGE, "usage.lora"),
    (LAYER_USAGE, "usage.layer"),
];

/// `usage` with the known usage lines in it put into `lang`.
fn localise_usage(usage: &str, lang: &str) -> String {
    USAGE_KEYS
        .iter()
        .filter(|(line, _)| usage.contains(line))
        .max_by_key(|(line, _)| line.len())
        .map_or_else(
            || usage.to_string(),
            |(line, key)| usage.replace(line, &tr(key, lang)),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_start_with_a_slash() {
        let mut seen = Vec::new();
        for c in SLASH {
            assert!(!c.help.is_empty(), "{:?} has no help row", c.names);
            for n in c.names {
                assert!(n.starts_with('/'), "{n}");
                assert!(!seen.contains(n), "{n} named twice");
                seen.push(*n);
            }
        }
    }

    #[test]
    fn usage_lines_have_their_words_in_both_languages() {
        for (line, key) in USAGE_KEYS {
            assert_eq!(
                tr(key, "en"),
                *line,
                "{key}: the English must be the line itself"
            );
            let zh = tr(key, "zh-CN");
            assert_ne!(zh, *line, "{key}: no Chinese");
            let name = line.split_whitespace().next().unwrap_or_default();
            assert!(zh.starts_with(name), "{key}: {zh} must keep {name}");
        }
        let composed = format!("{} (1..3)", branch::BRANCHES_USAGE);
        assert_eq!(
            localise_usage(&composed, "zh-CN"),
            "/branches [分支编号] (1..3)"
        );
        assert_eq!(
            localise_usage("/pane chat | routing", "zh-CN"),
            "/pane chat | routing"
        );
    }
}
