#!/bin/bash
# Device call 3 (calls 1-2 copied r4_1 and r4_2 into /tmp/moe): rebuild the teacher GGUF and
# check its sha256, install the wheels, split the teacher into its raw-block parts, rebuild the
# warm start from the shipped pack (the checkout's assets/default-model), then a smoke test of
# every path of run_device.py (generation, k per row, snapshots, pause, resume, selection, eval)
# on the real teacher with tiny sizes; when it passes, train.sh in the same call, its budget
# what is left of 575 s.
set -euo pipefail
T0=$(date +%s)
REPO=$(pwd)
cp -r .stage/r4_3/* /tmp/moe/
cd /tmp/moe
cat teacher.p0 teacher.p1 teacher.p2 > teacher.gguf && rm teacher.p0 teacher.p1 teacher.p2
echo "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53  teacher.gguf" | sha256sum -c -
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site ./*.whl
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
python3 code/split_teacher.py teacher.gguf ta tb --layers-in-a 14
python3 code/init_from_pack.py --pack "$REPO"/assets/default-model --out init.safetensors > /dev/null
sha256sum "$REPO"/assets/default-model/*.gguf
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv
S="--parts ta/teacher_a.safetensors tb/teacher_b.safetensors --data data --init init.safetensors
   --text-file text_train.bin --human-file heldout_human.bin --steps 24 --chat-rows 24 --gen-batch 512
   --gen-max-new 32 --gen-seconds 1 --chat-tokens 1 --held-prompts 8 --eval-windows 4 --sample-new 4
   --follow-frac 0.4 --k-rows 2:6,4:10,8:6,16:10 --k-weights 16:2 --select-every 8 --select-windows 4
   --router-lr 4e-4 --lora-lr 4e-4 --state /tmp/smoke --budget 200 --reserve 5"
python3 code/run_device.py $S --out /tmp/smoke_out --pause-at 12
python3 code/run_device.py $S --out /tmp/smoke_out --resume --pause-at 0
python3 -c "import json; r=json.load(open('/tmp/smoke_out/results.json')); print(r['selection']); print(r['train'])"
ls -la /tmp/smoke_out
cd "$REPO"
BUDGET=$((575 - $(date +%s) + T0)) bash /tmp/moe/code/run4_device/train.sh
