#!/usr/bin/env python3
"""Check the intervention run of `device.sh tiny` (tiny model; knock-out 1:3, knock-out all:5,
force 2:6): in every computed MoE layer of every token, expert 5 is never chosen, expert 3 never
in layer 1, and expert 6 always in layer 2. Exits 1 on any violation."""
import json
import sys

with open(sys.argv[1], encoding="utf-8") as f:
    trace = [json.loads(line) for line in f if line.strip()]
layers = [(r["pos"], l) for r in trace for l in r["layers"] if l["computed"]]
bad = [
    (pos, l["layer"])
    for pos, l in layers
    if 5 in l["experts"]
    or (l["layer"] == 1 and 3 in l["experts"])
    or (l["layer"] == 2 and 6 not in l["experts"])
]
print(f"{sys.argv[1]}: interventions held in {len(layers) - len(bad)} of {len(layers)} (token, layer) pairs")
sys.exit(1 if bad or not layers else 0)
