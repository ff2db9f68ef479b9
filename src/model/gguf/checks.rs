//! Metadata that llama.cpp would not survive. Loading a model, llama.cpp asserts
//! (`GGML_ASSERT`, which aborts the whole process) or reads past an array's end on some
//! metadata instead of returning an error; every such case we found in the llama.cpp this
//! build compiles (llama-cpp-sys-2 0.1.139) is mirrored here as one [`Rule`] of [`RULES`],
//! so the file is refused with a message before llama.cpp sees it.
//!
//! Each rule names the key it reads, the relation it requires, and the llama.cpp
//! `file:line` whose assert (or out-of-bounds read) it mirrors. Paths are relative to the
//! vendored tree `llama.cpp/` (`src/...` for libllama, `ggml/src/...` for ggml). Clean
//! refusals (llama.cpp throwing an exception it catches, e.g. a key of the wrong scalar
//! type or an array of the wrong length) are left to llama.cpp.

mod arch;

pub use arch::swa_architectures;
mod graph;
mod hparams;
mod vocab;

use super::error::clean;
use super::value::{Array, Value};
use super::{GgufError, GgufFile};

/// llama.cpp's `LLAMA_MAX_EXPERTS`.
pub const MAX_EXPERTS: u32 = 512;
/// llama.cpp's `LLAMA_MAX_LAYERS` (the length of its per-layer arrays).
pub const MAX_LAYERS: u32 = 512;

/// One metadata relation llama.cpp relies on without checking it.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// A short stable name, used by tests and in the error.
    pub id: &'static str,
    /// The key (or keys) read; `<arch>` stands for `general.architecture`.
    pub key: &'static str,
    /// What must hold.
    pub relation: &'static str,
    /// The llama.cpp source line(s) that abort when it does not.
    pub mirrors: &'static str,
    check: fn(&Meta) -> Result<(), Refusal>,
}

/// Why a file is refused: the key at fault and a sentence for a person.
pub(crate) struct Refusal {
    key: String,
    reason: String,
}

pub(crate) fn refuse(key: impl Into<String>, reason: impl Into<String>) -> Refusal {
    Refusal {
        key: key.into(),
        reason: reason.into(),
    }
}

/// Every rule: hyper-parameters, the architecture-specific parts, the graph builders'
/// head sizes, then the vocabulary.
pub const RULES: &[&[Rule]] = &[hparams::RULES, arch::RULES, graph::RULES, vocab::RULES];

/// All rules as one list.
pub fn rules() -> impl Iterator<Item = &'static Rule> {
    RULES.iter().flat_map(|r| r.iter())
}

pub(crate) fn check_semantics(f: &GgufFile) -> Result<(), GgufError> {
    if let Some(v) = f.get("general.architecture") {
        if v.as_str().is_none() {
            return Err(GgufError::BadMetadata {
                key: "general.architecture".into(),
                reason: format!("it must be a string, not a {}", v.value_type().name()),
            });
        }
    }
    let meta = Meta::new(f);
    for rule in rules().filter(|r| !skipped_for_a_test(r.id)) {
        if let Err(r) = (rule.check)(&meta) {
            return Err(GgufError::Refused {
                rule: rule.id,
                key: clean(&r.key),
                reason: r.reason,
            });
        }
    }
    Ok(())
}

/// Test hook, debug builds only: `MOE_TUTOR_FAULT=skip_rule:ID` leaves rule `ID` out (of
/// this table or the adapter rules), so a test can show what the child-process model check
/// does with a file that only that rule refuses (llama.cpp, given it, really aborts). A
/// release build ignores it.
pub(super) fn skipped_for_a_test(id: &str) -> bool {
    #[cfg(debug_assertions)]
    {
        std::env::var("MOE_TUTOR_FAULT").is_ok_and(|v| v.strip_prefix("skip_rule:") == Some(id))
    }
    #[cfg(not(debug_assertions))]
    {
        let _ = id;
        false
    }
}

/// What the rules read: the file and its architecture, with llama.cpp's ways of reading
/// a value (strict scalar types, per-layer arrays).
pub(crate) struct Meta<'f> {
    pub f: &'f GgufFile,
    pub arch: Option<&'f str>,
}

impl<'f> Meta<'f> {
    fn new(f: &'f GgufFile) -> Self {
        Meta {
            f,
            arch: f.architecture(),
        }
    }

    /// `<arch>.<suffix>` (the suffix alone when there is no architecture).
    pub fn key(&self, suffix: &str) -> String {
        match self.arch {
            Some(a) => format!("{a}.{suffix}"),
            None => suffix.to_string(),
        }
    }

    pub fn arch_is(&self, names: &[&str]) -> bool {
        self.arch.is_some_and(|a| names.contains(&a))
    }

    /// `<arch>.<suffix>` as llama.cpp reads a `uint32_t`: only a u32 value counts (any
    /// other type makes llama.cpp refuse the file cleanly).
    pub fn u32(&self, suffix: &str) -> Option<u32> {
        self.arch?;
        match self.f.get(&self.key(suffix)) {
            Some(Value::U32(v)) => Some(*v),
            _ => None,
        }
    }

    /// A string under `<arch>.<suffix>`.
    pub fn str(&self, suffix: &str) -> Option<&'f str> {
        self.arch?;
        self.f.get_str(&self.key(suffix))
    }

    /// `<arch>.block_count` when it is in llama.cpp's range (1..=512).
    pub fn n_layer(&self) -> Option<u32> {
        self.u32("block_count")
            .filter(|&n| (1..=MAX_LAYERS).contains(&n))
    }

    /// A per-layer value as llama.cpp's `get_key_or_arr` reads it: a u32 repeated for
    /// every layer, or an array of u32 / i32 / bool with one entry per layer. `None` when
    /// absent or in any form llama.cpp refuses cleanly.
    pub fn per_layer(&self, suffix: &str) -> Option<Vec<u32>> {
        let n = self.n_layer()? as usize;
        match self.f.get(&self.key(suffix))? {
            Value::U32(v) => Some(vec![*v; n]),
            Value::Array(a) if a.len() == n => match a {
                Array::U32(v) => Some(v.clone()),
                Array::I32(v) => Some(v.iter().map(|&x| x as u32).collect()),
                Array::Bool(v) => Some(v.iter().map(|&x| u32::from(x)).collect()),
                _ => None,
            },
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_names_its_key_relation_and_llama_cpp_line() {
        let mut ids = std::collections::HashSet::new();
        for r in rules() {
            assert!(ids.insert(r.id), "rule id {} twice", r.id);
            assert!(!r.key.is_empty() && !r.relation.is_empty(), "{}", r.id);
            assert!(
                r.mirrors.contains(".cpp:") || r.mirrors.contains(".c:"),
                "{} must name a source line: {}",
                r.id,
                r.mirrors
            );
        }
    }
}
