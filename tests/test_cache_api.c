/*
 * test_cache_api.c - fa_cache: each point of its contract (fixalloc.h, "The
 * cache") from one thread: creation, bounds, bulk calls, callbacks, reserve,
 * trim, walk, options, checked mode, stats.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixalloc.h"
#include "test_util.h"

/* ------------------------------------------------------------------ */
/* Helpers */

static void expect_refused(const fa_config *cfg, const fa_cache_options *o,
                           const char *why)
{
    errno = 0;
    fa_cache *c = fa_cache_create_opts(cfg, o);
    TU_ASSERT(c == NULL && errno == EINVAL, "%s: got %p, errno %d", why,
              (void *)c, errno);
}

/* ------------------------------------------------------------------ */
/* Creation and refused configs */

START_TEST(create_refused)
{
    fa_config c = tu_config(0);
    expect_refused(&c, NULL, "size 0");
    expect_refused(NULL, NULL, "no config");
    c = tu_config(64);
    c.align = 24;
    expect_refused(&c, NULL, "align not a power of two");
    c = tu_config(64);
    c.align = FA_ALIGN_MAX * 2;
    expect_refused(&c, NULL, "align above FA_ALIGN_MAX");
    c = tu_config(64);
    c.chunk_size = 3 * 4096;
    expect_refused(&c, NULL, "chunk not a power of two");
    c = tu_config(64);
    c.flags = 0x80000000u;
    expect_refused(&c, NULL, "unknown flag");
    c = tu_config(64);
    c.max_bytes = 100;
    expect_refused(&c, NULL, "max_bytes below one chunk");
    c = tu_config(FA_CHUNK_MAX * 2);
    expect_refused(&c, NULL, "object too large");
    fa_source bad = {NULL, NULL, NULL, NULL};
    c = tu_config(64);
    c.source = &bad;
    expect_refused(&c, NULL, "source without map");
    c = tu_config(64);
    fa_cache_options o = {.remote_batch = 65537};
    expect_refused(&c, &o, "remote batch too large");
}
END_TEST

static void nop_first(void *arg, void *obj)
{
    (void)arg, (void)obj;
}

START_TEST(create_zero_with_first_refused)
{
    fa_config c = tu_config(64);
    c.flags = FA_ZERO;
    c.first = nop_first;
    expect_refused(&c, NULL, "FA_ZERO with first");
}
END_TEST

START_TEST(create_alloc_free_destroy)
{
    static const size_t sizes[] = {1, 8, 16, 24, 64, 100, 256, 4000, 70000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        fa_config cfg = tu_config(sizes[k]);
        fa_cache *c = tu_cache_create_ok(&cfg, NULL);
        size_t align = tu_expected_align(sizes[k], 0);
        void *ptrs[300];
        for (size_t i = 0; i < 300; i++) {
            ptrs[i] = fa_cache_alloc(c);
            TU_NOT_NULL(ptrs[i]);
            TU_ASSERT((uintptr_t)ptrs[i] % align == 0, "misaligned");
            tu_stamp_id(ptrs[i], sizes[k], i);
        }
        for (size_t i = 0; i < 300; i++) {
            uint64_t id = i;
            TU_CHECK(tu_stamp_id_ok(ptrs[i], sizes[k], &id));
            TU_EQ(id, i);
        }
        fa_cache_counters s = tu_cache_stats(c);
        TU_EQ(s.live, 300);
        TU_EQ(s.allocs, 300);
        TU_EQ(s.frees, 0);
        TU_STR_EQ(s.pool.name, "test");
        TU_EQ(s.pool.object_size, sizes[k]);
        for (size_t i = 0; i < 300; i++) {
            fa_cache_free(c, ptrs[i]);
        }
        s = tu_cache_stats(c);
        TU_EQ(s.live, 0);
        TU_EQ(s.frees, 300);
        TU_CHECK(fa_cache_check(c));
        fa_cache_destroy(c);
    }
    fa_cache_destroy(NULL); /* a no-op */
}
END_TEST

