/*
 * impl_fixalloc.c - adapter: one fa_pool (the library's pool layer).
 */
#include "bench.h"

#include <fixalloc.h>
#include <stdlib.h>

static void *fixalloc_init(size_t size, size_t max_live) {
    (void)max_live;
    fa_pool *p = aligned_alloc(64, (sizeof(fa_pool) + 63) & ~(size_t)63);
    if (p == NULL) {
        return NULL;
    }
    fa_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.size = size;
    cfg.name = "bench";
    if (fa_pool_init(p, &cfg) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

/* Folded into the workload loops: the loop calls fa_pool_alloc and
 * fa_pool_free themselves. */
static void *fixalloc_alloc(void *state) { return fa_pool_alloc(state); }

static void fixalloc_free(void *state, void *obj) { fa_pool_free(state, obj); }

static void fixalloc_destroy(void *state) {
    fa_pool_destroy(state);
    free(state);
}

static size_t fixalloc_slot(void *state) {
    fa_stats s;
    fa_pool_stats(state, &s);
    return s.slot_size;
}

BENCH_ADAPTER(fixalloc, "fa_pool", fixalloc_init, fixalloc_alloc,
              fixalloc_free, fixalloc_destroy, fixalloc_slot);
