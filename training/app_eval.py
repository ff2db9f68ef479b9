"""Measure a model through the app: `moe-tutor eval kl` against the dense teacher on the
held-out sets, at several k; one JSON line per measurement appended to --results.

    python app_eval.py --label before --model work/m/before.gguf --lora ../assets/default-model/lora.gguf \\
        --sets a=work/heldout/a_human_chat.txt c=work/heldout/c_gitdoc.txt --ks 2,4,8,16 \\
        --max-tokens 16384 --results work/app_eval.jsonl
"""
import argparse
import json
import os
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--label", required=True, help="which model this is (before, after, merged, ...)")
    ap.add_argument("--model", required=True)
    ap.add_argument("--lora", default="")
    ap.add_argument("--lora-scale", default="1", help="1 on, 0 off (also for a model with the adapter merged)")
    ap.add_argument("--teacher", default=os.path.join(HERE, "work", "teacher.gguf"))
    ap.add_argument("--sets", nargs="+", required=True, help="name=path")
    ap.add_argument("--ks", default="2,4,8,16")
    ap.add_argument("--max-tokens", type=int, default=16384)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "target", "debug", "moe-tutor"))
    ap.add_argument("--results", default=os.path.join(HERE, "work", "app_eval.jsonl"))
    a = ap.parse_args()
    for spec in a.sets:
        name, path = spec.split("=", 1)
        for k in [int(x) for x in a.ks.split(",")]:
            cmd = [a.bin, "--threads", str(a.threads), "eval", "kl", "--reference", a.teacher,
                   "--model", a.model, "--text", path, "--experts-used", str(k),
                   "--max-tokens", str(a.max_tokens)]
            if a.lora:
                cmd[1:1] = ["--lora", a.lora]
                cmd += ["--lora-scale", a.lora_scale]
            t0 = time.time()
            out = subprocess.run(cmd, capture_output=True, text=True)
            last = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
            if out.returncode != 0 or not last.startswith("kl="):
                print("failed:", " ".join(cmd), out.stderr[-500:], flush=True)
                continue
            rec = dict(kv.split("=") for kv in last.split())
            rec = {"label": a.label, "set": name, "k": k, "kl": float(rec["kl"]),
                   "ppl_reference": float(rec["ppl_reference"]), "ppl_model": float(rec["ppl_model"]),
                   "tokens": int(rec["tokens"]), "model": os.path.basename(a.model),
                   "lora": os.path.basename(a.lora) if a.lora else "",
                   "lora_scale": float(a.lora_scale) if a.lora else None, "seconds": round(time.time() - t0, 1),
                   "command": "moe-tutor " + " ".join(cmd[1:])}
            print(json.dumps(rec), flush=True)
            with open(a.results, "a") as f:
                f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
