/*
 * test_cache_fork.c - fa_cache and fork(): the child uses every cache,
 * including one with a pool of a parent thread the child does not have,
 * and finds the caches consistent whatever the other threads were doing.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixalloc.h"
#include "test_util.h"

/* ------------------------------------------------------------------ */
/* Fork: the child uses every cache, including one with a pool of a parent
 * thread that the child does not have (frozen there). */

/* A thread that has a pool of a cache across the fork. */
typedef struct holder {
    tu_phase gate;
    fa_cache *cache;
} holder;

static void *hold_pool(void *arg)
{
    holder *p = arg;
    void *v[100];
    for (int i = 0; i < 100; i++) {
        v[i] = fa_cache_alloc(p->cache);
    }
    for (int i = 0; i < 100; i++) {
        fa_cache_free(p->cache, v[i]);
    }
    tu_phase_set(&p->gate, 1);
    tu_phase_wait(&p->gate,
                  2); /* stays alive, with its pool, across the fork */
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
        if (s.threads != 1 || s.frozen_pools != (k == 1 ? 1u : 0u)) {
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
        fa_config cfg = tu_config(32 + 32 * (size_t)k);
        cs[k] = tu_cache_create_ok(&cfg, NULL);
        for (int i = 0; i < 50; i++) {
            kept[k][i] = fa_cache_alloc(cs[k]);
        }
        for (int i = 0; i < 25; i++) {
            fa_cache_free(cs[k], kept[k][i]); /* into this thread's pool */
        }
    }
    holder p = {TU_PHASE_INIT, cs[1]};
    pthread_t t = tu_spawn(hold_pool, &p);
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
        TU_EQ(tu_cache_stats(cs[k]).live, 0);
        fa_cache_destroy(cs[k]);
    }
}
END_TEST

/* Fork under load: two threads allocate, hand objects to each other and
 * free them (remote frees, outboxes, inboxes, decay) while the main thread
 * forks again and again; every child finds the cache consistent, uses it,
 * and passes the check, whatever the other threads were doing. */
typedef struct hammer {
    fa_cache *c;
    atomic_bool stop;
    _Atomic(void *) slot[64]; /* objects handed between the threads */
} hammer;

static void *hammer_thread(void *arg)
{
    hammer *h = arg;
    tu_rng rng;
    tu_rng_seed(&rng, (uint64_t)(uintptr_t)&rng);
    void *mine[32] = {NULL};
    while (!atomic_load(&h->stop)) {
        size_t k = tu_rng_below(&rng, 32);
        if (mine[k] != NULL) {
            /* Hand it over; free what the other thread left there. */
            void *old = atomic_exchange(&h->slot[k * 2 % 64], mine[k]);
            fa_cache_free(h->c, old);
        }
        mine[k] = fa_cache_alloc(h->c);
        if (mine[k] == NULL) {
            tu_thread_fail("alloc failed");
            break;
        }
        memset(mine[k], 0x5a, 48);
    }
    fa_cache_free_bulk(h->c, mine, 32);
    return NULL;
}

static int child_after_fork(void *arg)
{
    fa_cache *c = arg;
    void *v[2000];
    for (int i = 0; i < 2000; i++) {
        v[i] = fa_cache_alloc(c);
        if (v[i] == NULL) {
            return 1;
        }
        memset(v[i], 0x33, 48);
    }
    for (int i = 0; i < 2000; i += 2) {
        fa_cache_free(c, v[i]);
    }
    for (int i = 1; i < 2000; i += 2) {
        fa_cache_free(c, v[i]);
    }
    fa_cache_counters s;
    fa_cache_stats(c, &s);
    if (s.threads != 1 || s.frozen_pools > 2) {
        return 2;
    }
    if (!fa_cache_check(c)) {
        return 3;
    }
    fa_cache_trim(c);
    return fa_cache_check(c) ? 0 : 4;
}

