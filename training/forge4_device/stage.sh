#!/bin/bash
# Stage what the device calls of the forge v4 measurement carried (each call at most 64 MiB,
# the checkout included): p1 the binaries (gzip), the adapter, both packs, 400 kB of each
# held-out set and app_eval.py; p2-p4 the teacher in three pieces; p4/p5 the scripts here.
# On the device every call copies its part into /tmp/m3; the machine stays warm between calls.
#   bash stage.sh STAGE_DIR RELEASE_BIN THIS_BRANCH_BIN  (then: run with carry STAGE_DIR/p1, ../p2, ../p3, ../p4 + 1_*.sh)
set -euo pipefail
S=$1; T=$(cd "$(dirname "$0")/.." && pwd); R=$T/..
mkdir -p "$S"/p1 "$S"/p2 "$S"/p3 "$S"/p4 "$S"/p5
strip -o /tmp/mt-m2-rel "$2"   # the release binary that ran eval kl and bench
strip -o /tmp/mt-m3-dbg "$3"   # this branch's binary that forged v4
for b in mt-m2-rel mt-m3-dbg; do gzip -1 -c /tmp/$b > "$S"/p1/$b.gz; done
cp "$R"/assets/default-model/lora.gguf "$R"/assets/default-model/pack.gguf "$S"/p1/
# the pack with its key moe_tutor.lora.file renamed moe_tutor.lora.fil_ (one byte), so forge
# merges nothing: the unmerged file, as forge version 2 wrote it
python3 -c "import sys; b=open(sys.argv[1],'rb').read(); open(sys.argv[2],'wb').write(b.replace(b'moe_tutor.lora.file', b'moe_tutor.lora.fil_', 1))" \
  "$R"/assets/default-model/pack.gguf "$S"/p1/pack-nolora.gguf
for f in a_human_chat b_teacher_chat c_gitdoc; do
  python3 -c "import sys; b=open(sys.argv[1],'rb').read(400000); open(sys.argv[2],'w').write(b.decode('utf-8','ignore'))" \
    "$T"/work/heldout/$f.txt "$S"/p1/$f.txt
done
cp "$T"/app_eval.py "$S"/p1/
split -n 3 -d "$T"/work/teacher.gguf "$S"/teacher.part
mv "$S"/teacher.part00 "$S"/p2/; mv "$S"/teacher.part01 "$S"/p3/; mv "$S"/teacher.part02 "$S"/p4/
cp "$T"/forge4_device/1_forge_and_eval.sh "$S"/p4/go.sh
cp "$T"/forge4_device/2_eval_again.sh "$S"/p5/ev.sh
cp "$T"/forge4_device/4_eval_rest_and_bench.sh "$S"/p5/ev2.sh
cp "$T"/forge4_device/3_bench.sh "$S"/p5/bench.sh
