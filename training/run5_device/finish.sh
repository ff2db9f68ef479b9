#!/bin/bash
# Device call 6 (no carry: everything is in /tmp/moe): resume training for BUDGET seconds, pick
# the snapshot and evaluate in PyTorch (run_device.py), write the pack (export_pack.py), forge it
# with the app, measure it through the app (eval kl, (a) and (c) at k = 2, 4, 8, 16, 8,192
# tokens, 8 jobs x 2 threads), and bring back the pack (lora.gguf in two parts: a returned file
# holds 16 MiB at most), the run's results and the baseline's figures.
set -uo pipefail
cd /tmp/moe
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
python3 code/run_device.py $(cat code/run5_device/args.txt) --out /tmp/moe/train5 --resume --pause-at 0 \
    --budget ${BUDGET:-270} --reserve 65
mkdir -p pack5 && python3 code/export_pack.py --trained train5 --carve init.safetensors --out pack5 || exit 1
split -b 9000000 -d pack5/lora.gguf $OUT/lora.part && cp pack5/pack.gguf $OUT/ && sha256sum pack5/*.gguf > $OUT/sha.txt
./moe-tutor model forge --teacher teacher.gguf --pack pack5/pack.gguf --out run5.gguf 2>&1 | tail -1 | tee $OUT/forge_run5.txt
sha256sum run5.gguf | tee -a $OUT/forge_run5.txt
for k in 4 16 2 8; do for s in a=a_human_chat.txt c=c_gitdoc.txt; do
  echo "--label run5 --model run5.gguf --sets $s --ks $k"
done; done | timeout ${EVAL_S:-330} xargs -P 8 -L 1 python3 code/app_eval.py --bin ./moe-tutor --teacher teacher.gguf \
    --threads 2 --max-tokens ${N:-8192} --results run5.jsonl
cp run5.jsonl base.jsonl baseline.log forge_*.txt $OUT/ 2>/dev/null
cp train5/results.json $OUT/results.json; cp train5/log.txt $OUT/log.txt
cat run5.jsonl base.jsonl 2>/dev/null | python3 -c "import sys,json; [print(r['label'], r['set'], r['k'], r['kl'], r['seconds']) for r in map(json.loads, sys.stdin)]"
