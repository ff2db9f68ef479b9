"""Lesson 115's second file: a copy of a forged default model whose expert weights (every
routed `*_exps` and shared `*_shexp` tensor stored as Q8_0) are re-quantised to Q4_1, all
other tensors and all metadata unchanged. Prints the bytes of the tensors before and after
and of each part of the model (the figures file's bytes.* and share.* keys).

    python requant_experts.py MODEL.gguf OUT.gguf [--type Q4_1] [--parts gate,up,down]

`--type Q5_1 --parts gate,up` makes the experiment of training/README.md "Merged weights in
5 bits": only the merged gate and up projections re-quantised, to Q5_1.

Needs the `gguf` package (0.19.0 was used).
"""
import argparse

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import GGUFReader, GGUFValueType, GGUFWriter, quants


def part(name):
    if name.endswith("_exps.weight"):
        return "routed"
    if "_shexp" in name:
        return "shared"
    if name.startswith("token_embd"):
        return "embedding"
    return "other"


def copy_metadata(r, w):
    for f in r.fields.values():
        if f.name.startswith("GGUF.") or f.name == "general.architecture":
            continue
        vtype = f.types[0]
        if vtype == GGUFValueType.ARRAY:
            sub = f.types[-1]
            if sub == GGUFValueType.STRING:
                val = [bytes(f.parts[i]).decode("utf-8") for i in f.data]
            else:
                val = [f.parts[i].tolist()[0] for i in f.data]
            w.add_key_value(f.name, val, vtype, sub_type=sub)
        elif vtype == GGUFValueType.STRING:
            w.add_key_value(f.name, bytes(f.parts[f.data[0]]).decode("utf-8"), vtype)
        else:
            w.add_key_value(f.name, f.parts[f.data[0]].tolist()[0], vtype)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--type", default="Q4_1", choices=["Q4_0", "Q4_1", "Q5_0", "Q5_1"])
    ap.add_argument("--parts", default="gate,up,down", help="which expert projections to re-quantise")
    a = ap.parse_args()
    src, out, new_type = a.src, a.out, T[a.type]
    parts = tuple(f"ffn_{p}_" for p in a.parts.split(","))
    r = GGUFReader(src)
    arch = bytes(r.fields["general.architecture"].parts[-1]).decode("utf-8")
    w = GGUFWriter(out, arch)
    copy_metadata(r, w)
    before, after = {}, {}
    for t in r.tensors:
        p = part(t.name)
        before[p] = before.get(p, 0) + int(t.n_bytes)
        data, dtype = np.asarray(t.data), t.tensor_type
        if p in ("routed", "shared") and dtype == T.Q8_0 and any(x in t.name for x in parts):
            values = quants.dequantize(data, T.Q8_0)
            data, dtype = quants.quantize(values, new_type), new_type
        after[p] = after.get(p, 0) + int(data.nbytes)
        # raw_shape is the numpy (row-major) shape of the packed bytes
        w.add_tensor(t.name, data, raw_shape=data.shape, raw_dtype=dtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    for name, d in (("before", before), ("after", after)):
        total = sum(d.values())
        shares = ", ".join(f"{k} {v:,} B ({v / total:.4f})" for k, v in sorted(d.items()))
        print(f"{name}: tensors {total:,} B; {shares}")


if __name__ == "__main__":
    main()
