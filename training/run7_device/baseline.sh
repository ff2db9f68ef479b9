#!/bin/bash
# The shipped model (run 6, the checkout's assets/default-model) through the app on the device
# CPUs, same binary and files as run 7's: forge v4 from the shipped pack (pack.gguf and the
# lora.gguf it names, copied to /tmp/moe/shipped/ by train.sh or finish.sh: the forge reads the
# adapter beside the pack), then eval kl on (a) and (c) at k = 4, 16, 2, 8, 8,192 tokens,
# JOBS jobs x 2 threads (the training process keeps the other cores).
set -u
cd /tmp/moe
./moe-tutor model forge --teacher teacher.gguf --pack shipped/pack.gguf --out shipped.gguf 2>&1 | tail -1 > forge_shipped.txt
sha256sum shipped.gguf >> forge_shipped.txt
for k in 4 16 2 8; do for s in a=a_human_chat.txt c=c_gitdoc.txt; do
  echo "--label shipped_run6 --model shipped.gguf --sets $s --ks $k"
done; done | xargs -P ${JOBS:-6} -L 1 nice -n 10 python3 code/app_eval.py --bin ./moe-tutor --teacher teacher.gguf \
    --threads 2 --max-tokens ${N:-8192} --results base.jsonl
echo baseline done
