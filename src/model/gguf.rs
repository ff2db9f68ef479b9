//! GGUF files: a reader that validates before llama.cpp ever sees a file, and a writer.
//!
//! The reader checks the header, every metadata value and every tensor's place in the file,
//! bounding each count by the bytes actually present, and also refuses metadata that would
//! make llama.cpp abort instead of failing cleanly. The writer produces GGUF v3 files that
//! are byte-for-byte reproducible from the same inputs.

mod adapter;
mod checks;
mod dequant;
mod error;
mod reader;
mod summary;
mod types;
mod value;
mod writer;

pub use adapter::{check_adapter, AdapterRefusal, AdapterRule, ADAPTER_RULES};
pub use checks::{rules, swa_architectures, Rule, MAX_EXPERTS, MAX_LAYERS, RULES};
pub use dequant::q8_0_from_f32;
pub use error::GgufError;
pub use reader::{GgufFile, TensorInfo};
pub use summary::{type_shares, ModelSummary, MoeParams, TypeShare};
pub use types::GgmlType;
pub use value::{Array, Value, ValueType};
pub use writer::{write_atomic, GgufWriter};

/// The first four bytes of every GGUF file.
pub const GGUF_MAGIC: &[u8; 4] = b"GGUF";
/// Tensor data alignment when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u32 = 32;
/// The metadata key that sets the alignment.
pub const ALIGNMENT_KEY: &str = "general.alignment";
/// ggml's name buffer size; names must be shorter.
pub const GGML_MAX_NAME: usize = 64;
/// Metadata key (written by this project) for the temperature the UI uses when it shows
/// router probabilities.
pub const ROUTER_DISPLAY_TEMPERATURE_KEY: &str = "moe_tutor.router_display_temperature";