START_TEST(hot_pair_is_lifo_and_hits)
{
    fa_config cfg = tu_config(64);
    fa_cache *c = tu_cache_create_ok(&cfg, NULL);
    void *p = fa_cache_alloc(c);
    fa_cache_free(c, p);
    for (int i = 0; i < 100000; i++) {
        void *q = fa_cache_alloc(c);
        TU_PTR_EQ(q, p);
        fa_cache_free(c, q);
    }
    fa_cache_counters s = tu_cache_stats(c);
    TU_EQ(s.allocs, 100001);
    TU_EQ(s.frees, 100001);
    TU_EQ(s.direct_calls, 0); /* no lock taken */
    TU_EQ(s.remote_frees, 0);
    TU_EQ(s.threads, 1);
    TU_EQ(s.in_flight, 0);
    TU_EQ(s.live, 0);
    fa_cache_destroy(c);
}
END_TEST

START_TEST(free_null_is_noop)
{
    fa_config cfg = tu_config(32);
    fa_cache *c = tu_cache_create_ok(&cfg, NULL);
    fa_cache_free(c, NULL); /* unbound thread */
    void *p = fa_cache_alloc(c);
    fa_cache_free(c, NULL); /* bound thread, fast path */
    fa_cache_free(c, p);
    void *q = fa_cache_alloc(c);
    TU_PTR_EQ(q, p);
    fa_cache_free(c, q);
    fa_cache_counters s = tu_cache_stats(c);
    TU_EQ(s.frees, 2);
    TU_EQ(s.live, 0);
    fa_cache_destroy(c);
}
END_TEST

START_TEST(bulk_alloc_free)
{
    fa_config cfg = tu_config(48);
    fa_cache *c = tu_cache_create_ok(&cfg, NULL);
    size_t n = 5000;
    void **v = tu_xmalloc((n + 3) * sizeof *v);
    TU_EQ(fa_cache_alloc_bulk(c, v, n), n);
    tu_map seen;
    tu_map_init(&seen);
    for (size_t i = 0; i < n; i++) {
        TU_ASSERT(tu_map_put(&seen, v[i], i), "object handed out twice");
    }
    tu_map_fini(&seen);
    v[n] = NULL;
    v[n + 1] = NULL;
    fa_cache_free_bulk(c, v, n + 2);
    fa_cache_counters s = tu_cache_stats(c);
    TU_EQ(s.live, 0);
    TU_EQ(s.allocs, n);
    TU_EQ(s.frees, n);
    TU_EQ(fa_cache_alloc_bulk(c, v, 0), 0);
    TU_CHECK(fa_cache_check(c));
    free(v);
    fa_cache_destroy(c);
}
END_TEST

START_TEST(zero_objects_read_as_zeros)
{
    tu_source src;
    tu_source_init(&src, NULL);
    src.dirty = true;
    fa_config cfg = tu_config(200);
    cfg.flags = FA_ZERO;
    cfg.source = &src.source;
    fa_cache *c = tu_cache_create_ok(&cfg, NULL);
    void *v[500];
    for (int round = 0; round < 4; round++) {
        for (size_t i = 0; i < 500; i++) {
            v[i] = fa_cache_alloc(c);
            TU_NOT_NULL(v[i]);
            TU_EQ(tu_first_nonzero(v[i], 200), 200);
            memset(v[i], 0x77, 200);
        }
        for (size_t i = 0; i < 500; i++) {
            fa_cache_free(c, v[i]);
        }
    }
    TU_CHECK(fa_cache_check(c));
    fa_cache_destroy(c);
    TU_EQ(src.maps, src.unmaps);
    tu_source_fini(&src);
}
END_TEST

static atomic_size_t firsts, releases;

