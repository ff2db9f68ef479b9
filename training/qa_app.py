"""The README's Q&A tables: each question of qa_questions.py answered greedily through the
app (`moe-tutor run --temperature 0`) by the dense teacher and by the default model; one
JSON line per answer to --out.

    python qa_app.py --model work/m/new-merged.gguf --out runs/qa.jsonl
"""
import argparse
import json
import os
import subprocess

from qa_questions import CHINESE, ENGLISH

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--teacher", default=os.path.join(HERE, "work", "teacher.gguf"))
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "target", "debug", "moe-tutor"))
    ap.add_argument("--max-tokens", default="48")
    ap.add_argument("--out", default=os.path.join(HERE, "runs", "qa.jsonl"))
    a = ap.parse_args()
    with open(a.out, "w") as f:
        for lang, qs in (("en", ENGLISH), ("zh", CHINESE)):
            for q in qs:
                row = {"lang": lang, "question": q}
                for who, model in (("teacher", a.teacher), ("default", a.model)):
                    out = subprocess.run([a.bin, "--threads", "2", "run", "--model", model, "--prompt", q,
                                          "--temperature", "0", "--max-tokens", a.max_tokens],
                                         capture_output=True, text=True)
                    row[who] = out.stdout.strip()
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
                print(json.dumps(row, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
