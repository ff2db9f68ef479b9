#!/bin/bash
# Device call 5 (calls 1-4 copied r5_1..r5_4 into /tmp/moe): rebuild the teacher GGUF and check
# its sha256, install the wheels, split the teacher, rebuild the warm start from run 4's
# candidate (the checkout's training/candidates/run4), start baseline.sh on the CPUs, then the
# chat generation and the distillation (run_device.py with args.txt) until the call's deadline
# (what is left of 585 s); the state stays in /tmp/moe/state for finish.sh (call 6).
set -uo pipefail
T0=$(date +%s)
REPO=$(pwd)
cp -r .stage/r5_5/* /tmp/moe/
cd /tmp/moe
cat teacher.p0 teacher.p1 teacher.p2 teacher.p3 teacher.p4 > teacher.gguf && rm teacher.p*
echo "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53  teacher.gguf" | sha256sum -c - || exit 1
python3 -c "import tarfile; tarfile.open('small.tar.xz').extractall('.')" || exit 1
python3 -c "
import lzma, shutil
for f in ('data/text_train.bin', 'moe-tutor'):
    with lzma.open(f + '.xz') as i, open(f, 'wb') as o: shutil.copyfileobj(i, o)" && chmod +x moe-tutor && rm -f *.xz data/*.xz
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site ./*.whl
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
python3 code/split_teacher.py teacher.gguf ta tb --layers-in-a 14 || exit 1
python3 code/init_from_pack.py --pack "$REPO"/training/candidates/run4 --out init.safetensors > /dev/null || exit 1
sha256sum "$REPO"/training/candidates/run4/*.gguf "$REPO"/assets/default-model/*.gguf
setsid nohup bash code/run5_device/baseline.sh "$REPO" > baseline.log 2>&1 < /dev/null &
B=$((585 - $(date +%s) + T0))
echo "training budget $B s"
python3 code/run_device.py $(cat code/run5_device/args.txt) --out /tmp/moe/train5 --pause-at 2200 \
    --budget $B --reserve 15
cp /tmp/moe/train5/log.txt $OUT/log_call5.txt
cp /tmp/moe/train5/results.json $OUT/results_call5.json 2>/dev/null
cp base.jsonl baseline.log forge_*.txt $OUT/ 2>/dev/null
cat base.jsonl 2>/dev/null
