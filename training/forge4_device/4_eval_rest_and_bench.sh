#!/bin/bash
# Device call: the seven eval kl jobs the first call left unfinished (set c), 7 at a time, then a
# second bench run of the shipped, unadapted and teacher files (6 reps) and llama-bench's error.
set -u
cd /tmp/m3
cat > jobs2.txt <<'J'
41 --label iv_unadapted --model unmerged.gguf --sets c=c_gitdoc.txt --ks 4
42 --label ii_merged_v3_q4_1 --model merged_v3.gguf --sets c=c_gitdoc.txt --ks 16
43 --label iv_unadapted --model unmerged.gguf --sets c=c_gitdoc.txt --ks 16
44 --label rounding_v4 --teacher merged_v4.gguf --model unmerged.gguf --lora lora.gguf --sets c=c_gitdoc.txt --ks 4
45 --label off_v4 --teacher unmerged.gguf --model merged_v4.gguf --lora lora.gguf --lora-scale 0 --sets c=c_gitdoc.txt --ks 4
46 --label rounding_v3 --teacher merged_v3.gguf --model unmerged.gguf --lora lora.gguf --sets c=c_gitdoc.txt --ks 4
47 --label off_v3 --teacher unmerged.gguf --model merged_v3.gguf --lora lora.gguf --lora-scale 0 --sets c=c_gitdoc.txt --ks 4
J
cat jobs2.txt | xargs -P 7 -L 1 bash -c 'n=$0; python3 app_eval.py --bin ./mt-m2-rel --teacher teacher.gguf --threads 2 --max-tokens 8192 --results r_$n.jsonl "$@" > log_$n.txt 2>&1'
cat r_4?.jsonl > $OUT/eval2.jsonl; cp jobs2.txt $OUT/
B="bench --no-peer --reps 6 --frames 20 --latency-secs 1"
for r in 1 2; do for spec in "shipped_merged_v4 merged_v4.gguf lora.gguf" "unadapted unmerged.gguf" "teacher teacher.gguf"; do
  set -- $spec; l=""; [ -n "${3:-}" ] && l="--lora $3"
  echo "== round $r $1: moe-tutor --threads 2 $l $B --model $2" >> $OUT/bench2.txt
  timeout 100 ./mt-m2-rel --threads 2 $l $B --model $2 2>&1 | tail -1 >> $OUT/bench2.txt
done; done
timeout 60 ./llama-bench -m teacher.gguf -t 2 -p 16 -n 16 -r 1 > $OUT/llama_bench_try.txt 2>&1; echo "rc=$?" >> $OUT/llama_bench_try.txt
