#!/bin/sh
# instructions.sh - instructions per alloc+free pair of workload (1), counted
# by valgrind (this machine has no hardware counters).
#
#   bench/instructions.sh [DRIVER] [driver options, e.g. --impl bare,fa_pool]
#
# Without a driver binary it configures and builds build-bench/ (Release,
# -O2) at the repository root. The driver runs each implementation's worker
# with --hot-only under callgrind, collection switched on only around the
# hot loop (client requests), one dump per size, and prints instructions
# per pair: the loop and its two calls. FIXALLOC_TRACK=0 is set for the
# workers: under Valgrind a pool otherwise annotates its memory and leaves
# its fast path. The full `make bench` prints the same counts in its
# workload (1) table.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
if [ $# -ge 1 ] && [ -x "$1" ]; then
    bin=$1
    shift
else
    cmake -S "$root" -B "$root/build-bench" -DFIXALLOC_BENCH=ON \
        -DFIXALLOC_TESTS=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$root/build-bench" -j "$(nproc 2>/dev/null || echo 2)" \
        >/dev/null
    bin=$root/build-bench/bench/fixalloc_bench
fi
command -v valgrind >/dev/null || {
    echo "valgrind not found (apt-get install valgrind)" >&2
    exit 1
}
exec "$bin" --instructions "$@"