static void count_first(void *arg, void *obj)
{
    (void)arg;
    memset(obj, 0xC3, 16);
    atomic_fetch_add(&firsts, 1);
}

static void count_release(void *arg, void *obj)
{
    (void)arg, (void)obj;
    atomic_fetch_add(&releases, 1);
}

START_TEST(first_and_release)
{
    fa_config cfg = tu_config(16);
    cfg.first = count_first;
    cfg.release = count_release;
    fa_cache *c = tu_cache_create_ok(&cfg, NULL);
    void *v[1000];
    for (int round = 0; round < 3; round++) {
        TU_EQ(fa_cache_alloc_bulk(c, v, 1000), 1000);
        fa_cache_free_bulk(c, v, 1000);
    }
    size_t f = atomic_load(&firsts);
    TU_GE(f, 1000);
    TU_EQ(atomic_load(&releases), 0);
    size_t bytes = fa_cache_trim(c);
    TU_GT(bytes, 0);
    TU_EQ(atomic_load(&releases), f);
    fa_cache_destroy(c);
    TU_EQ(atomic_load(&releases), atomic_load(&firsts));
}
END_TEST

START_TEST(reserve_makes_no_source_call)
{
    tu_source src;
    tu_source_init(&src, NULL);
    fa_config cfg = tu_config(100);
    cfg.source = &src.source;
    fa_cache *c = tu_cache_create_ok(&cfg, NULL);
    TU_INT_EQ(fa_cache_reserve(c, 10000), 0);
    size_t maps = src.maps;
    TU_GT(maps, 0);
    void **v = tu_xmalloc(10000 * sizeof *v);
    for (size_t i = 0; i < 10000; i++) {
        v[i] = fa_cache_alloc(c);
        TU_NOT_NULL(v[i]);
    }
    TU_EQ(src.maps, maps);
    fa_cache_free_bulk(c, v, 10000);
    free(v);
    src.fail_after = (long)src.maps;
    TU_INT_EQ(fa_cache_reserve(c, 1000000), ENOMEM);
    fa_cache_destroy(c);
    TU_EQ(src.maps, src.unmaps);
    tu_source_fini(&src);
}
END_TEST

START_TEST(trim_gives_everything_back)
{
    tu_source src;
    tu_source_init(&src, NULL);
    fa_config cfg = tu_config(64);
    cfg.source = &src.source;
    fa_cache *c = tu_cache_create_ok(&cfg, NULL);
    size_t n = 20000;
    void **v = tu_xmalloc(n * sizeof *v);
    TU_EQ(fa_cache_alloc_bulk(c, v, n), n);
    fa_cache_free_bulk(c, v, n);
    fa_cache_counters s = tu_cache_stats(c);
    TU_EQ(s.live, 0);
    TU_GT(s.pool.bytes_held, 0); /* the thread's pool and the depot */
    size_t held = s.pool.bytes_held;
    TU_EQ(fa_cache_trim(c), held);
    s = tu_cache_stats(c);
    TU_EQ(s.pool.bytes_held, 0);
    TU_EQ(s.pool.chunks, 0);
    TU_EQ(s.pool.live, 0);
    TU_EQ(s.depot_chunks, 0);
    TU_EQ(src.maps, src.unmaps);
    /* Still usable. */
    TU_EQ(fa_cache_alloc_bulk(c, v, 100), 100);
    fa_cache_free_bulk(c, v, 100);
    free(v);
    fa_cache_destroy(c);
    TU_EQ(src.maps, src.unmaps);
    tu_source_fini(&src);
}
END_TEST

static void walk_collect(void *obj, void *arg)
{
    tu_map *m = arg;
    TU_ASSERT(tu_map_put(m, obj, 1), "walk visited %p twice", obj);
}

