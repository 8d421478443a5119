/*
 * impl_mimalloc.c - adapters: mimalloc's mi_malloc/mi_free (trimmed with
 * mi_collect(true)), and a dedicated heap per thread, mi_heap_new and
 * mi_heap_malloc (trimmed with mi_heap_collect(heap, true)). A heap belongs
 * to the thread that made it; any thread may mi_free its objects.
 */
#include "bench.h"

#include <mimalloc.h>
#include <stdio.h>

typedef struct mim_state {
    size_t size;
    mi_heap_t *heap;
} mim_state;

static void *mim_init(size_t size, size_t max_live)
{
    (void)max_live;
    mim_state *m = mi_malloc(sizeof *m);
    if (m != NULL) {
        m->size = size;
        m->heap = NULL;
    }
    return m;
}

static void mim_destroy(void *state)
{
    mi_free(state);
}

static void *mim_alloc(void *state)
{
    return mi_malloc(((const mim_state *)state)->size);
}

static void *mim_alloc_n(void *state, size_t n)
{
    (void)state;
    return mi_malloc(n);
}

static void mim_free(void *state, void *obj)
{
    (void)state;
    mi_free(obj);
}

static void mim_trim(void *state)
{
    (void)state;
    mi_collect(true);
}

static const char *mim_version(void)
{
    static char buf[32];
    int v = mi_version();
    snprintf(buf, sizeof buf, "%d.%d.%d", v / 100, v / 10 % 10, v % 10);
    return buf;
}

BENCH_FIXED_WORKLOADS(mimalloc, "mimalloc", mim_alloc, mim_free, mim_trim)
BENCH_VAR_WORKLOADS(mimalloc, "mimalloc", mim_alloc_n, mim_free, mim_trim)

const bench_impl bench_impl_mimalloc = {
    .id = "mimalloc",
    .name = "mimalloc",
    .caps = BENCH_FIXED | BENCH_VAR | BENCH_SHARED | BENCH_REMOTE,
    .version = mim_version,
    .init = mim_init,
    .destroy = mim_destroy,
    .alloc = mim_alloc,
    .alloc_n = mim_alloc_n,
    .free = mim_free,
    .trim = mim_trim,
    .trim_call = "mi_collect(true)",
    BENCH_FIXED_RUNS(mimalloc),
    BENCH_VAR_RUNS(mimalloc),
};

/* A dedicated heap: one per state, made by the thread that uses it. */
static void *heap_init(size_t size, size_t max_live)
{
    mim_state *m = mim_init(size, max_live);
    if (m != NULL) {
        m->heap = mi_heap_new();
        if (m->heap == NULL) {
            mi_free(m);
            return NULL;
        }
    }
    return m;
}

static void heap_destroy(void *state)
{
    mim_state *m = state;
    mi_heap_delete(m->heap);
    mi_free(m);
}

static void *heap_alloc(void *state)
{
    const mim_state *m = state;
    return mi_heap_malloc(m->heap, m->size);
}

static void *heap_alloc_n(void *state, size_t n)
{
    return mi_heap_malloc(((const mim_state *)state)->heap, n);
}

static void heap_trim(void *state)
{
    mi_heap_collect(((const mim_state *)state)->heap, true);
}

BENCH_FIXED_WORKLOADS(mi_heap, "mi_heap", heap_alloc, mim_free, heap_trim)
BENCH_VAR_WORKLOADS(mi_heap, "mi_heap", heap_alloc_n, mim_free, heap_trim)

const bench_impl bench_impl_mi_heap = {
    .id = "mi_heap",
    .name = "mimalloc mi_heap",
    .caps = BENCH_FIXED | BENCH_VAR | BENCH_REMOTE,
    .version = mim_version,
    .init = heap_init,
    .destroy = heap_destroy,
    .alloc = heap_alloc,
    .alloc_n = heap_alloc_n,
    .free = mim_free,
    .trim = heap_trim,
    .trim_call = "mi_heap_collect(true)",
    BENCH_FIXED_RUNS(mi_heap),
    BENCH_VAR_RUNS(mi_heap),
};
