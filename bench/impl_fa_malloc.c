/*
 * impl_fa_malloc.c - adapter: fa_malloc and fa_free, the default heap of
 * fixalloc's size-class layer, trimmed with fa_heap_trim. Built when
 * include/fixalloc.h declares fa_malloc and fa_heap_trim (CMakeLists.txt
 * checks).
 */
#include "bench.h"

#include <fixalloc.h>

typedef struct fam_state {
    size_t size;
} fam_state;

static void *fam_init(size_t size, size_t max_live)
{
    (void)max_live;
    fam_state *s = malloc(sizeof *s);
    if (s != NULL) {
        s->size = size;
    }
    return s;
}

static void fam_destroy(void *state)
{
    free(state);
}

static void *fam_alloc(void *state)
{
    return fa_malloc(((const fam_state *)state)->size);
}

static void *fam_alloc_n(void *state, size_t n)
{
    (void)state;
    return fa_malloc(n);
}

static void fam_free(void *state, void *obj)
{
    (void)state;
    fa_free(obj);
}

static void fam_trim(void *state)
{
    (void)state;
    fa_heap_trim(fa_heap_default());
}

static const char *fam_version(void)
{
#define BENCH_STR2(x) #x
#define BENCH_STR(x) BENCH_STR2(x)
    return BENCH_STR(FIXALLOC_VERSION_MAJOR) "." BENCH_STR(
        FIXALLOC_VERSION_MINOR) "." BENCH_STR(FIXALLOC_VERSION_PATCH);
}

BENCH_FIXED_WORKLOADS(fa_malloc, "fa_malloc", fam_alloc, fam_free, fam_trim)
BENCH_VAR_WORKLOADS(fa_malloc, "fa_malloc", fam_alloc_n, fam_free, fam_trim)

const bench_impl bench_impl_fa_malloc = {
    .id = "fa_malloc",
    .name = "fa_malloc",
    .caps = BENCH_FIXED | BENCH_VAR | BENCH_SHARED | BENCH_REMOTE,
    .version = fam_version,
    .init = fam_init,
    .destroy = fam_destroy,
    .alloc = fam_alloc,
    .alloc_n = fam_alloc_n,
    .free = fam_free,
    .trim = fam_trim,
    .trim_call = "fa_heap_trim",
    BENCH_FIXED_RUNS(fa_malloc),
    BENCH_VAR_RUNS(fa_malloc),
};
