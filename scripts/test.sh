#!/bin/sh
# test.sh - the whole test suite, as `make test` runs it:
#   1. gcc build, warnings as errors, every test;
#   2. clang build, warnings as errors, every test;
#   3. ASan+UBSan build, every test;
#   4. ThreadSanitizer build, every test;
#   5. every test under Valgrind memcheck (zero errors, no leaks);
#   6. the fuzz targets (libFuzzer, ASan+UBSan; pools, caches, heaps): each
#      its seed corpus, then FIXALLOC_FUZZ_SECONDS (default 20) of fuzzing;
#   7. install, then build and run a consumer through pkg-config and through
#      CMake's find_package;
#   8. the drop-in malloc: real programs (python3, lua5.4, sqlite3, gcc, a
#      shell pipeline) and two of ours under LD_PRELOAD, output compared
#      with a plain run (tests/preload/run.sh);
#   9. packaging: the man pages and the Debian packages
#      (scripts/test_packaging.sh);
#  10. the house rules: every C file in the project's clang-format style
#      (scripts/format.sh --check) and the documentation true of the code
#      (scripts/check_docs.sh: layer table, defaults, file headers).
# It ends with one line "summary: N passed, M failed" counting the tests of
# every stage.
set -u
cd "$(dirname "$0")/.." || exit 1
JOBS=$(nproc 2>/dev/null || echo 2)
passed=0
failed=0

# Adds the counts of a ctest run's "N tests failed out of M" line.
count_ctest() {
    line=$(grep -E 'tests? failed out of [0-9]+' "$1" | tail -n 1)
    if [ -z "$line" ]; then
        failed=$((failed + 1))
        return
    fi
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/')
    t=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/')
    passed=$((passed + t - f))
    failed=$((failed + f))
}

# stage NAME BUILD_DIR CMAKE_ARGS... : configure, build and run ctest.
stage() {
    name=$1 dir=$2
    shift 2
    echo "=== $name"
    if ! cmake -S . -B "$dir" -DFIXALLOC_WERROR=ON "$@" >"$dir.log" 2>&1 ||
       ! cmake --build "$dir" -j "$JOBS" >>"$dir.log" 2>&1; then
        cat "$dir.log"
        echo "$name: build failed"
        failed=$((failed + 1))
        return
    fi
    (cd "$dir" && ctest --output-on-failure -j "$JOBS") >"$dir.ctest" 2>&1
    tail -n 20 "$dir.ctest"
    count_ctest "$dir.ctest"
}

stage "gcc" build-test-gcc -DCMAKE_C_COMPILER=gcc
stage "clang" build-test-clang -DCMAKE_C_COMPILER=clang
stage "asan+ubsan" build-test-asan -DCMAKE_C_COMPILER=clang \
    -DCMAKE_BUILD_TYPE=Debug -DFIXALLOC_SANITIZE=address,undefined
stage "tsan" build-test-tsan -DCMAKE_C_COMPILER=clang \
    -DFIXALLOC_SANITIZE=thread
stage "valgrind memcheck" build-test-valgrind -DCMAKE_C_COMPILER=gcc \
    -DFIXALLOC_VALGRIND=ON

echo "=== fuzz"
# Each target (fuzz_pool, fuzz_cache, fuzz_heap) replays its seed corpus,
# then fuzzes for FIXALLOC_FUZZ_SECONDS (default 20) from it and from what
# earlier runs found; one test per target. Crash inputs go to $dir/.
dir=build-test-fuzz
if cmake -S . -B $dir -DCMAKE_C_COMPILER=clang -DFIXALLOC_TESTS=OFF \
        -DFIXALLOC_FUZZ=ON -DFIXALLOC_SANITIZE=address,undefined \
        >"$dir.log" 2>&1 &&
   cmake --build $dir -j "$JOBS" --target fuzz_pool fuzz_cache fuzz_heap \
        >>"$dir.log" 2>&1; then
    for target in pool cache heap; do
        seeds=tests/fuzz/corpus_$target
        [ "$target" = pool ] && seeds=tests/fuzz/corpus
        log=$dir/fuzz_$target.log
        mkdir -p $dir/corpus_$target
        if $dir/tests/fuzz/fuzz_$target "$seeds"/* >"$log" 2>&1 &&
           $dir/tests/fuzz/fuzz_$target \
                -max_len="$(sh scripts/fuzz_max_len.sh $target)" \
                -max_total_time="${FIXALLOC_FUZZ_SECONDS:-20}" \
                -artifact_prefix=$dir/ \
                $dir/corpus_$target "$seeds" >>"$log" 2>&1; then
            echo "fuzz_$target: $(grep -E '^#[0-9]+.*DONE' "$log" | tail -n 1)"
            passed=$((passed + 1))
        else
            tail -n 40 "$log"
            echo "fuzz_$target: failed (log: $log)"
            failed=$((failed + 1))
        fi
    done
else
    tail -n 40 "$dir.log"
    echo "fuzz: build failed"
    failed=$((failed + 3))
fi

echo "=== installed package"
if sh scripts/consumer.sh build-test-consumer; then
    passed=$((passed + 2))
else
    failed=$((failed + 2))
fi

echo "=== drop-in malloc"
# Programs people use, and two of ours, with and without the override
# (LD_PRELOAD of the gcc stage's libfixalloc-malloc.so): same output.
if [ -f build-test-gcc/libfixalloc-malloc.so ] &&
   sh tests/preload/run.sh "$PWD/build-test-gcc/libfixalloc-malloc.so" \
       > build-test-preload.log 2>&1; then
    grep -E '^preload:' build-test-preload.log
    passed=$((passed + 1))
else
    cat build-test-preload.log 2>/dev/null
    echo "drop-in malloc: failed"
    failed=$((failed + 1))
fi

echo "=== packaging"
# Man pages (render, one per exported symbol) and the Debian packages
# (build, contents, a consumer against them, lintian).
if sh scripts/test_packaging.sh; then
    passed=$((passed + 2))
else
    failed=$((failed + 2))
fi

echo "=== house rules"
for check in "scripts/format.sh --check" "scripts/check_docs.sh"; do
    # shellcheck disable=SC2086
    if sh $check; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
done

echo "summary: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