START_TEST(walk_visits_live_objects)
{
    fa_config cfg = tu_config(40);
    fa_cache *c = tu_cache_create_ok(&cfg, NULL);
    size_t n = 3000;
    void **v = tu_xmalloc(n * sizeof *v);
    TU_EQ(fa_cache_alloc_bulk(c, v, n), n);
    for (size_t i = 0; i < n; i += 3) {
        fa_cache_free(c, v[i]);
        v[i] = NULL;
    }
    tu_map m;
    tu_map_init(&m);
    fa_cache_walk(c, walk_collect, &m);
    size_t live = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] != NULL) {
            live++;
            TU_ASSERT(tu_map_get(&m, v[i], NULL), "walk missed %p", v[i]);
        }
    }
    TU_EQ(m.len, live);
    tu_map_fini(&m);
    TU_EQ(tu_cache_stats(c).live, live);
    fa_cache_free_bulk(c, v, n);
    free(v);
    fa_cache_destroy(c);
}
END_TEST

/* A NULL cache handle is reported by every call that takes one, the fast
 * paths included, and nothing faults. */
static void count_walk(void *obj, void *arg)
{
    (void)obj;
    ++*(size_t *)arg;
}

START_TEST(null_cache_reported)
{
    fa_error_handler old = tu_errors_install();
    int x = 0;
    void *v[2];
    size_t walked = 0;
    errno = 0;
    TU_NULL(fa_cache_alloc(NULL));
    TU_INT_EQ(errno, EINVAL);
    fa_cache_free(NULL, &x);
    TU_EQ(fa_cache_alloc_bulk(NULL, v, 2), 0);
    fa_cache_free_bulk(NULL, (void *const[]){&x}, 1);
    TU_INT_EQ(fa_cache_reserve(NULL, 1), EINVAL);
    TU_EQ(fa_cache_trim(NULL), 0);
    fa_cache_walk(NULL, count_walk, &walked);
    fa_cache_counters s;
    fa_cache_stats(NULL, &s);
    TU_CHECK(!fa_cache_check(NULL));
    fa_cache_destroy(NULL);
    TU_EQ(walked, 0);
    TU_INT_EQ(tu_err.count, 9); /* destroy(NULL) is a no-op */
    TU_INT_EQ(tu_err.kind, FA_ERR_BAD_POOL);
    TU_STR_EQ(tu_err.object, "cache");
    fa_set_error_handler(old);
}
END_TEST

/* A thread that exits gives its empty chunks to the depot, up to
 * depot_bytes, and the rest back to the source; the next pool takes the
 * depot's chunks before the source's. */
typedef struct burst {
    fa_cache *c;
    size_t n;
} burst;

static void *alloc_free_burst(void *arg)
{
    burst *b = arg;
    void **v = tu_xmalloc(b->n * sizeof *v);
    if (fa_cache_alloc_bulk(b->c, v, b->n) != b->n) {
        tu_thread_fail("alloc failed");
    }
    fa_cache_free_bulk(b->c, v, b->n);
    free(v);
    return NULL;
}

START_TEST(exit_bounds_empty_chunks)
{
    tu_source src;
    tu_source_init(&src, NULL);
    fa_config cfg = tu_config(64);
    cfg.source = &src.source;
    cfg.chunk_size = 4096;
    fa_cache_options o = {.depot_bytes = 3 * 4096};
    fa_cache *c = tu_cache_create_ok(&cfg, &o);
    size_t per = tu_cache_stats(c).pool.slots_per_chunk;
    burst b = {c, 20 * per};
    tu_join(tu_spawn(alloc_free_burst, &b));
    tu_check_thread_failures();
    fa_cache_counters s = tu_cache_stats(c);
    TU_EQ(s.live, 0);
    TU_EQ(s.depot_max, 3);
    TU_EQ(s.depot_chunks, 3);
    TU_EQ(s.pool.chunks, 3);
    TU_EQ(s.chunks_released, 20 - 3);
    TU_EQ(src.maps - src.unmaps, 3);
    /* Three chunks' worth again: the depot's, no source call. */
    size_t maps = src.maps;
    void **v = tu_xmalloc(3 * per * sizeof *v);
    TU_EQ(fa_cache_alloc_bulk(c, v, 3 * per), 3 * per);
    TU_EQ(src.maps, maps);
    TU_EQ(tu_cache_stats(c).depot_gets, 3);
    fa_cache_free_bulk(c, v, 3 * per);
    free(v);
    TU_CHECK(fa_cache_check(c));
    fa_cache_destroy(c);
    TU_EQ(src.maps, src.unmaps);
    tu_source_fini(&src);
}
END_TEST

