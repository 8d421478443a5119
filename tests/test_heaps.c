/*
 * test_heaps.c - heaps of their own (fixalloc.h, "The heap"): regions over a
 * counting page source, per-heap stats, caps, FA_ZERO, hardened and checked
 * modes, threads that free each other's objects, destroy while threads hold
 * pools, fork.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixalloc.h"
#include "test_util.h"

/* ------------------------------------------------------------------ */
/* Heaps: regions, stats, caps, modes */

START_TEST(heap_create_refused)
{
    fa_heap_config cfg = {.flags = 0x80000000u};
    errno = 0;
    TU_NULL(fa_heap_create(&cfg));
    TU_INT_EQ(errno, EINVAL);
    fa_source bad = {NULL, NULL, NULL, NULL};
    fa_heap_config cfg2 = {.source = &bad};
    errno = 0;
    TU_NULL(fa_heap_create(&cfg2));
    TU_INT_EQ(errno, EINVAL);
    fa_heap_destroy(NULL); /* a no-op */
}
END_TEST

START_TEST(too_many_heaps)
{
    fa_heap *hs[FA_CACHE_MAX];
    size_t n = 0;
    for (;;) {
        errno = 0;
        hs[n] = fa_heap_create(NULL);
        if (hs[n] == NULL) {
            TU_INT_EQ(errno, EAGAIN);
            break;
        }
        n++;
        TU_LE(n, FA_CACHE_MAX / FA_SIZE_CLASSES);
    }
    TU_EQ(n, FA_CACHE_MAX / FA_SIZE_CLASSES);
    /* The ids of a refused heap were all given back: one more fits after
     * one is destroyed, and it works. */
    fa_heap_destroy(hs[--n]);
    hs[n] = tu_heap_create_ok(NULL);
    void *p = fa_heap_malloc(hs[n], 10);
    TU_NOT_NULL(p);
    fa_free(p);
    for (size_t i = 0; i <= n; i++) {
        fa_heap_destroy(hs[i]);
    }
    /* The default heap is made from the ids freed. */
    void *q = fa_malloc(10);
    TU_NOT_NULL(q);
    fa_free(q);
}
END_TEST

START_TEST(destroy_releases_everything)
{
    tu_source src;
    tu_source_init(&src, NULL);
    fa_heap_config cfg = {.source = &src.source, .name = "region"};
    fa_heap *h = tu_heap_create_ok(&cfg);
    tu_rng rng;
    tu_rng_seed(&rng, tu_seed(0x4EA90000ull, 1));
    size_t n = tu_scaled(20000, 2000);
    for (size_t i = 0; i < n; i++) {
        void *p = fa_heap_malloc(h, tu_random_size(&rng, 200));
        TU_NOT_NULL(p);
        if (i % 3 == 0) {
            fa_free(p); /* the rest stay live */
        }
    }
    fa_heap_counters s = tu_heap_stats(h);
    TU_GT(s.live, 0);
    TU_GT(s.large_live, 0);
    TU_EQ(s.bytes_held, tu_source_live_bytes(&src));
    TU_EQ(s.bytes_held, s.chunk_bytes + s.large_bytes);
    TU_CHECK(fa_heap_check(h));
    fa_heap_destroy(h); /* live objects and all */
    TU_EQ(src.maps, src.unmaps);
    TU_EQ(src.nlive, 0);
    TU_EQ(src.bytes_mapped, src.bytes_unmapped);
    tu_source_fini(&src);
}
END_TEST

START_TEST(free_and_trim_give_bytes_back)
{
    tu_source src;
    tu_source_init(&src, NULL);
    fa_heap_config cfg = {.source = &src.source};
    fa_heap *h = tu_heap_create_ok(&cfg);
    tu_rng rng;
    tu_rng_seed(&rng, tu_seed(0x4EA90000ull, 2));
    size_t n = tu_scaled(10000, 1000);
    void **v = tu_xmalloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        v[i] = fa_heap_malloc(h, tu_random_size(&rng, 100));
        TU_NOT_NULL(v[i]);
    }
    for (size_t i = 0; i < n; i++) {
        fa_free(v[i]);
    }
    fa_heap_counters s = tu_heap_stats(h);
    TU_EQ(s.live, 0);
    TU_EQ(s.large_bytes, 0);
    TU_GT(s.chunk_bytes, 0);
    TU_EQ(s.allocs, n);
    TU_EQ(s.frees, n);
    size_t back = fa_heap_trim(h);
    TU_EQ(back, s.chunk_bytes + s.large_kept_bytes);
    s = tu_heap_stats(h);
    TU_EQ(s.bytes_held, 0);
    TU_EQ(s.cached, 0);
    TU_EQ(src.maps, src.unmaps);
    free(v);
    fa_heap_destroy(h);
    tu_source_fini(&src);
}
END_TEST

