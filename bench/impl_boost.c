/*
 * impl_boost.c - adapter: Boost.Pool's boost::pool<> (boost_pool.cc), one
 * pool per state. Not thread-safe: in workload (6) each thread has its own
 * pool. Its release_memory() gives back blocks only of an ordered pool
 * (ordered_free keeps the free list sorted, at O(n) per free), so the
 * unordered pool measured here has no trim.
 */
#include "bench.h"

void *bench_boost_create(size_t size);
void bench_boost_destroy(void *state);
void *bench_boost_alloc(void *state);
void bench_boost_free(void *state, void *obj);
const char *bench_boost_version(void);

static void *boost_init(size_t size, size_t max_live)
{
    (void)max_live;
    return bench_boost_create(size);
}

/* The partition size of boost::pool<>: the size rounded up to
 * lcm(sizeof(void *), sizeof(size_t)). */
static size_t boost_slot_size = 0;

static size_t boost_slot(void *state)
{
    (void)state;
    return boost_slot_size;
}

static void *boost_init_slot(size_t size, size_t max_live)
{
    boost_slot_size = (size + sizeof(void *) - 1) & ~(sizeof(void *) - 1);
    return boost_init(size, max_live);
}

BENCH_FIXED_WORKLOADS(boost, "Boost.Pool", bench_boost_alloc, bench_boost_free,
                      NULL)

const bench_impl bench_impl_boost = {
    .id = "boost",
    .name = "Boost.Pool",
    .caps = BENCH_FIXED,
    .version = bench_boost_version,
    .init = boost_init_slot,
    .destroy = bench_boost_destroy,
    .alloc = bench_boost_alloc,
    .free = bench_boost_free,
    .trim_none = "release_memory() needs an ordered pool",
    .slot = boost_slot,
    BENCH_FIXED_RUNS(boost),
};
