//! Errors from reading or writing GGUF files, each a one-line sentence for a person.

use std::path::PathBuf;

/// Something wrong with a GGUF file, or with writing one.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the file is empty (0 bytes), not a GGUF model")]
    Empty,
    #[error("not a GGUF file (starts with {found})")]
    BadMagic { found: String },
    #[error("this GGUF file was written on a machine of the other byte order (version field {0:#010x}); only little-endian files are supported")]
    ByteSwapped(u32),
    #[error("unsupported GGUF version {0} (versions 2 and 3 are supported)")]
    UnsupportedVersion(u32),
    #[error("file is truncated: it ends at byte {file_len} while reading {what}")]
    Truncated { what: String, file_len: u64 },
    #[error("{what} count {count} is impossible in a file of {file_len} bytes")]
    ImpossibleCount {
        what: String,
        count: u64,
        file_len: u64,
    },
    #[error("{what} at byte {at} claims to be {len} bytes long, but only {left} bytes remain in the file")]
    LengthTooLarge {
        what: String,
        at: u64,
        len: u64,
        left: u64,
    },
    #[error("metadata key '{key}' has unknown value type {code}")]
    UnknownValueType { key: String, code: u32 },
    #[error("metadata key '{key}' holds an array of arrays, which llama.cpp cannot read")]
    NestedArray { key: String },
    #[error("metadata key '{key}' appears twice")]
    DuplicateKey { key: String },
    #[error("metadata '{key}' is wrong: {reason}")]
    BadMetadata { key: String, reason: String },
    /// Metadata llama.cpp would abort on (one of the checks' rules, named by `rule`).
    #[error("metadata '{key}' is wrong: {reason} (llama.cpp would abort on it)")]
    Refused {
        rule: &'static str,
        key: String,
        reason: String,
    },
    #[error("tensor '{0}' appears twice")]
    DuplicateTensor(String),
    #[error("tensor '{name}' has unknown ggml type {code}")]
    UnknownTensorType { name: String, code: u32 },
    #[error(
        "tensor '{name}' uses ggml type {code}, which llama.cpp no longer accepts in GGUF files"
    )]
    RemovedTensorType { name: String, code: u32 },
    #[error("tensor '{name}' has a bad shape: {reason}")]
    BadShape { name: String, reason: String },
    #[error("tensor '{name}' starts at data offset {offset}, which is not a multiple of the alignment {alignment}")]
    Misaligned {
        name: String,
        offset: u64,
        alignment: u64,
    },
    #[error(
        "file is truncated: tensor '{name}' needs bytes {start}..{end} but the file has {file_len}"
    )]
    TensorOutOfFile {
        name: String,
        start: u64,
        end: u64,
        file_len: u64,
    },
    #[error("tensors '{first}' and '{second}' overlap in the file")]
    Overlap { first: String, second: String },
    #[error("tensor '{name}' starts at data offset {offset} but llama.cpp expects {expected} (tensors must follow each other in order, each padded to the alignment)")]
    OutOfOrder {
        name: String,
        offset: u64,
        expected: u64,
    },
    #[error("tensor '{name}' is stored as {dtype}, which this program cannot decode")]
    UnsupportedDequant { name: String, dtype: String },
    #[error("cannot write tensor '{name}': {reason}")]
    InvalidTensor { name: String, reason: String },
    #[error("cannot write metadata '{key}': {reason}")]
    InvalidMetadata { key: String, reason: String },
}

impl GgufError {
    pub(crate) fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        GgufError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Shorten and clean text from a file before it goes into an error message.
pub(crate) fn clean(s: &str) -> String {
    let mut out = crate::text::sanitize(s);
    if out.chars().count() > 96 {
        out = out.chars().take(95).collect::<String>() + "…";
    }
    out
}
