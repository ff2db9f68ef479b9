"""Debian documentation -> plain text -> SmolLM2 token ids (uint16 .bin files).

Sources are Debian 12 documentation packages fetched with `apt-get download` and
unpacked with `dpkg-deb -x` (see README). Training text comes from linux-doc-6.1,
python3.11-doc, perl-doc and python-django-doc; the held-out text is git-doc, a
package training never reads.

    python prepare_text.py            # expects work/debs/*.deb and work/tokenizer.json
Writes work/tokens/docs_train.bin, work/tokens/heldout_docs.bin and a JSON summary.
"""
import glob
import gzip
import html.parser
import json
import os
import random
import re
import subprocess

import numpy as np
from tokenizers import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "work")
EOT = 0  # <|endoftext|> separates documents

# package -> (file globs inside the unpacked tree, kind, token cap)
TRAIN = {
    "linux-doc-6.1": (["usr/share/doc/linux-doc-6.1/Documentation/**/*.rst.gz"], "text", 2_700_000),
    "python3.11-doc": (["usr/share/doc/python3.11/html/_sources/**/*.rst.txt"], "text", 2_000_000),
    "perl-doc": (["usr/share/perl/*/pod/*.pod"], "text", 1_500_000),
    "python-django-doc": (["usr/share/doc/python-django-doc/html/**/*.html"], "html", 1_300_000),
}
HELDOUT = {
    "git-doc": (["usr/share/doc/git-doc/*.txt"], "text", 400_000),
}


class _Text(html.parser.HTMLParser):
    SKIP = {"script", "style", "head", "nav", "footer"}

    def __init__(self):
        super().__init__()
        self.out, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skip += 1
        if tag in ("p", "div", "br", "li", "h1", "h2", "h3", "h4", "pre", "tr", "dt", "dd"):
            self.out.append("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip:
            self.out.append(data)


def html_to_text(s):
    p = _Text()
    p.feed(s)
    text = "".join(p.out)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def read_doc(path, kind):
    raw = gzip.open(path, "rb").read() if path.endswith(".gz") else open(path, "rb").read()
    s = raw.decode("utf-8", errors="replace")
    if kind == "html":
        s = html_to_text(s)
    return re.sub(r"\n{4,}", "\n\n\n", s).strip()


def unpack(pkg):
    dst = os.path.join(WORK, "docs", pkg)
    if not os.path.isdir(dst):
        deb = glob.glob(os.path.join(WORK, "debs", pkg + "_*.deb"))
        if not deb:
            subprocess.check_call(["apt-get", "download", pkg], cwd=os.path.join(WORK, "debs"))
            deb = glob.glob(os.path.join(WORK, "debs", pkg + "_*.deb"))
        os.makedirs(dst)
        subprocess.check_call(["dpkg-deb", "-x", deb[0], dst])
    return dst


def tokenize_set(tok, spec, seed):
    stream, summary = [], {}
    for pkg, (globs, kind, cap) in spec.items():
        root = unpack(pkg)
        files = sorted({f for g in globs for f in glob.glob(os.path.join(root, g), recursive=True)})
        random.Random(seed).shuffle(files)
        n, used = 0, 0
        for i in range(0, len(files), 64):
            texts = [read_doc(f, kind) for f in files[i:i + 64]]
            texts = [t for t in texts if len(t) > 200]
            for enc in tok.encode_batch(texts):
                stream.extend(enc.ids)
                stream.append(EOT)
                n += len(enc.ids) + 1
                used += 1
            if n >= cap:
                break
        summary[pkg] = {"files_total": len(files), "files_used": used, "tokens": n}
        print(pkg, summary[pkg], flush=True)
    return np.asarray(stream, dtype=np.uint16), summary


def main():
    os.makedirs(os.path.join(WORK, "debs"), exist_ok=True)
    os.makedirs(os.path.join(WORK, "tokens"), exist_ok=True)
    tok = Tokenizer.from_file(os.path.join(WORK, "tokenizer.json"))
    train, s_train = tokenize_set(tok, TRAIN, seed=1)
    held, s_held = tokenize_set(tok, HELDOUT, seed=2)
    train.tofile(os.path.join(WORK, "tokens", "docs_train.bin"))
    held.tofile(os.path.join(WORK, "tokens", "heldout_docs.bin"))
    summary = {"train": s_train, "heldout": s_held,
               "train_tokens": int(train.size), "heldout_tokens": int(held.size)}
    with open(os.path.join(WORK, "tokens", "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
