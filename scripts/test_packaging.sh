#!/bin/sh
# test_packaging.sh - the packaging stages of the test suite:
#   1. the man pages (scripts/check_man.sh against a fresh shared library:
#      they render without warnings, every exported symbol has a page);
#   2. the Debian packages (scripts/deb.sh: dpkg-buildpackage, contents,
#      a consumer built against them, lintian without errors).
# (The C++ tests run in every ctest stage of scripts/test.sh, and the
# installed C++ consumer in its "installed package" stage.)
# Ends with one line "packaging: N passed, M failed".
set -u
cd "$(dirname "$0")/.." || exit 1
passed=0
failed=0

echo "=== man pages"
dir=build-test-man
if cmake -S . -B $dir -DFIXALLOC_TESTS=OFF >"$dir.log" 2>&1 &&
   cmake --build $dir -j 2 --target fixalloc_shared >>"$dir.log" 2>&1 &&
   sh scripts/check_man.sh $dir/libfixalloc.so; then
    passed=$((passed + 1))
else
    tail -n 20 "$dir.log"
    failed=$((failed + 1))
fi

echo "=== Debian packages"
if sh scripts/deb.sh build-test-deb >build-test-deb.log 2>&1; then
    grep -E '^(dpkg-deb: building|lib.*deb: |consumer|[EW]: |lintian:|deb:)' build-test-deb.log
    passed=$((passed + 1))
else
    tail -n 60 build-test-deb.log
    failed=$((failed + 1))
fi

echo "packaging: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
