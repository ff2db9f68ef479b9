//! A small SentencePiece-style vocabulary ("llama" tokenizer in llama.cpp) that can
//! tokenize any UTF-8 text: whatever no piece covers falls back to byte tokens.

use std::collections::HashSet;

/// Token type codes as llama.cpp reads `tokenizer.ggml.token_type`.
pub const TYPE_NORMAL: i32 = 1;
pub const TYPE_UNKNOWN: i32 = 2;
pub const TYPE_CONTROL: i32 = 3;
pub const TYPE_BYTE: i32 = 6;

pub const UNK_ID: u32 = 0;
pub const BOS_ID: u32 = 1;
pub const EOS_TEXT_ID: u32 = 2;
pub const IM_START_ID: u32 = 3;
pub const IM_END_ID: u32 = 4;
/// Id of the byte token `<0x00>`; byte `b` is `FIRST_BYTE_ID + b`.
pub const FIRST_BYTE_ID: u32 = 5;

/// The SentencePiece word-boundary marker, which stands for a space.
const SPACE: &str = "\u{2581}";

const WORDS: &[&str] = &[
    "the", "of", "and", "to", "a", "in", "is", "it", "you", "that", "he", "was", "for", "on",
    "are", "with", "as", "I", "his", "they", "be", "at", "one", "have", "this", "from", "or",
    "had", "by", "hello", "Hello", "world", "word", "but", "what", "some", "we", "can", "out",
    "other", "were", "all", "there", "when", "up", "use", "your", "how", "said", "an", "each",
    "she", "which", "do", "their", "time", "if", "will", "way", "about", "many", "then", "them",
    "write", "would", "like", "so", "these", "her", "long", "make", "thing", "see", "him", "two",
    "has", "look", "more", "day", "could", "go", "come", "did", "number", "sound", "no", "most",
    "people", "my", "over", "know", "water", "than", "call", "first", "who", "may", "down", "side",
    "been", "now", "find", "The", "What", "expert", "experts", "router", "model", "token", "layer",
    "mixture", "learn", "chat", "answer", "question", "yes",
];

/// Pieces written without a leading space (they follow a chat-template marker).
const BARE_WORDS: &[&str] = &["user", "assistant", "system"];

const HAN: &str = "你好我是的不了在人有这中大来上国个到说们为子和地出道也时年世界学生天专家模型";

/// One vocabulary entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    pub text: String,
    pub score: f32,
    pub kind: i32,
}

/// Build the vocabulary in id order.
pub fn pieces() -> Vec<Piece> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut push = |out: &mut Vec<Piece>, text: String, score: f32, kind: i32| {
        if seen.insert(text.clone()) {
            out.push(Piece { text, score, kind });
        }
    };
    push(&mut out, "<unk>".into(), 0.0, TYPE_UNKNOWN);
    push(&mut out, "<s>".into(), 0.0, TYPE_CONTROL);
    push(&mut out, "</s>".into(), 0.0, TYPE_CONTROL);
    push(&mut out, "<|im_start|>".into(), 0.0, TYPE_CONTROL);
    push(&mut out, "<|im_end|>".into(), 0.0, TYPE_CONTROL);
    for b in 0..=255u8 {
        push(&mut out, format!("<0x{b:02X}>"), 0.0, TYPE_BYTE);
    }
    // Single characters score lowest; longer pieces score higher so the tokenizer merges
    // towards whole words. Every prefix of a word is a piece, because SentencePiece merges
    // two existing pieces at a time.
    push(&mut out, SPACE.into(), -1.0, TYPE_NORMAL);
    for c in (0x21u8..=0x7e).map(char::from) {
        push(&mut out, c.to_string(), -1.0, TYPE_NORMAL);
    }
    for c in HAN.chars() {
        push(&mut out, c.to_string(), -1.0, TYPE_NORMAL);
    }
    let words = WORDS
        .iter()
        .map(|w| format!("{SPACE}{w}"))
        .chain(BARE_WORDS.iter().map(|w| w.to_string()));
    for word in words {
        let chars: Vec<char> = word.chars().collect();
        for end in 2..=chars.len() {
            let piece: String = chars[..end].iter().collect();
            push(&mut out, piece, end as f32, TYPE_NORMAL);
        }
    }
    out
}

/// A ChatML template; llama.cpp recognises it by its `<|im_start|>` marker.
pub const CHAT_TEMPLATE: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_uniqueness() {
        let p = pieces();
        assert_eq!(p[UNK_ID as usize].text, "<unk>");
        assert_eq!(p[BOS_ID as usize].text, "<s>");
        assert_eq!(p[IM_START_ID as usize].text, "<|im_start|>");
        assert_eq!(p[IM_END_ID as usize].text, "<|im_end|>");
        assert_eq!(p[FIRST_BYTE_ID as usize + 0x0a].text, "<0x0A>");
        assert_eq!(p[FIRST_BYTE_ID as usize + 255].kind, TYPE_BYTE);
        let unique: HashSet<_> = p.iter().map(|x| &x.text).collect();
        assert_eq!(unique.len(), p.len());
        assert!(p.iter().any(|x| x.text == "\u{2581}hello"));
        assert!(p.iter().any(|x| x.text == "\u{2581}hell"));
        assert!(p.len() > 500, "{} pieces", p.len());
    }
}
