#!/bin/sh
# fuzz_max_len.sh TARGET - the libFuzzer -max_len of a fuzz target (pool,
# cache or heap): the bytes of an input it reads, its header and MAX_OPS
# operations (tests/fuzz/fuzz_TARGET.c), so that no mutation is spent on
# bytes it ignores.
case "$1" in
pool) echo 516 ;;   # POOLS + 2 * MAX_OPS = 4 + 2 * 256
cache) echo 2055 ;; # HEADER + 2 * MAX_OPS = 7 + 2 * 1024
heap) echo 771 ;;   # HEADER + 3 * MAX_OPS = 3 + 3 * 256
*)
    echo "usage: $0 pool|cache|heap" >&2
    exit 1
    ;;
esac
