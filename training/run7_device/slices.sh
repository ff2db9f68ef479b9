#!/bin/bash
# Device call 6 (same warm machine, no carry): more 8,192-token slices, shipped model (run 6) vs
# run 7, same binary and forged files as call 5, 16 jobs x 2 threads at once:
#   (c) git-doc from characters 100k, 200k, 300k of its first 400 kB (c2-c4, as runs 4-6), k = 4, 16;
#   (a) human chat from characters 100k and 200k of its first 400 kB (a2, a3; new in run 7), k = 4.
set -u
cd /tmp/moe
python3 -c "
t = open('a_human_chat.txt').read()
for i, c in ((2, 100000), (3, 200000)):
    open(f'a{i}.txt', 'w').write(t[c:])"
{ for s in c2 c3 c4; do for m in run7=run7.gguf shipped_run6=shipped.gguf; do for k in 4 16; do
    echo "--label ${m%%=*} --model ${m#*=} --sets $s=$s.txt --ks $k"
  done; done; done
  for s in a2 a3; do for m in run7=run7.gguf shipped_run6=shipped.gguf; do
    echo "--label ${m%%=*} --model ${m#*=} --sets $s=$s.txt --ks 4"
  done; done; } |
  timeout ${T:-420} xargs -P ${P:-16} -L 1 python3 code/app_eval.py --bin ./moe-tutor --teacher teacher.gguf \
   --threads 2 --max-tokens 8192 --results slices.jsonl
cp slices.jsonl $OUT/
python3 -c "import json; [print(r['label'], r['set'], r['k'], r['kl'], r['seconds']) for r in map(json.loads, open('slices.jsonl'))]"