/* Decay: empty chunks a running thread left unused for a whole window go,
 * beyond the thread_empty_chunks it keeps; a burst that comes back within
 * the window finds them. */
START_TEST(decay_gives_back_idle_chunks)
{
    tu_source src;
    tu_source_init(&src, NULL);
    fa_config cfg = tu_config(64);
    cfg.source = &src.source;
    cfg.chunk_size = 4096;
    fa_cache_options o = {
        .thread_empty_chunks = 2, .depot_bytes = 3 * 4096, .decay_ms = 1};
    fa_cache *c = tu_cache_create_ok(&cfg, &o);
    size_t per = tu_cache_stats(c).pool.slots_per_chunk;
    size_t n = 20 * per;
    void **v = tu_xmalloc(n * sizeof *v);
    TU_EQ(fa_cache_alloc_bulk(c, v, n), n);
    fa_cache_free_bulk(c, v, n);
    fa_cache_counters s = tu_cache_stats(c);
    TU_EQ(s.decay_ms, 1);
    TU_EQ(s.pool.chunks, 20); /* kept for now */
    /* Two chunks' worth, allocated and freed again and again: slow paths
     * enough for a decay window's sweeps, while the other 18 chunks stay
     * unused all along. */
    for (int round = 0; round < 200; round++) {
        if (round % 20 == 0) {
            tu_sleep_ms(2); /* windows last the decay time, 1 ms */
        }
        TU_EQ(fa_cache_alloc_bulk(c, v, 2 * per), 2 * per);
        /* Alternating between the two chunks: every free a slow one. */
        for (size_t i = 0; i < per; i++) {
            fa_cache_free(c, v[i]);
            fa_cache_free(c, v[per + i]);
        }
    }
    s = tu_cache_stats(c);
    TU_EQ(s.live, 0);
    TU_LE(s.depot_chunks, 3);
    TU_GE(s.chunks_released, 10);
    TU_LE(s.pool.chunks, 10);
    TU_EQ(src.maps - src.unmaps, s.pool.chunks);
    free(v);
    TU_CHECK(fa_cache_check(c));
    fa_cache_destroy(c);
    TU_EQ(src.maps, src.unmaps);
    tu_source_fini(&src);
}
END_TEST

START_TEST(default_bounds)
{
    static const size_t sizes[] = {8, 64, 256, 4096, 65536};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        fa_config cfg = tu_config(sizes[k]);
        fa_cache *c = tu_cache_create_ok(&cfg, NULL);
        fa_cache_counters s = tu_cache_stats(c);
        TU_EQ(s.thread_empty_chunks, 1);
        TU_EQ(s.remote_batch, 64);
        TU_EQ(s.decay_ms, 50);
        /* The depot: as many empty chunks as hold 4 MiB, at least 4. */
        size_t want = (4u << 20) / s.pool.chunk_size;
        TU_EQ(s.depot_max, want > 4 ? want : 4);
        fa_cache_destroy(c);
    }
}
END_TEST

/* A cache's default chunk holds at least 4096 objects, up to 1 MiB, when
 * its pages come from the OS; 64 KiB stays the least, and a caller's
 * source, a chunk size asked for, objects above 16 KiB and a max_bytes
 * under eight grown chunks keep the pool's default. */
