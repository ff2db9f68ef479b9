#!/bin/bash
# Device call 6 (same warm machine, no carry): (c) git-doc on three more 8,192-token slices of the
# first 400 kB (characters 100k, 200k, 300k on), shipped model vs run 6 at k = 4, run 6 also at
# k = 16, same binary and forged files as calls 4-5 (9 jobs x 2 threads... 8 at a time).
set -u
cd /tmp/moe
for s in 2 3 4; do for m in run6=run6.gguf shipped_run2=shipped.gguf; do
  echo "--label ${m%%=*} --model ${m#*=} --sets c$s=c$s.txt --ks 4"
done; echo "--label run6 --model run6.gguf --sets c$s=c$s.txt --ks 16"; done |
  timeout ${T:-330} xargs -P 9 -L 1 python3 code/app_eval.py --bin ./moe-tutor --teacher teacher.gguf \
   --threads 2 --max-tokens 8192 --results c_slices.jsonl
cp c_slices.jsonl $OUT/
python3 -c "import sys,json; [print(r['label'], r['set'], r['k'], r['kl'], r['seconds']) for r in map(json.loads, open('c_slices.jsonl'))]"
