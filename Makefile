# Short commands over CMake. `make test` and `make bench` install the Debian
# packages they need first when run as root (scripts/deps.sh).
#
#   make                  the libraries (and the tests, when Check is found)
#   make install PREFIX=DIR   the libraries, headers, pkg-config file, CMake
#                         package and man pages under DIR (default
#                         /usr/local); builds no test
#   make deb              the Debian packages, in build-deb/ (scripts/deb.sh)
#   make fuzz             the libFuzzer targets (clang, ASan+UBSan), in
#                         build-fuzz/, each run for FIXALLOC_FUZZ_SECONDS
#                         (default 600) from its seed corpus; corpora grow
#                         in build-fuzz/corpus_*, crash inputs land in
#                         build-fuzz/; FUZZ_FLAGS adds libFuzzer options;
#                         -max_len is what each target reads of an input
#                         (scripts/fuzz_max_len.sh)
#   make clean            everything the builds and benchmarks wrote

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# The build directory of `make` and `make install`.
BUILD ?= build

.PHONY: all test bench bench-quick instructions install deb fuzz clean

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

FIXALLOC_FUZZ_SECONDS ?= 600
FUZZ_FLAGS ?=

fuzz:
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DFIXALLOC_TESTS=OFF \
	    -DFIXALLOC_FUZZ=ON -DFIXALLOC_SANITIZE=address,undefined
	cmake --build build-fuzz -j $(JOBS) --target fuzz_pool fuzz_cache fuzz_heap
	@status=0; for t in pool cache heap; do \
	    seeds=tests/fuzz/corpus_$$t; [ $$t = pool ] && seeds=tests/fuzz/corpus; \
	    mkdir -p build-fuzz/corpus_$$t; \
	    len=$$(sh scripts/fuzz_max_len.sh $$t); \
	    echo "=== fuzz_$$t: $(FIXALLOC_FUZZ_SECONDS) s"; \
	    build-fuzz/tests/fuzz/fuzz_$$t -max_len=$$len \
	        -max_total_time=$(FIXALLOC_FUZZ_SECONDS) \
	        -artifact_prefix=build-fuzz/ $(FUZZ_FLAGS) \
	        build-fuzz/corpus_$$t $$seeds || status=1; \
	done; exit $$status

# build/ and build-*/ hold every build (tests, sanitizers, benchmark,
# consumer, packages); bench/results/quick* is what bench-quick writes.
clean:
	rm -rf build build-* _install bench/results/quick.csv \
	    bench/results/quick-*.png bench/results/*.tmp
