"""Decode speed through the app, one run over four files in turn (same threads, same
machine minutes): the default model as shipped (forge v3, adapter merged), the same
unmerged file with the adapter applied at run time (forge v2's way), the unadapted forged
file, and the dense teacher. `moe-tutor bench --no-peer`; appends to runs/bench.jsonl.

    python bench_app.py --bin PATH --merged work/m/new-merged.gguf --unmerged work/m/before.gguf
"""
import argparse
import json
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--merged", required=True)
    ap.add_argument("--unmerged", required=True)
    ap.add_argument("--lora", default=os.path.join(HERE, "..", "assets", "default-model", "lora.gguf"))
    ap.add_argument("--teacher", default=os.path.join(HERE, "work", "teacher.gguf"))
    ap.add_argument("--out", default=os.path.join(HERE, "runs", "bench.jsonl"))
    ap.add_argument("--reps", default="3")
    a = ap.parse_args()
    runs = [("default_merged", "default model as shipped (adapter merged)", a.merged, None),
            ("unmerged_runtime_lora", "forged model + adapter at run time (before)", a.unmerged, a.lora),
            ("unadapted", "forged model without adapter", a.unmerged, None),
            ("teacher", "dense teacher (Q4_1)", a.teacher, None)]
    for rid, what, model, lora in runs:
        cmd = [a.bin, "--threads", "2"] + (["--lora", lora] if lora else []) + [
            "bench", "--model", model, "--no-peer", "--reps", a.reps, "--frames", "20", "--latency-secs", "1"]
        out = subprocess.run(cmd, capture_output=True, text=True)
        last = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
        kv = dict(x.split("=", 1) for x in last.split() if "=" in x)
        if "decode_off_tps" not in kv:
            print("failed", rid, out.stderr[-400:])
            continue
        for key, cap in (("decode_off_tps", "capture off"), ("decode_on_tps", "capture on")):
            rec = {"id": f"{rid}.{key}", "what": f"decode speed, {what}, {cap}", "model": os.path.basename(model),
                   "where": "moe-tutor bench --no-peer --threads 2, 64-token prompt, 64 tokens (best of reps)",
                   "k": 4 if rid != "teacher" else 0, "value": float(kv[key]), "unit": "tokens/s"}
            print(json.dumps(rec), flush=True)
            with open(a.out, "a") as f:
                f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
