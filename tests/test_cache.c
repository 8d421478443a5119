/*
 * test_cache.c - fa_cache: unit tests of each point of its contract
 * (fixalloc.h, "The cache"), a randomized single-thread model, many-thread
 * stress with stamped objects and cross-thread frees, thread churn against
 * a counting page source, and fork. Only the public API is used.
 *
 * FIXALLOC_TEST_SCALE (percent) scales the heavy loops; FIXALLOC_TEST_SEED
 * seeds the model.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixalloc.h"
#include "test_util.h"

/* ------------------------------------------------------------------ */
/* Helpers */

static fa_config config(size_t size)
{
    fa_config c;
    memset(&c, 0, sizeof c);
    c.size = size;
    c.name = "cache-test";
    return c;
}

static fa_cache *create_ok(const fa_config *cfg, const fa_cache_options *o)
{
    fa_cache *c = fa_cache_create_opts(cfg, o);
    TU_ASSERT(c != NULL,
              "fa_cache_create(size %zu, align %zu, flags %#x) "
              "failed: errno %d",
              cfg->size, cfg->align, cfg->flags, errno);
    return c;
}

static fa_cache_counters counters(fa_cache *c)
{
    fa_cache_counters s;
    memset(&s, 0xEE, sizeof s);
    fa_cache_stats(c, &s);
    return s;
}

static void expect_refused(const fa_config *cfg, const fa_cache_options *o,
                           const char *why)
{
    errno = 0;
    fa_cache *c = fa_cache_create_opts(cfg, o);
    TU_ASSERT(c == NULL && errno == EINVAL, "%s: got %p, errno %d", why,
              (void *)c, errno);
}

/* Stamps: the object's id in its first word and the id's pattern in the
 * rest, so that a lost, doubled or overwritten object is seen. */
static void stamp(void *p, size_t size, uint64_t id)
{
    if (size < sizeof id) { /* too small for the id: the pattern only */
        tu_stamp(p, size, id);
        return;
    }
    memcpy(p, &id, sizeof id);
    tu_stamp((char *)p + sizeof id, size - sizeof id, id);
}

static bool stamp_ok(const void *p, size_t size, uint64_t *id_out)
{
    if (size < sizeof *id_out) {
        return tu_verify(p, 0, size, *id_out) == size;
    }
    uint64_t id;
    memcpy(&id, p, sizeof id);
    *id_out = id;
    return tu_verify((const char *)p + sizeof id, 0, size - sizeof id, id) ==
           size - sizeof id;
}

/* ------------------------------------------------------------------ */
/* Creation and refused configs */

START_TEST(create_refused)
{
    fa_config c = config(0);
    expect_refused(&c, NULL, "size 0");
    expect_refused(NULL, NULL, "no config");
    c = config(64);
    c.align = 24;
    expect_refused(&c, NULL, "align not a power of two");
    c = config(64);
    c.align = FA_ALIGN_MAX * 2;
    expect_refused(&c, NULL, "align above FA_ALIGN_MAX");
    c = config(64);
    c.chunk_size = 3 * 4096;
    expect_refused(&c, NULL, "chunk not a power of two");
    c = config(64);
    c.flags = 0x80000000u;
    expect_refused(&c, NULL, "unknown flag");
    c = config(64);
    c.max_bytes = 100;
    expect_refused(&c, NULL, "max_bytes below one chunk");
    c = config(FA_CHUNK_MAX * 2);
    expect_refused(&c, NULL, "object too large");
    fa_source bad = {NULL, NULL, NULL};
    c = config(64);
    c.source = &bad;
    expect_refused(&c, NULL, "source without map");
    c = config(64);
    fa_cache_options o = {.magazine_rounds = 65537};
    expect_refused(&c, &o, "magazine too large");
}
END_TEST

static void nop_first(void *arg, void *obj)
{
    (void)arg, (void)obj;
}

START_TEST(create_zero_with_first_refused)
{
    fa_config c = config(64);
    c.flags = FA_ZERO;
    c.first = nop_first;
    expect_refused(&c, NULL, "FA_ZERO with first");
}
END_TEST

