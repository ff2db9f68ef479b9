//! The vocabulary (`llama_vocab::impl::load`, src/llama-vocab.cpp:1722-2640) and what the
//! first tokenization does with it.

use std::collections::HashSet;

use super::super::value::{Array, Value};
use super::{refuse, Meta, Refusal, Rule};

const TOKENS: &str = "tokenizer.ggml.tokens";
const MODEL: &str = "tokenizer.ggml.model";

pub(super) const RULES: &[Rule] = &[
    Rule {
        id: "vocab.tokens",
        key: TOKENS,
        relation: "an array of strings, fewer than 2^31",
        mirrors: "ggml/src/gguf.cpp:924 (gguf_get_arr_str, from src/llama-vocab.cpp:2148)",
        check: tokens,
    },
    Rule {
        id: "vocab.per_token_arrays",
        key: "tokenizer.ggml.scores, tokenizer.ggml.token_type",
        relation: "arrays of f32 / i32 with one entry per token",
        mirrors: "ggml/src/gguf.cpp:918 and reads past the end at src/llama-vocab.cpp:2135-2141, 2156-2159",
        check: per_token_arrays,
    },
    Rule {
        id: "vocab.unique_tokens",
        key: TOKENS,
        relation: "no two tokens have the same text (an empty token counts as [EMPTY_<i>])",
        mirrors: "src/llama-vocab.cpp:2175",
        check: unique_tokens,
    },
    Rule {
        id: "vocab.merges",
        key: "tokenizer.ggml.merges",
        relation: "with the gpt2 tokenizer, strings",
        mirrors: "ggml/src/gguf.cpp:924 (gguf_get_arr_str, from src/llama-vocab.cpp:1792)",
        check: merges,
    },
    Rule {
        id: "vocab.charsmap",
        key: "tokenizer.ggml.precompiled_charsmap",
        relation: "with the t5 tokenizer, an array of u8 or i8, empty or at least 4 bytes",
        mirrors: "src/llama-vocab.cpp:1830, ggml/src/gguf.cpp:912; a 4-byte read at \
                  src/llama-vocab.cpp:815",
        check: charsmap,
    },
    Rule {
        id: "vocab.wpm_byte_tokens",
        key: "tokenizer.ggml.token_type",
        relation: "with the bert tokenizer, no token is of type byte (6)",
        mirrors: "src/llama-vocab.cpp:2738 (token_to_byte, from the piece cache at \
                  src/llama-vocab.cpp:2590)",
        check: wpm_byte_tokens,
    },
    Rule {
        id: "vocab.rwkv_prefixes",
        key: TOKENS,
        relation: "with the rwkv tokenizer, every byte that begins a token is a token",
        mirrors: "src/llama-vocab.cpp:1245-1256 (the matcher restarts at 0 forever, \
                  first reached by tokenizing a newline at src/llama-vocab.cpp:2190)",
        check: rwkv_prefixes,
    },
    Rule {
        id: "vocab.present",
        key: MODEL,
        relation: "not none / no_vocab: a chat needs a tokenizer",
        mirrors: "src/llama-vocab.cpp:2950 (tokenize without a tokenizer), src/llama-vocab.cpp:2746 \
                  (token attributes)",
        check: vocab_present,
    },
    Rule {
        id: "vocab.ugm_bos",
        key: "tokenizer.ggml.add_bos_token, tokenizer.ggml.bos_token_id",
        relation: "with the t5 tokenizer, add_bos_token needs a BOS token id inside the vocabulary",
        mirrors: "src/llama-vocab.cpp:3068 (tokenize with special tokens, as the app does)",
        check: ugm_bos,
    },
];

fn describe(v: &Value) -> String {
    match v {
        Value::Array(a) => format!("an array of {}", a.element_type().name()),
        other => format!("a {}", other.value_type().name()),
    }
}

fn token_list<'f>(m: &Meta<'f>) -> Option<&'f [String]> {
    match m.f.get(TOKENS)? {
        Value::Array(Array::String(t)) => Some(t),
        _ => None,
    }
}

fn tokenizer<'f>(m: &Meta<'f>) -> Option<&'f str> {
    m.f.get_str(MODEL)
}

fn tokens(m: &Meta) -> Result<(), Refusal> {
    let Some(v) = m.f.get(TOKENS) else {
        return Ok(());
    };
    let Value::Array(Array::String(t)) = v else {
        return Err(refuse(
            TOKENS,
            format!("it must be an array of strings, not {}", describe(v)),
        ));
    };
    if t.len() > i32::MAX as usize {
        return Err(refuse(
            TOKENS,
            format!("{} tokens is more than llama.cpp can index", t.len()),
        ));
    }
    Ok(())
}

fn per_token_arrays(m: &Meta) -> Result<(), Refusal> {
    let Some(n) = token_list(m).map(<[String]>::len) else {
        return Ok(());
    };
    for (key, want) in [
        ("tokenizer.ggml.scores", "f32"),
        ("tokenizer.ggml.token_type", "i32"),
    ] {
        let Some(v) = m.f.get(key) else { continue };
        let len = match (want, v) {
            ("f32", Value::Array(Array::F32(a))) => a.len(),
            ("i32", Value::Array(Array::I32(a))) => a.len(),
            _ => {
                return Err(refuse(
                    key,
                    format!("it must be an array of {want}, not {}", describe(v)),
                ))
            }
        };
        if len != n {
            return Err(refuse(
                key,
                format!("it has {len} entries but the vocabulary has {n} tokens"),
            ));
        }
    }
    Ok(())
}

