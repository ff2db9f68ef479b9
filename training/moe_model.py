"""PyTorch models for the distillation: the dense SmolLM2 teacher and its MoE student.

Weights come straight from the teacher GGUF (llama.cpp layout), so:
  * a matrix with ggml shape ne=[n_in, n_out] is a torch tensor (n_out, n_in), y = x @ W.T;
  * Q and K are stored for llama.cpp's NORM RoPE, which rotates adjacent pairs (x[2i], x[2i+1]);
  * the LM head is the token embedding (tied).

The student keeps every teacher weight frozen. Its FFN neurons are reordered by the carve's
permutation into [512 shared-expert neurons, expert 0's 64, ..., expert 15's 64]; a router
(16 x 576 per layer) picks k routed experts per token; LoRA adapters sit on every routed
expert's gate/up/down and on the shared expert's. Training mixes the selected experts with
weight exactly 1 and passes gradients to the router through softmax(logits) (straight-through).
"""
import json
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

N_LAYER, N_EMBD, N_FF, N_HEAD, N_KV, HEAD_DIM, VOCAB = 30, 576, 1536, 9, 3, 64, 49152
ROPE_BASE, EPS = 100000.0, 1e-5
N_SHARED, N_EXPERT, EXPERT_FF = 512, 16, 64
QK = 32  # elements per quant block

LAYER_TENSORS = ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                 "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"]


# ----------------------------------------------------------------------------- dequantisation
def dequant_q4_1(raw: torch.Tensor) -> torch.Tensor:
    """raw: uint8 (rows, nblocks*20) -> float32 (rows, nblocks*32), as ggml's dequantize_row_q4_1."""
    rows = raw.shape[0]
    b = raw.reshape(rows, -1, 20)
    d = b[..., 0:2].contiguous().view(torch.float16).float()  # (rows, nb, 1)
    m = b[..., 2:4].contiguous().view(torch.float16).float()
    qs = b[..., 4:20]
    lo = (qs & 0x0F).float()
    hi = (qs >> 4).float()
    q = torch.cat([lo, hi], dim=-1)  # element j = low nibble of byte j, j+16 = high nibble
    return (q * d + m).reshape(rows, -1)


def dequant_q8_0(raw: torch.Tensor) -> torch.Tensor:
    rows = raw.shape[0]
    b = raw.reshape(rows, -1, 34)
    d = b[..., 0:2].contiguous().view(torch.float16).float()
    q = b[..., 2:34].contiguous().view(torch.int8).float()
    return (q * d).reshape(rows, -1)


def dequant(raw: torch.Tensor, ttype: str) -> torch.Tensor:
    if ttype == "F32":
        return raw.float()
    if ttype == "Q4_1":
        return dequant_q4_1(raw)
    if ttype == "Q8_0":
        return dequant_q8_0(raw)
    raise ValueError(ttype)


def load_teacher_raw(paths, device="cpu"):
    """Read teacher parts written by split_teacher.py -> {gguf name: float32 tensor}.

    FFN down is rounded to float16 here: the forge permutes its input dimension (which breaks
    Q4_1 blocks) and stores it as F16, so F16 of the dequantised values is what the student
    must see."""
    from safetensors import safe_open
    out, types = {}, {}
    for p in paths:
        with safe_open(p, framework="pt") as f:
            meta = json.loads(f.metadata()["tensors"])
            for name in f.keys():
                raw = f.get_tensor(name).to(device)
                w = dequant(raw, meta[name])
                if ".ffn_down." in name:
                    w = w.half().float()
                out[name] = w
                types[name] = meta[name]
    return out, types


# ----------------------------------------------------------------------------- building blocks
def rms_norm(x, w):
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + EPS) * w).to(x.dtype)


def rope_cos_sin(pos, device):
    """pos: (B, T) int -> cos, sin (B, T, 1, 32)."""
    inv = ROPE_BASE ** (-torch.arange(0, HEAD_DIM, 2, device=device, dtype=torch.float32) / HEAD_DIM)
    ang = pos.float()[..., None] * inv
    return ang.cos()[:, :, None, :], ang.sin()[:, :, None, :]


def apply_rope(x, cos, sin):
    """x: (B, T, H, 64), NORM mode: rotate adjacent pairs."""
    xf = x.float().reshape(*x.shape[:-1], HEAD_DIM // 2, 2)
    x0, x1 = xf[..., 0], xf[..., 1]
    out = torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1)
    return out.reshape(x.shape).to(x.dtype)


class KVCache:
    def __init__(self, B, Tmax, device, dtype):
        self.k = torch.zeros(N_LAYER, B, N_KV, Tmax, HEAD_DIM, device=device, dtype=dtype)
        self.v = torch.zeros_like(self.k)
        self.len = 0


