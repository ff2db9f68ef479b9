//! The model picker (Alt+M, `/models`): the models discovery finds on this machine, with
//! the same facts as `moe-tutor model list`; Enter switches the engine to the selected one
//! without restarting (`EngineCommand::SwitchModel`), and the conversation's journal notes
//! the switch once the new model has loaded.

use std::path::PathBuf;

use super::Overlay;
use crate::app::keymap::Action;
use crate::app::App;
use crate::engine::api::EngineCommand;
use crate::i18n::tr_with;
use crate::model::discover::{self, Entry, Locations};

/// A model the picker offers to download (`moe-tutor model pull NAME`).
#[derive(Debug, Clone, PartialEq)]
pub struct DownloadOffer {
    /// The curated name (`/pull NAME`).
    pub name: String,
    /// What the row says, in the learner's language.
    pub label: String,
}

/// Download offers shown under the discovered models: the curated real MoE models
/// (assets/models/curated.toml), smallest first. Enter on one starts `/pull NAME`.
pub fn download_offers(lang: &str) -> Vec<DownloadOffer> {
    crate::model::pull::curated_offers(lang)
        .into_iter()
        .map(|o| DownloadOffer {
            name: o.name,
            label: o.label,
        })
        .collect()
}

/// The picker's state: what was found when it opened and the row selected.
#[derive(Debug)]
pub struct ModelPicker {
    pub entries: Vec<Entry>,
    pub selected: usize,
    /// Free memory when it opened (`None`: unknown), for the "fits" column.
    pub free: Option<u64>,
    pub offers: Vec<DownloadOffer>,
    /// The search thread's answer, until it has come (the list is empty meanwhile).
    pub searching: Option<std::sync::mpsc::Receiver<Vec<Entry>>>,
}

impl App {
    /// Folders from the settings' `[models] folders`, searched by the picker.
    pub fn set_model_folders(&mut self, folders: Vec<PathBuf>) {
        self.model_folders = folders;
    }

    /// Open the picker and search for models on a worker thread (reading every GGUF
    /// header takes a while on a full disk; the UI must not wait for it).
    pub(crate) fn open_models(&mut self) {
        let locs = Locations::from_env(&self.model_folders, &crate::paths::data_dir());
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("model-search".into())
            .spawn(move || {
                // The receiver is gone only when the picker was closed: nothing to do.
                let _ = tx.send(discover::discover(&locs));
            });
        self.open_model_picker(Vec::new(), discover::available_memory());
        match spawned {
            Ok(_) => {
                if let Some(Overlay::Models(p)) = self.overlay.as_mut() {
                    p.searching = Some(rx);
                }
            }
            Err(e) => self.error(format!("model search: {e}")),
        }
    }

    /// Take the search thread's models once they are there. Returns whether the picker
    /// changed (the event loop calls this on its frame clock).
    pub fn poll_models(&mut self) -> bool {
        let Some(Overlay::Models(p)) = self.overlay.as_mut() else {
            return false;
        };
        let got = match p.searching.as_ref().map(|rx| rx.try_recv()) {
            Some(Ok(entries)) => entries,
            Some(Err(std::sync::mpsc::TryRecvError::Disconnected)) => Vec::new(),
            Some(Err(std::sync::mpsc::TryRecvError::Empty)) | None => return false,
        };
        p.searching = None;
        p.entries = got;
        p.selected = 0;
        self.dirty = true;
        true
    }

    /// Open the picker on `entries` (tests pass their own, and a fixed free memory).
    pub fn open_model_picker(&mut self, entries: Vec<Entry>, free: Option<u64>) {
        let offers = download_offers(self.lang().code());
        self.overlay = Some(Overlay::Models(Box::new(ModelPicker {
            entries,
            selected: 0,
            free,
            offers,
            searching: None,
        })));
    }

    pub(super) fn models_action(&mut self, action: &Action) -> Vec<EngineCommand> {
        let lang = self.lang().code();
        let Some(Overlay::Models(p)) = self.overlay.as_mut() else {
            return Vec::new();
        };
        // Rows: the models found, then the download offers.
        let last = (p.entries.len() + p.offers.len()).saturating_sub(1);
        match action {
            Action::CursorUp | Action::PrevToken => p.selected = p.selected.saturating_sub(1),
            Action::CursorDown | Action::NextToken => p.selected = (p.selected + 1).min(last),
            Action::ScrollUp => p.selected = p.selected.saturating_sub(5),
            Action::ScrollDown => p.selected = (p.selected + 5).min(last),
            Action::Send => {
                if let Some(offer) = p.selected.checked_sub(p.entries.len()) {
                    let Some(name) = p.offers.get(offer).map(|o| o.name.clone()) else {
                        return Vec::new();
                    };
                    self.overlay = None;
                    if let Some(m) = crate::model::pull::find_curated(&name) {
                        let opts = crate::model::pull::PullOptions::from_env();
                        self.start_pull(m.request(), &m.name, opts);
                    }
                    return Vec::new();
                }
                let Some(e) = p.entries.get(p.selected) else {
                    return Vec::new();
                };
                if let Err(why) = &e.found {
                    let args: [(&str, &dyn std::fmt::Display); 2] =
                        [("path", &e.name), ("why", why)];
                    let text = tr_with("notice.switch_refused", lang, &args);
                    self.error(text);
                    return Vec::new();
                }
                let path = e.path.clone();
                self.switching_to = Some(e.name.clone());
                self.overlay = None;
                return vec![EngineCommand::SwitchModel { path }];
            }
            Action::Stop | Action::CloseOverlay | Action::Models => self.overlay = None,
            Action::Quit | Action::Interrupt => {
                self.overlay = None;
                return self.quit_or_interrupt(action);
            }
            _ => {}
        }
        Vec::new()
    }
}