/* A checked heap reports a realloc of a freed object as a double free, and
 * never hands the object out twice. */
START_TEST(checked_realloc_of_freed_object)
{
    fa_heap_config cfg = {.flags = FA_CHECKED};
    fa_heap *h = tu_heap_create_ok(&cfg);
    void *p = fa_heap_malloc(h, 40);
    TU_NOT_NULL(p);
    fa_free(p);
    fa_error_handler old = tu_errors_install();
    errno = 0;
    TU_NULL(fa_heap_realloc(h, p, 30));
    TU_INT_EQ(errno, EINVAL);
    TU_INT_EQ(tu_err.count, 1);
    TU_INT_EQ(tu_err.kind, FA_ERR_DOUBLE_FREE);
    fa_set_error_handler(old);
    void *a = fa_heap_malloc(h, 40), *b = fa_heap_malloc(h, 40);
    TU_CHECK(a != b);
    fa_free(a);
    fa_free(b);
    TU_CHECK(fa_heap_check(h));
    fa_heap_destroy(h);
}
END_TEST

/* A program that moves from one size to another reuses the memory at
 * once: a class whose pool would map a chunk takes an empty one of another
 * class from the thread's pools first. */
START_TEST(phase_shift_reuses_chunks)
{
    tu_source src;
    tu_source_init(&src, NULL);
    fa_heap_config cfg = {.source = &src.source};
    fa_heap *h = tu_heap_create_ok(&cfg);
    size_t bytes = 8u << 20;
    void **v = tu_xmalloc(bytes / 64 * sizeof *v);
    for (size_t i = 0; i < bytes / 64; i++) {
        v[i] = fa_heap_malloc(h, 64);
        TU_NOT_NULL(v[i]);
    }
    /* What the first phase held at its peak: chunks that decay while a
     * slow tool runs the frees are mapped again, but no more of them. */
    size_t held = tu_heap_stats(h).bytes_held;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t i = 0; i < bytes / 64; i++) {
        fa_free(v[i]);
    }
    size_t maps = src.maps;
    for (size_t i = 0; i < bytes / 256; i++) {
        v[i] = fa_heap_malloc(h, 256);
        TU_NOT_NULL(v[i]);
        memset(v[i], 0x6b, 256);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* At most a few chunks more than the first phase held. */
    TU_LE(tu_heap_stats(h).bytes_held, held + 4 * FA_HEAP_CHUNK);
    /* And none mapped anew, unless the phases took so long (a slow tool,
     * a loaded machine) that the first phase's chunks decayed meanwhile
     * (50 ms by default), which is the memory going back as it should. */
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
                (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    if (ms < 25) {
        TU_LE(src.maps - maps, 4);
    } else if (tu_verbose()) {
        printf("phase shift took %.1f ms: reuse not judged\n", ms);
    }
    TU_CHECK(fa_heap_check(h));
    for (size_t i = 0; i < bytes / 256; i++) {
        fa_free(v[i]);
    }
    TU_CHECK(fa_heap_check(h));
    free(v);
    fa_heap_destroy(h);
    TU_EQ(src.maps, src.unmaps);
    tu_source_fini(&src);
}
END_TEST

/* A NULL heap handle is reported by every call that takes one. */
START_TEST(null_heap_reported)
{
    fa_error_handler old = tu_errors_install();
    errno = 0;
    TU_NULL(fa_heap_malloc(NULL, 10));
    TU_INT_EQ(errno, EINVAL);
    TU_NULL(fa_heap_calloc(NULL, 2, 10));
    TU_NULL(fa_heap_aligned_alloc(NULL, 64, 10));
    TU_NULL(fa_heap_realloc(NULL, NULL, 10));
    TU_EQ(fa_heap_trim(NULL), 0);
    fa_heap_counters s;
    fa_heap_stats(NULL, &s);
    TU_CHECK(!fa_heap_check(NULL));
    TU_INT_EQ(tu_err.count, 7);
    TU_INT_EQ(tu_err.kind, FA_ERR_BAD_POOL);
    TU_STR_EQ(tu_err.object, "heap");
    fa_set_error_handler(old);
}
END_TEST

/* A heap is a region: destroying a checked one with objects still live
 * reports nothing, and realloc into another heap moves a large block there
 * (it does not grow it in its old heap). */
START_TEST(heap_region_and_realloc_across_heaps)
{
    fa_heap_config cfg = {.flags = FA_CHECKED};
    fa_heap *a = tu_heap_create_ok(&cfg);
    for (int i = 0; i < 100; i++) {
        TU_NOT_NULL(fa_heap_malloc(a, (size_t)(16 + i * 37)));
    }
    fa_error_handler old = tu_errors_install();
    fa_heap_destroy(a);
    TU_INT_EQ(tu_err.count, 0);
    fa_set_error_handler(old);

    fa_heap *x = tu_heap_create_ok(NULL), *y = tu_heap_create_ok(NULL);
    void *p = fa_heap_malloc(x, 100 * 1024);
    TU_NOT_NULL(p);
    void *q = fa_heap_realloc(y, p, 400 * 1024);
    TU_NOT_NULL(q);
    TU_CHECK(fa_heap_of(q) == y);
    fa_free(q);
    TU_CHECK(fa_heap_check(x));
    TU_CHECK(fa_heap_check(y));
    fa_heap_destroy(x);
    fa_heap_destroy(y);
}
END_TEST

START_TEST(stats_are_per_heap)
{
    fa_heap_config ca = {.name = "alpha"}, cb = {.name = "beta"};
    fa_heap *a = tu_heap_create_ok(&ca);
    fa_heap *b = tu_heap_create_ok(&cb);
    void *va[10], *vb[3];
    for (int i = 0; i < 10; i++) {
        va[i] = fa_heap_malloc(a, 100);
    }
    for (int i = 0; i < 3; i++) {
        vb[i] = fa_heap_malloc(b, 1000);
    }
    void *big = fa_heap_malloc(b, 100000);
    TU_PTR_EQ(fa_heap_of(va[0]), a);
    TU_PTR_EQ(fa_heap_of(vb[0]), b);
    TU_PTR_EQ(fa_heap_of(big), b);
    fa_heap_counters sa = tu_heap_stats(a), sb = tu_heap_stats(b);
    TU_STR_EQ(sa.name, "alpha");
    TU_EQ(sa.classes, FA_SIZE_CLASSES);
    TU_EQ(sa.live, 10);
    TU_EQ(sa.small_live, 10);
    TU_EQ(sa.live_bytes, 10 * fa_good_size(100));
    TU_EQ(sa.large_live, 0);
    TU_EQ(sb.live, 4);
    TU_EQ(sb.large_live, 1);
    TU_EQ(sb.live_bytes, 3 * fa_good_size(1000) + fa_usable_size(big));
    TU_EQ(sb.large_allocs, 1);
    /* One class's own counters. */
    fa_cache_counters cc;
    TU_INT_EQ(fa_heap_class_stats(a, fa_size_class(100), &cc), 0);
    TU_EQ(cc.live, 10);
    TU_STR_EQ(cc.pool.name, "alpha/112");
    TU_INT_EQ(fa_heap_class_stats(a, FA_SIZE_CLASSES, &cc), EINVAL);
    /* The dump names the heap. */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fa_heap_stats_print(&sb, f);
    fclose(f);
    TU_NOT_NULL(strstr(buf, "fixalloc heap 'beta'"));
    free(buf);
    /* A realloc into another heap moves the object there. */
    void *m = fa_heap_realloc(a, vb[0], 5000);
    TU_PTR_EQ(fa_heap_of(m), a);
    TU_EQ(tu_heap_stats(b).live, 3);
    TU_EQ(tu_heap_stats(a).live, 11);
    fa_free(m);
    for (int i = 0; i < 10; i++) {
        fa_free(va[i]);
    }
    for (int i = 1; i < 3; i++) {
        fa_free(vb[i]);
    }
    fa_free(big);
    TU_EQ(tu_heap_stats(a).live, 0);
    TU_EQ(tu_heap_stats(b).live, 0);
    fa_heap_destroy(a);
    fa_heap_destroy(b);
}
END_TEST

START_TEST(cap_refuses_with_enomem)
{
    fa_heap_config cfg = {.max_bytes = 3 * FA_HEAP_CHUNK};
    fa_heap *h = tu_heap_create_ok(&cfg);
    size_t n = 0, cap = 100000;
    void **v = tu_xmalloc(cap * sizeof *v);
    for (;;) {
        errno = 0;
        void *p = fa_heap_malloc(h, 1000 + (n % 3) * 1000);
        if (p == NULL) {
            TU_INT_EQ(errno, ENOMEM);
            break;
        }
        TU_LT(n, cap);
        v[n++] = p;
    }
    TU_GT(n, 100);
    errno = 0;
    TU_NULL(fa_heap_malloc(h, 3 * FA_HEAP_CHUNK));
    TU_INT_EQ(errno, ENOMEM);
    TU_LE(tu_heap_stats(h).bytes_held, 3 * FA_HEAP_CHUNK);
    for (size_t i = 0; i < n; i++) {
        fa_free(v[i]);
    }
    fa_heap_trim(h);
    void *p = fa_heap_malloc(h, 2 * FA_HEAP_CHUNK); /* room again */
    TU_NOT_NULL(p);
    fa_free(p);
    free(v);
    fa_heap_destroy(h);
}
END_TEST

START_TEST(zero_heap_objects_read_as_zeros)
{
    tu_source src;
    tu_source_init(&src, NULL);
    src.dirty = true;
    fa_heap_config cfg = {.flags = FA_ZERO, .source = &src.source};
    fa_heap *h = tu_heap_create_ok(&cfg);
    size_t sizes[] = {1, 16, 100, 3000, 32768, 50000};
    for (int round = 0; round < 3; round++) {
        for (size_t k = 0; k < 6; k++) {
            char *p = fa_heap_malloc(h, sizes[k]);
            TU_NOT_NULL(p);
            TU_EQ(tu_first_nonzero(p, sizes[k]), sizes[k]);
            memset(p, 0x77, sizes[k]);
            fa_free(p);
            p = fa_heap_calloc(h, 1, sizes[k]);
            TU_EQ(tu_first_nonzero(p, sizes[k]), sizes[k]);
            fa_free(p);
        }
    }
    fa_heap_destroy(h);
    TU_EQ(src.maps, src.unmaps);
    tu_source_fini(&src);
}
END_TEST

START_TEST(hardened_heap_works)
{
    fa_heap_config cfg = {.flags = FA_HARDENED};
    fa_heap *h = tu_heap_create_ok(&cfg);
    void *v[1000];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 1000; i++) {
            v[i] = fa_heap_malloc(h, (size_t)(i % 300) + 1);
            TU_NOT_NULL(v[i]);
        }
        for (int i = 0; i < 1000; i++) {
            fa_free(v[i]);
        }
    }
    TU_CHECK(fa_heap_check(h));
    fa_heap_destroy(h);
}
END_TEST