class Base(nn.Module):
    """Shared embedding / attention; subclasses define ffn(layer, x_normed)."""

    def __init__(self, w):
        super().__init__()
        self.tok = w["token_embd.weight"]
        self.out_norm = w["output_norm.weight"]
        self.attn_norm = [w[f"blk.{i}.attn_norm.weight"] for i in range(N_LAYER)]
        self.ffn_norm = [w[f"blk.{i}.ffn_norm.weight"] for i in range(N_LAYER)]
        self.wqkv = [torch.cat([w[f"blk.{i}.attn_q.weight"], w[f"blk.{i}.attn_k.weight"],
                                w[f"blk.{i}.attn_v.weight"]], 0) for i in range(N_LAYER)]
        self.wo = [w[f"blk.{i}.attn_output.weight"] for i in range(N_LAYER)]

    def attention(self, i, x, cos, sin, mask, cache):
        B, T, _ = x.shape
        qkv = F.linear(x, self.wqkv[i])
        q, k, v = qkv.split([N_HEAD * HEAD_DIM, N_KV * HEAD_DIM, N_KV * HEAD_DIM], dim=-1)
        q = apply_rope(q.reshape(B, T, N_HEAD, HEAD_DIM), cos, sin).transpose(1, 2)
        k = apply_rope(k.reshape(B, T, N_KV, HEAD_DIM), cos, sin).transpose(1, 2)
        v = v.reshape(B, T, N_KV, HEAD_DIM).transpose(1, 2)
        if cache is not None:
            s = cache.len
            cache.k[i, :, :, s:s + T] = k.to(cache.k.dtype)
            cache.v[i, :, :, s:s + T] = v.to(cache.v.dtype)
            k = cache.k[i, :, :, :s + T].to(q.dtype)
            v = cache.v[i, :, :, :s + T].to(q.dtype)
        if mask is None:
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        else:
            # fold the 3 query heads that share a KV head into the query axis: no K/V copies
            G = N_HEAD // N_KV
            L = k.shape[2]
            qg = q.reshape(B, N_KV, G * T, HEAD_DIM)
            mg = mask.expand(B, 1, T, L)[:, :, None].expand(B, 1, G, T, L).reshape(B, 1, G * T, L)
            o = F.scaled_dot_product_attention(qg, k, v, attn_mask=mg).reshape(B, N_HEAD, T, HEAD_DIM)
        return F.linear(o.transpose(1, 2).reshape(B, T, N_HEAD * HEAD_DIM), self.wo[i])

    def forward(self, ids, pos=None, mask=None, cache=None, last_only=False, **kw):
        B, T = ids.shape
        if pos is None:
            pos = torch.arange(T, device=ids.device).expand(B, T)
        cos, sin = rope_cos_sin(pos, ids.device)
        x = F.embedding(ids, self.tok)  # residual stream stays float32
        self.begin(**kw)
        for i in range(N_LAYER):
            x = x + self.attention(i, rms_norm(x, self.attn_norm[i]), cos, sin, mask, cache)
            x = x + self.ffn(i, rms_norm(x, self.ffn_norm[i]))
        if cache is not None:
            cache.len += T
        if last_only:
            x = x[:, -1:]
        return F.linear(rms_norm(x, self.out_norm), self.tok)

    def begin(self, **kw):
        pass


class Teacher(Base):
    def __init__(self, w):
        super().__init__(w)
        self.wgu = [torch.cat([w[f"blk.{i}.ffn_gate.weight"], w[f"blk.{i}.ffn_up.weight"]], 0)
                    for i in range(N_LAYER)]
        self.wd = [w[f"blk.{i}.ffn_down.weight"] for i in range(N_LAYER)]
        self.capture = None  # list to collect (x_normed, h) per layer, for the carve

    def ffn(self, i, x):
        g, u = F.linear(x, self.wgu[i]).chunk(2, dim=-1)
        h = F.silu(g) * u
        if self.capture is not None:
            self.capture.append((i, x.detach(), h.detach()))
        return F.linear(h, self.wd[i])


