#!/bin/bash
# Device call 4 (calls 1-3 unpacked p1 and copied teacher parts p2, p3 to /tmp/m3): rebuild the
# teacher, forge the three files, then eval kl jobs 4 at a time. Its xargs line shifted the
# job number and the label away, so every job failed at once: 2_eval_again.sh ran them.
set -u
cd /tmp/m3
cp "$1"/teacher.part02 . && cat teacher.part00 teacher.part01 teacher.part02 > teacher.gguf && rm teacher.part0*
sha256sum teacher.gguf | tee $OUT/forge.txt
( ./mt-m3-dbg model forge --teacher teacher.gguf --pack pack.gguf --out merged_v4.gguf 2>&1 | tail -1 ) >> $OUT/forge.txt 2>&1 &
( ./mt-m2-rel model forge --teacher teacher.gguf --pack pack.gguf --out merged_v3.gguf 2>&1 | tail -1 ) >> $OUT/forge.txt 2>&1 &
( ./mt-m2-rel model forge --teacher teacher.gguf --pack pack-nolora.gguf --out unmerged.gguf 2>&1 | tail -1 ) >> $OUT/forge.txt 2>&1 &
wait
cat $OUT/forge.txt
N=${N:-8192}
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
cat $OUT/jobs.txt | xargs -P 4 -L 1 bash -c 'n=$0; shift; python3 app_eval.py --bin ./mt-m2-rel --teacher teacher.gguf --threads 4 --max-tokens '$N' --results r_$n.jsonl "$@" > log_$n.txt 2>&1'
cat r_*.jsonl > $OUT/eval.jsonl
grep -l failed log_*.txt | head; grep -h failed log_*.txt | head -5
wc -l $OUT/eval.jsonl
