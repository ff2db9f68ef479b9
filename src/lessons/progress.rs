//! Where the learner is: the open lesson and, per lesson, the step reached and whether it
//! was finished. One small JSON file in the data directory, saved atomically (temp file in
//! the same directory, fsync, rename), read tolerantly (a damaged file starts afresh).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LessonProgress {
    /// The step to show when the lesson is opened again (0-based).
    pub step: usize,
    /// The highest step reached.
    #[serde(default)]
    pub reached: usize,
    #[serde(default)]
    pub completed: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    #[serde(default = "version")]
    pub version: u32,
    /// The lesson open when the app last saved (reopened at start).
    #[serde(default)]
    pub current: Option<String>,
    #[serde(default)]
    pub lessons: BTreeMap<String, LessonProgress>,
    /// The language last chosen with F10; used at start unless `--lang` or the config's
    /// `language` names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<super::Lang>,
}

fn version() -> u32 {
    1
}

/// The progress file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressStore {
    pub path: PathBuf,
}

impl ProgressStore {
    /// `<data dir>/lessons/progress.json`.
    pub fn default_location() -> Self {
        ProgressStore {
            path: crate::paths::data_dir()
                .join("lessons")
                .join("progress.json"),
        }
    }

    pub fn at(path: impl Into<PathBuf>) -> Self {
        ProgressStore { path: path.into() }
    }

    /// The saved progress; nothing saved yet or an unreadable file give an empty one
    /// (with the reason, for a notice).
    pub fn load(&self) -> (Progress, Option<ProgressProblem>) {
        match std::fs::read(&self.path) {
            Ok(bytes) => match serde_json::from_slice::<Progress>(&bytes) {
                Ok(p) => (p, None),
                Err(e) => (
                    Progress::default(),
                    Some(ProgressProblem::Damaged {
                        path: self.path.clone(),
                        why: e.to_string(),
                    }),
                ),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Progress::default(), None),
            Err(e) => (
                Progress::default(),
                Some(ProgressProblem::Unreadable {
                    path: self.path.clone(),
                    why: e.to_string(),
                }),
            ),
        }
    }

    pub fn save(&self, progress: &Progress) -> Result<(), ProgressProblem> {
        let unsaved = |why: String| ProgressProblem::Unsaved {
            path: self.path.clone(),
            why,
        };
        let json = serde_json::to_vec_pretty(progress).map_err(|e| unsaved(e.to_string()))?;
        crate::store::atomic::write_atomic(&self.path, &json).map_err(|e| unsaved(e.to_string()))
    }
}

/// What went wrong with the progress file: the app says it in the learner's language,
/// `Display` in English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgressProblem {
    /// The file is not valid progress; the app starts afresh.
    Damaged { path: PathBuf, why: String },
    /// The file exists but cannot be read.
    Unreadable { path: PathBuf, why: String },
    /// The progress could not be written.
    Unsaved { path: PathBuf, why: String },
}

impl std::fmt::Display for ProgressProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProgressProblem::Damaged { path, why } => write!(
                f,
                "lesson progress in {} is damaged ({why}); starting afresh",
                path.display()
            ),
            ProgressProblem::Unreadable { path, why } => {
                write!(f, "cannot read {}: {why}", path.display())
            }
            ProgressProblem::Unsaved { path, why } => write!(
                f,
                "cannot save lesson progress to {}: {why}",
                path.display()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_and_loads_and_survives_damage() {
        let dir = std::env::temp_dir().join(format!("moe-tutor-progress-{}", std::process::id()));
        let store = ProgressStore::at(dir.join("p.json"));
        assert_eq!(store.load(), (Progress::default(), None));
        let mut p = Progress {
            current: Some("welcome".into()),
            ..Progress::default()
        };
        p.lessons.insert(
            "welcome".into(),
            LessonProgress {
                step: 2,
                reached: 2,
                completed: false,
            },
        );
        assert_eq!(store.save(&p), Ok(()));
        assert_eq!(store.load().0, p);
        let _ = std::fs::write(&store.path, b"{not json");
        let (fresh, why) = store.load();
        assert_eq!(fresh, Progress::default());
        assert!(why.is_some_and(|w| w.to_string().contains("damaged")));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
