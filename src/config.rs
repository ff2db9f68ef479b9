//! Settings: a TOML file merged over built-in defaults (`config/default.toml`, which is
//! also what a first run writes for the user to edit). Saves are atomic; a file that cannot
//! be read is moved aside and the defaults are used, with a notice saying so.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store::atomic::write_atomic;

/// The built-in defaults, as a commented TOML file.
pub const DEFAULT_TOML: &str = include_str!("config/default.toml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// The model to open when `--model` is not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<PathBuf>,
    pub language: String,
    pub sampling: SamplingDefaults,
    pub theme: Theme,
    /// Where to look for models besides the usual places.
    #[serde(default)]
    pub models: ModelsSettings,
    /// Action name -> keys that replace the action's default keys.
    #[serde(default)]
    pub keymap: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SamplingDefaults {
    pub temperature: f32,
    pub top_p: f32,
    pub seed: u64,
    pub max_tokens: u32,
}

/// `[models]`: extra folders searched for GGUF files (with their subfolders) by
/// `model list` and the model picker; `~/` means the home folder.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelsSettings {
    #[serde(default)]
    pub folders: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Theme {
    pub colors: ColorChoice,
}

/// How many colours to draw with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColorChoice {
    #[serde(rename = "auto")]
    Auto,
    #[serde(rename = "truecolor")]
    TrueColor,
    #[serde(rename = "256")]
    Ansi256,
    #[serde(rename = "16")]
    Ansi16,
    #[serde(rename = "none")]
    None,
}

impl Default for Config {
    fn default() -> Self {
        // The embedded file is checked by a test; this fallback only guards against a
        // broken build of it.
        parse_merged(DEFAULT_TOML).unwrap_or(Config {
            model: None,
            language: "auto".into(),
            sampling: SamplingDefaults {
                temperature: 0.7,
                top_p: 0.9,
                seed: 42,
                max_tokens: 512,
            },
            theme: Theme {
                colors: ColorChoice::Auto,
            },
            models: ModelsSettings::default(),
            keymap: BTreeMap::new(),
        })
    }
}

/// A loaded config and what the user should be told about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub config: Config,
    pub path: PathBuf,
    /// Shown in the app's notice line (a damaged file moved aside, unknown keys).
    pub notices: Vec<Notice>,
}

/// Something the user should be told about the settings file. `Display` gives English;
/// [`Notice::text`] the learner's language (the language is known only after loading).
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// The file exists but cannot be read; the defaults are used.
    Unreadable { path: PathBuf, why: String },
    /// Keys the settings do not know, ignored.
    UnknownKeys { path: PathBuf, keys: Vec<String> },
    /// The file could not be parsed and was moved to `aside`.
    MovedAside { why: String, aside: PathBuf },
    /// The file could not be parsed nor moved aside (`err`).
    Damaged {
        path: PathBuf,
        why: String,
        err: String,
    },
    /// A message from elsewhere, already worded.
    Other(String),
    /// Files of the user's that other accounts could read, tightened on start.
    Private(crate::store::private::Exposed),
}

impl Notice {
    /// The notice in `lang` ("en" or "zh-CN").
    pub fn text(&self, lang: &str) -> String {
        use crate::i18n::tr_with;
        type Arg<'a> = (&'a str, &'a dyn std::fmt::Display);
        match self {
            Notice::Unreadable { path, why } => {
                let args: [Arg; 2] = [("path", &path.display()), ("why", why)];
                tr_with("notice.config_unreadable", lang, &args)
            }
            Notice::UnknownKeys { path, keys } => {
                let args: [Arg; 2] = [("path", &path.display()), ("keys", &keys.join(", "))];
                tr_with("notice.config_unknown_keys", lang, &args)
            }
            Notice::MovedAside { why, aside } => {
                let args: [Arg; 2] = [("why", why), ("aside", &aside.display())];
                tr_with("notice.config_moved_aside", lang, &args)
            }
            Notice::Damaged { path, why, err } => {
                let args: [Arg; 3] = [("path", &path.display()), ("why", why), ("err", err)];
                tr_with("notice.config_damaged", lang, &args)
            }
            Notice::Other(text) => text.clone(),
            Notice::Private(exposed) => exposed.text(lang),
        }
    }
}

impl std::fmt::Display for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text("en"))
    }
}

