#!/bin/sh
# Forge v4 (merged expert weights stored as Q8_0) against forge v3 (merged weights rounded
# back into Q4_1) and against the shipped way (unmerged file + adapter at run time), through
# the app: `moe-tutor eval kl` on held-out (c) git-doc and (a) human chat, k = 4 and 16,
# 4,096 tokens each. Then the rounding alone (merged file as the reference, adapter model
# scored against it) and /lora off on the merged file (adapter at -1) against the unadapted
# file. Results: runs/forge4_eval_local.jsonl.
#   sh forge4_eval.sh [MAX_TOKENS] [BIN]
# Run here with model2's release binary as BIN at nice 19; the shared machine gave it about 15%
# of a core, so it was stopped after four results (runs/forge4_eval_local.jsonl) and the
# measurement moved to the device machine (forge4_device/).
set -ex
cd "$(dirname "$0")"
N=${1:-4096}
BIN=${2:-../target/release/moe-tutor}
M=work/m3
LORA=../assets/default-model/lora.gguf
OUTJ=runs/forge4_eval_local.jsonl
A=work/heldout/a_human_chat.txt; C=work/heldout/c_gitdoc.txt
E="nice -n 19 python3 app_eval.py --bin $BIN --max-tokens $N --results $OUTJ"
$E --label i_adapter_at_run_time --sets c=$C a=$A --ks 4,16 --model $M/unmerged.gguf --lora $LORA
$E --label iii_merged_v4_q8_0 --sets c=$C a=$A --ks 4,16 --model $M/merged_v4_q8_0.gguf
$E --label ii_merged_v3_q4_1 --sets c=$C a=$A --ks 4 --model $M/merged_v3_q4_1.gguf
# The rounding alone: KL(merged || unmerged + adapter), k = 4 (the merged file's own k).
$E --label rounding_v4_q8_0 --sets c=$C --ks 4 --teacher $M/merged_v4_q8_0.gguf --model $M/unmerged.gguf --lora $LORA
$E --label rounding_v3_q4_1 --sets c=$C --ks 4 --teacher $M/merged_v3_q4_1.gguf --model $M/unmerged.gguf --lora $LORA
# /lora off on the merged file (adapter at -1) against the unadapted file (what a reload gives).
$E --label off_v4_vs_unadapted --sets c=$C --ks 4 --teacher $M/unmerged.gguf --model $M/merged_v4_q8_0.gguf --lora $LORA --lora-scale 0
