#!/bin/bash
# Stage what the run-5 device calls carry (each call at most 64 MiB, the lead's checkout of
# about 43 MB included, so about 23 MB each) under STAGE (default /work/main/.stage, ignored):
#   r5_1: teacher bytes [0, 22.0 MB) and small.tar.xz (the gguf + tqdm wheels, prompts,
#         held-out tokens, the first 400 kB of the held-out texts (a) and (c))
#   r5_2..r5_4: teacher bytes [22.0, 44.3), [44.3, 66.6), [66.6, 88.9) MB
#   r5_5: the rest of the teacher, the training text (xz), the app binary (stripped, xz),
#         this branch's training code
# xz, not gzip: five calls instead of six. On the device calls 1-4 copy their folder into
# /tmp/moe (kept while the machine stays warm); call 5 runs run5_device/train.sh, call 6
# run5_device/finish.sh (from /tmp/moe, no carry).
#   bash stage.sh BIN [STAGE]
set -euo pipefail
BIN=$1; S=${2:-/work/main/.stage}
T=$(cd "$(dirname "$0")/.." && pwd); W=$T/work
for i in 1 2 3 4 5; do rm -rf "$S"/r5_$i; mkdir -p "$S"/r5_$i; done
mkdir -p "$S"/r5_5/data /tmp/r5_small/data
# teacher cuts in units of 100 kB: 0, 220, 443, 666, 889, end
cut() { dd if="$W"/teacher.gguf of="$1" bs=100000 skip=$2 ${3:+count=$3} status=none; }
cut "$S"/r5_1/teacher.p0 0 220; cut "$S"/r5_2/teacher.p1 220 223; cut "$S"/r5_3/teacher.p2 443 223
cut "$S"/r5_4/teacher.p3 666 223; cut "$S"/r5_5/teacher.p4 889
cp "$W"/wheel4/*.whl /tmp/r5_small/
cp "$W"/prompts.json "$W"/sample_prompts.json "$W"/tokens/heldout_docs.bin "$W"/tokens/heldout_human.bin /tmp/r5_small/data/
for f in a_human_chat c_gitdoc; do   # the first 400 kB of each held-out text, as forge v4's and run 4's measurement
  python3 -c "import sys; b=open(sys.argv[1],'rb').read(400000); open(sys.argv[2],'w').write(b.decode('utf-8','ignore'))" \
    "$W"/heldout/$f.txt /tmp/r5_small/$f.txt
done
tar -C /tmp/r5_small -cJf "$S"/r5_1/small.tar.xz . && rm -rf /tmp/r5_small
xz -9 -T2 -c "$W"/tokens/text_train.bin > "$S"/r5_5/data/text_train.bin.xz
mkdir -p "$S"/r5_5/code/run5_device
cp "$T"/*.py "$S"/r5_5/code/
cp "$T"/run5_device/*.sh "$T"/run5_device/args.txt "$S"/r5_5/code/run5_device/
strip -o /tmp/r5-moe-tutor "$BIN" && xz -9e -T2 -c /tmp/r5-moe-tutor > "$S"/r5_5/moe-tutor.xz
du -sh "$S"/r5_*; du -sb "$S"/r5_* | awk '$1 > 23100000 {print "TOO BIG:", $2; bad=1} END {exit bad}'
