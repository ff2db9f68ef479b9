"""The whole GPU part in one process, sized to fit one device call (10 minutes):

  1. load the teacher (raw quantised parts), the carve (permutation + router init) and text;
  2. the teacher writes chat answers to varied prompts (held-out prompts first);
  3. evaluate the carved student before training;
  4. distil (distill.py) until the step target or the deadline;
  5. evaluate on held-out documentation and held-out chat text (k = 2/4/8/16, float32),
     both with the training gate (weight 1) and as llama.cpp will run the export
     (16 x softmax of the shrunk router, LoRA rounded to float16);
  6. greedy sample replies, teacher vs student;
  7. write the trained router + LoRA (float16) and results to --out.

    python run_device.py --parts /tmp/moe/teacher_a.safetensors training/work/send_b/teacher_b.safetensors \
        --data training/work/send_b --out $OUT --budget 560
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import distill  # noqa: E402
import eval_kl  # noqa: E402
import gen_chat  # noqa: E402
import moe_model as M  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

T_START = time.time()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parts", nargs="+", required=True)
    ap.add_argument("--data", required=True, help="folder with docs_train.bin, heldout_docs.bin, prompts.json, carve.safetensors")
    ap.add_argument("--out", required=True)
    ap.add_argument("--budget", type=float, default=560, help="seconds for the whole script")
    ap.add_argument("--steps", type=int, default=640)
    ap.add_argument("--chat-tokens", type=float, default=3.4e6)
    ap.add_argument("--chat-rows", type=int, default=10)
    ap.add_argument("--gen-batch", type=int, default=2048)
    ap.add_argument("--gen-max-new", type=int, default=320)
    ap.add_argument("--gen-seconds", type=float, default=110)
    ap.add_argument("--eval-windows", type=int, default=256)
    ap.add_argument("--reserve", type=float, default=75, help="seconds kept for eval + export")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--sample-new", type=int, default=120)
    ap.add_argument("--fake-layers", action="store_true", help="smoke test: copy missing layers from present ones")
    ap.add_argument("--pause-at", type=int, default=0, help="stop training at this step and keep state in --state")
    ap.add_argument("--resume", action="store_true", help="continue from --state (same warm machine)")
    ap.add_argument("--router-lr", type=float, default=1e-4)
    ap.add_argument("--lora-lr", type=float, default=1e-3)
    ap.add_argument("--pilot-router-lrs", default="", help="e.g. 1e-4,1e-3: short pilot runs pick the router lr")
    ap.add_argument("--pilot-lora-lrs", default="",
                    help="run 7: a LoRA lr for each --pilot-router-lrs entry (pairs); the chosen pair sets both lrs")
    ap.add_argument("--pilot-steps", type=int, default=100)
    ap.add_argument("--val-windows", type=int, default=64, help="training-doc windows kept out for pilot choice")
    ap.add_argument("--held-prompts", type=int, default=376, help="held-out prompt answers (2 per prompt)")
    ap.add_argument("--state", default="/tmp/moe", help="where a warm machine keeps state between runs")
    ap.add_argument("--init", default="", help="start from these parameters (init_from_pack.py) instead of the carve")
    ap.add_argument("--text-file", default="docs_train.bin", help="the non-chat training stream in --data")
    ap.add_argument("--human-file", default="", help="held-out human-written chat tokens in --data (set a)")
    ap.add_argument("--held-gen-batch", type=int, default=0, help="held-out answers in their own batch first")
    ap.add_argument("--follow-frac", type=float, default=1.0,
                    help="share of training prompts with a follow-up that keep it (fewer two-turn answers)")
    ap.add_argument("--k-rows", default="", help="one k per batch row, e.g. 2:6,4:10,8:6,16:10 (default: one k per step)")
    ap.add_argument("--k-weights", default="", help="loss weight per k with --k-rows, e.g. 16:2")
    ap.add_argument("--k-weights-text", default=None,
                    help="loss weight per k on the text (documentation + prose) rows, e.g. 4:3,16:3 (run 6); "
                         "default: --k-weights on every row")
    ap.add_argument("--select-slack", type=float, default=0.0,
                    help="--select-every: a snapshot qualifies while its k=16 is at most this far above the start's")
    ap.add_argument("--select-docs-weight", type=float, default=1.0,
                    help="--select-every: rank snapshots by this x docs k=4 + chat k=4")
    ap.add_argument("--select-every", type=int, default=0,
                    help="every N steps: validation KL at k=4/16 and a snapshot; the run ships the best snapshot "
                         "whose k=16 is not worse than before training")
    ap.add_argument("--select-windows", type=int, default=48, help="validation windows per set for --select-every")
    a = ap.parse_args()
    deadline = T_START + a.budget
    os.makedirs(a.out, exist_ok=True)
    os.makedirs(a.state, exist_ok=True)
    logf = open(os.path.join(a.out, "log.txt"), "a")

    def log(*s):
        line = f"[{time.time() - T_START:6.1f}s] " + " ".join(str(x) for x in s)
        print(line, flush=True)
        logf.write(line + "\n")
        logf.flush()

    dev = a.device
    SEQ, BATCH = a.seq, a.batch
    snaps = {}  # step -> trained parameters (CPU), for --select-every
    results = {"args": vars(a)}
    if dev != "cpu":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        log("gpu", torch.cuda.get_device_name(), "torch", torch.__version__)

    # 1. load
    w, types = M.load_teacher_raw(a.parts, device=dev)
    if a.fake_layers:
        present = sorted({int(n.split(".")[1]) for n in w if n.startswith("blk.")})
        for i in range(M.N_LAYER):
            if i not in present:
                for t in M.LAYER_TENSORS:
                    w[f"blk.{i}.{t}.weight"] = w[f"blk.{present[i % len(present)]}.{t}.weight"]
        log("smoke test: missing layers copied")
    teacher = M.Teacher(w)
    carve = load_file(a.init or os.path.join(a.data, "carve.safetensors"))

    def new_student():
        st = M.Student(w, carve["perm"], carve["router_init"], r_exp=8, r_sh=16, scale=2.0).to(dev)
        if "eg_a" in carve:  # warm start: the LoRA of the model it continues
            with torch.no_grad():
                for n, p in st.named_parameters():
                    if n in carve:
                        p.copy_(carve[n].float())
        return st

    docs = torch.from_numpy(np.fromfile(os.path.join(a.data, a.text_file), dtype=np.uint16).astype(np.int64)).to(dev)
    val_w = docs[docs.numel() - a.val_windows * a.seq:].view(a.val_windows, a.seq)  # validation: never trained on
    docs = docs[: docs.numel() - a.val_windows * a.seq]
    held = torch.from_numpy(np.fromfile(os.path.join(a.data, "heldout_docs.bin"), dtype=np.uint16).astype(np.int64))
    prompts = json.load(open(os.path.join(a.data, "prompts.json")))
    human_w = None
    if a.human_file:
        hu = torch.from_numpy(np.fromfile(os.path.join(a.data, a.human_file), dtype=np.uint16).astype(np.int64))
        human_w = hu[: (hu.numel() // SEQ) * SEQ].view(-1, SEQ)[: a.eval_windows]
    samples = json.load(open(os.path.join(a.data, "sample_prompts.json")))
    n_ev = min(a.eval_windows, held.numel() // SEQ)
    held_w = held[: n_ev * SEQ].view(n_ev, SEQ)
    log(f"loaded: {len(w)} teacher tensors, docs {docs.numel()} tokens, held-out {held_w.numel()} tokens, "
        f"{len(prompts)} prompts")

    if a.resume:
        ck = torch.load(os.path.join(a.state, "ckpt.pt"), map_location=dev)
        prev = json.load(open(os.path.join(a.state, "results.json")))
        results.update({k: v for k, v in prev.items() if k not in ("args",)})
        chat = torch.load(os.path.join(a.state, "chat.pt"))
        chat_train, chat_held = chat["chat_train"].to(dev), chat["chat_held"]
        chat_train, chat_val = split_val(chat_train, a.select_windows if a.select_every else 0, SEQ)
        if a.select_every:
            snaps.update(torch.load(os.path.join(a.state, "snaps.pt")))
        n_ch = chat_held.numel() // SEQ
        chat_held_w = chat_held[: n_ch * SEQ].view(n_ch, SEQ)
        student = new_student()
        with torch.no_grad():
            for n, p in student.named_parameters():
                p.copy_(ck["params"][n])
        opt = distill.make_optimizer(student)
        opt.load_state_dict(ck["opt"])
        start, total0 = ck["step"], ck["total"]
        log(f"resumed at step {start} of {total0}")
    else:
        # 2. chat text from the teacher
        held_p = [p for p in prompts if p["held_out"]]
        train_p = [p for p in prompts if not p["held_out"]]
        if a.follow_frac < 1.0:  # fewer two-turn answers: the same seconds give more, shorter conversations
            rf = np.random.default_rng(7)
            train_p = [p if "follow" not in p or rf.random() < a.follow_frac else
                       {k: v for k, v in p.items() if k != "follow"} for p in train_p]
        held_p = (held_p * 2)[: a.held_prompts]
        tg = time.time()
        if a.held_gen_batch:  # held-out answers first, in batches of their own
            held_c = gen_chat.chat_stream(teacher, held_p, 0, a.held_gen_batch, a.gen_max_new, 0, dev,
                                          log=log, seed=99, min_convs=len(held_p))[: len(held_p)]
            train_c = gen_chat.chat_stream(teacher, train_p * 8, a.chat_tokens, a.gen_batch, a.gen_max_new,
                                           a.gen_seconds - (time.time() - tg), dev, log=log)
        else:
            queue = held_p + train_p * 8
            convs = gen_chat.chat_stream(teacher, queue, a.chat_tokens, a.gen_batch, a.gen_max_new,
                                         a.gen_seconds, dev, log=log)
            held_c, train_c = convs[:len(held_p)], convs[len(held_p):]
        with open(os.path.join(a.out, "heldout_b.json"), "w") as f:
            json.dump(held_c, f)

        def join(cs):
            out = []
            for c in cs:
                out.extend(c)
                out.append(0)
            return torch.tensor(out, dtype=torch.long)

        chat_train = join(train_c).to(dev)
        chat_held = join(held_c)
        chat_val = None
        n_ch = chat_held.numel() // SEQ
        chat_held_w = chat_held[: n_ch * SEQ].view(n_ch, SEQ)
        results["gen"] = {"seconds": time.time() - tg, "train_convs": len(train_c), "train_tokens": int(chat_train.numel()),
                          "heldout_convs": len(held_c), "heldout_tokens": int(chat_held.numel())}
        log("chat text:", results["gen"])
        torch.save({"chat_train": chat_train.cpu(), "chat_held": chat_held}, os.path.join(a.state, "chat.pt"))
        chat_train, chat_val = split_val(chat_train, a.select_windows if a.select_every else 0, SEQ)
        # a few generated answers come back for the README
        results["gen_examples"] = [c for c in train_c[:2048:256]]

        # 3. student + before-training eval
        student = new_student()
        n_train = sum(p.numel() for p in [student.router] + student.lora_params())
        log(f"student trainable parameters: {n_train}")
        results["trainable_params"] = n_train
        te = time.time()
        r0 = eval_kl.evaluate(teacher, student, held_w[:64], device=dev)  # 64 windows: quick
        log(eval_kl.fmt(r0, "before training, held-out docs (64 windows)"))
        results["eval_init_docs64"] = r0
        if human_w is not None:
            r0h = eval_kl.evaluate(teacher, student, human_w, device=dev)
            log(eval_kl.fmt(r0h, "before training, held-out human chat (set a)"))
            results["eval_init_human"] = r0h
        if a.select_every:
            results["selection"] = {"base": validate(teacher, student, val_w[:a.select_windows], chat_val, dev, log, 0)}
        log(f"init eval {time.time() - te:.1f}s")
        opt, start, total0 = None, 0, None
        if a.pilot_router_lrs and a.k_rows and a.select_every:
            # run 6: pilots train as the run does (k rows, per-row weights) and are scored on the
            # selection's validation sets by the selection's own rule
            pilots, pilot_val, pilot_lora = {}, {}, {}
            r_lrs = [float(x) for x in a.pilot_router_lrs.split(",")]
            l_lrs = [float(x) for x in a.pilot_lora_lrs.split(",")] if a.pilot_lora_lrs else [a.lora_lr] * len(r_lrs)
            assert len(l_lrs) == len(r_lrs), "--pilot-lora-lrs needs one entry per --pilot-router-lrs entry"
            for lr, llr in zip(r_lrs, l_lrs):
                tp = time.time()
                st = new_student()
                pilot_lora[lr] = llr
                po = distill.make_optimizer(st, lr_router=lr, lr_lora=llr)
                pb = distill.Batches(docs, chat_train, SEQ, BATCH, a.chat_rows, seed=0)
                distill.train(teacher, st, pb, a.pilot_steps, deadline, log=lambda *x: None, device=dev, opt=po,
                              total_steps=a.pilot_steps, k_rows=distill.parse_k_rows(a.k_rows, BATCH),
                              k_weights=distill.parse_k_weights(a.k_weights),
                              k_weights_text=text_weights(a), text_rows=BATCH - pb.chat_rows)
                v = validate(teacher, st, val_w[:a.select_windows], chat_val, dev, log, a.pilot_steps)
                base = results["selection"]["base"]
                ok = all(v[x]["16"] <= base[x]["16"] + a.select_slack for x in ("docs", "chat"))
                pilots[lr] = a.select_docs_weight * v["docs"]["4"] + v["chat"]["4"] + (0 if ok else 1.0)
                pilot_val[str(lr)] = v
                log(f"pilot router lr {lr:g} lora lr {llr:g}: score {pilots[lr]:.4f} ({time.time() - tp:.0f}s)")
                del st, po
                if dev != "cpu":
                    torch.cuda.empty_cache()
            a.router_lr = min(pilots, key=pilots.get)
            results["pilots"] = {str(k): v for k, v in pilots.items()}
            results["pilot_validation"] = pilot_val
            a.lora_lr = pilot_lora[a.router_lr]
            results["pilot_lora_lrs"] = {str(k): v for k, v in pilot_lora.items()}
            log(f"router lr chosen: {a.router_lr:g}, lora lr {a.lora_lr:g}")
        elif a.pilot_router_lrs:
            pilots = {}
            for lr in [float(x) for x in a.pilot_router_lrs.split(",")]:
                tp = time.time()
                st = new_student()
                po = distill.make_optimizer(st, lr_router=lr, lr_lora=a.lora_lr)
                distill.train(teacher, st, distill.Batches(docs, chat_train, SEQ, BATCH, a.chat_rows, seed=0),
                              a.pilot_steps, deadline, log=lambda *x: None, device=dev, opt=po,
                              total_steps=a.pilot_steps)
                rv = eval_kl.evaluate(teacher, st, val_w, ks=(2, 4, 8), device=dev)
                pilots[lr] = float(np.mean([v["kl"] for v in rv["k"].values()]))
                log(f"pilot router lr {lr:g}: validation KL k=2/4/8 " +
                    "/".join(f"{v['kl']:.4f}" for v in rv["k"].values()) + f" ({time.time() - tp:.0f}s)")
                del st, po
                if dev != "cpu":
                    torch.cuda.empty_cache()
            a.router_lr = min(pilots, key=pilots.get)
            results["pilots"] = {str(k): v for k, v in pilots.items()}
            log(f"router lr chosen: {a.router_lr:g}")
        opt = distill.make_optimizer(student, lr_router=a.router_lr, lr_lora=a.lora_lr)
        if a.pause_at:
            total0 = a.steps

    # 4. distil
    batches = distill.Batches(docs, chat_train, SEQ, BATCH, a.chat_rows, seed=0)
    for _ in range(start):  # resume: continue the same data order
        batches.next()
    tt = time.time()
    history = results.setdefault("selection", {}).setdefault("history", [])

    def take(step):
        history.append(validate(teacher, student, val_w[:a.select_windows], chat_val, dev, log, step))
        snaps[step] = {n: p.detach().cpu().clone() for n, p in student.named_parameters()}

    def hook(step):
        if a.select_every and step % a.select_every == 0:
            take(step)

    k_rows = distill.parse_k_rows(a.k_rows, BATCH) if a.k_rows else None
    opt, steps, total, hist = distill.train(teacher, student, batches, a.steps, deadline - a.reserve, log=log,
                                            device=dev, opt=opt, start_step=start, total_steps=total0,
                                            pause_at=a.pause_at, k_rows=k_rows,
                                            k_weights=distill.parse_k_weights(a.k_weights), hook=hook,
                                            k_weights_text=text_weights(a), text_rows=BATCH - batches.chat_rows)
    train_s = time.time() - tt + results.get("train", {}).get("seconds", 0.0)
    hist = results.get("loss_history", []) + hist
    results["train"] = {"steps": steps, "planned": total, "tokens": steps * BATCH * SEQ,
                        "chat_tokens": steps * batches.chat_rows * SEQ,
                        "docs_tokens": steps * (BATCH - batches.chat_rows) * SEQ,
                        "seconds": train_s, "tok_per_s": steps * BATCH * SEQ / train_s,
                        "docs_epochs": batches.epochs_docs, "chat_epochs": batches.epochs_chat,
                        "peak_gpu_gb": torch.cuda.max_memory_allocated() / 1e9 if dev != "cpu" else 0}
    results["loss_history"] = hist
    results["lr"] = {"router": opt.param_groups[0]["base_lr"], "lora": opt.param_groups[1]["base_lr"]}
    log("train:", results["train"])
    state = {n: p.detach().clone() for n, p in student.named_parameters()}
    torch.save({"params": state, "opt": opt.state_dict(), "step": steps, "total": total}, os.path.join(a.state, "ckpt.pt"))
    save_pack_params(student, a.out)
    log("saved trained parameters")
    if a.pause_at and steps < total:
        if a.select_every:
            torch.save(snaps, os.path.join(a.state, "snaps.pt"))
        with open(os.path.join(a.state, "results.json"), "w") as f:
            json.dump(results, f)
        with open(os.path.join(a.out, "results.json"), "w") as f:
            json.dump(results, f)
        log(f"paused at step {steps}; resume with --resume")
        return

    if a.select_every:  # ship the best snapshot whose k=16 did not get worse (validation sets only)
        if steps not in snaps:
            take(steps)
        pick = choose(results["selection"]["base"], history, a.select_slack, a.select_docs_weight)
        results["selection"]["chosen_step"] = pick
        with torch.no_grad():
            for n, p in student.named_parameters():
                p.copy_(snaps[pick][n].to(p.device))
        save_pack_params(student, a.out)
        log(f"selected the snapshot of step {pick} of {steps}")

    # 5. evaluation
    te = time.time()
    r_val = eval_kl.evaluate(teacher, student, val_w, device=dev)
    log(eval_kl.fmt(r_val, "validation (training-doc windows kept out)"))
    results["eval_val_st"] = r_val
    r_st = eval_kl.evaluate(teacher, student, held_w, device=dev, collect_router=True)
    log(eval_kl.fmt(r_st, "held-out docs, training gate (weight 1)"))
    std = r_st["router_logit_std"]
    export_temp = 0.01 / std
    results.update(eval_docs_st=r_st, export_temp=export_temp)
    r_cst = eval_kl.evaluate(teacher, student, chat_held_w, device=dev)
    log(eval_kl.fmt(r_cst, "held-out chat, training gate"))
    results["eval_chat_st"] = r_cst
    # as exported: float16 LoRA, router shrunk by export_temp, llama.cpp's weights
    with torch.no_grad():
        for p in student.lora_params():
            p.copy_(p.half().float())
    student.mode, student.export_temp = "llama", export_temp
    r_ll = eval_kl.evaluate(teacher, student, held_w, device=dev)
    log(eval_kl.fmt(r_ll, f"held-out docs, as exported (router x {export_temp:.5f}, fp16 LoRA)"))
    r_cll = eval_kl.evaluate(teacher, student, chat_held_w, device=dev)
    log(eval_kl.fmt(r_cll, "held-out chat, as exported"))
    results.update(eval_docs_export=r_ll, eval_chat_export=r_cll)
    if human_w is not None:
        r_hll = eval_kl.evaluate(teacher, student, human_w, device=dev)
        log(eval_kl.fmt(r_hll, "held-out human chat (set a), as exported"))
        results["eval_human_export"] = r_hll
    log(f"eval {time.time() - te:.1f}s")

    # 6. greedy samples (k = 4, as exported)
    try:
        qs = [s["ids"] for s in samples]
        student.k = 4
        with torch.no_grad():
            t_ans = gen_chat.generate(teacher, qs, [0.0] * len(qs), a.sample_new, device=dev)
            s_ans = gen_chat.generate(student, qs, [0.0] * len(qs), a.sample_new, device=dev)
        results["samples"] = [{"prompt": q, "teacher": t, "student": s} for q, t, s in zip(qs, t_ans, s_ans)]
    except Exception as e:  # samples are a bonus; never lose the run for them
        log("samples failed:", repr(e))
    results["wall_seconds"] = time.time() - T_START
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(results, f)
    log("done")


def split_val(chat_train, n_windows, seq):
    """The last n_windows windows of the generated training chat become validation text, never trained on."""
    if not n_windows:
        return chat_train, None
    cut = chat_train.numel() - n_windows * seq
    return chat_train[:cut], chat_train[cut:].view(n_windows, seq)


def validate(teacher, student, docs_w, chat_w, dev, log, step):
    """KL at k = 4 and 16 (training gate) on validation docs and validation chat."""
    out = {"step": step}
    for name, wins in (("docs", docs_w), ("chat", chat_w)):
        r = eval_kl.evaluate(teacher, student, wins, ks=(4, 16), device=dev)
        out[name] = {str(k): v["kl"] for k, v in r["k"].items()}
    log(f"validation at step {step}: docs k4 {out['docs']['4']:.4f} k16 {out['docs']['16']:.4f}, "
        f"chat k4 {out['chat']['4']:.4f} k16 {out['chat']['16']:.4f}")
    return out


def text_weights(a):
    """--k-weights-text as a dict, or None (the text rows then weigh as --k-weights)."""
    return None if a.k_weights_text is None else distill.parse_k_weights(a.k_weights_text)


def choose(base, history, slack=0.0, docs_weight=1.0):
    """Lowest docs_weight x docs k=4 + chat k=4 among snapshots whose k=16 KL is not more than
    slack above the start's on either set; if none qualifies, the one whose k=16 rose least."""
    ok = [h for h in history if all(h[s]["16"] <= base[s]["16"] + slack for s in ("docs", "chat"))]
    if ok:
        return min(ok, key=lambda h: docs_weight * h["docs"]["4"] + h["chat"]["4"])["step"]
    return min(history, key=lambda h: max(h[s]["16"] - base[s]["16"] for s in ("docs", "chat")))["step"]


def save_pack_params(student, out):
    """Router (float32) and LoRA (float16) in two files under 16 MiB each."""
    half = M.N_LAYER // 2
    parts = ({}, {})
    for n, p in student.named_parameters():
        t = p.detach().float().cpu()
        if n == "router":
            parts[0]["router"] = t.contiguous()
            continue
        parts[0][n] = t[:half].half().contiguous()
        parts[1][n] = t[half:].half().contiguous()
    meta = {"scale": str(student.scale), "layers_a": f"0-{half - 1}", "layers_b": f"{half}-{M.N_LAYER - 1}"}
    save_file(parts[0], os.path.join(out, "student_a.safetensors"), metadata=meta)
    save_file(parts[1], os.path.join(out, "student_b.safetensors"), metadata=meta)


if __name__ == "__main__":
    main()
