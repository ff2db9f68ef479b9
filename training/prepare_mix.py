"""Text for the second distillation mix and the three held-out sets (CPU).

Training text besides the teacher-written chat (which run_device.py writes on the GPU):
  * general prose from Debian packages: fortunes + fortunes-min (quotations, literature),
    fortunes-zh (Chinese poetry), dict-jargon and dict-devil (essay-like dictionary
    entries), dict-wn (WordNet glosses and example sentences);
  * Chinese documentation: debian-reference-zh-cn (a small share);
  * English documentation, a small share: linux-doc-6.1, python3.11-doc, perl-doc,
    python-django-doc (250k tokens each).
Held-out sets, never trained on:
  (a) chatterbot-corpus 1.3.3 (PyPI, BSD-3-Clause): its English and simplified-Chinese
      human-written dialogues, each wrapped in the model's ChatML chat template;
  (c) git-doc: `*.txt` concatenated in name order (the README's sample).
  (b) is written on the GPU (teacher answers to held-out prompts; see run_device.py).

    python prepare_mix.py   # needs work/debs (apt-get download), work/wheel/chatterbot*.whl,
                            # work/tokenizer.json
    python prepare_mix.py --docs-cap 1000000 --prose-scale 0.73   # run 5: documentation 2/3 of the text
Writes work/tokens/{text_train,heldout_docs,heldout_human}.bin and work/heldout/{a_human_chat,c_gitdoc}.txt.
"""
import argparse
import glob
import gzip
import json
import os
import random
import re
import subprocess
import zipfile

import numpy as np
import yaml
from tokenizers import Tokenizer

import prepare_text as P
from chat_prompts import SYSTEM

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "work")
EOT = 0
CHATTERBOT = "chatterbot-corpus==1.3.3"

# package -> (globs, reader, token cap)
PROSE = {
    "fortunes": (["usr/share/games/fortunes/*"], "fortune", 900_000),
    "fortunes-min": (["usr/share/games/fortunes/*"], "fortune", 200_000),
    "fortunes-zh": (["usr/share/games/fortunes/*"], "fortune", 400_000),
    "dict-jargon": (["usr/share/dictd/*.dict.dz"], "dict", 700_000),
    "dict-devil": (["usr/share/dictd/*.dict.dz"], "dict", 300_000),
    "dict-wn": (["usr/share/dictd/*.dict.dz"], "dict", 900_000),
    "debian-reference-zh-cn": (["usr/share/debian-reference/*.zh-cn.html"], "html", 400_000),
}
DOCS = {k: (g, kind, 250_000) for k, (g, kind, _) in P.TRAIN.items()}


def pieces(path, kind):
    """Documents of one file: fortunes split at '%' lines, dictd files at headwords."""
    if path.endswith((".dat", ".u8", "ascii-art")) or os.path.isdir(path):
        return []
    raw = gzip.open(path, "rb").read() if path.endswith((".gz", ".dz")) else open(path, "rb").read()
    s = raw.decode("utf-8", errors="replace")
    if s.count("\ufffd") > len(s) / 100:
        s = raw.decode("gb18030", errors="replace")
    s = re.sub(r"\x1b\[[0-9;]*m", "", s)  # colour codes in fortunes-zh
    if kind == "fortune":
        return [p.strip() for p in re.split(r"\n%\n", s) if len(p.strip()) > 20]
    if kind == "dict":
        # entries start at an unindented line; keep groups of ~20 entries as one document
        ents = re.split(r"\n(?=\S)", s)
        ents = [e for e in ents if not e.startswith("00-database") and len(e) > 40]
        return ["\n\n".join(ents[i:i + 20]) for i in range(0, len(ents), 20)]
    if kind == "html":
        return [P.html_to_text(s)]
    return [re.sub(r"\n{4,}", "\n\n\n", s).strip()]


def stream(tok, spec, seed, docs_kind=False):
    out, summary = [], {}
    for pkg, (globs, kind, cap) in spec.items():
        root = P.unpack(pkg)
        files = sorted({f for g in globs for f in glob.glob(os.path.join(root, g), recursive=True)})
        docs = []
        for f in files:
            docs += [P.read_doc(f, kind)] if docs_kind else pieces(f, kind)
        docs = [d for d in docs if len(d) > 20]
        random.Random(seed).shuffle(docs)
        n, used = 0, 0
        for i in range(0, len(docs), 64):
            for enc in tok.encode_batch(docs[i:i + 64]):
                if n >= cap:
                    break
                ids = enc.ids[: cap - n + 2048]  # a long document is cut near the cap
                out.append(ids + [EOT])
                n += len(ids) + 1
                used += 1
            if n >= cap:
                break
        summary[pkg] = {"files": len(files), "documents_used": used, "tokens": n}
        print(pkg, summary[pkg], flush=True)
    return out, summary


