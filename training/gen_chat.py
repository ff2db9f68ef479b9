"""Batched sampling with a KV cache: the teacher writes chat answers to varied prompts.

Used on the GPU by run_device.py (chat-text generation and the greedy sample replies); it
also runs on CPU for tests.
"""
import time

import torch

import moe_model as M

STOP = (0, 2)  # <|endoftext|>, <|im_end|>
NEWLINE = 198


@torch.no_grad()
def generate(model, prompts, temps, max_new, top_p=0.95, seed=0, device="cuda", dtype=torch.bfloat16):
    """prompts: list of token-id lists; temps: list of floats (0 = greedy).
    Returns a list of generated id lists (ending with the stop token when one came)."""
    g = torch.Generator(device=device).manual_seed(seed)
    B = len(prompts)
    P = max(len(p) for p in prompts)
    pad = torch.tensor([P - len(p) for p in prompts], device=device)
    ids = torch.full((B, P), STOP[1], dtype=torch.long)
    for b, p in enumerate(prompts):
        ids[b, P - len(p):] = torch.tensor(p)
    ids = ids.to(device)
    ar = torch.arange(P, device=device)
    pos = (ar[None, :] - pad[:, None]).clamp_min(0)
    valid = ar[None, :] >= pad[:, None]  # (B, P) real tokens
    causal = ar[None, :] <= ar[:, None]  # (q, k)
    mask = (causal[None] & valid[:, None, :]) | torch.eye(P, dtype=torch.bool, device=device)[None]
    cache = M.KVCache(B, P + max_new, device, dtype)
    temps_t = torch.tensor(temps, device=device, dtype=torch.float32)
    out = torch.zeros(B, max_new, dtype=torch.long, device=device)
    done = torch.zeros(B, dtype=torch.bool, device=device)
    n_steps = 0
    with torch.autocast(device_type=device if device != "cpu" else "cpu", dtype=dtype, enabled=dtype != torch.float32):
        logits = model(ids, pos=pos, mask=mask[:, None], cache=cache, last_only=True)[:, -1]
        key_valid = torch.cat([valid, torch.ones(B, max_new, dtype=torch.bool, device=device)], 1)
        for t in range(max_new):
            nxt = sample(logits.float(), temps_t, top_p, g)
            nxt = torch.where(done, torch.full_like(nxt, STOP[1]), nxt)
            out[:, t] = nxt
            done |= (nxt == STOP[0]) | (nxt == STOP[1])
            n_steps = t + 1
            if bool(done.all()) or t == max_new - 1:
                break
            p_t = (P + t - pad)[:, None]
            m = key_valid[:, None, None, :P + t + 1]
            logits = model(nxt[:, None], pos=p_t, mask=m, cache=cache)[:, -1]
    out = out[:, :n_steps].tolist()
    res = []
    for row in out:
        cut = len(row)
        for j, x in enumerate(row):
            if x in STOP:
                cut = j + 1
                break
        res.append(row[:cut])
    return res


def sample(logits, temps, top_p, g):
    greedy = logits.argmax(-1)
    t = temps.clamp_min(1e-4)[:, None]
    probs = (logits / t).softmax(-1)
    sp, si = probs.sort(-1, descending=True)
    cs = sp.cumsum(-1)
    sp = torch.where(cs - sp > top_p, torch.zeros_like(sp), sp)
    pick = torch.multinomial(sp, 1, generator=g).squeeze(1)
    drawn = si.gather(1, pick[:, None]).squeeze(1)
    return torch.where(temps > 0, drawn, greedy)


def chat_stream(model, prompts, want_tokens, batch, max_new, time_budget, device, seed=0, log=print,
                min_convs=0):
    """Answer prompts (cycling, temperatures varied) until want_tokens conversation tokens or
    time_budget seconds (but at least min_convs conversations). A prompt is a token-id list, or
    a dict {"ids": [...], "follow": [...]}: then an answer that ended with <|im_end|> gets the
    follow-up user turn and a second answer (a two-turn conversation). Returns a list of
    conversations (prompt + answers token ids)."""
    temps_cycle = [0.0, 0.5, 0.7, 0.8, 0.9, 1.0]
    convs, n_tok, i, r = [], 0, 0, 0
    t0 = time.time()
    while (n_tok < want_tokens and time.time() - t0 < time_budget) or len(convs) < min_convs:
        chunk = [prompts[(i + j) % len(prompts)] for j in range(batch)]
        items = [p if isinstance(p, dict) else {"ids": p} for p in chunk]
        temps = [temps_cycle[(i + j + r) % len(temps_cycle)] for j in range(batch)]
        ts = time.time()
        gens = generate(model, [it["ids"] for it in items], temps, max_new, seed=seed + r, device=device)
        done = [list(it["ids"]) + gn + ([NEWLINE] if gn and gn[-1] == STOP[1] else []) for it, gn in zip(items, gens)]
        second = [j for j, (it, gn) in enumerate(zip(items, gens)) if it.get("follow") and gn and gn[-1] == STOP[1]]
        if second:
            gens2 = generate(model, [done[j] + list(items[j]["follow"]) for j in second], [temps[j] for j in second],
                             max_new, seed=seed + r + 7919, device=device)
            for j, gn in zip(second, gens2):
                done[j] = done[j] + list(items[j]["follow"]) + gn + ([NEWLINE] if gn and gn[-1] == STOP[1] else [])
        for c in done:
            convs.append(c)
            n_tok += len(c)
        i += batch
        r += 1
        log(f"gen batch {r}: {batch} conversations ({len(second)} two-turn), {n_tok} tokens so far, "
            f"{time.time() - ts:.1f}s")
    return convs
