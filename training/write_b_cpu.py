"""Held-out set (b'): the dense teacher's answers to the first N held-out prompts, written on
the CPU through the app (llama.cpp), for measuring a model on teacher-written chat without
the GPU run that writes set (b). Each conversation is the prompt as chat_prompts.py made it
(system turn or not, ChatML, ending with the assistant header) plus the answer and
`<|im_end|>`; all are concatenated in prompt order.

    python write_b_cpu.py --n 48 --bin ../target/release/moe-tutor --teacher work/teacher.gguf \\
        --out work/heldout/b_teacher_chat_cpu.txt

Answers: `moe-tutor run --raw --temperature 0.7 --top-p 0.95 --seed i+1 --max-tokens 256`.
Needs work/prompts.json (chat_prompts.py) and work/tokenizer.json (build_tokenizer.py).
"""
import argparse
import json
import os
import subprocess

from tokenizers import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=48)
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "target", "release", "moe-tutor"))
    ap.add_argument("--teacher", default=os.path.join(HERE, "work", "teacher.gguf"))
    ap.add_argument("--prompts", default=os.path.join(HERE, "work", "prompts.json"))
    ap.add_argument("--tokenizer", default=os.path.join(HERE, "work", "tokenizer.json"))
    ap.add_argument("--out", default=os.path.join(HERE, "work", "heldout", "b_teacher_chat_cpu.txt"))
    a = ap.parse_args()
    tok = Tokenizer.from_file(a.tokenizer)
    held = [p for p in json.load(open(a.prompts)) if p.get("held_out")][: a.n]
    out = []
    for i, p in enumerate(held):
        prompt = tok.decode(p["ids"], skip_special_tokens=False)
        r = subprocess.run([a.bin, "--threads", "2", "run", "-m", a.teacher, "--raw", "-p", prompt,
                            "--temperature", "0.7", "--top-p", "0.95", "--seed", str(i + 1),
                            "--max-tokens", "256"], capture_output=True, text=True, check=True)
        out.append(prompt + r.stdout.rstrip("\n") + "<|im_end|>\n")
        print(i, "zh" if p.get("zh") else "en", len(r.stdout), flush=True)
    with open(a.out, "w") as f:
        f.write("".join(out))
    print(f"{len(held)} conversations ({sum(1 for p in held if p.get('zh'))} Chinese) -> {a.out}")


if __name__ == "__main__":
    main()
