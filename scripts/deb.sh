#!/bin/sh
# deb.sh - builds the Debian packages and checks them.
#
#   sh scripts/deb.sh [DIR]        (default build-deb)
#
#   1. copies the source (the files git knows, or the tree less its build
#      directories) to DIR/src/fixalloc-VERSION and runs
#      `dpkg-buildpackage -us -uc -b` there: DIR/src/*.deb;
#   2. lists each package's contents (dpkg -c) and checks that the files
#      each must hold are there: the shared library in libfixalloc0; the
#      headers, static library, .so link, pkg-config file, CMake package and
#      man pages in libfixalloc-dev;
#   3. unpacks both into DIR/root (dpkg -x) and builds and runs the C and
#      C++ consumers (examples/consumer) against them through pkg-config;
#   4. runs lintian on the .changes: any error (E:) fails; warnings and
#      informational tags are listed.
# Needs debhelper, dpkg-dev, fakeroot, lintian, cmake, pkg-config
# (scripts/deps.sh test installs them). Ends with "deb: OK" or "deb: FAILED".
set -u
cd "$(dirname "$0")/.." || exit 2
dir=${1:-build-deb}
version=$(sed -n '1s/^fixalloc (\([^)]*\)).*/\1/p' debian/changelog)
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
for tool in dpkg-buildpackage dh lintian fakeroot cmake pkg-config; do
    command -v "$tool" >/dev/null 2>&1 ||
        { echo "deb: $tool is missing (sh scripts/deps.sh test, as root)"; exit 2; }
done
fail() {
    echo "deb: $*"
    echo "deb: FAILED"
    exit 1
}

rm -rf "$dir"
src="$dir/src/fixalloc-$version"
mkdir -p "$src" "$dir/root"
dir=$(cd "$dir" && pwd)
src="$dir/src/fixalloc-$version"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$src"
else
    tar --exclude='./build*' --exclude='./_install' --exclude='./.git' -cf - . |
        (cd "$src" && tar -xf -)
fi

echo "=== dpkg-buildpackage -us -uc -b"
if ! (cd "$src" && dpkg-buildpackage -us -uc -b) >"$dir/build.log" 2>&1; then
    tail -n 40 "$dir/build.log"
    fail "dpkg-buildpackage failed (log: $dir/build.log)"
fi
grep -E '^dpkg-deb: building' "$dir/build.log"
lib="$dir/src/libfixalloc0_${version}_$arch.deb"
dev="$dir/src/libfixalloc-dev_${version}_$arch.deb"
[ -f "$lib" ] && [ -f "$dev" ] || fail "the packages are missing: $lib $dev"

echo "=== contents (dpkg -c)"
libdir="usr/lib/$multiarch"
check_has() { # DEB PATH...
    deb=$1
    shift
    dpkg -c "$deb" | awk '{ print $6 }' | sed 's|^\./||' >"$dir/contents"
    for path in "$@"; do
        grep -qx "$path" "$dir/contents" ||
            fail "$(basename "$deb") lacks $path"
    done
    echo "$(basename "$deb"): $(grep -vc '/$' "$dir/contents") files, $# checked"
}
check_has "$lib" "$libdir/libfixalloc.so.0" "$libdir/libfixalloc.so.$version" \
    "usr/share/doc/libfixalloc0/copyright"
check_has "$dev" usr/include/fixalloc.h usr/include/fixalloc.hpp \
    "$libdir/libfixalloc.so" "$libdir/libfixalloc.a" \
    "$libdir/pkgconfig/fixalloc.pc" "$libdir/cmake/fixalloc/fixallocConfig.cmake" \
    "$libdir/cmake/fixalloc/fixallocTargets.cmake" \
    usr/share/man/man7/fixalloc.7.gz usr/share/man/man3/fa_pool.3.gz \
    usr/share/man/man3/fa_pool_alloc.3.gz usr/share/man/man3/fa_malloc.3.gz \
    usr/share/man/man3/fa_free.3.gz
dpkg -c "$lib"

echo "=== unpacked (dpkg -x) and used"
root="$dir/root"
dpkg -x "$lib" "$root"
dpkg -x "$dev" "$root"
export PKG_CONFIG_PATH="$root/$libdir/pkgconfig"
flags=$(pkg-config --define-variable=prefix="$root/usr" --cflags --libs fixalloc) ||
    fail "pkg-config cannot read fixalloc.pc"
[ "$(pkg-config --variable=prefix fixalloc)" = /usr ] ||
    fail "fixalloc.pc's prefix is not /usr"
# shellcheck disable=SC2086
cc -std=c11 -Wall -Werror examples/consumer/main.c $flags -o "$dir/consumer" ||
    fail "the C consumer does not build against the package"
LD_LIBRARY_PATH="$root/$libdir" "$dir/consumer" || fail "the C consumer failed"
if command -v c++ >/dev/null 2>&1; then
    # shellcheck disable=SC2086
    c++ -std=c++17 -Wall -Werror examples/consumer/main.cc $flags -pthread \
        -o "$dir/consumer-cxx" ||
        fail "the C++ consumer does not build against the package"
    LD_LIBRARY_PATH="$root/$libdir" "$dir/consumer-cxx" ||
        fail "the C++ consumer failed"
fi
MANPATH="$root/usr/share/man" man -w fa_cache_alloc >/dev/null 2>&1 ||
    fail "man cannot find fa_cache_alloc(3) in the package"

echo "=== lintian"
changes=$(ls "$dir"/src/fixalloc_"${version}"_*.changes | head -n 1)
lintian --display-info "$changes" >"$dir/lintian.log" 2>&1
cat "$dir/lintian.log"
errors=$(grep -c '^E:' "$dir/lintian.log")
warnings=$(grep -c '^W:' "$dir/lintian.log")
echo "lintian: $errors errors, $warnings warnings"
[ "$errors" -eq 0 ] || fail "lintian reports errors"
echo "deb: OK ($(basename "$lib"), $(basename "$dev"))"
