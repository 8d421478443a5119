/*
 * impl_tbb.c - adapter: oneTBB's scalable allocator, scalable_malloc and
 * scalable_free (libtbbmalloc, without the malloc-replacing proxy);
 * trimmed with scalable_allocation_command(TBBMALLOC_CLEAN_ALL_BUFFERS).
 */
#include <tbb/scalable_allocator.h>

#include "bench.h"

typedef struct tbb_state {
    size_t size;
} tbb_state;

static void *tbb_init(size_t size, size_t max_live)
{
    (void)max_live;
    tbb_state *t = scalable_malloc(sizeof *t);
    if (t != NULL) {
        t->size = size;
    }
    return t;
}

static void tbb_destroy(void *state)
{
    scalable_free(state);
}

static void *tbb_alloc(void *state)
{
    return scalable_malloc(((const tbb_state *)state)->size);
}

static void *tbb_alloc_n(void *state, size_t n)
{
    (void)state;
    return scalable_malloc(n);
}

static void tbb_free(void *state, void *obj)
{
    (void)state;
    scalable_free(obj);
}

static void tbb_trim(void *state)
{
    (void)state;
    scalable_allocation_command(TBBMALLOC_CLEAN_ALL_BUFFERS, NULL);
}

static const char *tbb_version(void)
{
#ifdef BENCH_TBB_VERSION
    return BENCH_TBB_VERSION;
#else
    return NULL;
#endif
}

BENCH_FIXED_WORKLOADS(tbb, "oneTBB scalable", tbb_alloc, tbb_free, tbb_trim)
BENCH_VAR_WORKLOADS(tbb, "oneTBB scalable", tbb_alloc_n, tbb_free, tbb_trim)

const bench_impl bench_impl_tbb = {
    .id = "tbb",
    .name = "oneTBB scalable",
    .caps = BENCH_FIXED | BENCH_VAR | BENCH_SHARED | BENCH_REMOTE,
    .version = tbb_version,
    .init = tbb_init,
    .destroy = tbb_destroy,
    .alloc = tbb_alloc,
    .alloc_n = tbb_alloc_n,
    .free = tbb_free,
    .trim = tbb_trim,
    .trim_call = "CLEAN_ALL_BUFFERS",
    BENCH_FIXED_RUNS(tbb),
    BENCH_VAR_RUNS(tbb),
};
