"""Distil the MoE student against the dense teacher (router + LoRA; everything else frozen).

Recipe: KL(teacher || student) per token, batch 32 x 512 tokens, k drawn from {2,4,8,16}
each step (or, with k_rows, one k per batch row and a loss weight per k: run 4), straight-through gate (selected experts weighted exactly 1, router gradient through
softmax), AdamW (0.9, 0.95) without weight decay, router lr 1e-4, LoRA lr 1e-3, grad clip 1.0,
linear warm-up then cosine to 0.1x. The number of steps shrinks to fit a wall-clock deadline
(measured after a few steps) so a run always ends with a usable result.
"""
import math
import random
import time

import numpy as np
import torch

import moe_model as M

KS = (2, 4, 8, 16)


def windows(stream, seq, rng):
    """Non-overlapping windows of a 1-D token tensor, in shuffled order."""
    n = stream.numel() // seq
    w = stream[: n * seq].view(n, seq)
    return w[torch.from_numpy(rng.permutation(n)).to(w.device)]


class Batches:
    """Each batch: `chat_rows` windows of teacher-written chat text, the rest documentation."""

    def __init__(self, docs, chat, seq=512, batch=32, chat_rows=10, seed=0):
        self.rng = np.random.default_rng(seed)
        self.docs, self.chat, self.seq, self.batch = docs, chat, seq, batch
        self.chat_rows = chat_rows if chat is not None and chat.numel() >= seq else 0
        self.dw, self.cw = windows(docs, seq, self.rng), None
        if self.chat_rows:
            self.cw = windows(chat, seq, self.rng)
        self.di = self.ci = 0
        self.epochs_docs = self.epochs_chat = 0

    def _take(self, kind, n):
        if kind == "d":
            if self.di + n > self.dw.shape[0]:
                self.dw, self.di = windows(self.docs, self.seq, self.rng), 0
                self.epochs_docs += 1
            out, self.di = self.dw[self.di:self.di + n], self.di + n
        else:
            if self.ci + n > self.cw.shape[0]:
                self.cw, self.ci = windows(self.chat, self.seq, self.rng), 0
                self.epochs_chat += 1
            out, self.ci = self.cw[self.ci:self.ci + n], self.ci + n
        return out

    def next(self):
        parts = [self._take("d", self.batch - self.chat_rows)]
        if self.chat_rows:
            parts.append(self._take("c", self.chat_rows))
        return torch.cat(parts).long()


def lr_factor(step, total, warmup=10, floor=0.1):
    if step < warmup:
        return (step + 1) / warmup
    p = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * p))


def make_optimizer(student, lr_router=1e-4, lr_lora=1e-3):
    return torch.optim.AdamW([
        {"params": [student.router], "lr": lr_router, "base_lr": lr_router},
        {"params": student.lora_params(), "lr": lr_lora, "base_lr": lr_lora},
    ], betas=(0.9, 0.95), weight_decay=0.0)


def parse_k_rows(spec, batch):
    """'2:6,4:10,8:6,16:10' -> a list of `batch` k values (rows per k; the counts must sum to batch)."""
    rows = []
    for part in spec.split(","):
        k, n = (int(x) for x in part.split(":"))
        rows += [k] * n
    if len(rows) != batch:
        raise ValueError(f"--k-rows gives {len(rows)} rows, the batch has {batch}")
    return rows


def parse_k_weights(spec):
    """'16:2' -> {16: 2.0}; k values not named weigh 1."""
    return {int(k): float(w) for k, w in (p.split(":") for p in spec.split(",") if p)}


def train(teacher, student, batches, target_steps, deadline, log=print, opt=None, start_step=0,
          total_steps=None, seed=0, device="cuda", autocast=True, pause_at=0, k_rows=None, k_weights=None,
          hook=None, k_weights_text=None, text_rows=0):
    """Train until target_steps or until the deadline (time.time() value) would be passed.
    With total_steps given the plan is fixed (no shrinking); pause_at stops early at that step
    so a later run can resume. Returns (optimizer, steps done, total steps planned, history).

    k_rows (a list, one k per batch row, shuffled over the rows each step) replaces the one k
    per step: every step then sees every k, and k_weights ({k: weight}) weighs each row's mean
    KL in the loss. hook(step) runs after each step (validation, snapshots).
    k_weights_text ({k: weight}, run 6) replaces k_weights on the first text_rows rows of each
    batch (the documentation and prose rows: Batches puts them first), so k = 4 can weigh more on
    documentation than on chat."""
    rnd = random.Random(seed + start_step)
    k_weights = k_weights or {}
    k_weights_text = k_weights if k_weights_text is None else k_weights_text
    opt = opt or make_optimizer(student)
    params = [student.router] + student.lora_params()
    total = total_steps or target_steps
    hist, t_start, step = [], time.time(), start_step
    step_times = []
    while step < total and not (pause_at and step >= pause_at):
        t0 = time.time()
        ids = batches.next().to(device)
        if k_rows:
            ks = list(k_rows)
            rnd.shuffle(ks)
            k = torch.tensor(ks, device=device)
        else:
            k = rnd.choice(KS)
        for g in opt.param_groups:
            g["lr"] = g["base_lr"] * lr_factor(step, total)
        with torch.autocast(device_type="cuda" if device != "cpu" else "cpu", dtype=torch.bfloat16, enabled=autocast):
            with torch.no_grad():
                t_logits = teacher(ids)
            s_logits = student(ids, k=k)
        kl = M.kl_teacher_student(t_logits, s_logits)
        if k_rows:
            row = kl.mean(-1)
            wts = torch.tensor([(k_weights_text if i < text_rows else k_weights).get(x, 1.0)
                                for i, x in enumerate(ks)], device=row.device)
            loss = (row * wts).sum() / wts.sum()
            per_k = {x: float(row[k == x].mean().detach()) for x in sorted(set(ks))}
            if text_rows and bool((k[:text_rows] == 4).any()):  # k = 4 on the text rows alone
                per_k["t4"] = float(row[:text_rows][k[:text_rows] == 4].mean().detach())
        else:
            loss = kl.mean()
            per_k = {k: float(loss.detach())}
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        if device != "cpu":
            torch.cuda.synchronize()
        dt = time.time() - t0
        step_times.append(dt)
        if k_rows:
            hist.append((step, 0, float(loss.detach()), per_k))
        else:
            hist.append((step, k, float(loss.detach())))
        if step % 10 == 0 or step == 1:
            tps = ids.numel() / (sum(step_times[-10:]) / len(step_times[-10:]))
            kk = " ".join(f"k{x}={v:.4f}" for x, v in per_k.items())
            log(f"step {step}/{total} {kk} loss={float(loss.detach()):.4f} gn={float(gn):.3f} "
                f"lr={opt.param_groups[1]['lr']:.2e} {tps / 1000:.1f}k tok/s "
                f"elapsed {time.time() - t_start:.0f}s")
        # after a few steps, shrink the plan if the deadline cannot hold it
        if step == start_step + 8 and total_steps is None and not pause_at:
            per = float(np.median(step_times[2:]))
            fit = start_step + 8 + int((deadline - time.time()) / per)
            if fit < total:
                log(f"deadline: {per:.3f}s/step, plan cut from {total} to {fit} steps")
                total = max(fit, step + 1)
        if hook is not None:
            hook(step)
        if time.time() + 1.5 * float(np.median(step_times[-5:])) > deadline:
            log(f"deadline reached at step {step}")
            break
    return opt, step, total, hist
