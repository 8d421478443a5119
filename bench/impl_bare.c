/*
 * impl_bare.c - adapter: the bare intrusive free list (bare_list.c).
 */
#include "bare_list.h"
#include "bench.h"

static void *bare_init(size_t size, size_t max_live) {
    return bare_list_create(size, max_live);
}

static void bare_destroy(void *state) { bare_list_destroy(state); }

static size_t bare_slot(void *state) { return ((bare_list *)state)->slot; }

BENCH_ADAPTER(bare, "bare list", bare_init, bare_alloc, bare_free,
              bare_destroy, bare_slot);
