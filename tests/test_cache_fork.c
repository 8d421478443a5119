/*
 * test_cache_fork.c - fa_cache and fork(): the child uses every cache,
 * including one with a pool of a parent thread the child does not have.
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

/* ------------------------------------------------------------------ */

static Suite *suite(void)
{
    Suite *s = suite_create("cache-fork");
    TCase *tc;

    tc = tcase_create("fork");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, fork_child_uses_every_cache);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite(), false);
}
