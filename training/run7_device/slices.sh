#!/bin/bash
# Device call 6 (same warm machine, no carry): (c) git-doc on three more 8,192-token slices of the
# first 400 kB (characters 100k, 200k, 300k on), shipped model (run 6) vs run 7 at k = 4 and 16,
# same binary and forged files as calls 4-5 (12 jobs x 2 threads, 8 at a time by default).
set -u
cd /tmp/moe
for s in 2 3 4; do for m in run7=run7.gguf shipped_run6=shipped.gguf; do for k in 4 16; do
  echo "--label ${m%%=*} --model ${m#*=} --sets c$s=c$s.txt --ks $k"
done; done; done |
  timeout ${T:-400} xargs -P ${P:-8} -L 1 python3 code/app_eval.py --bin ./moe-tutor --teacher teacher.gguf \
   --threads 2 --max-tokens 8192 --results c_slices.jsonl
cp c_slices.jsonl $OUT/
python3 -c "import sys,json; [print(r['label'], r['set'], r['k'], r['kl'], r['seconds']) for r in map(json.loads, open('c_slices.jsonl'))]"
