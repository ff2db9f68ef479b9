#!/bin/bash
# Stage what the run-7 device calls carry under STAGE (default /work/main/.stage, ignored). Each
# call sends the lead's checkout (about 24 MB) plus its carry, 64 MiB at most, so:
#   r7_1: teacher bytes [0, 38 MB) and small.tar.xz (the gguf + tqdm wheels, prompts, held-out
#         tokens, the first 400 kB of the held-out texts (a) and (c), and (c) from characters
#         100k, 200k, 300k of those 400 kB: c2, c3, c4)
#   r7_2: teacher bytes [38, 76) MB
#   r7_3: the rest of the teacher and run 6's candidate (cand.tar.xz: pack.gguf, lora.gguf from
#         candidates/run6), the warm start
#   r7_4: the training text (xz), this branch's training code, and the app binary (stripped,
#         xz) when BIN is given (else it travels later: `stage.sh --bin-only BIN` writes r7_5
#         alone, which call 5 carries for finish.sh)
# On the device calls 1-3 copy their folder into /tmp/moe (kept while the machine stays warm);
# call 4 runs run7_device/train.sh, call 5 run7_device/finish.sh.
#   bash stage.sh [BIN] [STAGE]
set -euo pipefail
if [ "${1:-}" = --bin-only ]; then
  S=${3:-/work/main/.stage}; rm -rf "$S"/r7_5; mkdir -p "$S"/r7_5
  strip -o /tmp/r7-moe-tutor "$2" && xz -9 -T1 -c /tmp/r7-moe-tutor > "$S"/r7_5/moe-tutor.xz
  du -sb "$S"/r7_5; exit 0
fi
BIN=${1:-}; S=${2:-/work/main/.stage}
T=$(cd "$(dirname "$0")/.." && pwd); W=$T/work
for i in 1 2 3 4; do rm -rf "$S"/r7_$i; mkdir -p "$S"/r7_$i; done
rm -rf /tmp/r7_small; mkdir -p "$S"/r7_4/data /tmp/r7_small/data
# teacher cuts in units of 100 kB: 0, 380, 760, end
tcut() { dd if="$W"/teacher.gguf of="$1" bs=100000 skip=$2 ${3:+count=$3} status=none; }
tcut "$S"/r7_1/teacher.p0 0 380; tcut "$S"/r7_2/teacher.p1 380 380; tcut "$S"/r7_3/teacher.p2 760
cp "$W"/wheel4/*.whl /tmp/r7_small/
cp "$W"/prompts.json "$W"/sample_prompts.json "$W"/tokens/heldout_docs.bin "$W"/tokens/heldout_human.bin /tmp/r7_small/data/
for f in a_human_chat c_gitdoc; do   # the first 400 kB of each held-out text, as runs 4 and 5
  python3 -c "import sys; b=open(sys.argv[1],'rb').read(400000); open(sys.argv[2],'w').write(b.decode('utf-8','ignore'))" \
    "$W"/heldout/$f.txt /tmp/r7_small/$f.txt
done
python3 -c "
t = open('/tmp/r7_small/c_gitdoc.txt').read()
for i, c in ((2, 100000), (3, 200000), (4, 300000)):
    open(f'/tmp/r7_small/c{i}.txt', 'w').write(t[c:])"
tar -C /tmp/r7_small -cJf "$S"/r7_1/small.tar.xz . && rm -rf /tmp/r7_small
tar -C "$T"/candidates/run6 -cJf "$S"/r7_3/cand.tar.xz pack.gguf lora.gguf
xz -9 -T1 -c "$W"/tokens/text_train.bin > "$S"/r7_4/data/text_train.bin.xz
mkdir -p "$S"/r7_4/code/run7_device
cp "$T"/*.py "$S"/r7_4/code/
cp "$T"/run7_device/*.sh "$T"/run7_device/args.txt "$S"/r7_4/code/run7_device/
if [ -n "$BIN" ]; then strip -o /tmp/r7-moe-tutor "$BIN" && xz -9 -T1 -c /tmp/r7-moe-tutor > "$S"/r7_4/moe-tutor.xz; fi
# room per call: 64 MiB less what the lead's checkout sends (tracked + untracked, not ignored)
TREE=$(cd /work/main && { git ls-files -z; git ls-files -z --others --exclude-standard; } | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
ROOM=$((67108864 - TREE - 1500000))
echo "checkout $TREE B, room per call $ROOM B"
du -sb "$S"/r7_*; du -sb "$S"/r7_* | awk -v r=$ROOM '$1 > r {print "TOO BIG:", $2; bad=1} END {exit bad}'
