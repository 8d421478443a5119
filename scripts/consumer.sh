#!/bin/sh
# consumer.sh DIR - installs fixalloc under DIR/prefix, then builds and runs
# examples/consumer against it twice: through pkg-config and through CMake's
# find_package.
set -eu
cd "$(dirname "$0")/.."
dir=$(mkdir -p "$1" && cd "$1" && pwd)
prefix="$dir/prefix"
cmake -S . -B "$dir/lib" -DFIXALLOC_TESTS=OFF -DCMAKE_INSTALL_PREFIX="$prefix" >/dev/null
cmake --build "$dir/lib" -j 2 >/dev/null
cmake --install "$dir/lib" >/dev/null
libdir=$(find "$prefix" -name 'libfixalloc.so' -exec dirname {} \; | head -n 1)

echo "consumer through pkg-config:"
PKG_CONFIG_PATH="$libdir/pkgconfig" sh -c \
    'cc -std=c11 -Wall -Werror examples/consumer/main.c $(pkg-config --cflags --libs fixalloc) -o "$1/consumer-pc"' \
    sh "$dir"
LD_LIBRARY_PATH="$libdir" "$dir/consumer-pc"

echo "consumer through find_package:"
cmake -S examples/consumer -B "$dir/cmake" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$dir/cmake" >/dev/null
"$dir/cmake/consumer"
