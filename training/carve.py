"""Carve the dense teacher's FFN (1536 neurons per layer) into one shared expert of 512
neurons and 16 routed experts of 64, and initialise the routers. Runs on CPU.

  1. Run the teacher on a sample of training text and record, per layer, the FFN input
     (after ffn_norm) and the neuron activations h = silu(gate x) * up x.
  2. Shared expert: the 512 neurons with the largest E|h_n| x ||down[:, n]||.
  3. Routed experts: balanced k-means (16 clusters of exactly 64) of the remaining neurons'
     co-activation profiles (|h_n| over the sample tokens, unit-normalised, cosine similarity).
  4. Router init: least squares from the FFN input to the log norm of each expert's output,
     centred per token (softmax ignores a per-token shift).

    python carve.py [--tokens 16384]   -> work/carve.safetensors, work/carve.json
"""
import argparse
import json
import os
import time

import numpy as np
import torch
from safetensors.torch import save_file

import moe_model as M

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "work")


def balanced_kmeans(feat, n_clusters, size, iters=40, seed=0):
    """feat: (N, D) unit rows, N = n_clusters * size. Returns (N,) cluster ids."""
    g = torch.Generator().manual_seed(seed)
    N = feat.shape[0]
    cent = feat[torch.randperm(N, generator=g)[:n_clusters]].clone()
    assign = None
    for _ in range(iters):
        sim = feat @ cent.T  # (N, C)
        order = torch.argsort(sim.flatten(), descending=True).tolist()
        new = [-1] * N
        fill = [0] * n_clusters
        left = N
        for idx in order:
            n, c = divmod(idx, n_clusters)
            if new[n] >= 0 or fill[c] >= size:
                continue
            new[n] = c
            fill[c] += 1
            left -= 1
            if left == 0:
                break
        new = torch.tensor(new)
        if assign is not None and torch.equal(new, assign):
            break
        assign = new
        for c in range(n_clusters):
            v = feat[assign == c].mean(0)
            cent[c] = v / v.norm().clamp_min(1e-9)
    return assign


def carve_layer(x, h, wd):
    """x: (T, 576) FFN input, h: (T, 1536) activations, wd: (576, 1536) down."""
    score = h.abs().mean(0) * wd.norm(dim=0)
    shared = torch.topk(score, M.N_SHARED).indices.sort().values
    mask = torch.ones(M.N_FF, dtype=torch.bool)
    mask[shared] = False
    rest = torch.nonzero(mask).squeeze(1)
    prof = h[:, rest].abs().T
    prof = prof / prof.norm(dim=1, keepdim=True).clamp_min(1e-9)
    cl = balanced_kmeans(prof, M.N_EXPERT, M.EXPERT_FF)
    experts = [rest[cl == e].sort().values for e in range(M.N_EXPERT)]
    perm = torch.cat([shared] + experts)
    # expert output norms -> centred log targets
    norms = torch.stack([(h[:, ex] @ wd[:, ex].T).norm(dim=-1) for ex in experts], 1)  # (T, 16)
    y = norms.clamp_min(1e-6).log()
    y = y - y.mean(1, keepdim=True)
    lam = 1e-3 * x.shape[0]
    A = x.T @ x + lam * torch.eye(x.shape[1])
    W = torch.linalg.solve(A, x.T @ y)  # (576, 16)
    pred = x @ W
    top_t = norms.topk(4, dim=1).indices
    top_p = pred.topk(4, dim=1).indices
    overlap = (top_t[:, :, None] == top_p[:, None, :]).any(-1).float().mean().item()
    r2 = 1 - ((pred - y) ** 2).sum().item() / (y ** 2).sum().item()
    frac_shared = (h[:, shared] @ wd[:, shared].T).norm(dim=-1).mean().item() / (h @ wd.T).norm(dim=-1).mean().item()
    return perm, W.T.contiguous(), {"top4_overlap": overlap, "r2": r2, "shared_out_ratio": frac_shared}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=16384)
    ap.add_argument("--parts", nargs="+", default=[os.path.join(WORK, "send_a", "teacher_a.safetensors"),
                                                   os.path.join(WORK, "send_b", "teacher_b.safetensors")])
    a = ap.parse_args()
    torch.manual_seed(0)
    t0 = time.time()
    w, _ = M.load_teacher_raw(a.parts)
    teacher = M.Teacher(w)
    docs = np.fromfile(os.path.join(WORK, "tokens", "docs_train.bin"), dtype=np.uint16)
    rng = np.random.default_rng(0)
    n_win = a.tokens // 512
    starts = rng.integers(0, docs.size - 513, n_win)
    xs = [[] for _ in range(M.N_LAYER)]
    hs = [[] for _ in range(M.N_LAYER)]
    with torch.no_grad():
        for i in range(0, n_win, 4):
            ids = torch.from_numpy(np.stack([docs[s:s + 512] for s in starts[i:i + 4]]).astype(np.int64))
            teacher.capture = []
            teacher(ids)
            for l, x, h in teacher.capture:
                xs[l].append(x.reshape(-1, M.N_EMBD))
                hs[l].append(h.reshape(-1, M.N_FF))
    print(f"activations from {n_win * 512} tokens in {time.time() - t0:.0f}s", flush=True)
    perms, routers, diag = [], [], []
    for l in range(M.N_LAYER):
        x, h = torch.cat(xs[l]), torch.cat(hs[l])
        xs[l] = hs[l] = None
        perm, router, d = carve_layer(x, h, w[f"blk.{l}.ffn_down.weight"])
        perms.append(perm)
        routers.append(router)
        diag.append(d)
        print(l, {k: round(v, 3) for k, v in d.items()}, flush=True)
    perm = torch.stack(perms).to(torch.int32)
    assert all(sorted(p.tolist()) == list(range(M.N_FF)) for p in perm)
    save_file({"perm": perm, "router_init": torch.stack(routers).float()},
              os.path.join(WORK, "carve.safetensors"))
    with open(os.path.join(WORK, "carve.json"), "w") as f:
        json.dump({"tokens": n_win * 512, "layers": diag, "seconds": time.time() - t0}, f, indent=1)
    print(f"done in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
