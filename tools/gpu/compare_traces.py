#!/usr/bin/env python3
"""Compare two routing traces of the same prompt (`moe-tutor run --trace`), e.g. one run with
every layer on the GPU and one on the CPU: the tokens, the selected experts per layer, and the
router probabilities. Prints one summary line per measure and exits 1 when the traces differ
in length, a token captured on one side lacks its routing on the other, or an expert set
differs where the router was not tied (the k-th and next probabilities more than TIE apart on
both sides: GPU and CPU arithmetic may break a tie either way)."""
import json
import sys

TIE = 1e-3


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def tied(layer):
    """Whether the k-th and (k+1)-th largest router probabilities are within TIE."""
    k = len(layer["experts"])
    p = sorted(layer["probs"], reverse=True)
    return k < len(p) and p[k - 1] - p[k] <= TIE


def main(a_path, b_path):
    a, b = load(a_path), load(b_path)
    n = min(len(a), len(b))
    same_tokens = sum(a[i]["token_id"] == b[i]["token_id"] for i in range(n))
    first_diff = next((i for i in range(n) if a[i]["token_id"] != b[i]["token_id"]), None)
    # Compare routing only up to the first token that differs: after it the inputs differ.
    upto = n if first_diff is None else first_diff + 1
    layers = same_set = same_order = untied_diff = 0
    max_dp = max_dw = 0.0
    incomplete = 0
    for i in range(upto):
        ra, rb = a[i], b[i]
        if ra.get("capture_incomplete") or rb.get("capture_incomplete"):
            incomplete += 1
        la = {l["layer"]: l for l in ra["layers"] if l["computed"]}
        lb = {l["layer"]: l for l in rb["layers"] if l["computed"]}
        for layer in la.keys() & lb.keys():
            x, y = la[layer], lb[layer]
            layers += 1
            same_set += set(x["experts"]) == set(y["experts"])
            if set(x["experts"]) != set(y["experts"]) and not (tied(x) or tied(y)):
                untied_diff += 1
            same_order += x["experts"] == y["experts"]
            max_dp = max([max_dp] + [abs(p - q) for p, q in zip(x["probs"], y["probs"])])
            if set(x["experts"]) == set(y["experts"]):
                wx = dict(zip(x["experts"], x["weights"]))
                wy = dict(zip(y["experts"], y["weights"]))
                max_dw = max([max_dw] + [abs(wx[e] - wy[e]) for e in wx])
    print(f"tokens: {len(a)} and {len(b)}; same token ids at {same_tokens} of {n} positions"
          + ("" if first_diff is None else f" (first difference at position {first_diff})"))
    print(f"routing: {layers} (token, layer) pairs compared; same expert set {same_set} "
          f"({100.0 * same_set / max(layers, 1):.2f}%), same order {same_order}; "
          f"max |prob diff| {max_dp:.4f}, max |weight diff| {max_dw:.4f}")
    print(f"different expert sets where neither side was tied (gap > {TIE}): {untied_diff}")
    print(f"tokens with capture_incomplete: {incomplete}")
    ok = len(a) == len(b) and incomplete == 0 and layers > 0 and untied_diff == 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: compare_traces.py A.jsonl B.jsonl")
    main(sys.argv[1], sys.argv[2])
