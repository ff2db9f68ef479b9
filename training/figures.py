"""Write assets/default-model/figures.toml, the figures lessons quote about the default
model, from the measurement logs (never by hand):

  runs/app_eval.jsonl    `moe-tutor eval kl` through the app (app_eval.py)
  runs/bench.jsonl       speed runs (bench_app.sh)
  runs/run3_results.json the PyTorch evaluation at the end of training (run_device.py)
  ../assets/default-model/*.gguf  pack sizes

    python figures.py [--out ../assets/default-model/figures.toml]

One [[figure]] table per measurement: id (stable name), what, where (how it was
measured), k (experts per token; 0 when it does not apply), value, unit, and the set,
tokens and model where they apply.
"""
import argparse
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
SETS = {"a": "held-out human-written chat (chatterbot-corpus 1.3.3, English + Chinese)",
        "b": "held-out teacher-written chat (answers to held-out prompts, English + Chinese)",
        "c": "held-out git documentation (git-doc *.txt, name order)"}


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(round(v, 6)) if isinstance(v, float) else str(v)
    return json.dumps(str(v), ensure_ascii=False)


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    return [json.loads(line) for line in open(path) if line.strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", default=os.path.join(HERE, "runs"))
    ap.add_argument("--out", default=os.path.join(HERE, "..", "assets", "default-model", "figures.toml"))
    a = ap.parse_args()
    figs = []
    for r in read_jsonl(os.path.join(a.runs, "app_eval.jsonl")):
        where = (f"moe-tutor eval kl through llama.cpp (CPU), first {r['tokens']} predictions, "
                 f"reference the dense teacher")
        base = {"set": SETS.get(r["set"], r["set"]), "tokens": r["tokens"], "model": r["label"], "where": where,
                "k": r["k"]}
        figs.append({"id": f"kl.{r['label']}.{r['set']}.k{r['k']}", "what": "mean KL(teacher || model)",
                     "value": r["kl"], "unit": "nats/token", **base})
        figs.append({"id": f"ppl.{r['label']}.{r['set']}.k{r['k']}", "what": "perplexity of the model",
                     "value": r["ppl_model"], "unit": "", **base})
        figs.append({"id": f"ppl.teacher.{r['set']}", "what": "perplexity of the dense teacher",
                     "value": r["ppl_reference"], "unit": "", **{**base, "k": 0, "model": "teacher"}})
    for r in read_jsonl(os.path.join(a.runs, "bench.jsonl")):
        figs.append({"id": f"speed.{r['id']}", "what": r["what"], "where": r["where"], "k": r.get("k", 0),
                     "value": r["value"], "unit": r.get("unit", "tokens/s"), "model": r.get("model", "")})
    res_path = os.path.join(a.runs, "run3_results.json")
    if os.path.exists(res_path):
        res = json.load(open(res_path))
        where = "PyTorch at the end of training (H200), as exported (llama.cpp's mixing, fp16 LoRA)"
        for key, s in (("eval_human_export", "a"), ("eval_chat_export", "b"), ("eval_docs_export", "c")):
            if key in res:
                for k, v in res[key]["k"].items():
                    figs.append({"id": f"train_eval.{s}.k{k}", "what": "mean KL(teacher || student)",
                                 "where": where, "k": int(k), "value": v["kl"], "unit": "nats/token",
                                 "set": SETS[s], "tokens": res[key].get("tokens", 0)})
        figs.append({"id": "train.tokens", "what": "tokens distilled (run 3, continued from run 2)",
                     "where": "training/runs/run3_results.json", "k": 0, "value": res["train"]["tokens"],
                     "unit": "tokens"})
        figs.append({"id": "train.chat_share", "what": "share of teacher-written chat in the training batches",
                     "where": "run_device.py --chat-rows 24 of 32", "k": 0,
                     "value": res["train"]["chat_tokens"] / res["train"]["tokens"], "unit": "fraction"})
    pack_dir = os.path.join(HERE, "..", "assets", "default-model")
    for f in ("pack.gguf", "lora.gguf"):
        p = os.path.join(pack_dir, f)
        if os.path.exists(p):
            figs.append({"id": f"size.{f}", "what": f"size of assets/default-model/{f}", "where": "file size",
                         "k": 0, "value": os.path.getsize(p), "unit": "bytes"})
    seen, lines = set(), ["# The default model's measured figures, one table per measurement.",
                          "# Written by training/figures.py from training/runs/: do not edit by hand.", ""]
    for fgr in figs:
        if fgr["id"] in seen:
            continue
        seen.add(fgr["id"])
        lines.append("[[figure]]")
        for k in ("id", "what", "where", "set", "model", "k", "tokens", "value", "unit"):
            if k in fgr and fgr[k] not in (None, ""):
                lines.append(f"{k} = {toml_value(fgr[k])}")
        lines.append("")
    with open(a.out, "w") as f:
        f.write("\n".join(lines))
    print(f"{len(seen)} figures -> {a.out}")


if __name__ == "__main__":
    main()
