//! Where moe-tutor keeps its files.

use std::path::PathBuf;

/// The data directory: `$MOE_TUTOR_DATA_DIR` if set (tests use it), else the platform's
/// data directory (e.g. `~/.local/share/moe-tutor`).
pub fn data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("MOE_TUTOR_DATA_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    directories::ProjectDirs::from("", "", "moe-tutor")
        .map(|p| p.data_dir().to_path_buf())
        .unwrap_or_else(|| std::env::temp_dir().join("moe-tutor"))
}

/// The log file; nothing is ever logged to the terminal the UI owns.
pub fn log_file() -> PathBuf {
    data_dir().join("logs").join("moe-tutor.log")
}

/// Verdicts of the child-process model check (`engine::ModelCheck::Child`).
pub fn model_checks_file() -> PathBuf {
    data_dir().join("model-checks.json")
}