START_TEST(create_alloc_free_destroy)
{
    static const size_t sizes[] = {1, 8, 16, 24, 64, 100, 256, 4000, 70000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        fa_config cfg = config(sizes[k]);
        fa_cache *c = create_ok(&cfg, NULL);
        size_t align = tu_expected_align(sizes[k], 0);
        void *ptrs[300];
        for (size_t i = 0; i < 300; i++) {
            ptrs[i] = fa_cache_alloc(c);
            TU_NOT_NULL(ptrs[i]);
            TU_ASSERT((uintptr_t)ptrs[i] % align == 0, "misaligned");
            stamp(ptrs[i], sizes[k], i);
        }
        for (size_t i = 0; i < 300; i++) {
            uint64_t id = i;
            TU_CHECK(stamp_ok(ptrs[i], sizes[k], &id));
            TU_EQ(id, i);
        }
        fa_cache_counters s = counters(c);
        TU_EQ(s.live, 300);
        TU_EQ(s.allocs, 300);
        TU_EQ(s.frees, 0);
        TU_STR_EQ(s.pool.name, "cache-test");
        TU_EQ(s.pool.object_size, sizes[k]);
        for (size_t i = 0; i < 300; i++) {
            fa_cache_free(c, ptrs[i]);
        }
        s = counters(c);
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
    fa_config cfg = config(64);
    fa_cache *c = create_ok(&cfg, NULL);
    void *p = fa_cache_alloc(c);
    fa_cache_free(c, p);
    for (int i = 0; i < 100000; i++) {
        void *q = fa_cache_alloc(c);
        TU_PTR_EQ(q, p);
        fa_cache_free(c, q);
    }
    fa_cache_counters s = counters(c);
    TU_EQ(s.allocs, 100001);
    TU_EQ(s.frees, 100001);
    TU_LE(s.alloc_depot, 2);
    TU_LE(s.free_depot, 2);
    TU_EQ(s.threads, 1);
    TU_GE(s.in_threads, 1);
    TU_EQ(s.live, 0);
    fa_cache_destroy(c);
}
END_TEST

START_TEST(free_null_is_noop)
{
    fa_config cfg = config(32);
    fa_cache *c = create_ok(&cfg, NULL);
    fa_cache_free(c, NULL); /* unbound thread */
    void *p = fa_cache_alloc(c);
    fa_cache_free(c, NULL); /* bound thread, fast path */
    fa_cache_free(c, p);
    void *q = fa_cache_alloc(c);
    TU_PTR_EQ(q, p);
    fa_cache_free(c, q);
    fa_cache_counters s = counters(c);
    TU_EQ(s.frees, 2);
    TU_EQ(s.live, 0);
    fa_cache_destroy(c);
}
END_TEST

START_TEST(bulk_alloc_free)
{
    fa_config cfg = config(48);
    fa_cache *c = create_ok(&cfg, NULL);
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
    fa_cache_counters s = counters(c);
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
    fa_config cfg = config(200);
    cfg.flags = FA_ZERO;
    cfg.source = &src.source;
    fa_cache *c = create_ok(&cfg, NULL);
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
    fa_config cfg = config(16);
    cfg.first = count_first;
    cfg.release = count_release;
    fa_cache *c = create_ok(&cfg, NULL);
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
    fa_config cfg = config(100);
    cfg.source = &src.source;
    fa_cache *c = create_ok(&cfg, NULL);
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
    fa_config cfg = config(64);
    cfg.source = &src.source;
    fa_cache *c = create_ok(&cfg, NULL);
    size_t n = 20000;
    void **v = tu_xmalloc(n * sizeof *v);
    TU_EQ(fa_cache_alloc_bulk(c, v, n), n);
    fa_cache_free_bulk(c, v, n);
    fa_cache_counters s = counters(c);
    TU_EQ(s.live, 0);
    TU_GT(s.in_depot + s.in_threads, 0);
    size_t held = s.pool.bytes_held;
    TU_EQ(fa_cache_trim(c), held);
    s = counters(c);
    TU_EQ(s.pool.bytes_held, 0);
    TU_EQ(s.pool.live, 0);
    TU_EQ(s.in_depot, 0);
    TU_EQ(s.in_threads, 0);
    TU_EQ(s.magazines, 0);
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
    fa_config cfg = config(40);
    fa_cache *c = create_ok(&cfg, NULL);
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
    TU_EQ(counters(c).live, live);
    fa_cache_free_bulk(c, v, n);
    free(v);
    fa_cache_destroy(c);
}
END_TEST

START_TEST(options_fix_magazines_and_depot)
{
    fa_config cfg = config(64);
    fa_cache_options o = {.magazine_rounds = 8, .depot_magazines = 2};
    fa_cache *c = create_ok(&cfg, &o);
    size_t n = 1000;
    void **v = tu_xmalloc(n * sizeof *v);
    TU_EQ(fa_cache_alloc_bulk(c, v, n), n);
    fa_cache_free_bulk(c, v, n);
    fa_cache_counters s = counters(c);
    TU_EQ(s.magazine_rounds, 8);
    TU_EQ(s.magazine_rounds_max, 8);
    TU_EQ(s.depot_max, 2);
    TU_LE(s.depot_full, 2);
    TU_LE(s.in_threads, 16);
    TU_LE(s.in_depot, 16);
    TU_GT(s.pool_flushes, 0);
    TU_EQ(s.live, 0);
    free(v);
    fa_cache_destroy(c);
}
END_TEST

START_TEST(default_magazine_bounds)
{
    static const size_t sizes[] = {8, 64, 256, 4096, 65536};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        fa_config cfg = config(sizes[k]);
        fa_cache *c = create_ok(&cfg, NULL);
        fa_cache_counters s = counters(c);
        size_t slot = s.pool.slot_size;
        TU_CHECK(tu_is_pow2(s.magazine_rounds));
        TU_CHECK(tu_is_pow2(s.magazine_rounds_max));
        TU_GE(s.magazine_rounds, 4);
        TU_LE(s.magazine_rounds, 64);
        TU_LE(s.magazine_rounds_max, 1024);
        TU_LE(s.magazine_rounds, s.magazine_rounds_max);
        /* The documented bound: 256 KiB per thread, or 8 objects. */
        size_t bound = 2 * s.magazine_rounds_max * slot;
        TU_ASSERT(bound <= 256 * 1024 || s.magazine_rounds_max == 4,
                  "size %zu: %zu bytes per thread", sizes[k], bound);
        /* The depot: as many magazines as hold 4 MiB, at least 16. */
        size_t want = (4u << 20) / (s.magazine_rounds * slot);
        TU_EQ(s.depot_max, want > 16 ? want : 16);
        fa_cache_destroy(c);
    }
}
END_TEST

