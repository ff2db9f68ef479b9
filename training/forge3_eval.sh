#!/bin/sh
# Forge v3 against forge v2 through the app (issue 15, item 2): the shipped pack forged
# unmerged (v2 behaviour: the pack with its moe_tutor.lora.file key renamed, so forge v3
# merges nothing) and merged (forge v3), measured with `moe-tutor eval kl` against the
# teacher on held-out (a) human chat and (c) git-doc, k = 4 and 16. Results: runs/forge3_eval.jsonl.
#   sh forge3_eval.sh [MAX_TOKENS]
set -ex
cd "$(dirname "$0")"
BIN=../target/release/moe-tutor
M=work/m2
N=${1:-4096}
LORA=../assets/default-model/lora.gguf
OUTJ=runs/forge3_eval.jsonl
A=work/heldout/a_human_chat.txt; C=work/heldout/c_gitdoc.txt
E="nice -n 10 python3 app_eval.py --bin $BIN --max-tokens $N --results $OUTJ --sets c=$C a=$A --ks 4,16"
$E --label i_unmerged_lora_on --model $M/unmerged.gguf --lora $LORA
$E --label ii_merged --model $M/merged.gguf
# decode speed: (i) with the adapter at run time, (ii) merged (one bench each, 2 threads)
for spec in "i_unmerged_lora_on unmerged.gguf --lora $LORA" "ii_merged merged.gguf"; do
  set -- $spec
  nice -n 10 $BIN --threads 2 ${3:+$3 $4} bench --model $M/$2 --no-peer --reps 3 --frames 20 \
    --latency-secs 1 | tail -1 | sed "s/^/$1 /" | tee -a runs/forge3_bench.txt
done
$E --label iii_merged_lora_off --model $M/merged.gguf --lora $LORA --lora-scale 0
$E --label iv_unadapted --model $M/unmerged.gguf
# (i) against (ii): the merged model is the reference (its expert_used_count set to k in a copy)
nice -n 10 python3 app_eval.py --bin $BIN --max-tokens $N --results $OUTJ --sets c=$C a=$A --ks 4 \
  --label i_vs_ii --teacher $M/merged.gguf --model $M/unmerged.gguf --lora $LORA
nice -n 10 python3 app_eval.py --bin $BIN --max-tokens $N --results $OUTJ --sets c=$C a=$A --ks 16 \
  --label i_vs_ii --teacher $M/merged_k16.gguf --model $M/unmerged.gguf --lora $LORA
