#!/bin/bash
# Stage what the run-6 device calls carry under STAGE (default /work/main/.stage, ignored). Each
# call sends the lead's checkout (about 24 MB) plus its carry, 64 MiB at most, so:
#   r6_1: teacher bytes [0, 38 MB) and small.tar.xz (the gguf + tqdm wheels, prompts, held-out
#         tokens, the first 400 kB of the held-out texts (a) and (c), and (c) from characters
#         100k, 200k, 300k of those 400 kB: c2, c3, c4)
#   r6_2: teacher bytes [38, 76) MB
#   r6_3: the rest of the teacher and run 5's candidate (cand.tar.xz: pack.gguf, lora.gguf),
#         the warm start
#   r6_4: the training text (xz), this branch's training code, and the app binary (stripped,
#         xz) when BIN is given (else it travels later, in r6_5, with finish.sh)
# On the device calls 1-3 copy their folder into /tmp/moe (kept while the machine stays warm);
# call 4 runs run6_device/train.sh, call 5 run6_device/finish.sh.
#   bash stage.sh [BIN] [STAGE]
set -euo pipefail
BIN=${1:-}; S=${2:-/work/main/.stage}
T=$(cd "$(dirname "$0")/.." && pwd); W=$T/work
for i in 1 2 3 4; do rm -rf "$S"/r6_$i; mkdir -p "$S"/r6_$i; done
rm -rf /tmp/r6_small; mkdir -p "$S"/r6_4/data /tmp/r6_small/data
# teacher cuts in units of 100 kB: 0, 380, 760, end
tcut() { dd if="$W"/teacher.gguf of="$1" bs=100000 skip=$2 ${3:+count=$3} status=none; }
tcut "$S"/r6_1/teacher.p0 0 380; tcut "$S"/r6_2/teacher.p1 380 380; tcut "$S"/r6_3/teacher.p2 760
cp "$W"/wheel4/*.whl /tmp/r6_small/
cp "$W"/prompts.json "$W"/sample_prompts.json "$W"/tokens/heldout_docs.bin "$W"/tokens/heldout_human.bin /tmp/r6_small/data/
for f in a_human_chat c_gitdoc; do   # the first 400 kB of each held-out text, as runs 4 and 5
  python3 -c "import sys; b=open(sys.argv[1],'rb').read(400000); open(sys.argv[2],'w').write(b.decode('utf-8','ignore'))" \
    "$W"/heldout/$f.txt /tmp/r6_small/$f.txt
done
python3 -c "
t = open('/tmp/r6_small/c_gitdoc.txt').read()
for i, c in ((2, 100000), (3, 200000), (4, 300000)):
    open(f'/tmp/r6_small/c{i}.txt', 'w').write(t[c:])"
tar -C /tmp/r6_small -cJf "$S"/r6_1/small.tar.xz . && rm -rf /tmp/r6_small
tar -C "$W"/run5cand -cJf "$S"/r6_3/cand.tar.xz pack.gguf lora.gguf
xz -9 -T1 -c "$W"/tokens/text_train.bin > "$S"/r6_4/data/text_train.bin.xz
mkdir -p "$S"/r6_4/code/run6_device
cp "$T"/*.py "$S"/r6_4/code/
cp "$T"/run6_device/*.sh "$T"/run6_device/args.txt "$S"/r6_4/code/run6_device/
if [ -n "$BIN" ]; then strip -o /tmp/r6-moe-tutor "$BIN" && xz -9 -T1 -c /tmp/r6-moe-tutor > "$S"/r6_4/moe-tutor.xz; fi
# room per call: 64 MiB less what the lead's checkout sends (tracked + untracked, not ignored)
TREE=$(cd /work/main && { git ls-files -z; git ls-files -z --others --exclude-standard; } | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
ROOM=$((67108864 - TREE - 1500000))
echo "checkout $TREE B, room per call $ROOM B"
du -sb "$S"/r6_*; du -sb "$S"/r6_* | awk -v r=$ROOM '$1 > r {print "TOO BIG:", $2; bad=1} END {exit bad}'
