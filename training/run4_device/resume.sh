#!/bin/bash
# Device call 5: resume training to the deadline, pick the snapshot (run_device.py), write the
# pack (export_pack.py), forge it with the app, and measure it through the app (eval kl,
# (a) and (c) at k = 4 and 16 first, 8,192 tokens); the shipped model's figures from
# baseline.sh come back with it (started here if call 4 had no binary).
set -uo pipefail
REPO=$(pwd)
cp -r .stage/r4_5/* /tmp/moe/
cd /tmp/moe
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
[ -f moe-tutor.gz ] && gunzip -f moe-tutor.gz && chmod +x moe-tutor
if [ ! -f baseline.log ]; then JOBS=4 setsid nohup bash code/run4_device/baseline.sh "$REPO" > baseline.log 2>&1 < /dev/null & fi
python3 code/run_device.py $(cat code/run4_device/args.txt) --out $OUT/train --resume --pause-at 0 \
    --budget ${BUDGET:-260} --reserve 60
mkdir -p pack_new && python3 code/export_pack.py --trained $OUT/train --carve init.safetensors --out pack_new
# lora.gguf (17.9 MB) is over the 16 MiB a returned file may have: it comes back in two parts
split -b 9000000 -d pack_new/lora.gguf $OUT/lora.part && sha256sum pack_new/*.gguf > $OUT/sha.txt
rm -f $OUT/train/student_b.safetensors   # at most 8 files come back; the pack holds the same values
./moe-tutor model forge --teacher teacher.gguf --pack pack_new/pack.gguf --out run4.gguf 2>&1 | tail -1 | tee $OUT/forge.txt
for k in 4 16 2 8; do for s in a=a_human_chat.txt c=c_gitdoc.txt; do
  echo "--label run4 --model run4.gguf --sets $s --ks $k"
done; done | timeout ${EVAL_S:-200} xargs -P 4 -L 1 python3 code/app_eval.py --bin ./moe-tutor --teacher teacher.gguf \
    --threads 4 --max-tokens ${N:-8192} --results run4.jsonl
cp run4.jsonl base.jsonl baseline.log $OUT/ 2>/dev/null
cat run4.jsonl base.jsonl 2>/dev/null | python3 -c "import sys,json; [print(r['label'], r['set'], r['k'], r['kl'], r['seconds']) for r in map(json.loads, sys.stdin)]"
