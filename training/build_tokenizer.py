"""Build a Hugging Face `tokenizers` tokenizer for SmolLM2 from the teacher GGUF.

llama.cpp's tokenizer for this model is byte-level BPE (`tokenizer.ggml.model = gpt2`)
with the `smollm` pre-tokeniser: every digit is split on its own, then the GPT-2 regex.
We rebuild exactly that from the vocabulary and merges stored in the GGUF.

    python build_tokenizer.py work/teacher.gguf work/tokenizer.json
"""
import json
import sys

import gguf
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, AddedToken


def field_strings(reader, key):
    f = reader.fields[key]
    return [bytes(f.parts[i]).decode("utf-8") for i in f.data]


def build(gguf_path):
    r = gguf.GGUFReader(gguf_path)
    tokens = field_strings(r, "tokenizer.ggml.tokens")
    merges = field_strings(r, "tokenizer.ggml.merges")
    ttype = [int(r.fields["tokenizer.ggml.token_type"].parts[i][0])
             for i in r.fields["tokenizer.ggml.token_type"].data]
    vocab = {t: i for i, t in enumerate(tokens)}
    bpe = models.BPE(vocab=vocab, merges=[tuple(m.split(" ", 1)) for m in merges],
                     fuse_unk=False, byte_fallback=False)
    tok = Tokenizer(bpe)
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    # control tokens (type 3) are matched whole, never split by BPE
    specials = [AddedToken(t, special=True, normalized=False)
                for t, ty in zip(tokens, ttype) if ty == 3]
    tok.add_special_tokens(specials)
    tmpl = r.fields["tokenizer.chat_template"]
    chat_template = bytes(tmpl.parts[tmpl.data[0]]).decode("utf-8")
    return tok, chat_template


def main():
    src, dst = sys.argv[1], sys.argv[2]
    tok, tmpl = build(src)
    tok.save(dst)
    with open(dst + ".chat_template.txt", "w") as f:
        f.write(tmpl)
    print("vocab", tok.get_vocab_size(), "->", dst)
    for s in ["Hello, world! 12345", "<|im_start|>user\nWhat is Debian?<|im_end|>\n", "你好，世界"]:
        ids = tok.encode(s).ids
        print(repr(s), ids, repr(tok.decode(ids, skip_special_tokens=False)))
    print(json.dumps(tmpl)[:400])


if __name__ == "__main__":
    main()
