/*
 * test_oom.c - out of memory at every point: a page source that refuses
 * its k-th map, for every k a script of calls reaches, under the heap and
 * the cache. Each refused call returns NULL with errno ENOMEM and changes
 * nothing; the same call succeeds once the source gives again; the checks
 * pass throughout, and everything goes back to the source at the end.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixalloc.h"
#include "test_util.h"

/* The sizes the heap script asks for: several classes, a large block, a
 * large block past FA_HEAP_CHUNK, and zero. */
static const size_t script_sizes[] = {16,     100,    1000, 4096, 20000,
                                      300000, 600000, 48,   0,    70000};
#define SCRIPT_LEN (sizeof script_sizes / sizeof script_sizes[0])

/* One call of the script on heap h: malloc, calloc, aligned or realloc of
 * the previous object, by step. NULL with ENOMEM when the source refuses. */
static void *heap_step(fa_heap *h, size_t step, void **prev)
{
    size_t n = script_sizes[step % SCRIPT_LEN];
    switch (step % 4) {
    case 0: return fa_heap_malloc(h, n);
    case 1: return fa_heap_calloc(h, 1, n);
    case 2: return fa_heap_aligned_alloc(h, 4096, n);
    default: {
        if (*prev == NULL) {
            return fa_heap_malloc(h, n);
        }
        void *r = fa_realloc(*prev, n + 1);
        if (r != NULL) {
            *prev = NULL; /* moved or grown: the old pointer is gone */
        }
        return r;
    }
    }
}

/* Returns how many calls the source's refusal failed. */
static size_t heap_oom_at(long k)
{
    tu_source ts;
    tu_source_init(&ts, NULL);
    ts.fail_after = k;
    fa_heap_config hc;
    memset(&hc, 0, sizeof hc);
    hc.source = &ts.source;
    hc.name = "oom";
    fa_heap *h = fa_heap_create(&hc);
    if (h == NULL) {
        TU_INT_EQ(errno, ENOMEM);
        ts.fail_after = -1;
        h = fa_heap_create(&hc);
        TU_NOT_NULL(h);
        ts.fail_after = (long)ts.maps + k;
    }
    void *live[2 * SCRIPT_LEN];
    size_t nlive = 0;
    void *prev = NULL;
    size_t refused = 0;
    for (size_t step = 0; step < 2 * SCRIPT_LEN; step++) {
        errno = 0;
        void *p = heap_step(h, step, &prev);
        if (p == NULL && script_sizes[step % SCRIPT_LEN] != 0) {
            TU_INT_EQ(errno, ENOMEM);
            TU_CHECK(fa_heap_check(h));
            refused++;
            long saved = ts.fail_after;
            ts.fail_after = -1; /* the same call goes through now */
            p = heap_step(h, step, &prev);
            TU_NOT_NULL(p);
            ts.fail_after = saved;
        }
        if (prev != NULL) {
            live[nlive++] = prev;
        }
        if (p != NULL) {
            memset(p, 0x5a, fa_usable_size(p));
        }
        prev = p;
        TU_CHECK(fa_heap_check(h));
    }
    if (prev != NULL) {
        live[nlive++] = prev;
    }
    for (size_t i = 0; i < nlive; i++) {
        fa_free(live[i]);
    }
    TU_CHECK(fa_heap_check(h));
    fa_heap_trim(h);
    fa_heap_destroy(h);
    TU_EQ(tu_source_live_bytes(&ts), 0);
    tu_source_fini(&ts);
    if (tu_verbose()) {
        printf("fail after %ld maps: %zu calls refused\n", k, refused);
    }
    return refused;
}

START_TEST(heap_oom_every_point)
{
    /* Until the script runs without a refusal: every map it makes has
     * been refused once. */
    long k = 0;
    while (heap_oom_at(k) != 0) {
        TU_LT(++k, 200);
    }
    TU_GT(k, 3);
}
END_TEST

/* The cache: objects from this thread and a helper thread, freed across;
 * the k-th chunk refused. */
typedef struct cache_job {
    fa_cache *c;
    void *objs[512];
    size_t n;
} cache_job;

static void *cache_alloc_some(void *arg)
{
    cache_job *j = arg;
    for (j->n = 0; j->n < 512; j->n++) {
        errno = 0;
        void *p = fa_cache_alloc(j->c);
        if (p == NULL) {
            if (errno != ENOMEM) {
                tu_thread_fail("errno %d, not ENOMEM", errno);
            }
            break;
        }
        memset(p, 0x77, 200);
        j->objs[j->n] = p;
    }
    return NULL;
}

static size_t cache_oom_at(long k)
{
    tu_source ts;
    tu_source_init(&ts, NULL);
    ts.fail_after = k;
    fa_config cfg = tu_config(200);
    cfg.chunk_size = 16384;
    cfg.source = &ts.source;
    fa_cache *c = tu_cache_create_ok(&cfg, NULL);
    cache_job mine = {c, {NULL}, 0}, theirs = {c, {NULL}, 0};
    tu_join(tu_spawn(cache_alloc_some, &theirs));
    tu_check_thread_failures();
    cache_alloc_some(&mine);
    tu_check_thread_failures();
    TU_CHECK(fa_cache_check(c));
    /* Freed across: the helper's objects by this thread. */
    for (size_t i = 0; i < theirs.n; i++) {
        fa_cache_free(c, theirs.objs[i]);
    }
    ts.fail_after = -1;
    void *again = fa_cache_alloc(c);
    TU_NOT_NULL(again);
    fa_cache_free(c, again);
    for (size_t i = 0; i < mine.n; i++) {
        fa_cache_free(c, mine.objs[i]);
    }
    TU_CHECK(fa_cache_check(c));
    fa_cache_trim(c);
    fa_cache_destroy(c);
    TU_EQ(tu_source_live_bytes(&ts), 0);
    tu_source_fini(&ts);
    return (mine.n < 512) + (theirs.n < 512);
}

START_TEST(cache_oom_every_point)
{
    long k = 0;
    while (cache_oom_at(k) != 0) {
        TU_LT(++k, 200);
    }
    TU_GT(k, 3);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("oom");
    TCase *tc = tcase_create("oom");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, heap_oom_every_point);
    tcase_add_test(tc, cache_oom_every_point);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite(), true);
}
