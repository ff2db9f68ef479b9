#!/bin/bash
# Stage what the run-4 device calls carry (each call at most 64 MiB, the lead's checkout of
# about 23 MB included) under STAGE (default /work/main/.stage, ignored there):
#   r4_1: teacher bytes [0, 38 MB), the gguf + tqdm wheels, prompts, held-out tokens and texts
#   r4_2: teacher bytes [38 MB, 76 MB)
#   r4_3: the rest of the teacher, the training text, this branch's training code
#   r4_5: the app binary (stripped, gzip) for forge + eval kl, and the code again (fixes)
# (In run 4 the binary was not built yet at staging time: r4_5 was staged again just before call 5.)
# On the device each call copies its folder into /tmp/moe (kept while the machine stays warm).
#   bash stage.sh BIN [STAGE]
set -euo pipefail
BIN=$1; S=${2:-/work/main/.stage}
T=$(cd "$(dirname "$0")/.." && pwd); W=$T/work
rm -rf "$S"/r4_1 "$S"/r4_2 "$S"/r4_3 "$S"/r4_5
mkdir -p "$S"/r4_1/data "$S"/r4_2 "$S"/r4_3/data "$S"/r4_5
dd if="$W"/teacher.gguf of="$S"/r4_1/teacher.p0 bs=1000000 count=38 status=none
dd if="$W"/teacher.gguf of="$S"/r4_2/teacher.p1 bs=1000000 skip=38 count=38 status=none
dd if="$W"/teacher.gguf of="$S"/r4_3/teacher.p2 bs=1000000 skip=76 status=none
cp "$W"/wheel4/*.whl "$S"/r4_1/
cp "$W"/prompts.json "$W"/sample_prompts.json "$W"/tokens/heldout_docs.bin "$W"/tokens/heldout_human.bin "$S"/r4_1/data/
for f in a_human_chat c_gitdoc; do   # the first 400 kB of each held-out text, as forge v4's measurement
  python3 -c "import sys; b=open(sys.argv[1],'rb').read(400000); open(sys.argv[2],'w').write(b.decode('utf-8','ignore'))" \
    "$W"/heldout/$f.txt "$S"/r4_1/$f.txt
done
cp "$W"/tokens/text_train.bin "$S"/r4_3/data/
code() { mkdir -p "$1"/code/run4_device; cp "$T"/*.py "$1"/code/; cp "$T"/run4_device/*.sh "$T"/run4_device/args.txt "$1"/code/run4_device/; }
code "$S"/r4_3
if [ -f "$BIN" ]; then strip -o /tmp/r4-moe-tutor "$BIN" && gzip -1 -c /tmp/r4-moe-tutor > "$S"/r4_5/moe-tutor.gz; fi
code "$S"/r4_5
du -sh "$S"/r4_*
