//! Metadata checks for things llama.cpp would not survive: it asserts (aborting the whole
//! process) or reads past an array's end when these are wrong, instead of returning an error.

use super::error::clean;
use super::value::{Array, Value};
use super::{GgufError, GgufFile};

/// llama.cpp's `LLAMA_MAX_EXPERTS`.
pub const MAX_EXPERTS: u32 = 512;

fn bad(key: &str, reason: String) -> GgufError {
    GgufError::BadMetadata {
        key: clean(key),
        reason,
    }
}

pub(crate) fn check_semantics(f: &GgufFile) -> Result<(), GgufError> {
    if let Some(v) = f.get("general.architecture") {
        if v.as_str().is_none() {
            return Err(bad(
                "general.architecture",
                format!("it must be a string, not a {}", v.value_type().name()),
            ));
        }
    }
    check_vocab(f)?;
    check_experts(f)
}

fn check_vocab(f: &GgufFile) -> Result<(), GgufError> {
    const TOKENS: &str = "tokenizer.ggml.tokens";
    let Some(tokens) = f.get(TOKENS) else {
        return Ok(());
    };
    let n = match tokens {
        Value::Array(Array::String(t)) => t.len(),
        other => {
            return Err(bad(
                TOKENS,
                format!("it must be an array of strings, not {}", describe(other)),
            ))
        }
    };
    if n > i32::MAX as usize {
        return Err(bad(
            TOKENS,
            format!("{n} tokens is more than llama.cpp can index"),
        ));
    }
    for (key, want) in [
        ("tokenizer.ggml.scores", "f32"),
        ("tokenizer.ggml.token_type", "i32"),
    ] {
        let Some(v) = f.get(key) else { continue };
        let len = match (want, v) {
            ("f32", Value::Array(Array::F32(a))) => a.len(),
            ("i32", Value::Array(Array::I32(a))) => a.len(),
            _ => {
                return Err(bad(
                    key,
                    format!("it must be an array of {want}, not {}", describe(v)),
                ))
            }
        };
        if len != n {
            return Err(bad(
                key,
                format!("it has {len} entries but the vocabulary has {n} tokens"),
            ));
        }
    }
    Ok(())
}

fn check_experts(f: &GgufFile) -> Result<(), GgufError> {
    let Some(arch) = f.architecture() else {
        return Ok(());
    };
    let count_key = format!("{arch}.expert_count");
    let used_key = format!("{arch}.expert_used_count");
    // llama.cpp reads these strictly as u32 (another type fails the load cleanly).
    let as_u32 = |k: &str| match f.get(k) {
        Some(Value::U32(v)) => Some(*v),
        _ => None,
    };
    let count = as_u32(&count_key).unwrap_or(0);
    let used = as_u32(&used_key).unwrap_or(0);
    if count > MAX_EXPERTS {
        return Err(bad(
            &count_key,
            format!("{count} experts is more than llama.cpp supports ({MAX_EXPERTS})"),
        ));
    }
    if used > count {
        return Err(bad(
            &used_key,
            format!("{used} experts used per token, but the model has only {count}"),
        ));
    }
    if count > 0 && used == 0 {
        return Err(bad(
            &used_key,
            format!("the model has {count} experts but uses none per token"),
        ));
    }
    Ok(())
}

fn describe(v: &Value) -> String {
    match v {
        Value::Array(a) => format!("an array of {}", a.element_type().name()),
        other => format!("a {}", other.value_type().name()),
    }
}
