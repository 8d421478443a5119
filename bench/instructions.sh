#!/bin/sh
# instructions.sh - instructions per alloc+free pair of workload (1), counted
# by valgrind (this machine has no hardware counters).
#
#   bench/instructions.sh [BENCH_BINARY]
#
# Without a binary it configures and builds build-bench/ (Release, -O2) at
# the repository root. For each implementation and size it runs the
# benchmark's hot loop alone (--hot-only IMPL N) under cachegrind, once with
# N pairs and once with none, and reports (Ir(N) - Ir(0)) / N: the loop and
# its two calls, with startup, warm-up and exit subtracted.
#
# Environment: N (pairs, default 1000000), SIZES (default "16 64 256"),
# IMPLS (default: every implementation the binary lists).
#
# A pool created under Valgrind tracks its memory (slow mode) unless
# FIXALLOC_TRACK=0: this script sets it, so that the production fast path is
# what gets counted.
set -eu
FIXALLOC_TRACK=${FIXALLOC_TRACK:-0}
export FIXALLOC_TRACK

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
N=${N:-1000000}
SIZES=${SIZES:-"16 64 256"}

if [ $# -ge 1 ]; then
    bin=$1
else
    cmake -S "$root" -B "$root/build-bench" -DFIXALLOC_BENCH=ON \
        -DFIXALLOC_TESTS=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$root/build-bench" --target fixalloc_bench >/dev/null
    bin=$root/build-bench/bench/fixalloc_bench
fi
command -v valgrind >/dev/null || { echo "valgrind not found" >&2; exit 1; }
IMPLS=${IMPLS:-$("$bin" --list | awk '{print $1}')}

# Total instructions of one --hot-only run.
irefs() {
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
        "$bin" --hot-only "$1" "$2" --size "$3" 2>&1 >/dev/null |
        awk '/I *refs:/ { gsub(",", "", $NF); print $NF }'
}

echo "| implementation | size B | instructions/pair | minus bare list |"
echo "| --- | ---: | ---: | ---: |"
verdicts=""
for size in $SIZES; do
    bare=""
    for impl in $IMPLS; do
        full=$(irefs "$impl" "$N" "$size")
        zero=$(irefs "$impl" 0 "$size")
        per=$(awk -v a="$full" -v b="$zero" -v n="$N" \
            'BEGIN { printf "%.2f", (a - b) / n }')
        [ "$impl" = bare ] && bare=$per
        if [ -n "$bare" ]; then
            diff=$(awk -v a="$per" -v b="$bare" 'BEGIN { printf "%+.2f", a - b }')
        else
            diff=-
        fi
        echo "| $impl | $size | $per | $diff |"
        if [ "$impl" = fixalloc ] && [ -n "$bare" ]; then
            v=$(awk -v d="$diff" -v s="$size" 'BEGIN {
                printf "- %s: (1) %s B: fa_pool %+.2f instructions per pair " \
                       "against the bare list (target <= +8)",
                       (d <= 8 ? "met" : "NOT MET"), s, d }')
            verdicts="$verdicts$v
"
        fi
    done
done
if [ -n "$verdicts" ]; then
    printf '\n%s' "$verdicts"
fi
