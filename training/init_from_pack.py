"""Start the second run where the shipped model stands (CPU): read assets/default-model
(pack.gguf + lora.gguf) and write work/init.safetensors in the training parametrisation
of moe_model.Student (scale 2, rank 8 experts / rank 16 shared):

  perm (30, 1536) int32, router_init (30, 16, 576) = shipped router / display temperature
  (the logits as trained), and the twelve LoRA tensors eg_a ... sd_b.

llama.cpp applies (alpha / rank) * B A; training applies 2 * B A with the same A, so
B_train = B_file * (alpha / rank) / 2.

    python init_from_pack.py [--pack ../assets/default-model] [--out work/init.safetensors]
"""
import argparse
import os

import gguf
import numpy as np
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
N_LAYER, SCALE = 30, 2.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pack", default=os.path.join(HERE, "..", "assets", "default-model"))
    ap.add_argument("--out", default=os.path.join(HERE, "work", "init.safetensors"))
    a = ap.parse_args()
    pr = gguf.GGUFReader(os.path.join(a.pack, "pack.gguf"))
    f = {t.name: t for t in pr.tensors}
    temp = float(pr.fields["moe_tutor.router_display_temperature"].contents())
    out = {
        "perm": np.stack([np.asarray(f[f"blk.{i}.ffn_perm"].data) for i in range(N_LAYER)]).astype(np.int32),
        "router_init": (np.stack([np.asarray(f[f"blk.{i}.ffn_gate_inp.weight"].data)
                                  for i in range(N_LAYER)]) / temp).astype(np.float32),
    }
    lr = gguf.GGUFReader(os.path.join(a.pack, "lora.gguf"))
    alpha = float(lr.fields["adapter.lora.alpha"].contents())
    lt = {t.name: np.asarray(t.data).astype(np.float32) for t in lr.tensors}
    for kind, names in (("exps", ("eg", "eu", "ed")), ("shexp", ("sg", "su", "sd"))):
        for part, n in zip(("gate", "up", "down"), names):
            A = np.stack([lt[f"blk.{i}.ffn_{part}_{kind}.weight.lora_a"] for i in range(N_LAYER)])
            B = np.stack([lt[f"blk.{i}.ffn_{part}_{kind}.weight.lora_b"] for i in range(N_LAYER)])
            rank = A.shape[-2]
            # float16 as in lora.gguf (the factor is a power of two: still exact)
            out[f"{n}_a"] = np.ascontiguousarray(A).astype(np.float16)
            out[f"{n}_b"] = np.ascontiguousarray(B * (alpha / rank) / SCALE).astype(np.float16)
    save_file(out, a.out, metadata={"display_temperature": str(temp), "from": a.pack})
    for k, v in out.items():
        print(k, v.shape, v.dtype)


if __name__ == "__main__":
    main()
