#!/bin/sh
# bench.sh - builds the benchmark (Release, -O2) and runs the comparison.
#
#   scripts/bench.sh                 full run: prints the tables, writes
#                                    bench/results/bench.csv, the charts
#                                    bench/results/bench-*.png and
#                                    bench/RESULTS.md (under 10 minutes)
#   scripts/bench.sh --quick         short run (under a minute): prints the
#                                    tables, writes bench/results/quick.csv
#                                    and quick-*.png; RESULTS.md untouched
#   scripts/bench.sh --instructions  instruction counts of workload (1) only
#   scripts/bench.sh -- OPTIONS...   the driver with OPTIONS (fixalloc_bench
#                                    --help); nothing written
set -eu
cd "$(dirname "$0")/.." || exit 1
dir=build-bench
started=$(date +%s)
mkdir -p $dir
log=$dir/build.log
cmake -S . -B $dir -DFIXALLOC_BENCH=ON -DFIXALLOC_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=Release >$log 2>&1 ||
    { cat $log; exit 1; }
cmake --build $dir -j "$(nproc 2>/dev/null || echo 2)" >>$log 2>&1 ||
    { tail -40 $log; exit 1; }
bench=$dir/bench/fixalloc_bench

case "${1:-}" in
--instructions)
    shift
    exec sh bench/instructions.sh "$bench" "$@" ;;
--)
    shift
    exec "$bench" "$@" ;;
--quick)
    shift
    kind=quick; opts="--quick" ;;
"")
    kind=bench; opts="" ;;
*)
    exec "$bench" "$@" ;;
esac

out=bench/results
mkdir -p "$out"
tables=$dir/$kind.md
# shellcheck disable=SC2086
"$bench" $opts --csv "$out/$kind.csv" --gnuplot "$dir/$kind.gp" \
    --png-prefix "$out/$kind-" | tee "$tables"
if command -v gnuplot >/dev/null 2>&1; then
    gnuplot "$dir/$kind.gp" || echo "bench: gnuplot failed: no charts" >&2
else
    echo "bench: gnuplot not found: no charts (apt-get install gnuplot-nox)" >&2
fi
elapsed=$(( $(date +%s) - started ))
echo "bench: $kind run took ${elapsed} s (build included); CSV $out/$kind.csv"

# The programs under LD_PRELOAD (bench/preload.sh), smaller in the quick run.
if [ "$kind" = quick ]; then
    echo
    sh bench/preload.sh --quick $dir ||
        echo "bench: the programs under LD_PRELOAD reported errors" >&2
fi

[ "$kind" = bench ] || exit 0
{
    echo "# Benchmark results"
    echo
    echo "Made by \`make bench\` in ${elapsed} s, build included, on"
    echo "$(date -u +%Y-%m-%d): scripts/bench.sh builds build-bench/ and runs"
    echo
    echo "    $bench --csv $out/$kind.csv --gnuplot $dir/$kind.gp --png-prefix $out/$kind-"
    echo "    gnuplot $dir/$kind.gp"
    echo
    echo "Every number is in [results/bench.csv](results/bench.csv);"
    echo "[README.md](README.md) describes the workloads and the method."
    echo
    # The tables, with the charts after the at-a-glance ones.
    sed '1,2d' "$tables" | awk -v out="$out" '
        /^## One thread/ && !done {
            print "## Charts\n"
            n = split("ns-16 ns-64 ns-256 rss mixed", c, " ")
            for (i = 1; i <= n; i++) {
                f = out "/bench-" c[i] ".png"
                if ((getline line < f) >= 0) {
                    print "![" c[i] "](results/bench-" c[i] ".png)\n"
                }
                close(f)
            }
            done = 1
        }
        { print }'
} >bench/RESULTS.md
echo "bench: wrote bench/RESULTS.md"

# The C++ section (bench/cpp_containers.cc), when it was built: its table
# after the others.
if [ -x $dir/bench/bench_cpp_containers ]; then
    echo
    $dir/bench/bench_cpp_containers | tee $dir/cpp.md
    { echo; cat $dir/cpp.md; } >>bench/RESULTS.md
fi

# The programs under LD_PRELOAD (bench/preload.sh): their tables last.
echo
sh bench/preload.sh $dir >$dir/preload.md ||
    echo "bench: the programs under LD_PRELOAD reported errors" >&2
cat $dir/preload.md
{ echo; cat $dir/preload.md; } >>bench/RESULTS.md
