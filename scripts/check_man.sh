#!/bin/sh
# check_man.sh - checks the man pages of man/.
#
#   sh scripts/check_man.sh [LIBFIXALLOC.so]
#
#   1. every page renders without a warning: `groff -man -ww -z` and, when
#      man-db is installed, `man --warnings -l`;
#   2. every function the header declares FA_API, and every symbol the
#      shared library exports (`nm -D --defined-only`; the library given,
#      else build*/libfixalloc.so if one exists), is a name in the NAME
#      section of one page (man/CMakeLists.txt installs a link page,
#      `.so man3/<page>`, for each such name), and every name a NAME
#      section lists is exported.
# Prints one line per problem and exits 1 if there is any, otherwise one
# line "check_man: OK (...)".
set -u
cd "$(dirname "$0")/.." || exit 2
command -v groff >/dev/null 2>&1 ||
    { echo "check_man: groff is missing (apt-get install groff)"; exit 2; }
tmp=${TMPDIR:-/tmp}/check_man.$$
mkdir -p "$tmp" || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM
problems=0
problem() {
    echo "check_man: $*"
    problems=$((problems + 1))
}

# ---- 1. rendering ----
pages=$(ls man/*.[1-9])
npages=0
for page in $pages; do
    npages=$((npages + 1))
    out=$(groff -man -ww -z "$page" 2>&1)
    [ -z "$out" ] || problem "$page: groff: $out"
    if command -v man >/dev/null 2>&1; then
        out=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "$page" 2>&1 >/dev/null)
        [ -z "$out" ] || problem "$page: man --warnings: $out"
    fi
done

# ---- 2. names ----
# The NAME section of each page: its names, one a line.
for page in $pages; do
    awk '/^\.SH/ { on = ($0 ~ /^\.SH NAME/); next }
         on { sub(/\\-.*/, ""); n = split($0, a, ","); for (i = 1; i <= n; i++) {
              gsub(/[ \t]/, "", a[i]); if (a[i] != "") print a[i] } }' "$page"
done | sort -u >"$tmp/named"
grep -E '^FA_API' include/fixalloc.h |
    sed -n 's/^FA_API[^(]*[ *]\(fa_[a-z0-9_]*\)(.*/\1/p' | sort -u >"$tmp/declared"

lib=${1:-}
if [ -z "$lib" ]; then
    lib=$(ls build*/libfixalloc.so 2>/dev/null | head -n 1)
fi
if [ -n "$lib" ]; then
    nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ { print $3 }' |
        sed 's/@.*//' | sort -u >"$tmp/exported"
    comm -23 "$tmp/exported" "$tmp/declared" | while read -r s; do
        echo "check_man: $s is exported by $lib but not declared FA_API in include/fixalloc.h"
    done >"$tmp/p1"
    comm -13 "$tmp/exported" "$tmp/declared" | while read -r s; do
        echo "check_man: $s is declared FA_API but not exported by $lib"
    done >>"$tmp/p1"
    [ -s "$tmp/p1" ] && { cat "$tmp/p1"; problems=$((problems + $(wc -l <"$tmp/p1"))); }
    cat "$tmp/exported" "$tmp/declared" | sort -u >"$tmp/symbols"
    from="$lib and include/fixalloc.h"
else
    cp "$tmp/declared" "$tmp/symbols"
    from="include/fixalloc.h (no shared library built)"
fi
comm -23 "$tmp/symbols" "$tmp/named" | while read -r s; do
    echo "check_man: $s has no man page (add it to a NAME section of man/)"
done >"$tmp/p2"
grep '^fa_' "$tmp/named" | comm -23 - "$tmp/symbols" | while read -r s; do
    echo "check_man: the man pages name $s, which is not a symbol of the library"
done >>"$tmp/p2"
[ -s "$tmp/p2" ] && { cat "$tmp/p2"; problems=$((problems + $(wc -l <"$tmp/p2"))); }

if [ "$problems" -gt 0 ]; then
    exit 1
fi
echo "check_man: OK ($npages pages render cleanly; $(wc -l <"$tmp/symbols") symbols of $from, each named by a page)"
