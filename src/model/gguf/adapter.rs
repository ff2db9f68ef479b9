//! LoRA adapter files checked against the model they are for, before llama.cpp loads them.
//! llama.cpp refuses most bad adapters cleanly (an exception it catches: a wrong name
//! suffix, a pair missing a half, a tensor the model lacks, a shape that does not fit), but
//! it aborts the whole process on a few: metadata of the wrong type, read through gguf's
//! typed getters, and shapes it never compares before building the graph. Each such
//! relation is one [`AdapterRule`] here, naming the llama.cpp line it mirrors; the clean
//! refusals are checked too, so the message is ours and names the tensor.

use super::value::Value;
use super::{GgmlType, GgufFile, TensorInfo};

/// One relation llama.cpp relies on when it loads or applies an adapter.
#[derive(Debug, Clone, Copy)]
pub struct AdapterRule {
    pub id: &'static str,
    pub relation: &'static str,
    /// The llama.cpp source line(s) that abort when it does not hold.
    pub mirrors: &'static str,
}

/// The relations whose breach aborts llama.cpp (names, pairs, outer shapes and types are
/// checked too, with a message of our own, but llama.cpp refuses those cleanly or never
/// meets them in a file it would accept).
pub const ADAPTER_RULES: &[AdapterRule] = &[
    AdapterRule {
        id: "lora.string_keys",
        relation: "general.type, general.architecture and adapter.type are single strings",
        mirrors: "ggml/src/gguf.cpp:1008, ggml/src/gguf.cpp:194 (gguf_get_val_str, called \
                  from src/llama-adapter.cpp:194)",
    },
    AdapterRule {
        id: "lora.alpha",
        relation: "adapter.lora.alpha, when present, is a single f32",
        mirrors: "ggml/src/gguf.cpp:978, ggml/src/gguf.cpp:194 (gguf_get_val_f32, called \
                  from src/llama-adapter.cpp:198 for line 218)",
    },
    AdapterRule {
        id: "lora.embd_rank",
        relation: "token_embd.weight: lora_a and lora_b have the same rank (ne[0])",
        mirrors: "ggml/src/ggml.c:3214 (ggml_mul_mat's shape assert while building the \
                  first graph: src/llama-adapter.cpp:358 compares only the outer sizes)",
    },
    AdapterRule {
        id: "lora.dims",
        relation: "lora_a and lora_b have the base tensor's number of dimensions, and an \
                   expert tensor's adapter has one matrix per expert",
        mirrors: "ggml/src/ggml.c:3214, ggml/src/ggml.c:3256-3264 (ggml_mul_mat and \
                  ggml_mul_mat_id while building the first graph; \
                  src/llama-adapter.cpp:358-366 compare ne[0] and ne[1] only)",
    },
];

/// Why an adapter is refused: the rule (if llama.cpp would abort) and a sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterRefusal {
    pub rule: Option<&'static str>,
    pub reason: String,
}

impl std::fmt::Display for AdapterRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.rule {
            Some(_) => write!(f, "{} (llama.cpp would abort on it)", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

fn abort(rule: &'static str, reason: impl Into<String>) -> AdapterRefusal {
    AdapterRefusal {
        rule: Some(rule),
        reason: super::error::clean(&reason.into()),
    }
}

fn clean_refusal(reason: impl Into<String>) -> AdapterRefusal {
    AdapterRefusal {
        rule: None,
        reason: super::error::clean(&reason.into()),
    }
}

/// A single string, or why not.
fn string_key<'f>(f: &'f GgufFile, key: &str) -> Result<Option<&'f str>, AdapterRefusal> {
    match f.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(v) => Err(abort(
            "lora.string_keys",
            format!(
                "metadata '{key}' is a {}, not a string",
                v.value_type().name()
            ),
        )),
    }
}

/// Check the adapter `lora` against the model file `base` it is to be applied to.
pub fn check_adapter(lora: &GgufFile, base: &GgufFile) -> Result<(), AdapterRefusal> {
    match checked(lora, base) {
        Err(AdapterRefusal { rule: Some(id), .. }) if super::checks::skipped_for_a_test(id) => {
            Ok(())
        }
        other => other,
    }
}

