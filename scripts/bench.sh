#!/bin/sh
# bench.sh - builds the benchmark in Release and runs it.
#   scripts/bench.sh [--quick | --instructions] [benchmark options...]
set -eu
cd "$(dirname "$0")/.." || exit 1
dir=build-bench
cmake -S . -B $dir -DFIXALLOC_BENCH=ON -DFIXALLOC_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build $dir -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
if [ "${1:-}" = "--instructions" ]; then
    shift
    exec sh bench/instructions.sh "$@"
fi
exec $dir/bench/fixalloc_bench "$@"
