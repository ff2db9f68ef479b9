#!/bin/bash
# Device call 4: the teacher writes the chat (held-out prompts in the first batch), then
# distillation from the shipped model (run 2) until the call's deadline; the state stays in
# /tmp/moe/state for resume.sh. If the app binary is already there (r4_5 carried earlier), the
# shipped model's figures through the app are measured meanwhile on the CPUs (baseline.sh).
set -uo pipefail
REPO=$(pwd)
[ -d .stage/r4_4 ] && cp -r .stage/r4_4/* /tmp/moe/
cd /tmp/moe
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
if [ -x ./moe-tutor ]; then setsid nohup bash code/run4_device/baseline.sh "$REPO" > baseline.log 2>&1 < /dev/null & fi
echo "training budget ${BUDGET:-550} s"
python3 code/run_device.py $(cat code/run4_device/args.txt) --out $OUT --budget ${BUDGET:-550} --reserve 15
