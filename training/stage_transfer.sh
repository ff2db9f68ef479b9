#!/usr/bin/env bash
# Lay out what the two device runs carry (each run may carry at most 64 MiB):
#   work/send_a: teacher part A (token_embd + layers 0-13, still quantised)
#   work/send_b: teacher part B (layers 14-29) + token arrays + prompts + carve
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"
"$PY" split_teacher.py work/teacher.gguf work/send_a work/send_b --layers-in-a 14
cp work/tokens/docs_train.bin work/tokens/heldout_docs.bin work/prompts.json work/sample_prompts.json \
   work/carve.safetensors work/send_b/
du -sh work/send_a work/send_b