fn unique_tokens(m: &Meta) -> Result<(), Refusal> {
    let Some(t) = token_list(m) else {
        return Ok(());
    };
    let mut seen: HashSet<std::borrow::Cow<str>> = HashSet::with_capacity(t.len());
    for (i, word) in t.iter().enumerate() {
        let word = if word.is_empty() {
            std::borrow::Cow::Owned(format!("[EMPTY_{i}]"))
        } else {
            std::borrow::Cow::Borrowed(word.as_str())
        };
        if !seen.insert(word.clone()) {
            return Err(refuse(
                TOKENS,
                format!(
                    "token {i} ('{}') appears twice in the vocabulary",
                    crate::model::gguf::error::clean(&word)
                ),
            ));
        }
    }
    Ok(())
}

fn merges(m: &Meta) -> Result<(), Refusal> {
    const KEY: &str = "tokenizer.ggml.merges";
    if tokenizer(m) != Some("gpt2") {
        return Ok(());
    }
    match m.f.get(KEY) {
        None | Some(Value::String(_)) | Some(Value::Array(Array::String(_))) => Ok(()),
        Some(v) => Err(refuse(
            KEY,
            format!("the merges must be strings, not {}", describe(v)),
        )),
    }
}

fn charsmap(m: &Meta) -> Result<(), Refusal> {
    const KEY: &str = "tokenizer.ggml.precompiled_charsmap";
    if tokenizer(m) != Some("t5") {
        return Ok(());
    }
    let len = match m.f.get(KEY) {
        None => return Ok(()),
        Some(Value::Array(Array::U8(a))) => a.len(),
        Some(Value::Array(Array::I8(a))) => a.len(),
        Some(v) => {
            return Err(refuse(
                KEY,
                format!(
                    "it must be an array of bytes (u8 or i8), not {}",
                    describe(v)
                ),
            ))
        }
    };
    if (1..4).contains(&len) {
        return Err(refuse(
            KEY,
            format!("{len} bytes is too short: it starts with a 4-byte length"),
        ));
    }
    Ok(())
}

/// `LLAMA_TOKEN_TYPE_BYTE`.
const TYPE_BYTE: i32 = 6;

fn wpm_byte_tokens(m: &Meta) -> Result<(), Refusal> {
    if tokenizer(m) != Some("bert") {
        return Ok(());
    }
    let Some(Value::Array(Array::I32(types))) = m.f.get("tokenizer.ggml.token_type") else {
        return Ok(());
    };
    if let Some(i) = types.iter().position(|&t| t == TYPE_BYTE) {
        return Err(refuse(
            "tokenizer.ggml.token_type",
            format!("token {i} is a byte token, which the bert tokenizer cannot show"),
        ));
    }
    Ok(())
}

/// llama.cpp's `llama_unescape_rwkv_token` (src/llama-vocab.cpp:1161): \t \n \r \xHH and
/// \<c> escapes.
fn rwkv_unescape(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let (mut escaping, mut hex_left, mut acc) = (false, 0u8, 0u8);
    for &c in s.as_bytes() {
        if hex_left > 0 {
            let v = if c >= b'a' {
                c.wrapping_sub(b'a').wrapping_add(10)
            } else {
                c.wrapping_sub(b'0')
            };
            acc = acc.wrapping_shl(4).wrapping_add(v);
            hex_left -= 1;
            if hex_left == 0 {
                out.push(acc);
                acc = 0;
            }
            continue;
        }
        if escaping {
            match c {
                b't' => out.push(b'\t'),
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b'x' => hex_left = 2,
                other => out.push(other),
            }
            escaping = false;
            continue;
        }
        if c == b'\\' {
            escaping = true;
            continue;
        }
        out.push(c);
    }
    out
}

fn rwkv_prefixes(m: &Meta) -> Result<(), Refusal> {
    if tokenizer(m) != Some("rwkv") {
        return Ok(());
    }
    let Some(t) = token_list(m) else {
        return Ok(());
    };
    let bytes: Vec<Vec<u8>> = t.iter().map(|s| rwkv_unescape(s)).collect();
    let singles: HashSet<u8> = bytes
        .iter()
        .filter(|b| b.len() == 1)
        .map(|b| b[0])
        .collect();
    for (i, b) in bytes.iter().enumerate() {
        if let Some(&first) = b.first() {
            if !singles.contains(&first) {
                return Err(refuse(
                    TOKENS,
                    format!("token {i} begins with byte {first:#04x}, which is not a token by itself; llama.cpp's rwkv tokenizer would loop forever on it"),
                ));
            }
        }
    }
    Ok(())
}

fn vocab_present(m: &Meta) -> Result<(), Refusal> {
    match tokenizer(m) {
        Some(t @ ("none" | "no_vocab")) => Err(refuse(
            MODEL,
            format!(
                "the model has no vocabulary (tokenizer '{t}'), so it cannot read or write text"
            ),
        )),
        _ => Ok(()),
    }
}

fn ugm_bos(m: &Meta) -> Result<(), Refusal> {
    if tokenizer(m) != Some("t5") {
        return Ok(());
    }
    if !matches!(
        m.f.get("tokenizer.ggml.add_bos_token"),
        Some(Value::Bool(true))
    ) {
        return Ok(());
    }
    let n = token_list(m).map_or(0, <[String]>::len);
    let bos = match m.f.get("tokenizer.ggml.bos_token_id") {
        Some(Value::U32(id)) => Some(*id),
        _ => None,
    };
    if bos.is_some_and(|id| (id as usize) < n) {
        return Ok(());
    }
    Err(refuse(
        "tokenizer.ggml.add_bos_token",
        "the t5 tokenizer is told to add a BOS token but the model has no valid BOS token id",
    ))
}
