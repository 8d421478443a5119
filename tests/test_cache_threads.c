/*
 * test_cache_threads.c - fa_cache across threads: cross-thread frees, the cap
 * and the depot, destroy while other threads have pools, many-thread stress
 * with stamped objects, many caches at once, thread churn against a counting
 * page source.
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
        tu_stamp_id(out[i], 64, i);
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
        if (!tu_stamp_id_ok(objs[i], 64, &id) || id != i) {
            tu_thread_fail("object %zu lost its stamp", i);
        }
        fa_cache_free(c, objs[i]);
    }
    return NULL;
}

START_TEST(cross_thread_free_and_exit)
{
    fa_config cfg = tu_config(64);
    fa_cache *c = tu_cache_create_ok(&cfg, NULL);
    size_t n = 10000;
    void **objs = tu_xmalloc(n * sizeof *objs);
    void *args[3] = {c, (void *)(uintptr_t)n, objs};
    tu_join(tu_spawn(alloc_n_thread, args));
    tu_check_thread_failures();
    fa_cache_counters s = tu_cache_stats(c);
    TU_EQ(s.live, n);
    TU_EQ(s.threads, 0); /* the allocating thread has exited */
    tu_join(tu_spawn(free_n_thread, args));
    tu_check_thread_failures();
    s = tu_cache_stats(c);
    TU_EQ(s.live, 0);
    TU_EQ(s.allocs, n);
    TU_EQ(s.frees, n);
    TU_EQ(s.threads, 0);
    /* The objects are back in the first thread's pool, or on their way
     * there (when the second thread did not take that pool over). */
    TU_EQ(s.pool.live, s.in_flight);
    TU_CHECK(fa_cache_check(c));
    TU_GT(fa_cache_trim(c), 0);
    s = tu_cache_stats(c);
    TU_EQ(s.in_flight, 0);
    TU_EQ(s.pool.live, 0);
    TU_EQ(s.pool.bytes_held, 0);
    free(objs);
    fa_cache_destroy(c);
}
END_TEST

/* max_bytes: what other threads freed comes back before ENOMEM. */
/* Frees from a thread-exit key destructor that runs after the cache's own
 * (keys created later run later in glibc): the exiting thread has no
 * entry, so each object goes alone to its pool's inbox, a carrier of
 * nothing. The owner takes them all back, every count right. */
static fa_cache *exit_cache;
static pthread_key_t exit_key;

static void free_at_exit(void *arg)
{
    void **objs = arg;
    for (size_t i = 0; i < 40; i++) {
        fa_cache_free(exit_cache, objs[i]);
    }
}

static void *exit_with_frees(void *arg)
{
    void *mine = fa_cache_alloc(exit_cache); /* this thread's entry */
    fa_cache_free(exit_cache, mine);
    pthread_setspecific(exit_key, arg);
    return NULL;
}

START_TEST(frees_from_an_exiting_thread)
{
    fa_config cfg = tu_config(96); /* carriers hold pointers */
    exit_cache = tu_cache_create_ok(&cfg, NULL);
    TU_INT_EQ(pthread_key_create(&exit_key, free_at_exit), 0);
    void *objs[40];
    for (size_t i = 0; i < 40; i++) {
        objs[i] = fa_cache_alloc(exit_cache);
        TU_NOT_NULL(objs[i]);
        memset(objs[i], 0x3c, 96); /* what a carrier's count would read */
    }
    tu_join(tu_spawn(exit_with_frees, objs));
    fa_cache_counters st;
    fa_cache_stats(exit_cache, &st);
    TU_EQ(st.live, 0);
    TU_CHECK(fa_cache_check(exit_cache));
    /* The owner takes its inbox when it needs objects: 40 come back. */
    void *again[40];
    for (size_t i = 0; i < 40; i++) {
        again[i] = fa_cache_alloc(exit_cache);
        TU_NOT_NULL(again[i]);
    }
    fa_cache_stats(exit_cache, &st);
    TU_EQ(st.live, 40);
    TU_EQ(st.in_flight, 0);
    TU_CHECK(fa_cache_check(exit_cache));
    for (size_t i = 0; i < 40; i++) {
        fa_cache_free(exit_cache, again[i]);
    }
    pthread_key_delete(exit_key);
    fa_cache_destroy(exit_cache);
}
END_TEST

START_TEST(cap_takes_freed_objects_first)
{
    tu_source src;
    tu_source_init(&src, NULL);
    fa_config cfg = tu_config(64);
    cfg.chunk_size = 64 * 1024;
    cfg.max_bytes = 4 * cfg.chunk_size;
    cfg.source = &src.source;
    fa_cache *c = tu_cache_create_ok(&cfg, NULL);
    fa_cache_counters s = tu_cache_stats(c);
    size_t total = 4 * s.pool.slots_per_chunk;
    void **objs = tu_xmalloc((total + 1) * sizeof *objs);
    /* One thread takes everything and another frees it all and exits:
     * every object ends in a pool, its inbox, or the depot. */
    void *args[3] = {c, (void *)(uintptr_t)total, objs};
    tu_join(tu_spawn(alloc_n_thread, args));
    tu_check_thread_failures();
    errno = 0;
    TU_NULL(fa_cache_alloc(c));
    TU_INT_EQ(errno, ENOMEM);
    tu_join(tu_spawn(free_n_thread, args));
    tu_check_thread_failures();
    s = tu_cache_stats(c);
    TU_EQ(s.live, 0);
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
        fa_config cfg = tu_config(round == 0 ? 64 : 128);
        cfg.source = &src.source;
        p.cache = tu_cache_create_ok(&cfg, NULL);
        tu_phase_set(&p.gate, 2 * round + 1);
        tu_phase_wait(&p.gate, 2 * round + 2);
        fa_cache_counters s = tu_cache_stats(p.cache);
        /* The other thread's counts are as of its last slow path. */
        TU_EQ(s.threads, 1);
        TU_LE(s.live, 200);
        TU_CHECK(fa_cache_check(p.cache));
        fa_cache_free(p.cache, p.obj);
        /* Destroyed while the other thread has a pool of it. */
        fa_cache_destroy(p.cache);
        TU_EQ(src.maps, src.unmaps);
    }
    tu_phase_set(&p.gate, 5);
    tu_join(t);
    tu_check_thread_failures();
    tu_source_fini(&src);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Stress: threads allocate, stamp, hand objects to each other through a
 * shared exchange, verify and free them; worker threads are created and
 * ended continuously. */