fn checked(lora: &GgufFile, base: &GgufFile) -> Result<(), AdapterRefusal> {
    let general_type = string_key(lora, "general.type")?;
    let arch = string_key(lora, "general.architecture")?;
    let adapter_type = string_key(lora, "adapter.type")?;
    if let Some(v) = lora.get("adapter.lora.alpha") {
        if !matches!(v, Value::F32(_)) {
            return Err(abort(
                "lora.alpha",
                format!(
                    "metadata 'adapter.lora.alpha' is a {}, not an f32",
                    v.value_type().name()
                ),
            ));
        }
    }
    if general_type != Some("adapter") || adapter_type != Some("lora") {
        return Err(clean_refusal(
            "not a LoRA adapter GGUF (general.type must be 'adapter', adapter.type 'lora')",
        ));
    }
    if arch != base.architecture() {
        return Err(clean_refusal(format!(
            "the adapter is for architecture '{}', the model is '{}'",
            arch.unwrap_or("?"),
            base.architecture().unwrap_or("?")
        )));
    }
    for (name, a, b) in pairs(lora)? {
        let Some(w) = base.tensor(&name) else {
            return Err(clean_refusal(format!(
                "adapter tensor '{name}' is not in the model (is it for another model?)"
            )));
        };
        check_pair(&name, w, a, b)?;
    }
    Ok(())
}

/// The adapter's lora_a / lora_b pairs by base tensor name (norm vectors are skipped, as
/// llama.cpp does).
fn pairs(lora: &GgufFile) -> Result<Vec<(String, &TensorInfo, &TensorInfo)>, AdapterRefusal> {
    let mut halves: std::collections::BTreeMap<String, [Option<&TensorInfo>; 2]> =
        Default::default();
    for t in lora.tensors() {
        let (base, half) = if let Some(b) = t.name.strip_suffix(".lora_a") {
            (b, 0)
        } else if let Some(b) = t.name.strip_suffix(".lora_b") {
            (b, 1)
        } else if t.name.ends_with("_norm.weight") {
            continue;
        } else {
            return Err(clean_refusal(format!(
                "adapter tensor '{}' is neither a lora_a nor a lora_b",
                t.name
            )));
        };
        halves.entry(base.to_string()).or_default()[half] = Some(t);
    }
    halves
        .into_iter()
        .map(|(name, h)| match h {
            [Some(a), Some(b)] => Ok((name, a, b)),
            _ => Err(clean_refusal(format!(
                "adapter tensor '{name}' has only one of lora_a and lora_b"
            ))),
        })
        .collect()
}

fn dim(t: &TensorInfo, i: usize) -> u64 {
    t.shape.get(i).copied().unwrap_or(1)
}

/// The number of dimensions, trailing 1s not counted (ggml's view of a shape).
fn n_dims(t: &TensorInfo) -> usize {
    t.shape.iter().rposition(|&d| d != 1).map_or(1, |i| i + 1)
}

fn check_pair(
    name: &str,
    w: &TensorInfo,
    a: &TensorInfo,
    b: &TensorInfo,
) -> Result<(), AdapterRefusal> {
    for t in [a, b] {
        if matches!(
            t.dtype,
            GgmlType::I8 | GgmlType::I16 | GgmlType::I32 | GgmlType::I64 | GgmlType::F64
        ) {
            return Err(clean_refusal(format!(
                "adapter tensor '{}' holds {}, not weights",
                t.name,
                t.dtype.name()
            )));
        }
    }
    let wrong_shape = || {
        clean_refusal(format!(
            "adapter tensors for '{name}' ({:?} and {:?}) do not fit its shape {:?}",
            a.shape, b.shape, w.shape
        ))
    };
    if name == "token_embd.weight" {
        // llama.cpp's own check (A and B swapped for the embedding lookup).
        if dim(w, 0) != dim(b, 1) || dim(w, 1) != dim(a, 1) {
            return Err(wrong_shape());
        }
        if dim(a, 0) != dim(b, 0) {
            return Err(abort(
                "lora.embd_rank",
                format!(
                    "adapter tensors for '{name}' have ranks {} and {}",
                    dim(a, 0),
                    dim(b, 0)
                ),
            ));
        }
    } else if dim(w, 0) != dim(a, 0) || dim(w, 1) != dim(b, 1) || dim(a, 1) != dim(b, 0) {
        return Err(wrong_shape());
    }
    let experts = if n_dims(w) >= 3 { dim(w, 2) } else { 1 };
    let fits = |t: &TensorInfo| n_dims(t) <= n_dims(w).max(2) && dim(t, 2) == experts;
    if !fits(a) || !fits(b) || n_dims(w) > 3 {
        return Err(abort(
            "lora.dims",
            format!(
                "adapter tensors for '{name}' ({:?} and {:?}) do not have the shape of {:?} \
                 in their further dimensions",
                a.shape, b.shape, w.shape
            ),
        ));
    }
    Ok(())
}
