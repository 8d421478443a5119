/*
 * impl_bare.c - adapters: the bare intrusive free list (bare_list.c), the
 * single-thread floor, and the hand-off ring alone, workload (5)'s floor.
 */
#include "bare_list.h"
#include "bench.h"

#include <sys/mman.h>

static void *bare_init(size_t size, size_t max_live)
{
    return bare_list_create(size, max_live);
}

static void bare_destroy(void *state)
{
    bare_list_destroy(state);
}

static size_t bare_slot(void *state)
{
    return ((bare_list *)state)->slot;
}

BENCH_FIXED_WORKLOADS(bare, "bare list", bare_alloc, bare_free, NULL)

const bench_impl bench_impl_bare = {
    .id = "bare",
    .name = "bare list",
    .caps = BENCH_FIXED,
    .init = bare_init,
    .destroy = bare_destroy,
    .alloc = bare_alloc,
    .free = bare_free,
    .trim_none = "no such call",
    .slot = bare_slot,
    BENCH_FIXED_RUNS(bare),
};

/* The ring alone: the producer hands out objects of a fixed array in turn
 * (the array is four times the ring, so an object comes back to the
 * producer only after the consumer has read it) and the consumer drops
 * them. Both are inlined: the row is the ring's cost and nothing else. */
#define RING_OBJECTS (4 * BENCH_RING_SIZE)

typedef struct ring_state {
    size_t next;
    size_t slot;
    char *objs;
} ring_state;

static void *ring_init(size_t size, size_t max_live)
{
    (void)max_live;
    ring_state *r = malloc(sizeof *r);
    if (r == NULL) {
        return NULL;
    }
    r->next = 0;
    r->slot = (size + 15) & ~(size_t)15;
    r->objs = mmap(NULL, r->slot * RING_OBJECTS, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (r->objs == MAP_FAILED) {
        free(r);
        return NULL;
    }
    return r;
}

static void ring_destroy(void *state)
{
    ring_state *r = state;
    munmap(r->objs, r->slot * RING_OBJECTS);
    free(r);
}

static inline void *ring_take(void *state)
{
    ring_state *r = state;
    return r->objs + (r->next++ & (RING_OBJECTS - 1)) * r->slot;
}

static inline void ring_drop(void *state, void *obj)
{
    (void)state;
    (void)obj;
}

static bench_result ring_run_producer(void *st, bench_args *a)
{
    return bench_wl_producer(st, a, ring_take, "ring only");
}

static bench_result ring_run_consumer(void *st, bench_args *a)
{
    return bench_wl_consumer(st, a, ring_drop);
}

const bench_impl bench_impl_ring = {
    .id = "ring",
    .name = "ring only",
    .caps = BENCH_RING | BENCH_SHARED,
    .init = ring_init,
    .destroy = ring_destroy,
    .alloc = ring_take,
    .free = ring_drop,
    .producer = ring_run_producer,
    .consumer = ring_run_consumer,
};
