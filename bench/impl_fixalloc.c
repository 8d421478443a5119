/*
 * impl_fixalloc.c - adapters: fa_pool (default, FA_HARDENED and FA_ZERO)
 * and fa_cache.
 */
#include "bench.h"

#include <fixalloc.h>
#include <stdlib.h>

static void *pool_init_flags(size_t size, unsigned flags)
{
    fa_pool *p = aligned_alloc(64, (sizeof(fa_pool) + 63) & ~(size_t)63);
    if (p == NULL) {
        return NULL;
    }
    fa_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.size = size;
    cfg.flags = flags;
    cfg.name = "bench";
    if (fa_pool_init(p, &cfg) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

static void *pool_init(size_t size, size_t max_live)
{
    (void)max_live;
    return pool_init_flags(size, 0);
}

static void *pool_init_hardened(size_t size, size_t max_live)
{
    (void)max_live;
    return pool_init_flags(size, FA_HARDENED);
}

static void *pool_init_zero(size_t size, size_t max_live)
{
    (void)max_live;
    return pool_init_flags(size, FA_ZERO);
}

/* Folded into the workload loops: the loop calls fa_pool_alloc and
 * fa_pool_free themselves. */
static void *pool_alloc(void *state)
{
    return fa_pool_alloc(state);
}

static void pool_free(void *state, void *obj)
{
    fa_pool_free(state, obj);
}

static void pool_trim(void *state)
{
    fa_pool_trim(state);
}

static void pool_destroy(void *state)
{
    fa_pool_destroy(state);
    free(state);
}

static size_t pool_slot(void *state)
{
    fa_stats s;
    fa_pool_stats(state, &s);
    return s.slot_size;
}

static const char *fixalloc_version(void)
{
#define BENCH_STR2(x) #x
#define BENCH_STR(x) BENCH_STR2(x)
    return BENCH_STR(FIXALLOC_VERSION_MAJOR) "." BENCH_STR(
        FIXALLOC_VERSION_MINOR) "." BENCH_STR(FIXALLOC_VERSION_PATCH);
}

BENCH_FIXED_WORKLOADS(fa_pool, "fa_pool", pool_alloc, pool_free, pool_trim)

#define POOL_IMPL(ID, NAME, CAPS, INIT)                                        \
    const bench_impl bench_impl_##ID = {                                       \
        .id = #ID,                                                             \
        .name = NAME,                                                          \
        .caps = CAPS,                                                          \
        .version = fixalloc_version,                                           \
        .init = INIT,                                                          \
        .destroy = pool_destroy,                                               \
        .alloc = pool_alloc,                                                   \
        .free = pool_free,                                                     \
        .trim = pool_trim,                                                     \
        .trim_call = "fa_pool_trim",                                           \
        .slot = pool_slot,                                                     \
        BENCH_FIXED_RUNS(fa_pool),                                             \
    }

POOL_IMPL(fa_pool, "fa_pool", BENCH_FIXED, pool_init);
POOL_IMPL(fa_pool_hardened, "fa_pool FA_HARDENED", BENCH_FIXED | BENCH_HOT_ONLY,
          pool_init_hardened);
POOL_IMPL(fa_pool_zero, "fa_pool FA_ZERO", BENCH_FIXED | BENCH_HOT_ONLY,
          pool_init_zero);

/* fa_cache: thread-safe, any thread frees any object. */
static void *cache_init(size_t size, size_t max_live)
{
    (void)max_live;
    fa_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.size = size;
    cfg.name = "bench";
    return fa_cache_create(&cfg);
}

static void *cache_alloc(void *state)
{
    return fa_cache_alloc(state);
}

static void cache_free(void *state, void *obj)
{
    fa_cache_free(state, obj);
}

static void cache_trim(void *state)
{
    fa_cache_trim(state);
}

static void cache_destroy(void *state)
{
    fa_cache_destroy(state);
}

static size_t cache_slot(void *state)
{
    fa_cache_counters s;
    fa_cache_stats(state, &s);
    return s.pool.slot_size;
}

BENCH_FIXED_WORKLOADS(fa_cache, "fa_cache", cache_alloc, cache_free, cache_trim)

const bench_impl bench_impl_fa_cache = {
    .id = "fa_cache",
    .name = "fa_cache",
    .caps = BENCH_FIXED | BENCH_SHARED | BENCH_REMOTE,
    .version = fixalloc_version,
    .init = cache_init,
    .destroy = cache_destroy,
    .alloc = cache_alloc,
    .free = cache_free,
    .trim = cache_trim,
    .trim_call = "fa_cache_trim",
    .slot = cache_slot,
    BENCH_FIXED_RUNS(fa_cache),
};
