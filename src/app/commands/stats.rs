//! `/stats [C]`: show the expert statistics pane, counting capacity drops at factor C (no
//! C: the next of 1.0, 1.25, 2.0 when the pane is already shown). `/stats export FILE`:
//! the conversation's statistics to FILE, CSV or JSON by its extension, with the same
//! columns and code as `moe-tutor stats --csv|--json`, written atomically.

use std::path::Path;

use super::Args;
use crate::app::keymap::Action;
use crate::app::{App, Pane};
use crate::engine::api::EngineCommand;
use crate::i18n::{tr, tr_with};
use crate::routing::stats_export::{to_csv, to_json};

pub(super) const STATS_USAGE: &str =
    "/stats [capacity factor, e.g. 1.25] | /stats export FILE.csv|FILE.json";

/// The export's format, from the file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Json,
}

fn format_of(path: &Path) -> Option<Format> {
    let ext = path.extension()?.to_string_lossy().to_ascii_lowercase();
    match ext.as_str() {
        "csv" => Some(Format::Csv),
        "json" => Some(Format::Json),
        _ => None,
    }
}

impl App {
    pub(super) fn cmd_stats(&mut self, args: &Args) -> Vec<EngineCommand> {
        let lang = self.lang().code();
        match args.first() {
            Some("export") => {
                let file = args
                    .rest
                    .strip_prefix("export")
                    .map(str::trim)
                    .unwrap_or("");
                self.export_stats(file);
                Vec::new()
            }
            Some(c) => match c.parse::<f64>() {
                Ok(c) if self.chat.set_stats_capacity(c) => self.show_stats(),
                _ => {
                    self.error(tr_with("stats.bad_factor", lang, &[("got", &c)]));
                    Vec::new()
                }
            },
            None => {
                if self.pane() == Pane::Stats {
                    let next = self.chat.next_stats_capacity();
                    self.chat.set_stats_capacity(next);
                }
                self.show_stats()
            }
        }
    }

    fn show_stats(&mut self) -> Vec<EngineCommand> {
        let cmds = self.update(Action::ShowPane(Pane::Stats));
        let lang = self.lang().code();
        let c = self.chat.stats_capacity();
        self.info(tr_with("stats.shown", lang, &[("c", &c)]));
        cmds
    }

    /// Write the conversation's statistics to `file` (CSV or JSON by extension).
    pub(crate) fn export_stats(&mut self, file: &str) {
        let lang = self.lang().code();
        let file = file.trim_matches('"');
        if file.is_empty() {
            self.usage(STATS_USAGE);
            return;
        }
        let path = Path::new(file);
        let Some(format) = format_of(path) else {
            self.error(tr_with(
                "stats.export_extension",
                lang,
                &[("file", &path.display())],
            ));
            return;
        };
        let Some(stats) = self.chat.expert_stats() else {
            self.info(tr("stats.empty", lang));
            return;
        };
        let text = match format {
            Format::Csv => Ok(to_csv(&stats)),
            Format::Json => to_json(&stats),
        };
        let result = text.and_then(|t| {
            crate::store::atomic::write_atomic(path, t.as_bytes()).map_err(|e| e.to_string())
        });
        match result {
            Ok(()) => self.info(tr_with(
                "stats.exported",
                lang,
                &[
                    ("n", &stats.layers.len()),
                    ("file", &path.display()),
                    ("c", &self.chat.stats_capacity()),
                ],
            )),
            Err(e) => self.error(tr_with(
                "stats.export_failed",
                lang,
                &[("file", &path.display()), ("why", &e)],
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_picks_the_format() {
        assert_eq!(format_of(Path::new("a.csv")), Some(Format::Csv));
        assert_eq!(format_of(Path::new("dir/a.JSON")), Some(Format::Json));
        assert_eq!(format_of(Path::new("a.txt")), None);
        assert_eq!(format_of(Path::new("a")), None);
    }
}