# ----------------------------------------------------------------------------- student
class Student(Base):
    """MoE student. perm: (30, 1536) teacher neuron ids; router_init: (30, 16, 576)."""

    def __init__(self, w, perm, router_init, r_exp=8, r_sh=16, scale=2.0):
        super().__init__(w)
        self.scale = scale
        self.perm = torch.as_tensor(perm, dtype=torch.long)
        dev = self.tok.device
        self.wg, self.wu, self.wd = [], [], []
        for i in range(N_LAYER):
            p = self.perm[i].to(dev)
            self.wg.append(w[f"blk.{i}.ffn_gate.weight"][p].contiguous())
            self.wu.append(w[f"blk.{i}.ffn_up.weight"][p].contiguous())
            self.wd.append(w[f"blk.{i}.ffn_down.weight"][:, p].contiguous())
        self.router = nn.Parameter(torch.as_tensor(router_init, dtype=torch.float32, device=dev).clone())

        def lora_a(*shape):  # kaiming-uniform like nn.Linear, fan_in = last dim
            b = 1.0 / math.sqrt(shape[-1])
            return nn.Parameter(torch.empty(*shape, device=dev).uniform_(-b, b))

        L, E = N_LAYER, N_EXPERT
        # routed experts: A (L, E, r, n_in), B (L, E, n_out, r)
        self.eg_a, self.eg_b = lora_a(L, E, r_exp, N_EMBD), nn.Parameter(torch.zeros(L, E, EXPERT_FF, r_exp, device=dev))
        self.eu_a, self.eu_b = lora_a(L, E, r_exp, N_EMBD), nn.Parameter(torch.zeros(L, E, EXPERT_FF, r_exp, device=dev))
        self.ed_a, self.ed_b = lora_a(L, E, r_exp, EXPERT_FF), nn.Parameter(torch.zeros(L, E, N_EMBD, r_exp, device=dev))
        # shared expert: A (L, r, n_in), B (L, n_out, r)
        self.sg_a, self.sg_b = lora_a(L, r_sh, N_EMBD), nn.Parameter(torch.zeros(L, N_SHARED, r_sh, device=dev))
        self.su_a, self.su_b = lora_a(L, r_sh, N_EMBD), nn.Parameter(torch.zeros(L, N_SHARED, r_sh, device=dev))
        self.sd_a, self.sd_b = lora_a(L, r_sh, N_SHARED), nn.Parameter(torch.zeros(L, N_EMBD, r_sh, device=dev))
        self.k = 4                 # experts per token: an int, or a (B,) tensor of one k per row
        self.mode = "st"          # "st": selected experts weighted 1; "llama": 16*softmax(l*T)
        self.export_temp = 1.0     # multiplier applied to router logits at export (mode "llama")
        self.stats = None          # optional list collecting router logits

    def lora_params(self):
        return [self.eg_a, self.eg_b, self.eu_a, self.eu_b, self.ed_a, self.ed_b,
                self.sg_a, self.sg_b, self.su_a, self.su_b, self.sd_a, self.sd_b]

    def merged(self, i):
        """Frozen weights + scale * B A, in the permuted neuron order."""
        s = self.scale
        dg = torch.cat([self.sg_b[i] @ self.sg_a[i], torch.bmm(self.eg_b[i], self.eg_a[i]).reshape(-1, N_EMBD)], 0)
        du = torch.cat([self.su_b[i] @ self.su_a[i], torch.bmm(self.eu_b[i], self.eu_a[i]).reshape(-1, N_EMBD)], 0)
        de = torch.bmm(self.ed_b[i], self.ed_a[i])  # (E, 576, 64)
        dd = torch.cat([self.sd_b[i] @ self.sd_a[i], de.permute(1, 0, 2).reshape(N_EMBD, -1)], 1)
        return self.wg[i] + s * dg, self.wu[i] + s * du, self.wd[i] + s * dd

    def begin(self, k=None, **kw):
        if k is not None:
            self.k = k

    def ffn(self, i, x):
        wg, wu, wd = self.merged(i)
        with torch.autocast(device_type=x.device.type, enabled=False):
            logits = x.float() @ self.router[i].t()  # router in float32, as llama.cpp
        if self.stats is not None:
            self.stats.append(logits.detach().reshape(-1, N_EXPERT))
        k = self.k
        if torch.is_tensor(k):  # one k per batch row (B,): each row keeps its own top-k
            rank = logits.argsort(-1, descending=True).argsort(-1)
            hard = (rank < k.view(-1, *([1] * (logits.dim() - 1)))).to(logits.dtype)
        else:
            top = logits.topk(k, dim=-1).indices
            hard = torch.zeros_like(logits).scatter_(-1, top, 1.0)
        if self.mode == "st":
            p = logits.softmax(-1)
            wts = hard + p - p.detach()
        else:  # what llama.cpp's deepseek graph computes with the exported router
            wts = hard * (N_EXPERT * (logits * self.export_temp).softmax(-1))
        h = F.silu(F.linear(x, wg)) * F.linear(x, wu)
        hs, hr = h[..., :N_SHARED], h[..., N_SHARED:]
        hr = (hr.reshape(*hr.shape[:-1], N_EXPERT, EXPERT_FF) * wts.to(hr.dtype)[..., None]).reshape(hr.shape)
        return F.linear(torch.cat([hs, hr], -1), wd)


def kl_teacher_student(t_logits, s_logits):
    """Per-token KL(teacher || student) in float32; returns (T,) tensor."""
    lt = t_logits.float().log_softmax(-1)
    ls = s_logits.float().log_softmax(-1)
    return (lt.exp() * (lt - ls)).sum(-1)
