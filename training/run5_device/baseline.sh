#!/bin/bash
# The models before run 5 through the app on the device CPUs, same binary and files as run 5's:
# the shipped model (run 2) and run 4's candidate (run 5's warm start), both forged v4, then
# eval kl on (a) and (c) at k = 4, 16, 2, 8, 8,192 tokens, JOBS jobs x 2 threads (the training
# process keeps the other cores).
set -u
REPO=$1
cd /tmp/moe
./moe-tutor model forge --teacher teacher.gguf --pack "$REPO"/assets/default-model/pack.gguf --out shipped.gguf 2>&1 | tail -1 > forge_shipped.txt &
./moe-tutor model forge --teacher teacher.gguf --pack "$REPO"/training/candidates/run4/pack.gguf --out run4.gguf 2>&1 | tail -1 > forge_run4.txt &
wait
sha256sum shipped.gguf run4.gguf >> forge_shipped.txt
for k in 4 16 2 8; do for m in shipped_run2=shipped.gguf run4=run4.gguf; do for s in a=a_human_chat.txt c=c_gitdoc.txt; do
  echo "--label ${m%%=*} --model ${m#*=} --sets $s --ks $k"
done; done; done | xargs -P ${JOBS:-6} -L 1 nice -n 10 python3 code/app_eval.py --bin ./moe-tutor --teacher teacher.gguf \
    --threads 2 --max-tokens ${N:-8192} --results base.jsonl
echo baseline done
