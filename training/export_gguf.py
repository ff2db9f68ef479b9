"""Reference exporter: teacher GGUF + pack.gguf -> the full llama.cpp `deepseek` GGUF.

This is what the Rust forge must reproduce. Layout of the forged model (ggml ne order):
  token_embd.weight            copied from the teacher (Q8_0), tied: no output.weight
  output_norm / attn_norm / ffn_norm, attn_q / attn_k / attn_v / attn_output: copied as is
  blk.i.ffn_gate_inp.weight    F32 ne=[576, 16]        from pack.gguf (router, already shrunk)
  blk.i.ffn_gate_exps.weight   Q4_1 ne=[576, 64, 16]   teacher ffn_gate rows perm[512 + 64e + j]
  blk.i.ffn_up_exps.weight     Q4_1 ne=[576, 64, 16]   teacher ffn_up rows, same order
  blk.i.ffn_down_exps.weight   F16  ne=[64, 576, 16]   f16(dequant(teacher ffn_down))[:, perm[512 + 64e + j]]
  blk.i.ffn_gate_shexp.weight  Q4_1 ne=[576, 512]      teacher ffn_gate rows perm[0:512]
  blk.i.ffn_up_shexp.weight    Q4_1 ne=[576, 512]
  blk.i.ffn_down_shexp.weight  F16  ne=[512, 576]      f16(dequant(teacher ffn_down))[:, perm[0:512]]
Gate/up rows move whole, so their Q4_1 blocks are copied byte for byte. Down is permuted along
its input dimension, which cuts across Q4_1 blocks, so it is dequantised (f32: d * q + m) and
rounded to F16 - exactly the values the student was trained against.

    python export_gguf.py --teacher work/teacher.gguf --pack ../assets/default-model/pack.gguf \
        --out work/moe-default.gguf [--expert-used 4]
"""
import argparse
import os

import gguf
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "work")
Q = gguf.GGMLQuantizationType


def field(r, key):
    return r.fields[key].contents()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--teacher", default=os.path.join(WORK, "teacher.gguf"))
    ap.add_argument("--pack", default=os.path.join(HERE, "..", "assets", "default-model", "pack.gguf"))
    ap.add_argument("--out", default=os.path.join(WORK, "moe-default.gguf"))
    ap.add_argument("--expert-used", type=int, default=None)
    a = ap.parse_args()
    t = gguf.GGUFReader(a.teacher)
    p = gguf.GGUFReader(a.pack)
    tt = {x.name: x for x in t.tensors}
    pt = {x.name: x for x in p.tensors}
    assert int(field(p, "moe_tutor.pack.version")) == 1
    n_exp = int(field(p, "moe_tutor.expert_count"))
    n_ff_exp = int(field(p, "moe_tutor.expert_feed_forward_length"))
    n_shared = int(field(p, "moe_tutor.expert_shared_count"))
    assert field(p, "moe_tutor.forge.type.ffn_down_exps") == "F16"
    assert field(p, "moe_tutor.forge.type.ffn_gate_exps") == "Q4_1"
    n_layer = int(field(t, "llama.block_count"))
    n_embd = int(field(t, "llama.embedding_length"))
    sh = n_shared * n_ff_exp

    w = gguf.GGUFWriter(a.out, "deepseek")
    w.add_name("SmolLM2-135M-Instruct as DeepSeekMoE (moe-tutor default)")
    w.add_type("model")
    w.add_string("general.license", "apache-2.0")
    w.add_context_length(int(field(t, "llama.context_length")))
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(int(field(t, "llama.feed_forward_length")))
    w.add_head_count(int(field(t, "llama.attention.head_count")))
    w.add_head_count_kv(int(field(t, "llama.attention.head_count_kv")))
    w.add_rope_dimension_count(int(field(t, "llama.rope.dimension_count")))
    w.add_rope_freq_base(float(field(t, "llama.rope.freq_base")))
    w.add_layer_norm_rms_eps(float(field(t, "llama.attention.layer_norm_rms_epsilon")))
    w.add_vocab_size(int(field(t, "llama.vocab_size")))
    w.add_expert_count(n_exp)
    w.add_expert_used_count(a.expert_used or int(field(p, "moe_tutor.expert_used_count")))
    w.add_expert_shared_count(n_shared)
    w.add_expert_feed_forward_length(n_ff_exp)
    w.add_expert_weights_scale(float(field(p, "moe_tutor.expert_weights_scale")))
    w.add_leading_dense_block_count(0)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_1)
    w.add_quantization_version(2)
    # tokenizer and chat template, as the teacher has them
    for key, f in t.fields.items():
        if not key.startswith("tokenizer."):
            continue
        vt = f.types[0]
        if vt == gguf.GGUFValueType.ARRAY:
            w.add_key_value(key, f.contents(), vt, sub_type=f.types[-1])
        else:
            w.add_key_value(key, f.contents(), vt)
    w.add_string("moe_tutor.teacher.sha256", field(p, "moe_tutor.teacher.sha256"))
    w.add_float32("moe_tutor.router_display_temperature", float(field(p, "moe_tutor.router_display_temperature")))

    def copy(name):
        x = tt[name]
        if x.tensor_type == Q.F32:
            w.add_tensor(name, np.asarray(x.data))
        else:
            w.add_tensor(name, np.asarray(x.data), raw_dtype=x.tensor_type)  # uint8 rows of blocks

    copy("token_embd.weight")
    copy("output_norm.weight")
    for i in range(n_layer):
        perm = np.asarray(pt[f"blk.{i}.ffn_perm"].data).astype(np.int64)
        for n in ("attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm"):
            copy(f"blk.{i}.{n}.weight")
        w.add_tensor(f"blk.{i}.ffn_gate_inp.weight", np.asarray(pt[f"blk.{i}.ffn_gate_inp.weight"].data, dtype=np.float32))
        for n in ("gate", "up"):
            x = tt[f"blk.{i}.ffn_{n}.weight"]
            assert x.tensor_type == Q.Q4_1
            rows = np.asarray(x.data)  # (1536, bytes per row): one teacher neuron per row
            ex = rows[perm[sh:]].reshape(n_exp, n_ff_exp, rows.shape[1])
            w.add_tensor(f"blk.{i}.ffn_{n}_exps.weight", np.ascontiguousarray(ex), raw_dtype=Q.Q4_1)
            w.add_tensor(f"blk.{i}.ffn_{n}_shexp.weight", np.ascontiguousarray(rows[perm[:sh]]), raw_dtype=Q.Q4_1)
        x = tt[f"blk.{i}.ffn_down.weight"]
        down = gguf.quants.dequantize(x.data, x.tensor_type).astype(np.float32)  # (576, 1536)
        dex = down[:, perm[sh:]].reshape(n_embd, n_exp, n_ff_exp).transpose(1, 0, 2)  # (16, 576, 64)
        w.add_tensor(f"blk.{i}.ffn_down_exps.weight", np.ascontiguousarray(dex).astype(np.float16))
        w.add_tensor(f"blk.{i}.ffn_down_shexp.weight", np.ascontiguousarray(down[:, perm[:sh]]).astype(np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(a.out, os.path.getsize(a.out), "bytes")


if __name__ == "__main__":
    main()