static void *alloc_n_thread(void *arg)
{
    void **v = arg;
    fa_cache *c = v[0];
    size_t n = (size_t)(uintptr_t)v[1];
    void **out = v[2];
    for (size_t i = 0; i < n; i++) {
        out[i] = fa_cache_alloc(c);
        if (out[i] == NULL) {
            tu_thread_fail("alloc %zu of %zu failed", i, n);
            break;
        }
        stamp(out[i], 64, i);
    }
    return NULL;
}

static void *free_n_thread(void *arg)
{
    void **v = arg;
    fa_cache *c = v[0];
    size_t n = (size_t)(uintptr_t)v[1];
    void **objs = v[2];
    for (size_t i = 0; i < n; i++) {
        uint64_t id;
        if (!stamp_ok(objs[i], 64, &id) || id != i) {
            tu_thread_fail("object %zu lost its stamp", i);
        }
        fa_cache_free(c, objs[i]);
    }
    return NULL;
}

START_TEST(cross_thread_free_and_exit)
{
    fa_config cfg = config(64);
    fa_cache *c = create_ok(&cfg, NULL);
    size_t n = 10000;
    void **objs = tu_xmalloc(n * sizeof *objs);
    void *args[3] = {c, (void *)(uintptr_t)n, objs};
    tu_join(tu_spawn(alloc_n_thread, args));
    tu_check_thread_failures();
    fa_cache_counters s = counters(c);
    TU_EQ(s.live, n);
    TU_EQ(s.threads, 0); /* the allocating thread has exited */
    tu_join(tu_spawn(free_n_thread, args));
    tu_check_thread_failures();
    s = counters(c);
    TU_EQ(s.live, 0);
    TU_EQ(s.allocs, n);
    TU_EQ(s.frees, n);
    TU_EQ(s.threads, 0);
    TU_EQ(s.in_threads, 0);
    TU_EQ(s.pool.live, s.in_depot);
    TU_GT(s.in_depot, 0);
    TU_CHECK(fa_cache_check(c));
    free(objs);
    fa_cache_destroy(c);
}
END_TEST

/* max_bytes: objects in the depot are taken before ENOMEM. */
START_TEST(cap_takes_depot_objects_first)
{
    tu_source src;
    tu_source_init(&src, NULL);
    fa_config cfg = config(64);
    cfg.chunk_size = 64 * 1024;
    cfg.max_bytes = 4 * cfg.chunk_size;
    cfg.source = &src.source;
    fa_cache *c = create_ok(&cfg, NULL);
    fa_cache_counters s = counters(c);
    size_t total = 4 * s.pool.slots_per_chunk;
    void **objs = tu_xmalloc((total + 1) * sizeof *objs);
    /* One thread takes everything and another frees it all and exits:
     * every object ends in the depot or the pool. */
    void *args[3] = {c, (void *)(uintptr_t)total, objs};
    tu_join(tu_spawn(alloc_n_thread, args));
    tu_check_thread_failures();
    errno = 0;
    TU_NULL(fa_cache_alloc(c));
    TU_INT_EQ(errno, ENOMEM);
    tu_join(tu_spawn(free_n_thread, args));
    tu_check_thread_failures();
    s = counters(c);
    TU_GT(s.in_depot, 0);
    /* This thread now gets every object back before ENOMEM. */
    size_t got = 0;
    while ((objs[got] = fa_cache_alloc(c)) != NULL) {
        got++;
        TU_LE(got, total);
    }
    TU_INT_EQ(errno, ENOMEM);
    TU_EQ(got, total);
    TU_EQ(src.maps, 4);
    fa_cache_free_bulk(c, objs, got);
    TU_CHECK(fa_cache_check(c));
    free(objs);
    fa_cache_destroy(c);
    TU_EQ(src.maps, src.unmaps);
    tu_source_fini(&src);
}
END_TEST

