#!/bin/sh
# consumer.sh DIR - installs fixalloc under DIR/prefix as the README says
# (`make install PREFIX=DIR/prefix`, the prefix given at install time, not
# at configure time; build directory DIR/lib), then builds and runs
# examples/consumer against it through pkg-config and through CMake's
# find_package, in C and, when a C++ compiler is found, in C++
# (fixalloc.hpp); and checks that the man pages are found under the prefix.
set -eu
cd "$(dirname "$0")/.."
dir=$(mkdir -p "$1" && cd "$1" && pwd)
prefix="$dir/prefix"
rm -rf "$prefix"
echo "consumer: make install PREFIX=$prefix"
make install PREFIX="$prefix" BUILD="$dir/lib" JOBS=2 >"$dir/install.log" 2>&1 ||
    { tail -n 30 "$dir/install.log"; exit 1; }
if find "$dir/lib" -name 'test_*' -type f | grep -q .; then
    echo "consumer: make install built tests" >&2
    exit 1
fi
libdir=$(find "$prefix" -name 'libfixalloc.so' -exec dirname {} \; | head -n 1)
export PKG_CONFIG_PATH="$libdir/pkgconfig"
got=$(pkg-config --variable=prefix fixalloc)
if [ "$got" != "$prefix" ]; then
    echo "consumer: fixalloc.pc says prefix=$got, not $prefix" >&2
    exit 1
fi

cxx=""
for c in "${CXX:-}" c++ g++ clang++; do
    if [ -n "$c" ] && command -v "$c" >/dev/null 2>&1; then cxx=$c; break; fi
done

echo "consumer through pkg-config:"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Werror examples/consumer/main.c \
    $(pkg-config --cflags --libs fixalloc) -o "$dir/consumer-pc"
LD_LIBRARY_PATH="$libdir" "$dir/consumer-pc"
if [ -n "$cxx" ]; then
    # shellcheck disable=SC2046
    "$cxx" -std=c++17 -Wall -Werror examples/consumer/main.cc \
        $(pkg-config --cflags --libs fixalloc) -pthread -o "$dir/consumer-pc-cxx"
    LD_LIBRARY_PATH="$libdir" "$dir/consumer-pc-cxx"
fi

echo "consumer through find_package:"
cmake -S examples/consumer -B "$dir/cmake" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$dir/cmake" >/dev/null
"$dir/cmake/consumer"
if [ -x "$dir/cmake/consumer_cxx" ]; then
    "$dir/cmake/consumer_cxx"
fi

echo "man pages under the prefix:"
for page in fixalloc.7 fa_pool.3 fa_pool_alloc.3 fa_malloc.3 fa_free.3; do
    [ -f "$prefix/share/man/man${page##*.}/$page" ] ||
        { echo "consumer: no man page $page under $prefix/share/man" >&2; exit 1; }
done
echo "consumer: man pages installed ($(find "$prefix/share/man" -type f | wc -l) files)"
