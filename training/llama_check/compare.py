"""Check the forged model in llama.cpp itself: KL(teacher || student) with both run by
llama.cpp (the teacher GGUF vs work/moe-default.gguf + lora.gguf) on held-out windows, next to
the PyTorch numbers for the same windows.

    python llama_check/compare.py --llcheck work/llcheck/llcheck --windows 8
"""
import argparse
import os
import subprocess
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import eval_kl  # noqa: E402
import moe_model as M  # noqa: E402

W = os.path.join(os.path.dirname(HERE), "work")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llcheck", default=os.path.join(W, "llcheck", "llcheck"))
    ap.add_argument("--model", default=os.path.join(W, "moe-default.gguf"))
    ap.add_argument("--teacher", default=os.path.join(W, "teacher.gguf"))
    ap.add_argument("--lora", default=os.path.join(os.path.dirname(HERE), "..", "assets", "default-model", "lora.gguf"))
    ap.add_argument("--windows", type=int, default=8)
    ap.add_argument("--seq", type=int, default=512)
    a = ap.parse_args()
    torch.set_num_threads(2)
    tmp = os.path.join(W, "llcheck")
    os.makedirs(tmp, exist_ok=True)
    w, _ = M.load_teacher_raw([os.path.join(W, "send_a", "teacher_a.safetensors"),
                               os.path.join(W, "send_b", "teacher_b.safetensors")])
    teacher = M.Teacher(w)
    student, _ = eval_kl.student_from_pack(w, os.path.dirname(a.lora), "cpu")
    student.mode = "llama"
    held = np.fromfile(os.path.join(W, "tokens", "heldout_docs.bin"), dtype=np.uint16).astype(np.int32)
    ks = (2, 4, 8, 16)
    acc = {("llama", k): 0.0 for k in ks} | {("torch", k): 0.0 for k in ks}
    n = 0

    def run(model, lora, k, ids_path):
        out = os.path.join(tmp, "logits.f32")
        cmd = [a.llcheck, model, lora, "score", ids_path, out] + ([str(k)] if k else [])
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return torch.from_numpy(np.fromfile(out, dtype=np.float32).reshape(-1, M.VOCAB))

    for i in range(a.windows):
        ids = held[i * a.seq:(i + 1) * a.seq]
        p = os.path.join(tmp, "window.bin")
        ids.tofile(p)
        lt = run(a.teacher, "-", None, p)
        with torch.no_grad():
            x = torch.from_numpy(ids.astype(np.int64))[None]
            tt = teacher(x)[0]
            for k in ks:
                acc[("llama", k)] += M.kl_teacher_student(lt, run(a.model, a.lora, k, p)).sum().item()
                acc[("torch", k)] += M.kl_teacher_student(tt, student(x, k=k)[0]).sum().item()
        n += len(ids)
        print(f"window {i + 1}: " + "  ".join(f"k={k} llama.cpp {acc[('llama', k)] / n:.4f} torch {acc[('torch', k)] / n:.4f}"
                                              for k in ks), flush=True)


if __name__ == "__main__":
    main()
