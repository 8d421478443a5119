# Short commands over CMake. `make test` and `make bench` install the Debian
# packages they need first when run as root (scripts/deps.sh).

JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all test bench bench-quick instructions install clean

all:
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build build -j $(JOBS)

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

install: all
	cmake --install build $(if $(PREFIX),--prefix $(PREFIX))

clean:
	rm -rf build build-* _install