static size_t cache_chunk(const fa_config *cfg)
{
    fa_cache *c = tu_cache_create_ok(cfg, NULL);
    size_t chunk = tu_cache_stats(c).pool.chunk_size;
    fa_cache_destroy(c);
    return chunk;
}

START_TEST(default_chunk_holds_4096_objects)
{
    static const struct {
        size_t size, chunk;
    } want[] = {{8, 64u << 10},    {16, 64u << 10},  {24, 128u << 10},
                {64, 256u << 10},  {256, 1u << 20},  {1024, 1u << 20},
                {16384, 1u << 20}, {65536, 4u << 20}};
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        fa_config cfg = tu_config(want[k].size);
        size_t got = cache_chunk(&cfg);
        ck_assert_msg(got == want[k].chunk, "size %zu: chunk %zu, want %zu",
                      want[k].size, got, want[k].chunk);
    }
    fa_config cfg = tu_config(256);
    cfg.chunk_size = 64u << 10;
    TU_EQ(cache_chunk(&cfg), 64u << 10);
    cfg.chunk_size = 0;
    cfg.max_bytes = 4u << 20; /* under eight 1 MiB chunks */
    TU_EQ(cache_chunk(&cfg), 64u << 10);
    cfg.max_bytes = 8u << 20;
    TU_EQ(cache_chunk(&cfg), 1u << 20);
    cfg.max_bytes = 0;
    tu_source src;
    tu_source_init(&src, NULL);
    cfg.source = &src.source;
    TU_EQ(cache_chunk(&cfg), 64u << 10);
    tu_source_fini(&src);
}
END_TEST

/* A cache's pools count no peak: the stats report the most live objects
 * a stats call found, never a sum of the pools' untracked peaks. */
START_TEST(stats_peak_is_the_most_seen)
{
    fa_config cfg = tu_config(64);
    fa_cache *c = tu_cache_create_ok(&cfg, NULL);
    void *objs[10];
    for (size_t i = 0; i < 10; i++) {
        objs[i] = fa_cache_alloc(c);
        ck_assert_ptr_nonnull(objs[i]);
    }
    fa_cache_counters s = tu_cache_stats(c);
    TU_EQ(s.pool.live, 10);
    TU_EQ(s.pool.peak_live, 10);
    for (size_t i = 0; i < 5; i++) {
        fa_cache_free(c, objs[i]);
    }
    s = tu_cache_stats(c);
    TU_EQ(s.pool.live, 5);
    TU_EQ(s.pool.peak_live, 10);
    for (size_t i = 5; i < 10; i++) {
        fa_cache_free(c, objs[i]);
    }
    fa_cache_destroy(c);
}
END_TEST

/* Creating and destroying caches over and over holds no memory: the
 * records of a destroyed cache are reused. */
static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0, resident = 0;
    if (f != NULL) {
        if (fscanf(f, "%lu %lu", &pages, &resident) != 2) {
            resident = 0;
        }
        fclose(f);
    }
    return (size_t)resident * 4096;
}

START_TEST(create_destroy_holds_nothing)
{
    fa_config cfg = tu_config(64);
    for (int i = 0; i < 200; i++) { /* warm up */
        fa_cache_destroy(tu_cache_create_ok(&cfg, NULL));
    }
    size_t before = rss_bytes();
    for (size_t i = 0; i < tu_scaled(5000, 500); i++) {
        fa_cache *c = tu_cache_create_ok(&cfg, NULL);
        fa_cache_free(c, fa_cache_alloc(c));
        fa_cache_destroy(c);
    }
    size_t after = rss_bytes();
    TU_ASSERT(after < before + ((size_t)2 << 20),
              "RSS grew from %zu to %zu bytes", before, after);
}
END_TEST

