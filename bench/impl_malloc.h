/*
 * impl_malloc.h - the adapter of a malloc replacement: malloc and free
 * called directly (through the PLT), in a worker executable that links the
 * allocator (glibc's own, jemalloc, tcmalloc). Included once per adapter
 * file, which defines TRIM (a function or NULL), TRIM_CALL, TRIM_NONE and
 * VERSION (a function or NULL), then writes MALLOC_IMPL(id, "name").
 */
#ifndef FIXALLOC_BENCH_IMPL_MALLOC_H
#define FIXALLOC_BENCH_IMPL_MALLOC_H

#include "bench.h"

#include <stdlib.h>

typedef struct malloc_state {
    size_t size;
} malloc_state;

static void *malloc_init(size_t size, size_t max_live)
{
    (void)max_live;
    malloc_state *m = malloc(sizeof *m);
    if (m != NULL) {
        m->size = size;
    }
    return m;
}

static void malloc_destroy(void *state)
{
    free(state);
}

/* Folded into the workload loops: the loop calls malloc and free. */
static void *malloc_alloc(void *state)
{
    return malloc(((const malloc_state *)state)->size);
}

static void *malloc_alloc_n(void *state, size_t n)
{
    (void)state;
    return malloc(n);
}

static void malloc_free(void *state, void *obj)
{
    (void)state;
    free(obj);
}

#define MALLOC_IMPL(ID, NAME)                                                  \
    BENCH_FIXED_WORKLOADS(ID, NAME, malloc_alloc, malloc_free, TRIM)           \
    BENCH_VAR_WORKLOADS(ID, NAME, malloc_alloc_n, malloc_free, TRIM)           \
    const bench_impl bench_impl_##ID = {                                       \
        .id = #ID,                                                             \
        .name = NAME,                                                          \
        .caps = BENCH_FIXED | BENCH_VAR | BENCH_SHARED | BENCH_REMOTE,         \
        .version = VERSION,                                                    \
        .init = malloc_init,                                                   \
        .destroy = malloc_destroy,                                             \
        .alloc = malloc_alloc,                                                 \
        .alloc_n = malloc_alloc_n,                                             \
        .free = malloc_free,                                                   \
        .trim = TRIM,                                                          \
        .trim_call = TRIM_CALL,                                                \
        .trim_none = TRIM_NONE,                                                \
        BENCH_FIXED_RUNS(ID),                                                  \
        BENCH_VAR_RUNS(ID),                                                    \
    }

#endif /* FIXALLOC_BENCH_IMPL_MALLOC_H */