START_TEST(default_heap_cannot_be_destroyed)
{
    fa_heap *d = fa_heap_default();
    TU_NOT_NULL(d);
    TU_PTR_EQ(fa_heap_default(), d);
    fa_set_error_handler(tu_record_handler);
    tu_errors_reset();
    fa_heap_destroy(d);
    TU_INT_EQ(tu_err.count, 1);
    TU_INT_EQ(tu_err.kind, FA_ERR_BAD_POOL);
    void *p = fa_malloc(10); /* still there */
    TU_NOT_NULL(p);
    TU_PTR_EQ(fa_heap_of(p), d);
    fa_free(p);
    fa_set_error_handler(NULL);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Checked mode */

START_TEST(checked_heap_sees_misuse)
{
    fa_heap_config cfg = {.flags = FA_CHECKED, .name = "chk"};
    fa_heap *h = tu_heap_create_ok(&cfg);
    fa_set_error_handler(tu_record_handler);

    tu_errors_reset();
    char *p = fa_heap_malloc(h, 100);
    fa_free(p);
    fa_free(p);
    TU_INT_EQ(tu_err.count, 1);
    TU_INT_EQ(tu_err.kind, FA_ERR_DOUBLE_FREE);
    TU_STR_EQ(tu_err.pool, "chk/112");

    tu_errors_reset();
    p = fa_heap_malloc(h, 100);
    fa_free(p + 16);
    TU_INT_EQ(tu_err.kind, FA_ERR_INTERIOR);
    fa_free_sized(p, 1000); /* above its class */
    TU_INT_EQ(tu_err.count, 2);
    TU_INT_EQ(tu_err.kind, FA_ERR_FOREIGN);
    fa_free_sized(p, 40); /* a class under half of its */
    TU_INT_EQ(tu_err.count, 3);
    fa_free_sized(p, 97); /* the same class: accepted */
    TU_INT_EQ(tu_err.count, 3);
    p = fa_heap_malloc(h, 100);
    fa_free_sized(p, 60); /* as after fa_realloc(p, 60) in place */
    TU_INT_EQ(tu_err.count, 3);

    /* Pointers that no heap holds are reported before they are read. */
    tu_errors_reset();
    int on_stack;
    fa_free(&on_stack);
    void *m = malloc(64);
    fa_free(m);
    free(m);
    TU_INT_EQ(tu_err.count, 2);
    TU_INT_EQ(tu_err.kind, FA_ERR_FOREIGN);
    TU_EQ(fa_usable_size(&on_stack), 0);
    TU_NULL(fa_heap_of(&on_stack));

    /* Large objects: an interior pointer, a wrong size, a double free. */
    tu_errors_reset();
    char *big = fa_heap_malloc(h, 100000);
    fa_free(big + 64);
    TU_INT_EQ(tu_err.kind, FA_ERR_INTERIOR);
    fa_free_sized(big, 99999);
    TU_INT_EQ(tu_err.kind, FA_ERR_FOREIGN);
    TU_INT_EQ(tu_err.count, 2);
    fa_free_sized(big, 100000);
    fa_free(big);
    TU_INT_EQ(tu_err.count, 3);
    TU_INT_EQ(tu_err.kind, FA_ERR_FOREIGN);

    /* A write to a freed object is seen when it is handed out again. */
    tu_errors_reset();
    p = fa_heap_malloc(h, 48);
    fa_free(p);
    tu_open_freed(p, 48);
    p[20] = 1;
    char *again = fa_heap_malloc(h, 48);
    TU_PTR_EQ(again, p);
    TU_INT_EQ(tu_err.kind, FA_ERR_WRITE_AFTER_FREE);
    fa_free(again);

    fa_set_error_handler(NULL);
    TU_CHECK(fa_heap_check(h));
    fa_heap_destroy(h);
}
END_TEST

/* The default handler aborts, naming the heap's class. */
START_TEST(checked_double_free_aborts)
{
    fa_heap_config cfg = {.flags = FA_CHECKED, .name = "dies"};
    fa_heap *h = tu_heap_create_ok(&cfg);
    void *p = fa_heap_malloc(h, 24);
    fa_free(p);
    fa_free(p);
}
END_TEST

/* A thread's pool of a class takes the modes of its heap, not of the
 * environment when the thread first uses the class: a class takes empty
 * chunks from its siblings, and an untracked pool would carve a chunk a
 * tracked one left poisoned (ASan; this test fails there without it). */
START_TEST(late_classes_keep_the_heap_modes)
{
    fa_heap *h = fa_heap_create(NULL);
    TU_ASSERT(h != NULL, "fa_heap_create failed");
    enum { N = 20000 };
    void **v = tu_xmalloc(N * sizeof *v);
    for (size_t i = 0; i < N; i++) {
        v[i] = fa_heap_malloc(h, 64);
        TU_ASSERT(v[i] != NULL, "malloc failed");
    }
    for (size_t i = 0; i < N; i++) {
        fa_free(v[i]);
    }
    setenv("FIXALLOC_TRACK", "0", 1);
    for (size_t i = 0; i < N; i++) {
        v[i] = fa_heap_malloc(h, 128);
        TU_ASSERT(v[i] != NULL, "malloc failed");
        memset(v[i], 0xab, 128);
    }
    for (size_t i = 0; i < N; i++) {
        fa_free(v[i]);
    }
    unsetenv("FIXALLOC_TRACK");
    free(v);
    TU_CHECK(fa_heap_check(h));
    fa_heap_destroy(h);
}
END_TEST

/* FIXALLOC_CHECK=1 makes the default heap checked. */
START_TEST(env_makes_default_heap_checked)
{
    setenv("FIXALLOC_CHECK", "1", 1);
    fa_set_error_handler(tu_record_handler);
    tu_errors_reset();
    void *p = fa_malloc(200);
    fa_free(p);
    fa_free(p);
    TU_INT_EQ(tu_err.count, 1);
    TU_INT_EQ(tu_err.kind, FA_ERR_DOUBLE_FREE);
    TU_STR_EQ(tu_err.pool, "default/208");
    fa_set_error_handler(NULL);
    unsetenv("FIXALLOC_CHECK");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Threads: objects of random sizes allocated by one thread and freed by
 * another through a shared exchange, on the default heap and on a heap of
 * their own; threads come and go. */

#define XCHG_CAP 2048

typedef struct xstress {
    fa_heap *h; /* NULL: the default heap */
    tu_exchange x;
    atomic_uint_fast64_t next_id;
    size_t ops;
} xstress;

static void x_verify_free(tu_item o, bool sized)
{
    if (tu_verify(o.p, 0, o.n, o.id) != o.n) {
        tu_thread_fail("object %p (id %llu, %zu bytes) lost its stamp", o.p,
                       (unsigned long long)o.id, o.n);
    }
    if (sized) {
        fa_free_sized(o.p, o.n);
    } else {
        fa_free(o.p);
    }
}

static void *x_worker(void *arg)
{
    xstress *st = arg;
    tu_rng rng;
    tu_rng_seed(&rng, atomic_fetch_add(&st->next_id, 1000000));
    for (size_t i = 0; i < st->ops; i++) {
        if (tu_rng_below(&rng, 100) < 55) {
            size_t n = tu_rng_below(&rng, 4) == 0
                           ? tu_random_size(&rng, 500)
                           : 16 + tu_rng_below(&rng, 1009);
            tu_item o = {.n = n, .id = atomic_fetch_add(&st->next_id, 1)};
            o.p = st->h != NULL ? fa_heap_malloc(st->h, n) : fa_malloc(n);
            if (o.p == NULL) {
                tu_thread_fail("allocation of %zu failed: errno %d", n, errno);
                break;
            }
            tu_stamp(o.p, n, o.id);
            if (!tu_exchange_put(&st->x, o)) {
                x_verify_free(o, false);
            }
        } else {
            tu_item o;
            if (tu_exchange_take(&st->x, &rng, &o)) {
                x_verify_free(o, (o.id & 1) != 0);
            }
        }
    }
    return NULL;
}

START_TEST(threads_free_each_others_objects)
{
    fa_heap *own = _i == 1 ? tu_heap_create_ok(NULL) : NULL;
    xstress *st = calloc(1, sizeof *st);
    TU_NOT_NULL(st);
    st->h = own;
    tu_exchange_init(&st->x, XCHG_CAP);
    st->ops = tu_scaled(60000, 2000);
    size_t waves = 3;
    for (size_t w = 0; w < waves; w++) {
        pthread_t t[4];
        for (int k = 0; k < 4; k++) {
            t[k] = tu_spawn(x_worker, st);
        }
        for (int k = 0; k < 4; k++) {
            tu_join(t[k]);
        }
        tu_check_thread_failures();
    }
    while (st->x.n > 0) {
        x_verify_free(st->x.items[--st->x.n], false);
    }
    tu_check_thread_failures();
    fa_heap *h = own != NULL ? own : fa_heap_default();
    fa_heap_counters s = tu_heap_stats(h);
    TU_EQ(s.live, 0);
    TU_EQ(s.allocs, s.frees);
    TU_EQ(s.large_bytes, 0);
    TU_CHECK(fa_heap_check(h));
    tu_exchange_fini(&st->x);
    free(st);
    if (own != NULL) {
        fa_heap_destroy(own);
    }
}
END_TEST

/* A heap destroyed while another thread still has pools of it: the
 * thread's entries are unbound and its cached objects go with the heap. */
typedef struct parked {
    tu_phase gate;
    fa_heap *h;
} parked;

static void *hold_then_exit(void *arg)
{
    parked *p = arg;
    void *v[300];
    for (int i = 0; i < 300; i++) {
        v[i] = fa_heap_malloc(p->h, (size_t)(i * 7 % 2000));
    }
    for (int i = 0; i < 300; i++) {
        fa_free(v[i]);
    }
    tu_phase_set(&p->gate, 1);
    tu_phase_wait(&p->gate, 2);
    void *q = fa_malloc(50); /* another heap still works */
    fa_free(q);
    return NULL;
}

START_TEST(destroy_while_threads_hold_pools)
{
    tu_source src;
    tu_source_init(&src, NULL);
    fa_heap_config cfg = {.source = &src.source};
    parked p = {TU_PHASE_INIT, tu_heap_create_ok(&cfg)};
    pthread_t t = tu_spawn(hold_then_exit, &p);
    tu_phase_wait(&p.gate, 1);
    /* The other thread's pools keep chunks (its counts are as of its last
     * slow path). */
    TU_GT(tu_heap_stats(p.h).chunk_bytes, 0);
    fa_heap_destroy(p.h);
    TU_EQ(src.maps, src.unmaps);
    tu_phase_set(&p.gate, 2);
    tu_join(t);
    tu_source_fini(&src);
}
END_TEST

/* Fork: the child allocates and frees, objects of the parent included. */
START_TEST(fork_child_uses_the_heap)
{
    void *kept[100];
    for (int i = 0; i < 100; i++) {
        kept[i] = fa_malloc((size_t)i * 40 + (i % 10 == 0 ? 50000 : 0));
    }
    fflush(NULL);
    pid_t pid = fork();
    TU_INT_GE(pid, 0);
    if (pid == 0) {
        for (int i = 0; i < 100; i++) {
            fa_free(kept[i]);
        }
        for (int i = 0; i < 1000; i++) {
            void *q = fa_malloc((size_t)i * 37 % 40000);
            if (q == NULL) {
                _exit(1);
            }
            fa_free(q);
        }
        _exit(fa_heap_check(fa_heap_default()) ? 0 : 2);
    }
    int status = 0;
    TU_INT_EQ(waitpid(pid, &status, 0), pid);
    TU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "child failed: status %#x", status);
    for (int i = 0; i < 100; i++) {
        fa_free(kept[i]);
    }
}
END_TEST

/* Fork under load: two threads hammer every path of the default heap
 * (small and large objects handed between them, realloc, trim, a heap of
 * their own created and destroyed, short threads that exit) while the
 * main thread forks again and again; every child finds the heap
 * consistent, allocates from every class and a large block, and passes
 * the check. */
typedef struct heap_hammer {
    atomic_bool stop;
    _Atomic(void *) slot[64]; /* objects handed between the threads */
} heap_hammer;

static void *short_thread(void *arg)
{
    (void)arg;
    void *p = fa_malloc(100);
    fa_free(p);
    return NULL;
}

static void hammer_side_paths(tu_rng *rng)
{
    switch (tu_rng_below(rng, 64)) {
    case 0: fa_heap_trim(fa_heap_default()); break;
    case 1: {
        fa_heap *own = fa_heap_create(NULL);
        if (own != NULL) {
            void *p = fa_heap_malloc(own, 5000);
            fa_free(p);
            fa_heap_destroy(own);
        }
        break;
    }
    case 2: {
        pthread_t t;
        if (pthread_create(&t, NULL, short_thread, NULL) == 0) {
            pthread_join(t, NULL);
        }
        break;
    }
    default: break;
    }
}

static void *heap_hammer_thread(void *arg)
{
    heap_hammer *h = arg;
    tu_rng rng;
    tu_rng_seed(&rng, (uint64_t)(uintptr_t)&rng);
    void *mine[32] = {NULL};
    while (!atomic_load(&h->stop)) {
        size_t k = tu_rng_below(&rng, 32);
        if (mine[k] != NULL) {
            void *old = atomic_exchange(&h->slot[k * 2 % 64], mine[k]);
            fa_free(old);
        }
        size_t n = tu_random_size(&rng, 16);
        mine[k] = fa_malloc(n);
        if (mine[k] == NULL) {
            tu_thread_fail("malloc(%zu) failed", n);
            break;
        }
        memset(mine[k], 0x5a, n < 64 ? n : 64);
        if (tu_rng_below(&rng, 8) == 0) {
            void *r = fa_realloc(mine[k], n * 2 + 1);
            if (r == NULL) {
                tu_thread_fail("realloc failed");
                break;
            }
            mine[k] = r;
        }
        hammer_side_paths(&rng);
    }
    for (int k = 0; k < 32; k++) {
        fa_free(mine[k]);
    }
    return NULL;
}

static int heap_child_after_fork(void *arg)
{
    (void)arg;
    fa_heap *h = fa_heap_default();
    if (!fa_heap_check(h)) {
        return 2;
    }
    void *v[64];
    for (int i = 0; i < 64; i++) {
        size_t n = i == 63 ? 300000 : (size_t)1 << (i % 15);
        v[i] = fa_malloc(n);
        if (v[i] == NULL) {
            return 1;
        }
        memset(v[i], 0x33, n < 256 ? n : 256);
    }
    for (int i = 0; i < 64; i++) {
        fa_free(v[i]);
    }
    if (!fa_heap_check(h)) {
        return 3;
    }
    fa_heap_trim(h);
    return fa_heap_check(h) ? 0 : 4;
}

START_TEST(heap_fork_under_load)
{
    if (tu_under_valgrind()) {
        return; /* as fork_under_load in test_cache_fork.c */
    }
    heap_hammer *h = calloc(1, sizeof *h);
    TU_NOT_NULL(h);
    pthread_t t[2] = {tu_spawn(heap_hammer_thread, h),
                      tu_spawn(heap_hammer_thread, h)};
    tu_fork_repeatedly((int)tu_scaled(40, 5), heap_child_after_fork, NULL);
    atomic_store(&h->stop, true);
    tu_join(t[0]);
    tu_join(t[1]);
    tu_check_thread_failures();
    for (int k = 0; k < 64; k++) {
        fa_free(atomic_load(&h->slot[k]));
    }
    TU_CHECK(fa_heap_check(fa_heap_default()));
    free(h);
}
END_TEST

/* ------------------------------------------------------------------ */

static Suite *suite(void)
{
    Suite *s = suite_create("heaps");
    TCase *tc;

    tc = tcase_create("heaps");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, heap_create_refused);
    tcase_add_test(tc, too_many_heaps);
    tcase_add_test(tc, destroy_releases_everything);
    tcase_add_test(tc, free_and_trim_give_bytes_back);
    tcase_add_test(tc, stats_are_per_heap);
    tcase_add_test(tc, checked_realloc_of_freed_object);
    tcase_add_test(tc, phase_shift_reuses_chunks);
    tcase_add_test(tc, null_heap_reported);
    tcase_add_test(tc, heap_region_and_realloc_across_heaps);
    tcase_add_test(tc, cap_refuses_with_enomem);
    tcase_add_test(tc, zero_heap_objects_read_as_zeros);
    tcase_add_test(tc, hardened_heap_works);
    tcase_add_test(tc, default_heap_cannot_be_destroyed);
    suite_add_tcase(s, tc);

    tc = tcase_create("checked");
    tcase_add_test(tc, checked_heap_sees_misuse);
    tcase_add_test_raise_signal(tc, checked_double_free_aborts, SIGABRT);
    tcase_add_test(tc, env_makes_default_heap_checked);
    tcase_add_test(tc, late_classes_keep_the_heap_modes);
    suite_add_tcase(s, tc);

    tc = tcase_create("threads");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, threads_free_each_others_objects, 0, 2);
    tcase_add_test(tc, destroy_while_threads_hold_pools);
    if (!TU_TSAN) {
        tcase_add_test(tc, fork_child_uses_the_heap);
        tcase_add_test(tc, heap_fork_under_load);
    }
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite(), false);
}
