#!/bin/sh
# deps.sh - installs the Debian packages a job needs, or names them.
#
#   scripts/deps.sh test|bench
#
# As root on Debian, missing packages are installed with apt-get; otherwise
# the script lists them and the job goes on (and fails where one is needed).
set -eu

case "${1:-}" in
test)  pkgs="build-essential cmake pkg-config check valgrind clang libclang-rt-dev
             clang-format python3 lua5.4 sqlite3" ;;
bench) pkgs="build-essential cmake pkg-config valgrind gnuplot-nox
             libjemalloc-dev libgoogle-perftools-dev libmimalloc-dev
             libtbb-dev libboost-dev dpdk-dev" ;;
*) echo "usage: $0 test|bench" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
    echo "deps: missing Debian packages:$missing (install them as root)" >&2
fi
