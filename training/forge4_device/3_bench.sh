#!/bin/bash
# Device call: one bench run, 2 threads: shipped (merged v4 + adapter loaded, unapplied),
# unmerged + adapter at run time, unadapted, teacher; llama-bench on the same files.
set -u
cd /tmp/m3
B="bench --no-peer --reps 3 --frames 20 --latency-secs 1"
for spec in "shipped_merged_v4 merged_v4.gguf lora.gguf" "before_adapter_at_run_time unmerged.gguf lora.gguf" "unadapted unmerged.gguf" "merged_v3_q4_1 merged_v3.gguf" "teacher teacher.gguf"; do
  set -- $spec
  l=""; [ -n "${3:-}" ] && l="--lora $3"
  echo "== $1: moe-tutor --threads 2 $l $B --model $2" | tee -a $OUT/bench.txt
  timeout 120 ./mt-m2-rel --threads 2 $l $B --model $2 2>&1 | tail -4 | tee -a $OUT/bench.txt
done
for m in teacher.gguf merged_v4.gguf unmerged.gguf; do
  echo "== llama-bench -m $m -t 2 -p 64 -n 64 -r 3" | tee -a $OUT/bench.txt
  timeout 90 ./llama-bench -m $m -t 2 -p 64 -n 64 -r 3 2>&1 | tail -6 | tee -a $OUT/bench.txt
done
