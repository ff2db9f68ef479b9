"""Mean per-token KL(teacher || student) and perplexities on held-out text.

Library use (run_device.py): evaluate(teacher, student, windows, ks).
Command line: rebuild the student from the shipped pack (pack.gguf + lora.gguf) and evaluate
it on held-out text, on CPU or GPU:

    python eval_kl.py --pack ../assets/default-model --windows 8 [--device cpu] [--mode llama]
"""
import argparse
import math
import os

import numpy as np
import torch

import moe_model as M

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "work")


@torch.no_grad()
def evaluate(teacher, student, wins, ks=(2, 4, 8, 16), batch=16, device="cuda", fp32=True,
             collect_router=False):
    """wins: (N, T) token windows. Returns {"teacher_ppl", "k": {k: {"kl", "ppl"}}, ...}."""
    ac = dict(device_type="cuda" if device != "cpu" else "cpu", dtype=torch.bfloat16, enabled=not fp32)
    res = {"tokens": int(wins[:, 1:].numel()), "k": {}}
    kl = {k: 0.0 for k in ks}
    nll_s = {k: 0.0 for k in ks}
    nll_t, n = 0.0, 0
    stds = []
    for i in range(0, wins.shape[0], batch):
        ids = wins[i:i + batch].to(device).long()
        tgt = ids[:, 1:].reshape(-1)
        with torch.autocast(**ac):
            tl = teacher(ids)[:, :-1].reshape(-1, M.VOCAB).float()
        nll_t += torch.nn.functional.cross_entropy(tl, tgt, reduction="sum").item()
        n += tgt.numel()
        for k in ks:
            if collect_router and k == ks[0]:
                student.stats = []
            with torch.autocast(**ac):
                sl = student(ids, k=k)[:, :-1].reshape(-1, M.VOCAB).float()
            if student.stats is not None:
                stds.append(torch.cat(student.stats).std(-1).mean().item())
                student.stats = None
            kl[k] += M.kl_teacher_student(tl, sl).sum().item()
            nll_s[k] += torch.nn.functional.cross_entropy(sl, tgt, reduction="sum").item()
    res["teacher_ppl"] = math.exp(nll_t / n)
    for k in ks:
        res["k"][k] = {"kl": kl[k] / n, "ppl": math.exp(nll_s[k] / n)}
    if stds:
        res["router_logit_std"] = float(np.mean(stds))
    return res


def fmt(res, title=""):
    lines = [f"{title} ({res['tokens']} tokens) teacher ppl {res['teacher_ppl']:.2f}"]
    for k, v in res["k"].items():
        lines.append(f"  k={k:>2}: KL {v['kl']:.4f} nats/token, student ppl {v['ppl']:.2f}")
    return "\n".join(lines)


def student_from_pack(w, pack_dir, device):
    """Rebuild the student from pack.gguf + lora.gguf exactly as llama.cpp would use them."""
    import gguf
    pr = gguf.GGUFReader(os.path.join(pack_dir, "pack.gguf"))
    f = {t.name: t for t in pr.tensors}
    perm = np.stack([np.asarray(f[f"blk.{i}.ffn_perm"].data) for i in range(M.N_LAYER)])
    router = np.stack([np.asarray(f[f"blk.{i}.ffn_gate_inp.weight"].data) for i in range(M.N_LAYER)])
    temp = float(pr.fields["moe_tutor.router_display_temperature"].contents())
    lr = gguf.GGUFReader(os.path.join(pack_dir, "lora.gguf"))
    alpha = float(lr.fields["adapter.lora.alpha"].contents())
    lt = {t.name: torch.from_numpy(np.asarray(t.data).astype(np.float32)) for t in lr.tensors}
    r_exp = lt["blk.0.ffn_gate_exps.weight.lora_a"].shape[1]
    r_sh = lt["blk.0.ffn_gate_shexp.weight.lora_a"].shape[0]
    st = M.Student(w, perm, router, r_exp=r_exp, r_sh=r_sh, scale=1.0)
    with torch.no_grad():
        for i in range(M.N_LAYER):
            for part, a, b in (("gate", st.eg_a, st.eg_b), ("up", st.eu_a, st.eu_b), ("down", st.ed_a, st.ed_b)):
                a[i] = lt[f"blk.{i}.ffn_{part}_exps.weight.lora_a"] * (alpha / r_exp)
                b[i] = lt[f"blk.{i}.ffn_{part}_exps.weight.lora_b"]
            for part, a, b in (("gate", st.sg_a, st.sg_b), ("up", st.su_a, st.su_b), ("down", st.sd_a, st.sd_b)):
                a[i] = lt[f"blk.{i}.ffn_{part}_shexp.weight.lora_a"] * (alpha / r_sh)
                b[i] = lt[f"blk.{i}.ffn_{part}_shexp.weight.lora_b"]
    st.export_temp = 1.0  # the router in the pack is already shrunk
    return st.to(device), temp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pack", default=os.path.join(HERE, "..", "assets", "default-model"))
    ap.add_argument("--parts", nargs="+", default=[os.path.join(WORK, "send_a", "teacher_a.safetensors"),
                                                   os.path.join(WORK, "send_b", "teacher_b.safetensors")])
    ap.add_argument("--heldout", default=os.path.join(WORK, "tokens", "heldout_docs.bin"))
    ap.add_argument("--windows", type=int, default=8)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--mode", default="llama", choices=["llama", "st"])
    ap.add_argument("--ks", default="2,4,8,16")
    a = ap.parse_args()
    w, _ = M.load_teacher_raw(a.parts, device=a.device)
    teacher = M.Teacher(w)
    student, temp = student_from_pack(w, a.pack, a.device)
    student.mode = a.mode
    print("display temperature", temp)
    held = torch.from_numpy(np.fromfile(a.heldout, dtype=np.uint16).astype(np.int64))
    n = min(a.windows, held.numel() // a.seq)
    wins = held[: n * a.seq].view(n, a.seq)
    res = evaluate(teacher, student, wins, ks=tuple(int(k) for k in a.ks.split(",")), batch=4,
                   device=a.device)
    print(fmt(res, f"held-out, mode {a.mode}"))


if __name__ == "__main__":
    main()
