#!/bin/sh
# format.sh - the project's C style (.clang-format) over every C and C++
# source of the repository.
#
#   scripts/format.sh           rewrites the files in place
#   scripts/format.sh --check   lists the files that differ; exit 1 if any
set -u
cd "$(dirname "$0")/.." || exit 1
fmt=$(command -v clang-format || command -v clang-format-14) || {
    echo "format: clang-format not found (apt-get install clang-format)" >&2
    exit 1
}
files=$(git ls-files 'src/*.c' 'src/*.h' 'src/*.cc' 'include/*.h' 'tests/*.c' \
    'tests/*.h' 'tests/**/*.c' 'bench/*.c' 'bench/*.h' 'bench/*.cc' \
    'examples/*.c' 'examples/**/*.c' 2>/dev/null || find src include tests bench examples -name '*.[ch]' -o -name '*.cc')
if [ "${1:-}" = "--check" ]; then
    bad=0
    for f in $files; do
        if ! "$fmt" "$f" | cmp -s - "$f"; then
            echo "format: $f differs from .clang-format (run scripts/format.sh)"
            bad=1
        fi
    done
    [ "$bad" -eq 0 ] && echo "format: every file matches .clang-format"
    exit "$bad"
fi
# shellcheck disable=SC2086
"$fmt" -i $files