/// `$MOE_TUTOR_CONFIG_DIR/config.toml`; else, when `$MOE_TUTOR_DATA_DIR` is set (tests,
/// portable installs), `config.toml` in it; else the platform's config folder
/// (e.g. `~/.config/moe-tutor/config.toml`).
pub fn config_file() -> PathBuf {
    let env = |k| std::env::var_os(k).filter(|d| !d.is_empty());
    if let Some(d) = env("MOE_TUTOR_CONFIG_DIR") {
        return PathBuf::from(d).join("config.toml");
    }
    if env("MOE_TUTOR_DATA_DIR").is_some() {
        return crate::paths::data_dir().join("config.toml");
    }
    directories::ProjectDirs::from("", "", "moe-tutor")
        .map(|p| p.config_dir().join("config.toml"))
        .unwrap_or_else(|| crate::paths::data_dir().join("config.toml"))
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

fn defaults_table() -> toml::Table {
    DEFAULT_TOML.parse::<toml::Table>().unwrap_or_default()
}

/// The user's text merged over the defaults.
pub fn parse_merged(user: &str) -> Result<Config, String> {
    let over: toml::Table = user.parse().map_err(|e: toml::de::Error| e.to_string())?;
    let mut table = defaults_table();
    merge(&mut table, over);
    Config::deserialize(toml::Value::Table(table)).map_err(|e| e.to_string())
}

/// Keys in the user's table that the defaults do not have (typos, old settings).
fn unknown_keys(user: &toml::Table) -> Vec<String> {
    let defaults = defaults_table();
    let mut out = Vec::new();
    for (k, v) in user {
        if k == "model" || k == "keymap" {
            continue;
        }
        match (defaults.get(k), v) {
            (None, _) => out.push(k.clone()),
            (Some(toml::Value::Table(d)), toml::Value::Table(u)) => out.extend(
                u.keys()
                    .filter(|uk| !d.contains_key(*uk))
                    .map(|uk| format!("{k}.{uk}")),
            ),
            _ => {}
        }
    }
    out
}

/// Load the config at `path`. A missing file gets the commented defaults written (so
/// there is one to edit); a file that cannot be parsed is renamed to
/// `config.toml.damaged-<time>` and the defaults are used.
pub fn load(path: &Path) -> Loaded {
    let mut notices = Vec::new();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Err(e) = write_atomic(path, DEFAULT_TOML.as_bytes()) {
                tracing::warn!("could not write {}: {e}", path.display());
            }
            return Loaded {
                config: Config::default(),
                path: path.to_path_buf(),
                notices,
            };
        }
        Err(e) => {
            // Unreadable (permissions, not UTF-8): leave it alone but say so.
            notices.push(Notice::Unreadable {
                path: path.to_path_buf(),
                why: e.to_string(),
            });
            return Loaded {
                config: Config::default(),
                path: path.to_path_buf(),
                notices,
            };
        }
    };
    match parse_merged(&text) {
        Ok(config) => {
            if let Ok(user) = text.parse::<toml::Table>() {
                let unknown = unknown_keys(&user);
                if !unknown.is_empty() {
                    notices.push(Notice::UnknownKeys {
                        path: path.to_path_buf(),
                        keys: unknown,
                    });
                }
            }
            Loaded {
                config,
                path: path.to_path_buf(),
                notices,
            }
        }
        Err(why) => {
            let why = why.lines().next().unwrap_or("").to_string();
            let aside = path.with_file_name(format!(
                "{}.damaged-{}",
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "config.toml".into()),
                crate::store::time::file_stamp(crate::store::time::now())
            ));
            let moved = std::fs::rename(path, &aside);
            notices.push(match moved {
                Ok(()) => Notice::MovedAside { why, aside },
                Err(e) => Notice::Damaged {
                    path: path.to_path_buf(),
                    why,
                    err: e.to_string(),
                },
            });
            Loaded {
                config: Config::default(),
                path: path.to_path_buf(),
                notices,
            }
        }
    }
}

/// Fill in what the command line left unsaid from the config: the model, the lesson
/// language and the sampling defaults (a flag given on the command line wins).
pub fn apply_to_cli(config: &Config, cli: &mut crate::cli::Cli, matches: &clap::ArgMatches) {
    use clap::parser::ValueSource;
    let given = |id: &str| {
        matches!(
            matches
                .try_get_raw(id)
                .ok()
                .flatten()
                .map(|_| matches.value_source(id)),
            Some(Some(ValueSource::CommandLine | ValueSource::EnvVariable))
        ) || matches.subcommand().is_some_and(|(_, sub)| {
            matches!(
                sub.try_get_raw(id)
                    .ok()
                    .flatten()
                    .map(|_| sub.value_source(id)),
                Some(Some(ValueSource::CommandLine | ValueSource::EnvVariable))
            )
        })
    };
    if cli.model.model.is_none() {
        cli.model.model = config.model.clone();
    }
    if cli.lang.is_none() && config.language != "auto" && !config.language.is_empty() {
        cli.lang = Some(config.language.clone());
    }
    let s = &config.sampling;
    if !given("temperature") {
        cli.sampling.temperature = s.temperature;
    }
    if !given("top_p") {
        cli.sampling.top_p = s.top_p;
    }
    if !given("seed") {
        cli.sampling.seed = s.seed;
    }
    if !given("max_tokens") {
        cli.sampling.max_tokens = s.max_tokens;
    }
}

/// Save `config` to `path` atomically (temp file, fsync, rename).
pub fn save(config: &Config, path: &Path) -> std::io::Result<()> {
    let text = toml::to_string_pretty(config).map_err(std::io::Error::other)?;
    write_atomic(path, text.as_bytes())
}

/// The colour depth to draw with: NO_COLOR (set and not empty) wins, then the config,
/// then the terminal's own claims (COLORTERM, TERM).
pub fn color_depth(choice: ColorChoice, env: impl Fn(&str) -> Option<String>) -> ColorChoice {
    if env("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        return ColorChoice::None;
    }
    if choice != ColorChoice::Auto {
        return choice;
    }
    let colorterm = env("COLORTERM").unwrap_or_default().to_lowercase();
    if colorterm.contains("truecolor") || colorterm.contains("24bit") {
        return ColorChoice::TrueColor;
    }
    let term = env("TERM").unwrap_or_default().to_lowercase();
    if term == "dumb" {
        ColorChoice::None
    } else if term.contains("direct") {
        ColorChoice::TrueColor
    } else if term.contains("256color") {
        ColorChoice::Ansi256
    } else {
        ColorChoice::Ansi16
    }
}
