"""Repack the teacher GGUF's tensors, still quantised, into parts small enough to travel to
the GPU machine (each run carries at most 64 MiB). Quantised tensors are kept as their raw
block bytes (uint8), so the GPU side dequantises exactly what the GGUF holds.

    python split_teacher.py work/teacher.gguf work/send_a work/send_b  [--layers-in-a 14]
Part A: token_embd, output_norm and layers [0, N); part B: layers [N, 30).
"""
import argparse
import json
import os

import gguf
import numpy as np
import torch
from safetensors.torch import save_file


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gguf")
    ap.add_argument("dir_a")
    ap.add_argument("dir_b")
    ap.add_argument("--layers-in-a", type=int, default=14)
    a = ap.parse_args()
    r = gguf.GGUFReader(a.gguf)
    parts = {"a": ({}, {}), "b": ({}, {})}
    for t in r.tensors:
        part = "a"
        if t.name.startswith("blk.") and int(t.name.split(".")[1]) >= a.layers_in_a:
            part = "b"
        tensors, meta = parts[part]
        tensors[t.name] = torch.from_numpy(np.ascontiguousarray(t.data))
        meta[t.name] = t.tensor_type.name
    for part, d in (("a", a.dir_a), ("b", a.dir_b)):
        os.makedirs(d, exist_ok=True)
        tensors, meta = parts[part]
        path = os.path.join(d, f"teacher_{part}.safetensors")
        save_file(tensors, path, metadata={"tensors": json.dumps(meta)})
        print(path, os.path.getsize(path) / 1e6, "MB", len(tensors), "tensors")


if __name__ == "__main__":
    main()
