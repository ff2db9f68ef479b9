#!/bin/bash
# Device calls 7-10 of run 4 (a fresh machine; calls 7-9 copied the teacher parts r5_1..r5_3 to
# /tmp/ev, r5_3 also lora.gguf; r5_4 holds this script, the binary, pack.gguf and the slices).
# Run 4 decision check: (c) git-doc at k=4 (then k=16) on three more 8,192-token slices of the
# first 400 kB (characters 100k, 200k, 300k on), shipped model vs run 4, same binary.
set -u
REPO=$(pwd)
mkdir -p /tmp/ev/run4 && cp .stage/r5_4/* /tmp/ev/ && cd /tmp/ev
cat teacher.p0 teacher.p1 teacher.p2 > teacher.gguf && rm teacher.p*
echo "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53  teacher.gguf" | sha256sum -c - || exit 1
gunzip -f moe-tutor.gz && chmod +x moe-tutor
mv pack.gguf lora.gguf run4/
./moe-tutor model forge --teacher teacher.gguf --pack run4/pack.gguf --out run4.gguf 2>&1 | tail -1 | tee $OUT/forge.txt &
./moe-tutor model forge --teacher teacher.gguf --pack "$REPO"/assets/default-model/pack.gguf --out shipped.gguf 2>&1 | tail -1 | tee -a $OUT/forge.txt &
wait
for k in 4 16; do for s in 2 3 4; do for m in run4 shipped_run2; do
  f=$m.gguf; [ $m = shipped_run2 ] && f=shipped.gguf
  echo "--label $m --model $f --sets c$s=c$s.txt --ks $k"
done; done; done | timeout ${T:-270} xargs -P 6 -L 1 python3 app_eval.py --bin ./moe-tutor --teacher teacher.gguf \
   --threads 2 --max-tokens 8192 --results $OUT/c_slices.jsonl
cat $OUT/c_slices.jsonl