def chat_text(turns):
    s = f"<|im_start|>system\n{SYSTEM}<|im_end|>\n"
    for j, t in enumerate(turns):
        role = "user" if j % 2 == 0 else "assistant"
        s += f"<|im_start|>{role}\n{str(t).strip()}<|im_end|>\n"
    return s


def human_chat():
    whl = glob.glob(os.path.join(WORK, "wheel", "chatterbot_corpus-*.whl"))
    if not whl:
        subprocess.check_call(["python3", "-m", "pip", "download", "--no-deps", "-d",
                               os.path.join(WORK, "wheel"), CHATTERBOT])
        whl = glob.glob(os.path.join(WORK, "wheel", "chatterbot_corpus-*.whl"))
    z = zipfile.ZipFile(whl[0])
    convs = {"english": [], "chinese": []}
    for name in sorted(z.namelist()):
        parts = name.split("/")
        if len(parts) == 4 and parts[2] in convs and name.endswith(".yml"):
            data = yaml.safe_load(z.read(name).decode("utf-8"))
            for c in data.get("conversations") or []:
                if isinstance(c, list) and len(c) >= 2 and all(isinstance(t, (str, int, float)) for t in c):
                    convs[parts[2]].append(chat_text(c))
    rng = random.Random(3)
    texts = convs["english"] + convs["chinese"]
    rng.shuffle(texts)  # English and Chinese interleaved
    return "".join(texts), {k: len(v) for k, v in convs.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs-cap", type=int, default=250_000, help="tokens per documentation package (runs 3-4: 250k)")
    ap.add_argument("--prose-scale", type=float, default=1.0, help="multiplies every prose package's token cap")
    args = ap.parse_args()
    prose_spec = {k: (g, kind, int(cap * args.prose_scale)) for k, (g, kind, cap) in PROSE.items()}
    docs_spec = {k: (g, kind, args.docs_cap) for k, (g, kind, _) in DOCS.items()}
    os.makedirs(os.path.join(WORK, "tokens"), exist_ok=True)
    os.makedirs(os.path.join(WORK, "heldout"), exist_ok=True)
    tok = Tokenizer.from_file(os.path.join(WORK, "tokenizer.json"))
    prose, s_prose = stream(tok, prose_spec, 1)
    docs, s_docs = stream(tok, docs_spec, 1, docs_kind=True)
    allt = prose + docs
    random.Random(5).shuffle(allt)
    train = np.asarray([t for d in allt for t in d], dtype=np.uint16)
    train.tofile(os.path.join(WORK, "tokens", "text_train.bin"))
    # (c) git-doc, the README's sample: *.txt in name order
    root = P.unpack("git-doc")
    files = sorted(glob.glob(os.path.join(root, "usr/share/doc/git-doc/*.txt")))
    git = "".join(open(f, encoding="utf-8", errors="replace").read() for f in files)
    with open(os.path.join(WORK, "heldout", "c_gitdoc.txt"), "w") as f:
        f.write(git)
    np.asarray(tok.encode(git[:2_000_000]).ids[:131_072], dtype=np.uint16).tofile(
        os.path.join(WORK, "tokens", "heldout_docs.bin"))
    # (a) human-written dialogues
    human, n_conv = human_chat()
    with open(os.path.join(WORK, "heldout", "a_human_chat.txt"), "w") as f:
        f.write(human)
    h_ids = tok.encode(human).ids
    np.asarray(h_ids, dtype=np.uint16).tofile(os.path.join(WORK, "tokens", "heldout_human.bin"))
    summary = {"docs_cap": args.docs_cap, "prose_scale": args.prose_scale, "prose": s_prose, "docs": s_docs, "train_tokens": int(train.size),
               "prose_tokens": sum(v["tokens"] for v in s_prose.values()),
               "docs_tokens": sum(v["tokens"] for v in s_docs.values()),
               "gitdoc_files": len(files), "gitdoc_chars": len(git),
               "human_conversations": n_conv, "human_tokens": len(h_ids)}
    with open(os.path.join(WORK, "tokens", "mix_summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
