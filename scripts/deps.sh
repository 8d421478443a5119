#!/bin/sh
# deps.sh - installs the Debian packages a job needs, or names them.
#
#   scripts/deps.sh test|bench
#
# As root on Debian, missing packages are installed with apt-get, one line
# of progress per step (apt-get waits up to 10 minutes for another apt or
# dpkg to let go of its lock); otherwise the script lists them and the job
# goes on (and fails where one is needed).
set -eu

case "${1:-}" in
test)  pkgs="build-essential cmake pkg-config check valgrind clang libclang-rt-dev
             clang-format python3 lua5.4 sqlite3
             debhelper dpkg-dev fakeroot lintian groff man-db" ;;
bench) pkgs="build-essential cmake pkg-config valgrind gnuplot-nox
             libjemalloc-dev libgoogle-perftools-dev libmimalloc-dev
             libtbb-dev libboost-dev dpdk-dev lua5.4 sqlite3" ;;
*) echo "usage: $0 test|bench" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt="apt-get -o DPkg::Lock::Timeout=600 -o Dpkg::Use-Pty=0"
    started=$(date +%s)
    echo "deps: apt-get update"
    $apt update -qq
    n=$(echo $missing | wc -w)
    echo "deps: installing $n packages:$missing"
    # One line per package unpacked and set up (not apt's whole output).
    # shellcheck disable=SC2086
    $apt install -y --no-install-recommends $missing 2>&1 |
        grep --line-buffered -E '^(Unpacking|Setting up|E:|W:)' |
        sed -u 's/^/deps:   /'
    # The pipeline's status is grep's: check the result instead.
    still=""
    for p in $missing; do
        dpkg -s "$p" >/dev/null 2>&1 || still="$still $p"
    done
    if [ -n "$still" ]; then
        echo "deps: not installed:$still" >&2
        exit 1
    fi
    echo "deps: done in $(( $(date +%s) - started )) s"
else
    echo "deps: missing Debian packages:$missing (install them as root)" >&2
fi
