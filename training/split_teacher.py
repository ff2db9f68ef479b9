"""Repack the teacher GGUF's tensors, still quantised, into parts small enough to travel to
the GPU machine (each run carries at most 64 MiB). Quantised tensors are kept as their raw
block bytes (uint8), so the GPU side dequantises exactly what the GGUF holds.

    python split_teacher.py work/teacher.gguf work/send_a work/send_b  [--layers-in-a 14]
    python split_teacher.py work/teacher.gguf work/s1 work/s2 work/s3 --cuts 5,18
Part A: token_embd, output_norm and layers [0, first cut); then one part per cut.
"""
import argparse
import json
import os

import gguf
import numpy as np
from safetensors.numpy import save_file


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gguf")
    ap.add_argument("dirs", nargs="+", help="one folder per part: a, b, c, ...")
    ap.add_argument("--layers-in-a", type=int, default=14)
    ap.add_argument("--cuts", default="", help="first layer of each part after the first, e.g. 5,18")
    a = ap.parse_args()
    cuts = [int(x) for x in a.cuts.split(",")] if a.cuts else [a.layers_in_a]
    names = "abcdefgh"[: len(cuts) + 1]
    assert len(a.dirs) == len(names), f"{len(names)} folders needed"
    r = gguf.GGUFReader(a.gguf)
    parts = {n: ({}, {}) for n in names}
    for t in r.tensors:
        part = "a"
        if t.name.startswith("blk."):
            part = names[sum(int(t.name.split(".")[1]) >= c for c in cuts)]
        tensors, meta = parts[part]
        tensors[t.name] = np.ascontiguousarray(t.data)
        meta[t.name] = t.tensor_type.name
    for part, d in zip(names, a.dirs):
        os.makedirs(d, exist_ok=True)
        tensors, meta = parts[part]
        path = os.path.join(d, f"teacher_{part}.safetensors")
        save_file(tensors, path, metadata={"tensors": json.dumps(meta)})
        print(path, os.path.getsize(path) / 1e6, "MB", len(tensors), "tensors")


if __name__ == "__main__":
    main()