START_TEST(too_many_caches)
{
    fa_config cfg = config(16);
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

/* Ids are reused: a thread whose entry was bound to a destroyed cache gets
 * a fresh entry for the new cache of the same id. */
typedef struct parked {
    tu_phase gate;
    fa_cache *cache;
    void *obj;
} parked;

static void *parked_thread(void *arg)
{
    parked *p = arg;
    for (int round = 0; round < 2; round++) {
        tu_phase_wait(&p->gate, 2 * round + 1);
        fa_cache *c = p->cache;
        void *v[200];
        for (int i = 0; i < 200; i++) {
            v[i] = fa_cache_alloc(c);
            if (v[i] == NULL) {
                tu_thread_fail("alloc failed");
                return NULL;
            }
        }
        for (int i = 0; i < 199; i++) {
            fa_cache_free(c, v[i]);
        }
        p->obj = v[199];
        tu_phase_set(&p->gate, 2 * round + 2);
    }
    tu_phase_wait(&p->gate, 5); /* alive, with an entry of a destroyed cache */
    return NULL;
}

START_TEST(destroy_reclaims_other_threads_and_id_reuse)
{
    tu_source src;
    tu_source_init(&src, NULL);
    parked p = {TU_PHASE_INIT, NULL, NULL};
    pthread_t t = tu_spawn(parked_thread, &p);
    for (int round = 0; round < 2; round++) {
        fa_config cfg = config(round == 0 ? 64 : 128);
        cfg.source = &src.source;
        p.cache = create_ok(&cfg, NULL);
        tu_phase_set(&p.gate, 2 * round + 1);
        tu_phase_wait(&p.gate, 2 * round + 2);
        fa_cache_counters s = counters(p.cache);
        /* The other thread's counts are as of its last depot visit. */
        TU_EQ(s.threads, 1);
        TU_LE(s.live, 200);
        TU_CHECK(fa_cache_check(p.cache));
        fa_cache_free(p.cache, p.obj);
        /* Destroyed while the other thread holds magazines of it. */
        fa_cache_destroy(p.cache);
        TU_EQ(src.maps, src.unmaps);
    }
    tu_phase_set(&p.gate, 5);
    tu_join(t);
    tu_check_thread_failures();
    tu_source_fini(&src);
}
END_TEST

/* Checked mode keeps no magazines: a double free is seen at once. */
START_TEST(checked_cache_sees_double_free)
{
    fa_config cfg = config(64);
    cfg.flags = FA_CHECKED;
    fa_cache *c = create_ok(&cfg, NULL);
    tu_errors_reset();
    fa_error_handler old = fa_set_error_handler(tu_record_handler);
    void *p = fa_cache_alloc(c);
    fa_cache_free(c, p);
    fa_cache_free(c, p);
    TU_INT_EQ(tu_err.count, 1);
    TU_INT_EQ(tu_err.kind, FA_ERR_DOUBLE_FREE);
    fa_cache_counters s = counters(c);
    TU_EQ(s.magazines, 0);
    fa_set_error_handler(old);
    fa_cache_destroy(c);
}
END_TEST

START_TEST(stats_print_names_the_cache)
{
    fa_config cfg = config(64);
    cfg.name = "printed";
    fa_cache *c = create_ok(&cfg, NULL);
    void *p = fa_cache_alloc(c);
    fa_cache_counters s = counters(c);
    FILE *f = tmpfile();
    TU_NOT_NULL(f);
    fa_cache_stats_print(&s, f);
    rewind(f);
    char buf[4096];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    buf[len] = '\0';
    fclose(f);
    TU_ASSERT(strstr(buf, "fixalloc cache 'printed'") != NULL, "%s", buf);
    TU_ASSERT(strstr(buf, "magazine hits") != NULL, "%s", buf);
    fa_cache_free(c, p);
    fa_cache_destroy(c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Model: random single-thread sequences against the array of live
 * objects, each stamped with its id. */

typedef struct cmodel {
    fa_cache *c;
    tu_source src;
    tu_rng rng;
    size_t size, cap_objs;
    void **live;
    uint64_t *ids;
    size_t nlive, max_live;
    uint64_t next_id, allocs, frees;
    void **walked, **sorted; /* scratch for the walk check */
    size_t nwalked;
} cmodel;

static void cm_on_alloc(cmodel *m, void *p)
{
    stamp(p, m->size, m->next_id);
    m->live[m->nlive] = p;
    m->ids[m->nlive++] = m->next_id++;
    m->allocs++;
}

static void *cm_take(cmodel *m, size_t i)
{
    void *p = m->live[i];
    uint64_t id;
    TU_ASSERT(stamp_ok(p, m->size, &id) && id == m->ids[i],
              "object %p (id %llu) was overwritten", p,
              (unsigned long long)m->ids[i]);
    m->nlive--;
    m->live[i] = m->live[m->nlive];
    m->ids[i] = m->ids[m->nlive];
    m->frees++;
    return p;
}

static void cm_alloc(cmodel *m, size_t n)
{
    void *out[64];
    n = n > 64 ? 64 : n;
    if (m->nlive + n > m->max_live) {
        n = m->max_live - m->nlive;
    }
    errno = 0;
    size_t got = n == 1 ? (out[0] = fa_cache_alloc(m->c)) != NULL
                        : fa_cache_alloc_bulk(m->c, out, n);
    if (got < n) {
        TU_EQ(errno, ENOMEM);
        /* Only when every object under the cap is live: this thread's
         * magazines and the depot are emptied before the pool says no. */
        TU_ASSERT(m->cap_objs != 0 && m->nlive + got == m->cap_objs,
                  "ENOMEM with %zu live, cap %zu", m->nlive + got, m->cap_objs);
    }
    for (size_t i = 0; i < got; i++) {
        cm_on_alloc(m, out[i]);
    }
}

static void cm_free(cmodel *m, size_t n)
{
    void *v[64];
    size_t k = 0;
    while (k < n && k < 64 && m->nlive > 0) {
        v[k++] = cm_take(m, tu_rng_below(&m->rng, m->nlive));
    }
    if (k == 1) {
        fa_cache_free(m->c, v[0]);
    } else {
        fa_cache_free_bulk(m->c, v, k);
    }
}

static void walk_append(void *obj, void *arg)
{
    cmodel *m = arg;
    TU_ASSERT(m->nwalked < m->max_live + 1, "walk visits too many objects");
    m->walked[m->nwalked++] = obj;
}

static void cm_check(cmodel *m, bool walk)
{
    fa_cache_counters s = counters(m->c);
    TU_EQ(s.live, m->nlive);
    TU_EQ(s.allocs, m->allocs);
    TU_EQ(s.frees, m->frees);
    TU_EQ(s.pool.live, m->nlive + s.in_depot + s.in_threads);
    TU_LE(s.in_threads, 2 * s.magazine_rounds_max);
    TU_LE(s.depot_full, s.depot_max);
    TU_EQ(s.pool.bytes_held, tu_source_live_bytes(&m->src));
    if (walk) {
        TU_CHECK(fa_cache_check(m->c));
        /* The walk visits exactly the live objects, each once (a doubly
         * handed-out object would show as a difference too). */
        m->nwalked = 0;
        fa_cache_walk(m->c, walk_append, m);
        TU_EQ(m->nwalked, m->nlive);
        memcpy(m->sorted, m->live, m->nlive * sizeof *m->sorted);
        tu_sort_ptrs(m->sorted, m->nlive);
        tu_sort_ptrs(m->walked, m->nwalked);
        for (size_t i = 0; i < m->nlive; i++) {
            TU_ASSERT(m->sorted[i] == m->walked[i],
                      "walk and model differ at %p", m->sorted[i]);
            TU_ASSERT(i == 0 || m->sorted[i] != m->sorted[i - 1],
                      "%p handed out twice", m->sorted[i]);
        }
    }
}

static void cmodel_run(size_t size, unsigned flags, size_t rounds,
                       size_t max_chunks, uint64_t seed, size_t steps)
{
    cmodel *m = calloc(1, sizeof *m);
    TU_NOT_NULL(m);
    tu_source_init(&m->src, NULL);
    tu_rng_seed(&m->rng, seed);
    fa_config cfg = config(size);
    cfg.flags = flags;
    cfg.source = &m->src.source;
    cfg.chunk_size = 64 * 1024;
    cfg.max_bytes = max_chunks * cfg.chunk_size;
    fa_cache_options o = {.magazine_rounds = rounds, .depot_magazines = 3};
    m->c = create_ok(&cfg, &o);
    m->size = size;
    if (max_chunks != 0) {
        m->cap_objs = max_chunks * counters(m->c).pool.slots_per_chunk;
    }
    m->max_live = 4000;
    m->live = tu_xmalloc(m->max_live * sizeof *m->live);
    m->ids = tu_xmalloc(m->max_live * sizeof *m->ids);
    m->walked = tu_xmalloc((m->max_live + 1) * sizeof *m->walked);
    m->sorted = tu_xmalloc(m->max_live * sizeof *m->sorted);
    int alloc_pct = 50;
    for (size_t step = 0; step < steps; step++) {
        if (step % 250 == 0) {
            static const int pct[] = {80, 25, 50, 60};
            alloc_pct = pct[tu_rng_below(&m->rng, 4)];
        }
        size_t r = tu_rng_below(&m->rng, 1000);
        size_t n = 1 + tu_rng_below(&m->rng, 40);
        if (r < 10) {
            size_t before = tu_source_live_bytes(&m->src);
            size_t got = fa_cache_trim(m->c);
            TU_EQ(before - tu_source_live_bytes(&m->src), got);
        } else if (r < 20) {
            int rc = fa_cache_reserve(m->c, tu_rng_below(&m->rng, 500));
            TU_CHECK(rc == 0 || (rc == ENOMEM && m->cap_objs != 0));
        } else if (r < 30) {
            cm_check(m, true);
        } else if (tu_rng_below(&m->rng, 100) < (size_t)alloc_pct) {
            cm_alloc(m, r < 500 ? 1 : n);
        } else {
            cm_free(m, r < 500 ? 1 : n);
        }
        cm_check(m, false);
    }
    while (m->nlive > 0) {
        cm_free(m, 64);
    }
    cm_check(m, true);
    fa_cache_trim(m->c);
    fa_cache_counters s = counters(m->c);
    TU_EQ(s.pool.bytes_held, 0);
    TU_EQ(m->src.maps, m->src.unmaps);
    fa_cache_destroy(m->c);
    free(m->walked);
    free(m->sorted);
    free(m->live);
    free(m->ids);
    tu_source_fini(&m->src);
    free(m);
}

static uint64_t seed_for(int k)
{
    const char *e = getenv("FIXALLOC_TEST_SEED");
    if (e != NULL && *e != '\0') {
        return (uint64_t)strtoull(e, NULL, 0) + (uint64_t)k;
    }
    return 0xCAC4E000ull + (uint64_t)k;
}

/* size, flags, magazine rounds (0: adaptive), cap in chunks (0: none) */
static const struct {
    size_t size;
    unsigned flags;
    size_t rounds, max_chunks;
} model_cfgs[] = {
    {64, 0, 0, 0},          {16, 0, 4, 0},           {100, 0, 16, 3},
    {256, FA_ZERO, 8, 0},   {24, FA_HARDENED, 0, 2}, {4000, 0, 4, 6},
    {48, FA_CHECKED, 0, 4},
};
#define N_MODEL_CFGS (int)(sizeof model_cfgs / sizeof model_cfgs[0])

START_TEST(model_random)
{
    size_t steps = tu_scaled(8000, 400);
    for (int k = 0; k < 2; k++) {
        uint64_t seed = seed_for(_i * 10 + k);
        cmodel_run(model_cfgs[_i].size, model_cfgs[_i].flags,
                   model_cfgs[_i].rounds, model_cfgs[_i].max_chunks, seed,
                   steps);
    }
}
END_TEST

/* ------------------------------------------------------------------ */
/* Stress: threads allocate, stamp, hand objects to each other through a
 * shared exchange, verify and free them; worker threads are created and
 * ended continuously. */

#define XCHG_CAP 4096
#define STRESS_SIZE 72

typedef struct exchange {
    pthread_mutex_t lock;
    void *slots[XCHG_CAP];
    size_t n;
} exchange;

typedef struct stress {
    fa_cache *c;
    exchange x;
    atomic_uint_fast64_t next_id;
    atomic_size_t allocs, frees;
    size_t ops_per_thread;
    bool zero; /* FA_ZERO: every object handed out reads as zeros */
} stress;

static void verify_and_free(stress *st, void *p)
{
    uint64_t id;
    if (!stamp_ok(p, STRESS_SIZE, &id)) {
        tu_thread_fail("object %p (id %llu) lost its stamp", p,
                       (unsigned long long)id);
    }
    memset(p, 0xDD, STRESS_SIZE);
    fa_cache_free(st->c, p);
    atomic_fetch_add(&st->frees, 1);
}

static void *stress_worker(void *arg)
{
    stress *st = arg;
    tu_rng rng;
    tu_rng_seed(&rng, atomic_fetch_add(&st->next_id, 1000000));
    void *mine[64];
    size_t nmine = 0;
    for (size_t i = 0; i < st->ops_per_thread; i++) {
        size_t r = tu_rng_below(&rng, 100);
        if (r < 50 && nmine < 64) {
            void *p = fa_cache_alloc(st->c);
            if (p == NULL) {
                tu_thread_fail("alloc failed: errno %d", errno);
                break;
            }
            atomic_fetch_add(&st->allocs, 1);
            if (st->zero && tu_first_nonzero(p, STRESS_SIZE) != STRESS_SIZE) {
                tu_thread_fail("FA_ZERO object %p is not zero", p);
            }
            stamp(p, STRESS_SIZE, atomic_fetch_add(&st->next_id, 1));
            mine[nmine++] = p;
        } else if (r < 75 && nmine > 0) {
            /* Hand one over to whichever thread comes next. */
            void *p = mine[--nmine];
            pthread_mutex_lock(&st->x.lock);
            if (st->x.n < XCHG_CAP) {
                st->x.slots[st->x.n++] = p;
                p = NULL;
            }
            pthread_mutex_unlock(&st->x.lock);
            if (p != NULL) {
                verify_and_free(st, p);
            }
        } else if (r < 90) {
            /* Free one that another thread allocated. */
            void *p = NULL;
            pthread_mutex_lock(&st->x.lock);
            if (st->x.n > 0) {
                size_t k = tu_rng_below(&rng, st->x.n);
                p = st->x.slots[k];
                st->x.slots[k] = st->x.slots[--st->x.n];
            }
            pthread_mutex_unlock(&st->x.lock);
            if (p != NULL) {
                verify_and_free(st, p);
            }
        } else if (nmine > 0) {
            verify_and_free(st, mine[--nmine]);
        }
    }
    while (nmine > 0) {
        verify_and_free(st, mine[--nmine]);
    }
    return NULL;
}

START_TEST(stress_threads)
{
    tu_source src;
    tu_source_init(&src, NULL);
    stress *st = calloc(1, sizeof *st);
    TU_NOT_NULL(st);
    pthread_mutex_init(&st->x.lock, NULL);
    fa_config cfg = config(STRESS_SIZE);
    cfg.source = &src.source;
    /* Small magazines and depot: more depot and pool traffic. */
    fa_cache_options o = {.magazine_rounds = _i == 0 ? 0 : 8,
                          .depot_magazines = _i == 0 ? 0 : 2};
    /* The third run clears objects: magazines through the slow path. */
    cfg.flags = _i == 2 ? FA_ZERO : 0;
    st->zero = _i == 2;
    st->c = create_ok(&cfg, &o);
    st->ops_per_thread = tu_scaled(20000, 500);
    size_t waves = tu_scaled(40, 4);
    enum { PER_WAVE = 6 };
    pthread_t t[PER_WAVE];
    for (size_t w = 0; w < waves; w++) {
        for (int i = 0; i < PER_WAVE; i++) {
            t[i] = tu_spawn(stress_worker, st);
        }
        for (int i = 0; i < PER_WAVE; i++) {
            tu_join(t[i]);
        }
    }
    /* Overlapping lifetimes: a new thread starts as each one ends. */
    for (int i = 0; i < PER_WAVE; i++) {
        t[i] = tu_spawn(stress_worker, st);
    }
    for (size_t k = 0; k < waves * 2; k++) {
        tu_join(t[k % PER_WAVE]);
        t[k % PER_WAVE] = tu_spawn(stress_worker, st);
    }
    for (int i = 0; i < PER_WAVE; i++) {
        tu_join(t[i]);
    }
    tu_check_thread_failures();
    /* What is left in the exchange is freed here. */
    while (st->x.n > 0) {
        verify_and_free(st, st->x.slots[--st->x.n]);
    }
    tu_check_thread_failures();
    fa_cache_counters s = counters(st->c);
    TU_EQ(s.allocs, atomic_load(&st->allocs));
    TU_EQ(s.frees, atomic_load(&st->frees));
    TU_EQ(s.live, 0);
    TU_LE(s.threads, 1);
    TU_EQ(s.pool.live, s.in_depot + s.in_threads);
    TU_CHECK(fa_cache_check(st->c));
    fa_cache_trim(st->c);
    s = counters(st->c);
    TU_EQ(s.pool.bytes_held, 0);
    TU_EQ(s.pool.live, 0);
    TU_EQ(src.maps, src.unmaps);
    fa_cache_destroy(st->c);
    pthread_mutex_destroy(&st->x.lock);
    free(st);
    tu_source_fini(&src);
}
END_TEST

/* Many caches, many threads at once: every thread uses every cache. */
#define NCACHES 5

typedef struct multi {
    fa_cache *c[NCACHES];
    size_t ops;
} multi;

static void *multi_worker(void *arg)
{
    multi *mu = arg;
    void *held[NCACHES][32];
    memset(held, 0, sizeof held);
    for (size_t i = 0; i < mu->ops; i++) {
        size_t k = i % NCACHES, j = (i / NCACHES) % 32;
        if (held[k][j] != NULL) {
            uint64_t id;
            if (!stamp_ok(held[k][j], 16, &id) || id != (k << 8 | j)) {
                tu_thread_fail("cache %zu slot %zu lost its stamp", k, j);
            }
            fa_cache_free(mu->c[k], held[k][j]);
        }
        held[k][j] = fa_cache_alloc(mu->c[k]);
        if (held[k][j] == NULL) {
            tu_thread_fail("alloc failed");
            return NULL;
        }
        stamp(held[k][j], 16, k << 8 | j);
    }
    for (size_t k = 0; k < NCACHES; k++) {
        fa_cache_free_bulk(mu->c[k], held[k], 32);
    }
    return NULL;
}

START_TEST(stress_many_caches)
{
    multi mu;
    for (int k = 0; k < NCACHES; k++) {
        fa_config cfg = config(16 + 16 * (size_t)k);
        mu.c[k] = create_ok(&cfg, NULL);
    }
    mu.ops = tu_scaled(50000, 1000);
    pthread_t t[8];
    for (int i = 0; i < 8; i++) {
        t[i] = tu_spawn(multi_worker, &mu);
    }
    for (int i = 0; i < 8; i++) {
        tu_join(t[i]);
    }
    tu_check_thread_failures();
    for (int k = 0; k < NCACHES; k++) {
        fa_cache_counters s = counters(mu.c[k]);
        TU_EQ(s.live, 0);
        TU_EQ(s.threads, 0);
        TU_CHECK(fa_cache_check(mu.c[k]));
        fa_cache_destroy(mu.c[k]);
    }
}
END_TEST

/* ------------------------------------------------------------------ */
/* Thread churn: thousands of short threads; nothing stranded, nothing
 * leaked (also under Valgrind and LeakSanitizer). */

typedef struct churn {
    fa_cache *c;
    pthread_mutex_t lock;
    void *carried[16]; /* objects one thread leaves for the next to free */
    size_t ncarried;
} churn;

static void *churn_thread(void *arg)
{
    churn *ch = arg;
    void *v[40];
    for (int i = 0; i < 40; i++) {
        v[i] = fa_cache_alloc(ch->c);
        if (v[i] == NULL) {
            tu_thread_fail("alloc failed");
            return NULL;
        }
    }
    pthread_mutex_lock(&ch->lock);
    /* Free what an earlier thread allocated, leave some for a later one. */
    fa_cache_free_bulk(ch->c, ch->carried, ch->ncarried);
    for (int i = 0; i < 16; i++) {
        ch->carried[i] = v[i];
    }
    ch->ncarried = 16;
    pthread_mutex_unlock(&ch->lock);
    fa_cache_free_bulk(ch->c, v + 16, 24);
    return NULL;
}

START_TEST(thread_churn_no_leak)
{
    tu_source src;
    tu_source_init(&src, NULL);
    churn ch;
    memset(&ch, 0, sizeof ch);
    pthread_mutex_init(&ch.lock, NULL);
    fa_config cfg = config(96);
    cfg.source = &src.source;
    ch.c = create_ok(&cfg, NULL);
    size_t n = tu_scaled(3000, 100);
    pthread_t t[4];
    for (size_t i = 0; i < n; i += 4) {
        for (int k = 0; k < 4; k++) {
            t[k] = tu_spawn(churn_thread, &ch);
        }
        for (int k = 0; k < 4; k++) {
            tu_join(t[k]);
        }
    }
    tu_check_thread_failures();
    fa_cache_free_bulk(ch.c, ch.carried, ch.ncarried);
    ch.ncarried = 0;
    fa_cache_counters s = counters(ch.c);
    TU_EQ(s.live, 0);
    TU_EQ(s.threads, 1);
    TU_EQ(s.allocs, 40 * ((n + 3) / 4 * 4));
    /* Bounded: the depot keeps at most depot_max magazines of each kind,
     * however many threads came and went. */
    TU_LE(s.magazines, 2 * s.depot_max + 2);
    fa_cache_trim(ch.c);
    TU_EQ(counters(ch.c).pool.bytes_held, 0);
    TU_EQ(src.maps, src.unmaps);
    /* And again, ending with destroy rather than trim. */
    for (size_t i = 0; i < n / 4; i++) {
        tu_join(tu_spawn(churn_thread, &ch));
    }
    tu_check_thread_failures();
    fa_cache_destroy(ch.c);
    TU_EQ(src.maps, src.unmaps);
    TU_EQ(src.nlive, 0);
    pthread_mutex_destroy(&ch.lock);
    tu_source_fini(&src);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Fork: the child uses every cache, including one whose objects sit in
 * the magazines of a parent thread that the child does not have. */

static void *hold_magazines(void *arg)
{
    parked *p = arg;
    void *v[100];
    for (int i = 0; i < 100; i++) {
        v[i] = fa_cache_alloc(p->cache);
    }
    for (int i = 0; i < 100; i++) {
        fa_cache_free(p->cache, v[i]);
    }
    tu_phase_set(&p->gate, 1);
    tu_phase_wait(&p->gate,
                  2); /* stays alive, holding magazines, across the fork */
    return NULL;
}

static int child_uses(fa_cache **cs, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        void *v[500];
        for (int i = 0; i < 500; i++) {
            v[i] = fa_cache_alloc(cs[k]);
            if (v[i] == NULL) {
                return 10 + (int)k;
            }
            memset(v[i], (int)k, 32);
        }
        for (int i = 0; i < 500; i++) {
            if (tu_first_not(v[i], 0, 32, (uint8_t)k) != 32) {
                return 20 + (int)k;
            }
            fa_cache_free(cs[k], v[i]);
        }
        fa_cache_counters s;
        fa_cache_stats(cs[k], &s);
        if (s.threads != 1) {
            return 30 + (int)k;
        }
        if (!fa_cache_check(cs[k])) {
            return 40 + (int)k;
        }
        fa_cache_trim(cs[k]);
        fa_cache_destroy(cs[k]);
    }
    return 0;
}

START_TEST(fork_child_uses_every_cache)
{
    fa_cache *cs[3];
    void *kept[3][50];
    for (int k = 0; k < 3; k++) {
        fa_config cfg = config(32 + 32 * (size_t)k);
        cs[k] = create_ok(&cfg, NULL);
        for (int i = 0; i < 50; i++) {
            kept[k][i] = fa_cache_alloc(cs[k]);
        }
        for (int i = 0; i < 25; i++) {
            fa_cache_free(cs[k], kept[k][i]); /* into this thread's magazine */
        }
    }
    parked p = {TU_PHASE_INIT, cs[1], NULL};
    pthread_t t = tu_spawn(hold_magazines, &p);
    tu_phase_wait(&p.gate, 1);
    fflush(NULL);
    pid_t pid = fork();
    TU_INT_GE(pid, 0);
    if (pid == 0) {
        _exit(child_uses(cs, 3));
    }
    int status = 0;
    TU_INT_EQ(waitpid(pid, &status, 0), pid);
    TU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "child failed: status %#x", status);
    /* The parent goes on as before. */
    tu_phase_set(&p.gate, 2);
    tu_join(t);
    for (int k = 0; k < 3; k++) {
        for (int i = 25; i < 50; i++) {
            fa_cache_free(cs[k], kept[k][i]);
        }
        TU_EQ(counters(cs[k]).live, 0);
        fa_cache_destroy(cs[k]);
    }
}
END_TEST

/* ------------------------------------------------------------------ */

static Suite *cache_suite(void)
{
    Suite *s = suite_create("cache");
    TCase *tc = tcase_create("api");
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
    tcase_add_test(tc, options_fix_magazines_and_depot);
    tcase_add_test(tc, default_magazine_bounds);
    tcase_add_test(tc, checked_cache_sees_double_free);
    tcase_add_test(tc, stats_print_names_the_cache);
    tcase_add_test(tc, too_many_caches);
    suite_add_tcase(s, tc);

    tc = tcase_create("threads");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, cross_thread_free_and_exit);
    tcase_add_test(tc, cap_takes_depot_objects_first);
    tcase_add_test(tc, destroy_reclaims_other_threads_and_id_reuse);
    tcase_add_loop_test(tc, stress_threads, 0, 3);
    tcase_add_test(tc, stress_many_caches);
    tcase_add_test(tc, thread_churn_no_leak);
    tcase_add_test(tc, fork_child_uses_every_cache);
    suite_add_tcase(s, tc);

    tc = tcase_create("model");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, model_random, 0, N_MODEL_CFGS);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    unsetenv("FIXALLOC_CHECK"); /* the tests choose their modes */
    SRunner *sr = srunner_create(cache_suite());
    if (getenv("CK_FORK") == NULL) { /* CK_FORK=no: one process, for gdb */
        srunner_set_fork_status(sr, CK_FORK);
    }
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
