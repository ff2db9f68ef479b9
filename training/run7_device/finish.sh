#!/bin/bash
# Device call 5 (everything is in /tmp/moe; carry .stage/r7_5 only when the app binary did not
# travel in call 4; baseline.sh runs here beside the training when call 4 left no base.jsonl):
# resume training for BUDGET seconds (to the planned 2,400 steps), pick the snapshot with the
# selection's strict k = 16 guard (SLACK, default 0.002, as args.txt) and evaluate in PyTorch
# (run_device.py), write the pack (export_pack.py), forge it with the app, measure it through
# the app (eval kl, (a) and (c) at k = 2, 4, 8, 16, 8,192 tokens, 8 jobs x 2 threads), and
# bring back the pack (lora.gguf in two parts: a returned file holds 16 MiB at most) and, in one
# archive (a call returns 8 files at most), the logs, the results and every eval line.
set -uo pipefail
REPO=$(pwd)
cd /tmp/moe
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
if [ ! -x moe-tutor ] && [ -f "$REPO"/.stage/r7_5/moe-tutor.xz ]; then
  python3 -c "import lzma, shutil; shutil.copyfileobj(lzma.open('$REPO/.stage/r7_5/moe-tutor.xz'), open('moe-tutor', 'wb'))"
  chmod +x moe-tutor
fi
if [ ! -s base.jsonl ] && ! pgrep -f run7_device/baseline.sh > /dev/null; then
  mkdir -p shipped && cp "$REPO"/assets/default-model/pack.gguf "$REPO"/assets/default-model/lora.gguf shipped/
  JOBS=8 setsid nohup bash code/run7_device/baseline.sh > baseline.log 2>&1 < /dev/null &
fi
python3 code/run_device.py $(cat code/run7_device/args.txt) --out /tmp/moe/train7 --resume --pause-at 0 \
    --budget ${BUDGET:-250} --reserve 65 --select-slack ${SLACK:-0.002}
mkdir -p pack7 && python3 code/export_pack.py --trained train7 --carve init.safetensors --out pack7 || exit 1
split -b 9000000 -d pack7/lora.gguf $OUT/lora.part && cp pack7/pack.gguf $OUT/ && sha256sum pack7/*.gguf > sha.txt
./moe-tutor model forge --teacher teacher.gguf --pack pack7/pack.gguf --out run7.gguf 2>&1 | tail -1 | tee forge_run7.txt
sha256sum run7.gguf | tee -a forge_run7.txt
for k in 4 16 2 8; do for s in a=a_human_chat.txt c=c_gitdoc.txt; do
  echo "--label run7 --model run7.gguf --sets $s --ks $k"
done; done | timeout ${EVAL_S:-300} xargs -P 8 -L 1 python3 code/app_eval.py --bin ./moe-tutor --teacher teacher.gguf \
    --threads 2 --max-tokens ${N:-8192} --results run7.jsonl
for i in $(seq 40); do grep -q "baseline done" baseline.log 2>/dev/null && break; sleep 5; done
tar -czf $OUT/finish.tgz train7/log.txt train7/results.json sha.txt run7.jsonl base.jsonl baseline.log forge_*.txt cand_sha.txt 2>/dev/null
cat run7.jsonl base.jsonl 2>/dev/null | python3 -c "import sys,json; [print(r['label'], r['set'], r['k'], r['kl'], r['seconds']) for r in map(json.loads, sys.stdin)]"
