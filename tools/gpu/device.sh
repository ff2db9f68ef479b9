#!/usr/bin/env bash
# The GPU side of the measurements in README "GPU builds", run from the repository root on a
# machine with CUDA, over what tools/gpu/stage.sh staged in STAGE (default .stage).
#   device.sh build     unpack llama.cpp and build it with CUDA as shared libraries, plus
#                       llama-bench, in the background (log: $W/build.log); returns at once
#   device.sh part      add the teacher parts found in STAGE to $W
#   device.sh measure   wait for the build, forge the default model, then: bench on the
#                       default model and on the 1.3B synthetic MoE (capture off/on and
#                       llama-bench, all layers on the GPU), and a greedy reply's routing trace
#                       on the GPU against the same on the CPU; results into $OUT (or $W/out)
#   device.sh tiny      wait for the build, then on the tiny test model: a greedy trace and an
#                       experiment with interventions (knock-outs, a forced expert), each with
#                       every layer on the GPU and on the CPU, compared
set -euo pipefail
stage=${STAGE:-.stage}
W=${GPU_WORK:-/tmp/gpu}
mkdir -p "$W"
# Wait for the background build (at most 10 minutes), then run on its libraries with
# fresh data, config and cache folders.
ready() {
    for _ in $(seq 600); do [ -f "$W/build.done" ] && break; sleep 1; done
    [ "$(cat "$W/build.done" 2>/dev/null)" = 0 ] || { tail -40 "$W/build.log"; exit 1; }
    export LD_LIBRARY_PATH="$W/build/bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export XDG_DATA_HOME="$W/data" XDG_CONFIG_HOME="$W/config" XDG_CACHE_HOME="$W/cache"
    T="$W/moe-tutor"
}
case "${1:-}" in
build)
    rm -rf "$W/src" "$W/build" "$W/build.done"
    tar -xJf "$stage/llama.cpp.tar.xz" -C "$W" && mv "$W/llama.cpp" "$W/src"
    xz -dc "$stage/moe-tutor.xz" >"$W/moe-tutor" && chmod +x "$W/moe-tutor"
    # The same switches llama-cpp-sys-2 gives its own build, with CUDA for Hopper (sm_90) on.
    setsid bash -c "
        cmake -S '$W/src' -B '$W/build' -G Ninja -DCMAKE_BUILD_TYPE=Release \
            -DBUILD_SHARED_LIBS=ON -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
            -DGGML_NATIVE=ON -DGGML_OPENMP=ON -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
            -DLLAMA_BUILD_COMMON=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_TESTS=OFF \
            -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF &&
        cmake --build '$W/build' -j \$(nproc); echo \$? >'$W/build.done'
    " >"$W/build.log" 2>&1 </dev/null &
    echo "build started; nvcc: $(nvcc --version | tail -1)"
    ;;
part)
    mkdir -p "$W/parts"
    for p in "$stage"/teacher.gguf.part*; do cp "$p" "$W/parts/"; done
    cp "$stage/teacher.sha256" "$W/" 2>/dev/null || true
    ls -l "$W/parts"; tail -3 "$W/build.log" || true
    ;;
tiny)
    out=${OUT:-$W/out}
    mkdir -p "$out"
    ready
    q="Why is the sky blue?"
    {
        "$T" model tiny --out "$W/tiny.gguf"
        for ngl in 99 0; do
            "$T" --model "$W/tiny.gguf" --gpu-layers $ngl run --temperature 0 --max-tokens 24 \
                --threads 2 --trace "$out/tiny-ngl$ngl.jsonl" --prompt "$q" >"$out/tiny-reply-ngl$ngl.txt"
            rm -rf "$W/exp-ngl$ngl"
            "$T" --model "$W/tiny.gguf" experiment --gpu-layers $ngl --threads 2 --prompt "$q" \
                --temperature 0 --knock-out 1:3 --knock-out all:5 --force 2:6 --max-tokens 24 \
                --out "$W/exp-ngl$ngl" >/dev/null
            python3 tools/gpu/check_interventions.py "$W/exp-ngl$ngl/traces/r001.jsonl" || true
        done
        cmp "$out/tiny-reply-ngl99.txt" "$out/tiny-reply-ngl0.txt" && echo "same greedy reply on GPU and CPU"
        python3 tools/gpu/compare_traces.py "$out/tiny-ngl99.jsonl" "$out/tiny-ngl0.jsonl" || true
        echo "with interventions:"
        python3 tools/gpu/compare_traces.py "$W/exp-ngl99/traces/r001.jsonl" "$W/exp-ngl0/traces/r001.jsonl" || true
    } 2>&1 | tee "$out/tiny.log"
    ;;
measure)
    out=${OUT:-$W/out}
    mkdir -p "$out"
    ready
    cp "$W/build.log" "$out/build.log"
    cat "$W"/parts/teacher.gguf.part* >"$W/teacher.gguf"
    echo "$(cat "$W/teacher.sha256")  $W/teacher.gguf" | sha256sum -c -
    mkdir -p "$XDG_DATA_HOME/moe-tutor"
    cp -r assets/default-model "$XDG_DATA_HOME/moe-tutor/"
    lb="$W/build/bin/llama-bench"
    threads=${THREADS:-4}
    {
        nvidia-smi -L; nvcc --version | tail -1; ldd "$T" | grep -E 'llama|ggml'
        model=$("$T" model forge --teacher "$W/teacher.gguf" | sed -n 's/^wrote \([^ ]*\).*/\1/p')
        echo "default model: $model"
        set -x
        # As the app runs it (adapter on), then the same file without the adapter, which is
        # the computation llama-bench runs.
        "$T" --threads "$threads" --gpu-layers 99 bench --default-model --llama-bench "$lb" \
            --startup-runs 0 --latency-secs 1 --frames 20 --reps 6
        "$T" --threads "$threads" --gpu-layers 99 bench --model "$model" --llama-bench "$lb" \
            --startup-runs 0 --latency-secs 1 --frames 20 --reps 6
        "$T" --threads "$threads" --gpu-layers 99 bench --synthetic-large --llama-bench "$lb" \
            --startup-runs 0 --latency-secs 1 --frames 20 --reps 6
        for ngl in 99 0; do
            "$T" --threads "$threads" --gpu-layers $ngl run --temperature 0 --max-tokens 48 \
                --trace "$out/trace-ngl$ngl.jsonl" --prompt "Why is the sky blue?" >"$out/reply-ngl$ngl.txt"
        done
        set +x
        cmp "$out/reply-ngl99.txt" "$out/reply-ngl0.txt" && echo "same greedy reply on GPU and CPU"
        python3 tools/gpu/compare_traces.py "$out/trace-ngl99.jsonl" "$out/trace-ngl0.jsonl"
    } 2>&1 | tee "$out/measure.log"
    ;;
*)
    sed -n '2,12p' "$0"
    exit 2
    ;;
esac
