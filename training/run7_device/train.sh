#!/bin/bash
# Device call 4 (calls 1-3 copied r7_1..r7_3 into /tmp/moe): rebuild the teacher GGUF and check
# its sha256, install the wheels, split the teacher, rebuild the warm start from run 6's
# candidate (cand.tar.xz), check that the checkout's shipped model is that same pack (run 6 is
# both the warm start and the baseline), start baseline.sh on the CPUs when the app binary came
# along, then the chat generation, the two lr pilots and the distillation (run_device.py with
# args.txt) until the call's deadline (what is left of 585 s); the state stays in
# /tmp/moe/state for finish.sh (call 5). Logs come back as $OUT/call4.tgz.
set -uo pipefail
T0=$(date +%s)
REPO=$(pwd)
cp -r .stage/r7_4/* /tmp/moe/
cd /tmp/moe
cat teacher.p0 teacher.p1 teacher.p2 > teacher.gguf && rm teacher.p*
echo "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53  teacher.gguf" | sha256sum -c - || exit 1
python3 -c "import tarfile; tarfile.open('small.tar.xz').extractall('.'); tarfile.open('cand.tar.xz').extractall('cand')" || exit 1
python3 -c "
import lzma, os, shutil
for f in ('data/text_train.bin', 'moe-tutor'):
    if os.path.exists(f + '.xz'):
        with lzma.open(f + '.xz') as i, open(f, 'wb') as o: shutil.copyfileobj(i, o)" || exit 1
rm -f *.xz data/*.xz; [ -f moe-tutor ] && chmod +x moe-tutor
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site ./*.whl
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
python3 code/split_teacher.py teacher.gguf ta tb --layers-in-a 14 || exit 1
python3 code/init_from_pack.py --pack cand --out init.safetensors > /dev/null || exit 1
mkdir -p shipped && cp "$REPO"/assets/default-model/pack.gguf "$REPO"/assets/default-model/lora.gguf shipped/
sha256sum cand/*.gguf shipped/*.gguf | tee cand_sha.txt
if [ -x moe-tutor ]; then
  setsid nohup bash code/run7_device/baseline.sh > baseline.log 2>&1 < /dev/null &
fi
B=$((585 - $(date +%s) + T0))
echo "training budget $B s"
python3 code/run_device.py $(cat code/run7_device/args.txt) --out /tmp/moe/train7 --pause-at 2400 \
    --budget $B --reserve 15
tar -czf $OUT/call4.tgz train7/log.txt train7/results.json cand_sha.txt base.jsonl baseline.log forge_*.txt 2>/dev/null
cat base.jsonl 2>/dev/null