START_TEST(fork_under_load)
{
    if (tu_under_valgrind()) {
        /* Memcheck checks every child for leaks at its exit, and the
         * objects the vanished threads held (on their stacks) are lost
         * there by design: nothing to learn. */
        return;
    }
    fa_config cfg = tu_config(48);
    cfg.chunk_size = 4096; /* many chunks: more slow paths to fork into */
    hammer *h = calloc(1, sizeof *h);
    TU_NOT_NULL(h);
    h->c = tu_cache_create_ok(&cfg, NULL);
    pthread_t t[2] = {tu_spawn(hammer_thread, h), tu_spawn(hammer_thread, h)};
    tu_fork_repeatedly((int)tu_scaled(40, 5), child_after_fork, h->c);
    atomic_store(&h->stop, true);
    tu_join(t[0]);
    tu_join(t[1]);
    tu_check_thread_failures();
    for (int k = 0; k < 64; k++) {
        fa_cache_free(h->c, atomic_load(&h->slot[k]));
    }
    fa_cache_counters s = tu_cache_stats(h->c);
    TU_EQ(s.live, 0);
    TU_CHECK(fa_cache_check(h->c));
    fa_cache_destroy(h->c);
    free(h);
}
END_TEST

/* Fork while another thread gives a depot chunk back (here held in the
 * chunk's `release` callback, which runs with no lock of the library
 * held): the child finds the direct entry's pool, through which the depot
 * gives its chunks back, as consistent as the depot. */
typedef struct giver {
    tu_phase gate;
    fa_cache *cache;
    atomic_bool armed;
} giver;

static giver the_giver = {TU_PHASE_INIT, NULL, false};

static void release_slot(void *arg, void *obj)
{
    (void)obj;
    giver *g = arg;
    if (atomic_exchange(&g->armed, false)) {
        tu_phase_set(&g->gate, 1);  /* inside the depot's give-back */
        tu_phase_wait(&g->gate, 2); /* until the parent has forked */
    }
}

/* A thread that leaves one empty chunk in the depot as it exits. */
static void *fill_depot(void *arg)
{
    giver *g = arg;
    fa_cache_free(g->cache, fa_cache_alloc(g->cache));
    return NULL;
}

static void *drain_depot(void *arg)
{
    giver *g = arg;
    fa_cache_trim(g->cache);
    return NULL;
}

static int child_checks(void *arg)
{
    fa_cache *c = arg;
    if (!fa_cache_check(c)) {
        return 1;
    }
    fa_cache_free(c, fa_cache_alloc(c));
    fa_cache_trim(c);
    return fa_cache_check(c) ? 0 : 2;
}

START_TEST(fork_while_depot_gives_back)
{
    giver *g = &the_giver;
    fa_config cfg = tu_config(64);
    cfg.release = release_slot;
    cfg.arg = g;
    g->cache = tu_cache_create_ok(&cfg, NULL);
    tu_join(tu_spawn(fill_depot, g));
    TU_EQ(tu_cache_stats(g->cache).depot_chunks, 1);
    atomic_store(&g->armed, true);
    pthread_t t = tu_spawn(drain_depot, g);
    tu_phase_wait(&g->gate, 1);
    tu_fork_repeatedly(1, child_checks, g->cache);
    tu_phase_set(&g->gate, 2);
    tu_join(t);
    fa_cache_counters s = tu_cache_stats(g->cache);
    TU_EQ(s.depot_chunks, 0);
    TU_EQ(s.live, 0);
    TU_CHECK(fa_cache_check(g->cache));
    fa_cache_destroy(g->cache);
}
END_TEST

/* ------------------------------------------------------------------ */

static Suite *suite(void)
{
    Suite *s = suite_create("cache-fork");
    TCase *tc;

    tc = tcase_create("fork");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, fork_child_uses_every_cache);
    tcase_add_test(tc, fork_under_load);
    tcase_add_test(tc, fork_while_depot_gives_back);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite(), false);
}
