/*
 * impl_glibc.c - adapter: the C library's malloc and free, called directly.
 */
#include "bench.h"

#include <stdlib.h>

typedef struct glibc_state {
    size_t size;
} glibc_state;

static void *glibc_init(size_t size, size_t max_live) {
    (void)max_live;
    glibc_state *g = malloc(sizeof *g);
    if (g != NULL) {
        g->size = size;
    }
    return g;
}

/* Folded into the workload loops: the loop calls malloc and free itself. */
static void *glibc_alloc(void *state) {
    return malloc(((const glibc_state *)state)->size);
}

static void glibc_free(void *state, void *obj) {
    (void)state;
    free(obj);
}

static void glibc_destroy(void *state) { free(state); }

BENCH_ADAPTER(glibc, "glibc malloc", glibc_init, glibc_alloc, glibc_free,
              glibc_destroy, NULL);