#define XCHG_CAP 4096
#define STRESS_SIZE 72

typedef struct stress {
    fa_cache *c;
    tu_exchange x;
    atomic_uint_fast64_t next_id;
    atomic_size_t allocs, frees;
    size_t ops_per_thread;
    bool zero; /* FA_ZERO: every object handed out reads as zeros */
} stress;

static void verify_and_free(stress *st, void *p)
{
    uint64_t id;
    if (!tu_stamp_id_ok(p, STRESS_SIZE, &id)) {
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
            tu_stamp_id(p, STRESS_SIZE, atomic_fetch_add(&st->next_id, 1));
            mine[nmine++] = p;
        } else if (r < 75 && nmine > 0) {
            /* Hand one over to whichever thread comes next. */
            void *p = mine[--nmine];
            if (!tu_exchange_put(&st->x, (tu_item){.p = p})) {
                verify_and_free(st, p);
            }
        } else if (r < 90) {
            /* Free one that another thread allocated. */
            tu_item it;
            if (tu_exchange_take(&st->x, &rng, &it)) {
                verify_and_free(st, it.p);
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
    tu_exchange_init(&st->x, XCHG_CAP);
    fa_config cfg = tu_config(STRESS_SIZE);
    cfg.source = &src.source;
    /* Small chunks, batches and depot: more remote and depot traffic. */
    cfg.chunk_size = _i == 0 ? 0 : 4096;
    fa_cache_options o = {.remote_batch = _i == 0 ? 0 : 3,
                          .depot_bytes = _i == 0 ? 0 : 4096};
    /* The third run clears objects: every call through the slow path. */
    cfg.flags = _i == 2 ? FA_ZERO : 0;
    st->zero = _i == 2;
    st->c = tu_cache_create_ok(&cfg, &o);
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
        verify_and_free(st, st->x.items[--st->x.n].p);
    }
    tu_check_thread_failures();
    fa_cache_counters s = tu_cache_stats(st->c);
    TU_EQ(s.allocs, atomic_load(&st->allocs));
    TU_EQ(s.frees, atomic_load(&st->frees));
    TU_EQ(s.live, 0);
    TU_LE(s.threads, 1);
    TU_EQ(s.pool.live, s.in_flight);
    TU_CHECK(fa_cache_check(st->c));
    fa_cache_trim(st->c);
    s = tu_cache_stats(st->c);
    TU_EQ(s.pool.bytes_held, 0);
    TU_EQ(s.pool.live, 0);
    TU_EQ(src.maps, src.unmaps);
    fa_cache_destroy(st->c);
    tu_exchange_fini(&st->x);
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
            if (!tu_stamp_id_ok(held[k][j], 16, &id) || id != (k << 8 | j)) {
                tu_thread_fail("cache %zu slot %zu lost its stamp", k, j);
            }
            fa_cache_free(mu->c[k], held[k][j]);
        }
        held[k][j] = fa_cache_alloc(mu->c[k]);
        if (held[k][j] == NULL) {
            tu_thread_fail("alloc failed");
            return NULL;
        }
        tu_stamp_id(held[k][j], 16, k << 8 | j);
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
        fa_config cfg = tu_config(16 + 16 * (size_t)k);
        mu.c[k] = tu_cache_create_ok(&cfg, NULL);
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
        fa_cache_counters s = tu_cache_stats(mu.c[k]);
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
    fa_config cfg = tu_config(96);
    cfg.source = &src.source;
    ch.c = tu_cache_create_ok(&cfg, NULL);
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
    fa_cache_counters s = tu_cache_stats(ch.c);
    TU_EQ(s.live, 0);
    TU_EQ(s.threads, 1);
    TU_EQ(s.allocs, 40 * ((n + 3) / 4 * 4));
    /* Bounded however many threads came and went: a new thread takes over
     * an exited one's pool, so there are never more pools than threads
     * at once, and each keeps one empty chunk beyond what it uses. */
    TU_LE(s.threads + s.idle_pools, 5);
    TU_LE(s.pool.chunks, 5 * 3 + s.depot_max);
    fa_cache_trim(ch.c);
    TU_EQ(tu_cache_stats(ch.c).pool.bytes_held, 0);
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

static Suite *suite(void)
{
    Suite *s = suite_create("cache-threads");
    TCase *tc;

    tc = tcase_create("threads");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, cross_thread_free_and_exit);
    tcase_add_test(tc, frees_from_an_exiting_thread);
    tcase_add_test(tc, cap_takes_freed_objects_first);
    tcase_add_test(tc, destroy_reclaims_other_threads_and_id_reuse);
    tcase_add_loop_test(tc, stress_threads, 0, 3);
    tcase_add_test(tc, stress_many_caches);
    tcase_add_test(tc, thread_churn_no_leak);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite(), false);
}