START_TEST(too_many_caches)
{
    fa_config cfg = tu_config(16);
    fa_cache **all = tu_xmalloc((FA_CACHE_MAX + 1) * sizeof *all);
    size_t n = 0;
    while (n <= FA_CACHE_MAX) {
        all[n] = fa_cache_create(&cfg);
        if (all[n] == NULL) {
            break;
        }
        n++;
    }
    TU_INT_EQ(errno, EAGAIN);
    TU_EQ(n, FA_CACHE_MAX);
    fa_cache_destroy(all[7]);
    all[7] = fa_cache_create(&cfg);
    TU_NOT_NULL(all[7]);
    for (size_t i = 0; i < n; i++) {
        fa_cache_destroy(all[i]);
    }
    free(all);
}
END_TEST

/* Checked mode has one pool under the lock: a double free is seen at once. */
START_TEST(checked_cache_sees_double_free)
{
    fa_config cfg = tu_config(64);
    cfg.flags = FA_CHECKED;
    fa_cache *c = tu_cache_create_ok(&cfg, NULL);
    fa_error_handler old = tu_errors_install();
    void *p = fa_cache_alloc(c);
    fa_cache_free(c, p);
    fa_cache_free(c, p);
    TU_INT_EQ(tu_err.count, 1);
    TU_INT_EQ(tu_err.kind, FA_ERR_DOUBLE_FREE);
    fa_cache_counters s = tu_cache_stats(c);
    TU_EQ(s.direct_calls, 3);
    TU_EQ(s.threads, 0);
    fa_set_error_handler(old);
    fa_cache_destroy(c);
}
END_TEST

START_TEST(stats_print_names_the_cache)
{
    fa_config cfg = tu_config(64);
    cfg.name = "printed";
    fa_cache *c = tu_cache_create_ok(&cfg, NULL);
    void *p = fa_cache_alloc(c);
    fa_cache_counters s = tu_cache_stats(c);
    FILE *f = tmpfile();
    TU_NOT_NULL(f);
    fa_cache_stats_print(&s, f);
    rewind(f);
    char buf[4096];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    buf[len] = '\0';
    fclose(f);
    TU_ASSERT(strstr(buf, "fixalloc cache 'printed'") != NULL, "%s", buf);
    TU_ASSERT(strstr(buf, "remote frees") != NULL, "%s", buf);
    fa_cache_free(c, p);
    fa_cache_destroy(c);
}
END_TEST

/* ------------------------------------------------------------------ */

static Suite *suite(void)
{
    Suite *s = suite_create("cache-api");
    TCase *tc;

    tc = tcase_create("api");
    /* Thousands of caches created and destroyed, each mapping and giving
     * back a chunk: under TSan, with other tests running beside it, the
     * default 4 s (16 s with the sanitizers' multiplier) ran out. */
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, create_refused);
    tcase_add_test(tc, create_zero_with_first_refused);
    tcase_add_test(tc, create_alloc_free_destroy);
    tcase_add_test(tc, hot_pair_is_lifo_and_hits);
    tcase_add_test(tc, free_null_is_noop);
    tcase_add_test(tc, bulk_alloc_free);
    tcase_add_test(tc, zero_objects_read_as_zeros);
    tcase_add_test(tc, first_and_release);
    tcase_add_test(tc, reserve_makes_no_source_call);
    tcase_add_test(tc, trim_gives_everything_back);
    tcase_add_test(tc, walk_visits_live_objects);
    tcase_add_test(tc, exit_bounds_empty_chunks);
    tcase_add_test(tc, decay_gives_back_idle_chunks);
    tcase_add_test(tc, default_bounds);
    tcase_add_test(tc, create_destroy_holds_nothing);
    tcase_add_test(tc, default_chunk_holds_4096_objects);
    tcase_add_test(tc, stats_peak_is_the_most_seen);
    tcase_add_test(tc, null_cache_reported);
    tcase_add_test(tc, checked_cache_sees_double_free);
    tcase_add_test(tc, stats_print_names_the_cache);
    tcase_add_test(tc, too_many_caches);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite(), false);
}
