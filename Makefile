# Short commands over CMake. `make test` and `make bench` install the Debian
# packages they need first when run as root (scripts/deps.sh).
#
#   make                  the libraries (and the tests, when Check is found)
#   make install PREFIX=DIR   the libraries, headers, pkg-config file, CMake
#                         package and man pages under DIR (default
#                         /usr/local); builds no test
#   make deb              the Debian packages, in build-deb/ (scripts/deb.sh)
#   make clean            everything the builds and benchmarks wrote

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# The build directory of `make` and `make install`.
BUILD ?= build

.PHONY: all test bench bench-quick instructions install deb clean

all:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j $(JOBS)

test:
	sh scripts/deps.sh test
	sh scripts/test.sh

bench:
	sh scripts/deps.sh bench
	sh scripts/bench.sh

bench-quick:
	sh scripts/deps.sh bench
	sh scripts/bench.sh --quick

instructions:
	sh scripts/deps.sh bench
	sh scripts/bench.sh --instructions

install:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j $(JOBS) --target fixalloc_static fixalloc_shared fixalloc_malloc
	cmake --install $(BUILD) $(if $(PREFIX),--prefix $(PREFIX))

deb:
	sh scripts/deb.sh

# build/ and build-*/ hold every build (tests, sanitizers, benchmark,
# consumer, packages); bench/results/quick* is what bench-quick writes.
clean:
	rm -rf build build-* _install bench/results/quick.csv \
	    bench/results/quick-*.png bench/results/*.tmp
