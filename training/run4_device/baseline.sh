#!/bin/bash
# The shipped model (run 2, forge v4) through the app on the device CPUs, same files and
# binary as run 4's: forge it, then eval kl on (a) and (c) at k = 4 and 16 (then 2 and 8),
# 8,192 tokens, 3 jobs at a time x 3 threads (the training process keeps the other cores).
set -u
REPO=$1
cd /tmp/moe
./moe-tutor model forge --teacher teacher.gguf --pack "$REPO"/assets/default-model/pack.gguf --out shipped.gguf 2>&1 | tail -1
for k in 4 16 2 8; do for s in a=a_human_chat.txt c=c_gitdoc.txt; do
  echo "--label shipped_run2 --model shipped.gguf --sets $s --ks $k"
done; done | xargs -P ${JOBS:-3} -L 1 nice -n 10 python3 code/app_eval.py --bin ./moe-tutor --teacher teacher.gguf \
    --threads 3 --max-tokens ${N:-8192} --results base.jsonl
echo baseline done
