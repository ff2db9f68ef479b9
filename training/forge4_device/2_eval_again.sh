#!/bin/bash
# Device call 5: the 40 eval kl jobs of 1_forge_and_eval.sh, 5 at a time, 3 threads each, 8,192
# tokens (33 finished inside the 580 s limit; the results were read back in a short call 6).
set -u
cd /tmp/m3
A=a=a_human_chat.txt; B=b=b_teacher_chat.txt; C=c=c_gitdoc.txt
jobs=()
for s in $A $B $C; do for k in 2 4 8 16; do
  jobs+=("--label i_adapter_at_run_time --model unmerged.gguf --lora lora.gguf --sets $s --ks $k")
  jobs+=("--label iii_merged_v4_q8_0 --model merged_v4.gguf --sets $s --ks $k")
done; done
for s in $A $C; do
  for k in 4 16; do
    jobs+=("--label ii_merged_v3_q4_1 --model merged_v3.gguf --sets $s --ks $k")
    jobs+=("--label iv_unadapted --model unmerged.gguf --sets $s --ks $k")
  done
  for v in 4 3; do
    jobs+=("--label rounding_v$v --teacher merged_v$v.gguf --model unmerged.gguf --lora lora.gguf --sets $s --ks 4")
    jobs+=("--label off_v$v --teacher unmerged.gguf --model merged_v$v.gguf --lora lora.gguf --lora-scale 0 --sets $s --ks 4")
  done
done
echo "${#jobs[@]} jobs"
i=0
for j in "${jobs[@]}"; do i=$((i+1)); echo "$i $j"; done > $OUT/jobs.txt
cat $OUT/jobs.txt | xargs -P 5 -L 1 bash -c 'n=$0; python3 app_eval.py --bin ./mt-m2-rel --teacher teacher.gguf --threads 3 --max-tokens '$N' --results r_$n.jsonl "$@" > log_$n.txt 2>&1'
cat r_*.jsonl > $OUT/eval.jsonl
grep -l failed log_*.txt | head; grep -h failed log_*.txt | head -5
wc -l $OUT/eval.jsonl
