/*
 * test_heap.c - the heap and the fa_malloc family (fixalloc.h, "The
 * heap"): the size-class table's properties, every call of the malloc
 * family and its edge cases, a randomized model over random sizes and
 * alignments with stamped contents, heaps as regions against a counting
 * page source, per-heap stats, checked mode, and threads that free each
 * other's objects. Only the public API is used.
 *
 * `test_heap --table` prints the size-class table with its measured waste
 * (the table in docs/design.md, "The heap", is this output).
 *
 * FIXALLOC_TEST_SCALE (percent) scales the heavy loops; FIXALLOC_TEST_SEED
 * seeds the model.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
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

static fa_heap *heap_ok(const fa_heap_config *cfg)
{
    fa_heap *h = fa_heap_create(cfg);
    TU_ASSERT(h != NULL, "fa_heap_create failed: errno %d", errno);
    return h;
}

static fa_heap_counters hstats(fa_heap *h)
{
    fa_heap_counters s;
    memset(&s, 0xEE, sizeof s);
    fa_heap_stats(h, &s);
    return s;
}

/* The alignment every object of n bytes gets without asking: 16, or 8 for
 * the classes that are not multiples of 16 (8, 24, 40, 56). */
static size_t natural_align(size_t n)
{
    return n <= FA_SMALL_MAX && fa_size_class_size(fa_size_class(n)) % 16 ? 8
                                                                          : 16;
}

static uint64_t seed_for(int k)
{
    const char *e = getenv("FIXALLOC_TEST_SEED");
    if (e != NULL && *e != '\0') {
        return (uint64_t)strtoull(e, NULL, 0) + (uint64_t)k;
    }
    return 0x4EA90000ull + (uint64_t)k;
}

/* A random request: mostly small, spread over every octave, and now and
 * then (1 in `large_in`) a large one up to 300 KiB. */
static size_t random_size(tu_rng *r, size_t large_in)
{
    if (large_in != 0 && tu_rng_below(r, large_in) == 0) {
        return FA_SMALL_MAX + 1 + tu_rng_below(r, 300 * 1024);
    }
    size_t octave = tu_rng_below(r, 16); /* 1 << 0 .. 1 << 15 */
    size_t lo = (size_t)1 << octave;
    size_t n = lo + tu_rng_below(r, lo);
    return n > FA_SMALL_MAX ? FA_SMALL_MAX : (tu_rng_below(r, 50) == 0 ? 0 : n);
}

/* ------------------------------------------------------------------ */
/* The size-class table */

START_TEST(classes_ascend_and_are_aligned)
{
    TU_EQ(fa_size_class_size(0), 8);
    TU_EQ(fa_size_class_size(FA_SIZE_CLASSES - 1), FA_SMALL_MAX);
    TU_EQ(fa_size_class_size(FA_SIZE_CLASSES), 0);
    TU_EQ(fa_size_class_size((size_t)-1), 0);
    for (size_t c = 1; c < FA_SIZE_CLASSES; c++) {
        size_t s = fa_size_class_size(c);
        TU_ASSERT(s > fa_size_class_size(c - 1),
                  "class %zu (%zu) does "
                  "not ascend",
                  c, s);
        TU_ASSERT(s % (s < 64 ? 8 : 16) == 0,
                  "class %zu (%zu) is off "
                  "the grain",
                  c, s);
        /* 8-byte alignment only where no type's size needs 16. */
        if (s % 16 != 0) {
            TU_LE(s, 56);
            TU_GT(fa_size_class_size(c - 1), s - 16);
        }
        TU_EQ(fa_size_class(s), c);
    }
    /* Every power of two from 8 to FA_SMALL_MAX is a class. */
    for (size_t p = 8; p <= FA_SMALL_MAX; p *= 2) {
        TU_EQ(fa_size_class_size(fa_size_class(p)), p);
    }
}
END_TEST

START_TEST(every_request_maps_to_smallest_fitting_class)
{
    TU_EQ(fa_size_class(0), 0);
    for (size_t n = 1; n <= FA_SMALL_MAX; n++) {
        size_t c = fa_size_class(n);
        TU_ASSERT(c < FA_SIZE_CLASSES, "request %zu: class %zu", n, c);
        size_t s = fa_size_class_size(c);
        TU_ASSERT(s >= n, "request %zu in class %zu of %zu", n, c, s);
        TU_ASSERT(c == 0 || fa_size_class_size(c - 1) < n,
                  "request %zu fits the smaller class %zu", n, c - 1);
        TU_ASSERT(fa_good_size(n) == s, "fa_good_size(%zu) = %zu, class %zu", n,
                  fa_good_size(n), s);
        /* Waste: at most 12.5% of the request above 128 bytes, less than
         * the grain below (8 bytes up to 64, 16 above). */
        if (n > 128) {
            TU_ASSERT((s - n) * 8 <= n, "request %zu wastes %zu of %zu", n,
                      s - n, s);
        } else {
            TU_ASSERT(s - n < (n <= 64 ? 8u : 16u),
                      "request %zu wastes %zu of "
                      "%zu",
                      n, s - n, s);
        }
    }
    TU_EQ(fa_size_class(FA_SMALL_MAX + 1), FA_SIZE_CLASSES);
    TU_EQ(fa_size_class((size_t)-1), FA_SIZE_CLASSES);
    TU_GE(fa_good_size(FA_SMALL_MAX + 1), FA_SMALL_MAX + 1);
    TU_EQ(fa_good_size((size_t)-1), 0);
}
END_TEST

/* Every class's objects are aligned to the largest power of two dividing
 * its slot size, as fa_aligned_alloc relies on. */
START_TEST(class_objects_are_aligned)
{
    fa_heap *h = heap_ok(NULL);
    for (size_t c = 0; c < FA_SIZE_CLASSES; c++) {
        size_t s = fa_size_class_size(c);
        size_t a = s & (~s + 1);
        void *v[20];
        for (int i = 0; i < 20; i++) {
            v[i] = fa_heap_malloc(h, s);
            TU_NOT_NULL(v[i]);
            TU_ASSERT((uintptr_t)v[i] % a == 0,
                      "class %zu object %p "
                      "not aligned to %zu",
                      s, v[i], a);
            TU_EQ(fa_usable_size(v[i]), s);
            memset(v[i], 0x5A, s);
        }
        for (int i = 0; i < 20; i++) {
            fa_free(v[i]);
        }
    }
    TU_EQ(hstats(h).live, 0);
    TU_CHECK(fa_heap_check(h));
    fa_heap_destroy(h);
}
END_TEST

/* ------------------------------------------------------------------ */
/* The malloc family */

START_TEST(malloc_every_small_size)
{
    size_t top = tu_scaled(4200, 600);
    void **v = tu_xmalloc((top + 1) * sizeof *v);
    for (size_t n = 0; n <= top; n++) {
        v[n] = fa_malloc(n);
        TU_ASSERT(v[n] != NULL, "fa_malloc(%zu) failed", n);
        TU_ASSERT((uintptr_t)v[n] % natural_align(n) == 0,
                  "fa_malloc(%zu) = %p", n, v[n]);
        TU_ASSERT(fa_usable_size(v[n]) >= n &&
                      fa_usable_size(v[n]) == fa_good_size(n),
                  "usable size of %zu: %zu", n, fa_usable_size(v[n]));
        tu_stamp(v[n], n, n);
    }
    for (size_t n = 0; n <= top; n++) {
        TU_ASSERT(tu_verify(v[n], 0, n, n) == n, "object of %zu lost its stamp",
                  n);
        if (n % 2 == 0) {
            fa_free(v[n]);
        } else {
            fa_free_sized(v[n], n);
        }
    }
    free(v);
    fa_free(NULL);
    fa_free_sized(NULL, 10);
    TU_EQ(fa_usable_size(NULL), 0);
}
END_TEST

START_TEST(malloc_zero_is_unique)
{
    void *a = fa_malloc(0);
    void *b = fa_malloc(0);
    TU_NOT_NULL(a);
    TU_NOT_NULL(b);
    TU_PTR_NE(a, b);
    TU_GE(fa_usable_size(a), 0);
    fa_free(a);
    fa_free_sized(b, 0);
}
END_TEST

START_TEST(hot_pair_reuses_the_object)
{
    void *p = fa_malloc(64);
    fa_free(p);
    for (int i = 0; i < 10000; i++) {
        void *q = fa_malloc(64);
        TU_ASSERT(q == p, "pair %d: %p, then %p", i, p, q);
        fa_free(q);
    }
}
END_TEST

START_TEST(malloc_refuses_impossible_sizes)
{
    size_t huge[] = {(size_t)-1, (size_t)-1 - 4096, (size_t)1 << 62};
    for (size_t i = 0; i < 3; i++) {
        errno = 0;
        TU_NULL(fa_malloc(huge[i]));
        TU_INT_EQ(errno, ENOMEM);
    }
}
END_TEST

START_TEST(calloc_zeroes_and_checks_overflow)
{
    /* Dirty the objects that calloc will get back. */
    size_t sizes[] = {8, 48, 1000, 32768, 40000, 300000};
    for (size_t k = 0; k < 6; k++) {
        void *p = fa_malloc(sizes[k]);
        memset(p, 0xAB, sizes[k]);
        fa_free(p);
        p = fa_calloc(1, sizes[k]);
        TU_NOT_NULL(p);
        TU_EQ(tu_first_nonzero(p, sizes[k]), sizes[k]);
        fa_free(p);
        p = fa_calloc(sizes[k] / 8, 8);
        TU_NOT_NULL(p);
        TU_EQ(tu_first_nonzero(p, sizes[k]), sizes[k]);
        fa_free(p);
    }
    void *z = fa_calloc(0, 100);
    TU_NOT_NULL(z);
    fa_free(z);
    errno = 0;
    TU_NULL(fa_calloc((size_t)-1, 2));
    TU_INT_EQ(errno, ENOMEM);
    errno = 0;
    TU_NULL(fa_calloc((size_t)1 << 33, (size_t)1 << 33));
    TU_INT_EQ(errno, ENOMEM);
    errno = 0;
    TU_NULL(fa_calloc(3, (size_t)-1 / 2));
    TU_INT_EQ(errno, ENOMEM);
}
END_TEST

START_TEST(large_objects)
{
    size_t sizes[] = {FA_SMALL_MAX + 1, 40000, 100000, 1 << 20, (5 << 20) + 3};
    void *v[5];
    for (size_t k = 0; k < 5; k++) {
        v[k] = fa_malloc(sizes[k]);
        TU_NOT_NULL(v[k]);
        TU_EQ((uintptr_t)v[k] % 16, 0);
        TU_GE(fa_usable_size(v[k]), sizes[k]);
        TU_EQ(fa_usable_size(v[k]), fa_good_size(sizes[k]));
        TU_PTR_EQ(fa_heap_of(v[k]), fa_heap_default());
        tu_stamp(v[k], fa_usable_size(v[k]), k);
    }
    fa_heap_counters s = hstats(fa_heap_default());
    TU_EQ(s.large_live, 5);
    TU_GE(s.large_bytes, 40000 + 100000 + (6 << 20));
    for (size_t k = 0; k < 5; k++) {
        TU_EQ(tu_verify(v[k], 0, fa_usable_size(v[k]), k),
              fa_usable_size(v[k]));
        if (k % 2 == 0) {
            fa_free(v[k]);
        } else {
            fa_free_sized(v[k], sizes[k]);
        }
    }
    s = hstats(fa_heap_default());
    TU_EQ(s.large_live, 0);
    TU_EQ(s.large_bytes, 0);
    TU_EQ(s.large_allocs, 5);
    TU_EQ(s.large_frees, 5);
}
END_TEST

START_TEST(realloc_edge_cases)
{
    /* NULL: a fresh object. */
    char *p = fa_realloc(NULL, 100);
    TU_NOT_NULL(p);
    tu_stamp(p, 100, 1);
    /* Grow within the usable size: in place. */
    size_t u = fa_usable_size(p);
    TU_EQ(u, 112);
    TU_PTR_EQ(fa_realloc(p, u), p);
    /* Shrink a little: in place. */
    TU_PTR_EQ(fa_realloc(p, 60), p);
    TU_EQ(tu_verify(p, 0, 60, 1), 60);
    TU_PTR_EQ(fa_realloc(p, 100), p);
    /* Grow past the class: moved, contents kept. */
    tu_stamp(p, 100, 2);
    char *q = fa_realloc(p, 1000);
    TU_NOT_NULL(q);
    TU_EQ(tu_verify(q, 0, 100, 2), 100);
    /* Shrink to under half: moved to a smaller class. */
    tu_stamp(q, 1000, 3);
    p = fa_realloc(q, 200);
    TU_NOT_NULL(p);
    TU_EQ(fa_usable_size(p), fa_good_size(200));
    TU_EQ(tu_verify(p, 0, 200, 3), 200);
    /* Across the large boundary, up and down. */
    q = fa_realloc(p, 200000);
    TU_NOT_NULL(q);
    TU_EQ(tu_verify(q, 0, 200, 3), 200);
    tu_stamp(q, 200000, 4);
    TU_PTR_EQ(fa_realloc(q, 150000), q); /* large, in place */
    p = fa_realloc(q, 250000);           /* large, moved */
    TU_NOT_NULL(p);
    TU_EQ(tu_verify(p, 0, 150000, 4), 150000);
    q = fa_realloc(p, 5000); /* back to a class */
    TU_NOT_NULL(q);
    TU_EQ(fa_usable_size(q), fa_good_size(5000));
    TU_EQ(tu_verify(q, 0, 5000, 4), 5000);
    /* Size 0: an object of 0 bytes; the old one is freed when moved. */
    p = fa_realloc(q, 0);
    TU_NOT_NULL(p);
    TU_EQ(fa_usable_size(p), fa_good_size(0));
    TU_PTR_EQ(fa_realloc(p, 0), p);
    /* Impossible sizes: NULL, ENOMEM, the object untouched. */
    tu_stamp(p, 8, 5);
    errno = 0;
    TU_NULL(fa_realloc(p, (size_t)-1));
    TU_INT_EQ(errno, ENOMEM);
    TU_EQ(tu_verify(p, 0, 8, 5), 8);
    fa_free(p);
    TU_EQ(hstats(fa_heap_default()).live, 0);
}
END_TEST

START_TEST(realloc_failure_keeps_object)
{
    /* A heap capped at a few chunks: growth fails, the object stays. */
    fa_heap_config cfg = {.max_bytes = 4 * FA_HEAP_CHUNK, .name = "capped"};
    fa_heap *h = heap_ok(&cfg);
    char *p = fa_heap_malloc(h, 1000);
    TU_NOT_NULL(p);
    tu_stamp(p, 1000, 9);
    errno = 0;
    TU_NULL(fa_heap_realloc(h, p, 8 * FA_HEAP_CHUNK));
    TU_INT_EQ(errno, ENOMEM);
    TU_EQ(tu_verify(p, 0, 1000, 9), 1000);
    char *q = fa_heap_realloc(h, p, 2000);
    TU_NOT_NULL(q);
    TU_EQ(tu_verify(q, 0, 1000, 9), 1000);
    fa_free(q);
    fa_heap_destroy(h);
}
END_TEST

START_TEST(aligned_alloc_every_power_of_two)
{
    static const size_t sizes[] = {0, 1, 8, 24, 100, 4000, 5000, 32768, 40000};
    for (size_t a = 1; a <= FA_HEAP_ALIGN_MAX; a *= 2) {
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            size_t n = sizes[k];
            void *p = fa_aligned_alloc(a, n);
            TU_ASSERT(p != NULL, "fa_aligned_alloc(%zu, %zu): errno %d", a, n,
                      errno);
            TU_ASSERT((uintptr_t)p % a == 0,
                      "fa_aligned_alloc(%zu, %zu)"
                      " = %p",
                      a, n, p);
            TU_GE(fa_usable_size(p), n);
            memset(p, 0x3C, n);
            void *q = NULL;
            int saved = errno = 12345;
            TU_INT_EQ(fa_posix_memalign(
                          &q, a < sizeof(void *) ? sizeof(void *) : a, n),
                      0);
            TU_INT_EQ(errno, saved);
            TU_EQ((uintptr_t)q % a, 0);
            memset(q, 0x3D, n);
            fa_free(p);
            fa_free(q);
        }
    }
    TU_EQ(hstats(fa_heap_default()).live, 0);
}
END_TEST

START_TEST(aligned_alloc_refusals)
{
    size_t bad[] = {0, 3, 24, 48, FA_HEAP_ALIGN_MAX * 2, (size_t)1 << 40};
    for (size_t i = 0; i < 6; i++) {
        errno = 0;
        TU_NULL(fa_aligned_alloc(bad[i], 64));
        TU_INT_EQ(errno, EINVAL);
        void *q = (void *)&bad;
        errno = 777;
        TU_INT_EQ(fa_posix_memalign(&q, bad[i], 64), EINVAL);
        TU_PTR_EQ(q, (void *)&bad); /* untouched */
        TU_INT_EQ(errno, 777);
    }
    void *q = NULL;
    TU_INT_EQ(fa_posix_memalign(&q, 4, 64), EINVAL); /* < pointer */
    TU_INT_EQ(fa_posix_memalign(&q, 64, (size_t)-1), ENOMEM);
    errno = 0;
    TU_NULL(fa_aligned_alloc(64, (size_t)-1));
    TU_INT_EQ(errno, ENOMEM);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Heaps: regions, stats, caps, modes */

START_TEST(heap_create_refused)
{
    fa_heap_config cfg = {.flags = 0x80000000u};
    errno = 0;
    TU_NULL(fa_heap_create(&cfg));
    TU_INT_EQ(errno, EINVAL);
    fa_source bad = {NULL, NULL, NULL};
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
    hs[n] = heap_ok(NULL);
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
    fa_heap *h = heap_ok(&cfg);
    tu_rng rng;
    tu_rng_seed(&rng, seed_for(1));
    size_t n = tu_scaled(20000, 2000);
    for (size_t i = 0; i < n; i++) {
        void *p = fa_heap_malloc(h, random_size(&rng, 200));
        TU_NOT_NULL(p);
        if (i % 3 == 0) {
            fa_free(p); /* the rest stay live */
        }
    }
    fa_heap_counters s = hstats(h);
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
    fa_heap *h = heap_ok(&cfg);
    tu_rng rng;
    tu_rng_seed(&rng, seed_for(2));
    size_t n = tu_scaled(10000, 1000);
    void **v = tu_xmalloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        v[i] = fa_heap_malloc(h, random_size(&rng, 100));
        TU_NOT_NULL(v[i]);
    }
    for (size_t i = 0; i < n; i++) {
        fa_free(v[i]);
    }
    fa_heap_counters s = hstats(h);
    TU_EQ(s.live, 0);
    TU_EQ(s.large_bytes, 0);
    TU_GT(s.chunk_bytes, 0);
    TU_EQ(s.allocs, n);
    TU_EQ(s.frees, n);
    size_t back = fa_heap_trim(h);
    TU_EQ(back, s.chunk_bytes);
    s = hstats(h);
    TU_EQ(s.bytes_held, 0);
    TU_EQ(s.cached, 0);
    TU_EQ(src.maps, src.unmaps);
    free(v);
    fa_heap_destroy(h);
    tu_source_fini(&src);
}
END_TEST

START_TEST(stats_are_per_heap)
{
    fa_heap_config ca = {.name = "alpha"}, cb = {.name = "beta"};
    fa_heap *a = heap_ok(&ca);
    fa_heap *b = heap_ok(&cb);
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
    fa_heap_counters sa = hstats(a), sb = hstats(b);
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
    TU_EQ(hstats(b).live, 3);
    TU_EQ(hstats(a).live, 11);
    fa_free(m);
    for (int i = 0; i < 10; i++) {
        fa_free(va[i]);
    }
    for (int i = 1; i < 3; i++) {
        fa_free(vb[i]);
    }
    fa_free(big);
    TU_EQ(hstats(a).live, 0);
    TU_EQ(hstats(b).live, 0);
    fa_heap_destroy(a);
    fa_heap_destroy(b);
}
END_TEST

START_TEST(cap_refuses_with_enomem)
{
    fa_heap_config cfg = {.max_bytes = 3 * FA_HEAP_CHUNK};
    fa_heap *h = heap_ok(&cfg);
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
    TU_LE(hstats(h).bytes_held, 3 * FA_HEAP_CHUNK);
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
    fa_heap *h = heap_ok(&cfg);
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
    fa_heap *h = heap_ok(&cfg);
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
    fa_heap *h = heap_ok(&cfg);
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
    fa_heap *h = heap_ok(&cfg);
    void *p = fa_heap_malloc(h, 24);
    fa_free(p);
    fa_free(p);
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
/* The model: random calls of the whole family against a record of what
 * is live, each object stamped with its id and verified on every move. */

typedef struct mobj {
    void *p;
    size_t n;     /* bytes asked for */
    size_t align; /* asked for; 0: malloc's */
    bool sized;   /* fa_free_sized may take it (not aligned_alloc's) */
    uint64_t id;
} mobj;

typedef struct model {
    fa_heap *h; /* NULL: the default heap, through fa_malloc & co. */
    bool zero;  /* FA_ZERO heap */
    mobj *objs;
    size_t n, cap;
    tu_map live; /* pointer -> index + 1 */
    uint64_t next_id;
    tu_rng rng;
} model;

static void *m_malloc(model *m, size_t n)
{
    return m->h != NULL ? fa_heap_malloc(m->h, n) : fa_malloc(n);
}

static void *m_calloc(model *m, size_t k, size_t n)
{
    return m->h != NULL ? fa_heap_calloc(m->h, k, n) : fa_calloc(k, n);
}

static void *m_aligned(model *m, size_t a, size_t n)
{
    return m->h != NULL ? fa_heap_aligned_alloc(m->h, a, n)
                        : fa_aligned_alloc(a, n);
}

static void *m_realloc(model *m, void *p, size_t n)
{
    return m->h != NULL ? fa_heap_realloc(m->h, p, n) : fa_realloc(p, n);
}

static void m_check_new(const model *m, const mobj *o)
{
    size_t a = o->align > natural_align(o->n) ? o->align : natural_align(o->n);
    TU_ASSERT(o->p != NULL, "allocation of %zu (align %zu) failed: errno %d",
              o->n, o->align, errno);
    TU_ASSERT((uintptr_t)o->p % a == 0, "object %p of %zu not aligned to %zu",
              o->p, o->n, a);
    TU_ASSERT(fa_usable_size(o->p) >= o->n, "usable %zu < %zu",
              fa_usable_size(o->p), o->n);
    TU_ASSERT(fa_heap_of(o->p) == (m->h != NULL ? m->h : fa_heap_default()),
              "object %p in the wrong heap", o->p);
}

static void m_add(model *m, mobj o)
{
    m_check_new(m, &o);
    TU_ASSERT(tu_map_put(&m->live, o.p, m->n + 1), "%p handed out twice", o.p);
    tu_stamp(o.p, o.n, o.id);
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 256;
        m->objs = realloc(m->objs, m->cap * sizeof *m->objs);
        TU_NOT_NULL(m->objs);
    }
    m->objs[m->n++] = o;
}

static void m_verify(const mobj *o, size_t upto)
{
    size_t len = upto < o->n ? upto : o->n;
    size_t bad = tu_verify(o->p, 0, len, o->id);
    TU_ASSERT(bad == len, "object %p (id %llu, %zu bytes) changed at byte %zu",
              o->p, (unsigned long long)o->id, o->n, bad);
}

/* Removes object i from the record (not from the heap). */
static mobj m_take(model *m, size_t i)
{
    mobj o = m->objs[i];
    TU_ASSERT(tu_map_del(&m->live, o.p), "object %p was not live", o.p);
    m->objs[i] = m->objs[--m->n];
    if (i < m->n) {
        tu_map_put(&m->live, m->objs[i].p, i + 1);
    }
    return o;
}

static void m_alloc(model *m)
{
    mobj o = {.n = random_size(&m->rng, 100), .id = m->next_id++};
    size_t kind = tu_rng_below(&m->rng, 100);
    if (kind < 60) {
        o.p = m_malloc(m, o.n);
        o.sized = true;
    } else if (kind < 75) {
        size_t k = 1 + tu_rng_below(&m->rng, 8);
        o.n = o.n / k * k;
        o.p = m_calloc(m, k, o.n / k);
        o.sized = true;
        TU_ASSERT(o.p == NULL || tu_first_nonzero(o.p, o.n) == o.n,
                  "calloc'd %p is not zero", o.p);
    } else if (kind < 92) {
        o.align = (size_t)1 << tu_rng_below(&m->rng, 17); /* 1 .. 64 KiB */
        o.p = m_aligned(m, o.align, o.n);
    } else {
        o.p = m_realloc(m, NULL, o.n);
        o.sized = true;
    }
    TU_ASSERT(!m->zero || o.p == NULL || tu_first_nonzero(o.p, o.n) == o.n,
              "FA_ZERO object %p is not zero", o.p);
    m_add(m, o);
}

static void m_free(model *m)
{
    mobj o = m_take(m, tu_rng_below(&m->rng, m->n));
    m_verify(&o, o.n);
    if (o.sized && tu_rng_below(&m->rng, 2) == 0) {
        fa_free_sized(o.p, o.n);
    } else {
        fa_free(o.p);
    }
}

static void m_realloc_one(model *m)
{
    size_t i = tu_rng_below(&m->rng, m->n);
    mobj o = m->objs[i];
    size_t n = tu_rng_below(&m->rng, 4) == 0 ? o.n + tu_rng_below(&m->rng, 64)
                                             : random_size(&m->rng, 60);
    size_t usable = fa_usable_size(o.p);
    void *q = m_realloc(m, o.p, n);
    TU_ASSERT(q != NULL, "realloc(%p, %zu) failed", o.p, n);
    TU_ASSERT(!(n <= usable && fa_good_size(n) > usable / 2 &&
                (uintptr_t)o.p % natural_align(n) == 0) ||
                  q == o.p,
              "realloc of %p (usable %zu) to %zu moved it", o.p, usable, n);
    mobj moved = o;
    moved.p = q;
    m_verify(&moved, n);
    m_take(m, i);
    m_add(m, (mobj){.p = q, .n = n, .sized = true, .id = m->next_id++});
}

static void model_run(fa_heap *h, bool zero, uint64_t seed, size_t steps)
{
    model m;
    memset(&m, 0, sizeof m);
    m.h = h;
    m.zero = zero;
    tu_map_init(&m.live);
    tu_rng_seed(&m.rng, seed);
    for (size_t step = 0; step < steps; step++) {
        size_t r = tu_rng_below(&m.rng, 100);
        /* Grow towards a few thousand live objects, then churn. */
        size_t grow = m.n < 3000 ? 45 : 30;
        if (r < grow || m.n == 0) {
            m_alloc(&m);
        } else if (r < 80) {
            m_free(&m);
        } else if (r < 95) {
            m_realloc_one(&m);
        } else {
            m_verify(&m.objs[tu_rng_below(&m.rng, m.n)], (size_t)-1);
        }
    }
    for (size_t i = 0; i < m.n; i++) {
        m_verify(&m.objs[i], (size_t)-1);
    }
    while (m.n > 0) {
        m_free(&m);
    }
    fa_heap *counted = h != NULL ? h : fa_heap_default();
    fa_heap_counters s = hstats(counted);
    TU_EQ(s.live, 0);
    TU_EQ(s.live_bytes, 0);
    TU_EQ(s.large_bytes, 0);
    TU_EQ(s.allocs, s.frees);
    TU_CHECK(fa_heap_check(counted));
    free(m.objs);
    tu_map_fini(&m.live);
}

/* heap flags; -1: the default heap */
static const int model_heaps[] = {-1, 0, FA_ZERO, FA_HARDENED, FA_CHECKED};
#define N_MODEL_HEAPS (int)(sizeof model_heaps / sizeof model_heaps[0])

START_TEST(model_random)
{
    size_t steps = tu_scaled(40000, 1500);
    uint64_t seed = seed_for(100 + _i);
    if (model_heaps[_i] < 0) {
        model_run(NULL, false, seed, steps);
        return;
    }
    tu_source src;
    tu_source_init(&src, NULL);
    fa_heap_config cfg = {.flags = (unsigned)model_heaps[_i],
                          .source = &src.source,
                          .name = "model"};
    fa_heap *h = heap_ok(&cfg);
    model_run(h, (cfg.flags & FA_ZERO) != 0, seed, steps);
    fa_heap_trim(h);
    TU_EQ(hstats(h).bytes_held, 0);
    fa_heap_destroy(h);
    TU_EQ(src.maps, src.unmaps);
    tu_source_fini(&src);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Threads: objects of random sizes allocated by one thread and freed by
 * another through a shared exchange, on the default heap and on a heap of
 * their own; threads come and go. */

#define XCHG_CAP 2048

typedef struct xobj {
    void *p;
    size_t n;
    uint64_t id;
} xobj;

typedef struct xstress {
    fa_heap *h; /* NULL: the default heap */
    pthread_mutex_t lock;
    xobj slots[XCHG_CAP];
    size_t n;
    atomic_uint_fast64_t next_id;
    size_t ops;
} xstress;

static void x_verify_free(xobj o, bool sized)
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
                           ? random_size(&rng, 500)
                           : 16 + tu_rng_below(&rng, 1009);
            xobj o = {.n = n, .id = atomic_fetch_add(&st->next_id, 1)};
            o.p = st->h != NULL ? fa_heap_malloc(st->h, n) : fa_malloc(n);
            if (o.p == NULL) {
                tu_thread_fail("allocation of %zu failed: errno %d", n, errno);
                break;
            }
            tu_stamp(o.p, n, o.id);
            pthread_mutex_lock(&st->lock);
            bool kept = st->n < XCHG_CAP;
            if (kept) {
                st->slots[st->n++] = o;
            }
            pthread_mutex_unlock(&st->lock);
            if (!kept) {
                x_verify_free(o, false);
            }
        } else {
            xobj o = {0};
            pthread_mutex_lock(&st->lock);
            if (st->n > 0) {
                size_t k = tu_rng_below(&rng, st->n);
                o = st->slots[k];
                st->slots[k] = st->slots[--st->n];
            }
            pthread_mutex_unlock(&st->lock);
            if (o.p != NULL) {
                x_verify_free(o, (o.id & 1) != 0);
            }
        }
    }
    return NULL;
}

START_TEST(threads_free_each_others_objects)
{
    fa_heap *own = _i == 1 ? heap_ok(NULL) : NULL;
    xstress *st = calloc(1, sizeof *st);
    TU_NOT_NULL(st);
    st->h = own;
    pthread_mutex_init(&st->lock, NULL);
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
    while (st->n > 0) {
        x_verify_free(st->slots[--st->n], false);
    }
    tu_check_thread_failures();
    fa_heap *h = own != NULL ? own : fa_heap_default();
    fa_heap_counters s = hstats(h);
    TU_EQ(s.live, 0);
    TU_EQ(s.allocs, s.frees);
    TU_EQ(s.large_bytes, 0);
    TU_CHECK(fa_heap_check(h));
    pthread_mutex_destroy(&st->lock);
    free(st);
    if (own != NULL) {
        fa_heap_destroy(own);
    }
}
END_TEST

/* A heap destroyed while another thread still holds magazines of it: the
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

START_TEST(destroy_while_threads_hold_magazines)
{
    tu_source src;
    tu_source_init(&src, NULL);
    fa_heap_config cfg = {.source = &src.source};
    parked p = {TU_PHASE_INIT, heap_ok(&cfg)};
    pthread_t t = tu_spawn(hold_then_exit, &p);
    tu_phase_wait(&p.gate, 1);
    TU_GT(hstats(p.h).cached, 0);
    fa_heap_destroy(p.h);
    TU_EQ(src.maps, src.unmaps);
    tu_phase_set(&p.gate, 2);
    tu_join(t);
    tu_source_fini(&src);
}
END_TEST

/* ThreadSanitizer's deadlock detector follows at most 64 mutexes held at
 * once, and the fork handler holds every cache's depot lock (64 for the
 * default heap alone): under TSan the fork test is left out. */
#if defined(__SANITIZE_THREAD__)
#define TSAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TSAN_BUILD 1
#endif
#endif
#ifndef TSAN_BUILD
#define TSAN_BUILD 0
#endif

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

/* ------------------------------------------------------------------ */
/* The size-class table, for docs/design.md */

static void print_table(void)
{
    printf("| octave | classes (slot bytes) | worst waste |\n"
           "| --- | --- | --- |\n");
    size_t c = 0;
    double worst_all = 0;
    size_t worst_n = 0, worst_s = 0;
    for (size_t lo = 0; lo < FA_SMALL_MAX; lo = lo == 0 ? 128 : lo * 2) {
        size_t hi = lo == 0 ? 128 : lo * 2;
        double worst = 0;
        size_t wn = 0, ws = 0;
        printf("| %zu - %zu |", lo == 0 ? (size_t)1 : lo + 1, hi);
        for (; c < FA_SIZE_CLASSES && fa_size_class_size(c) <= hi; c++) {
            printf(" %zu", fa_size_class_size(c));
        }
        for (size_t n = lo + 1; n <= hi; n++) {
            size_t s = fa_size_class_size(fa_size_class(n));
            double w = (double)(s - n) / (double)n;
            if (n > 128 && w > worst) {
                worst = w, wn = n, ws = s;
            }
        }
        if (lo == 0) {
            printf(" | under 8 bytes up to 64, under 16 above |\n");
        } else {
            printf(" | %.2f%% (%zu in %zu) |\n", 100 * worst, wn, ws);
        }
        if (worst > worst_all) {
            worst_all = worst, worst_n = wn, worst_s = ws;
        }
    }
    size_t small8 = 0, small16 = 0;
    for (size_t n = 1; n <= 128; n++) {
        size_t w = fa_size_class_size(fa_size_class(n)) - n;
        if (n <= 64 && w > small8) {
            small8 = w;
        } else if (n > 64 && w > small16) {
            small16 = w;
        }
    }
    printf("\n%d classes; worst waste above 128 bytes: %.2f%% of the request "
           "(%zu bytes in the class of %zu); up to 64 bytes: at most %zu "
           "bytes; from 65 to 128: at most %zu bytes.\n",
           FA_SIZE_CLASSES, 100 * worst_all, worst_n, worst_s, small8, small16);
    printf("Slots per %zu KiB chunk: from %zu (class %zu) to %zu (class %zu); "
           "the worst chunk tail: ",
           FA_HEAP_CHUNK / 1024, (FA_HEAP_CHUNK - 64) / FA_SMALL_MAX,
           FA_SMALL_MAX, (FA_HEAP_CHUNK - 64) / 8, (size_t)8);
    double tail = 0;
    size_t tail_s = 0;
    for (size_t k = 0; k < FA_SIZE_CLASSES; k++) {
        size_t s = fa_size_class_size(k);
        double t = (double)((FA_HEAP_CHUNK - 64) % s + 64) / FA_HEAP_CHUNK;
        if (t > tail) {
            tail = t, tail_s = s;
        }
    }
    printf("%.1f%% (class %zu, never touched: address space only).\n",
           100 * tail, tail_s);
}

/* ------------------------------------------------------------------ */

static Suite *heap_suite(void)
{
    Suite *s = suite_create("heap");
    TCase *tc = tcase_create("classes");
    tcase_add_test(tc, classes_ascend_and_are_aligned);
    tcase_add_test(tc, every_request_maps_to_smallest_fitting_class);
    tcase_add_test(tc, class_objects_are_aligned);
    suite_add_tcase(s, tc);

    tc = tcase_create("api");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, malloc_every_small_size);
    tcase_add_test(tc, malloc_zero_is_unique);
    tcase_add_test(tc, hot_pair_reuses_the_object);
    tcase_add_test(tc, malloc_refuses_impossible_sizes);
    tcase_add_test(tc, calloc_zeroes_and_checks_overflow);
    tcase_add_test(tc, large_objects);
    tcase_add_test(tc, realloc_edge_cases);
    tcase_add_test(tc, realloc_failure_keeps_object);
    tcase_add_test(tc, aligned_alloc_every_power_of_two);
    tcase_add_test(tc, aligned_alloc_refusals);
    suite_add_tcase(s, tc);

    tc = tcase_create("heaps");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, heap_create_refused);
    tcase_add_test(tc, too_many_heaps);
    tcase_add_test(tc, destroy_releases_everything);
    tcase_add_test(tc, free_and_trim_give_bytes_back);
    tcase_add_test(tc, stats_are_per_heap);
    tcase_add_test(tc, cap_refuses_with_enomem);
    tcase_add_test(tc, zero_heap_objects_read_as_zeros);
    tcase_add_test(tc, hardened_heap_works);
    tcase_add_test(tc, default_heap_cannot_be_destroyed);
    suite_add_tcase(s, tc);

    tc = tcase_create("checked");
    tcase_add_test(tc, checked_heap_sees_misuse);
    tcase_add_test_raise_signal(tc, checked_double_free_aborts, SIGABRT);
    tcase_add_test(tc, env_makes_default_heap_checked);
    suite_add_tcase(s, tc);

    tc = tcase_create("model");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, model_random, 0, N_MODEL_HEAPS);
    suite_add_tcase(s, tc);

    tc = tcase_create("threads");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, threads_free_each_others_objects, 0, 2);
    tcase_add_test(tc, destroy_while_threads_hold_magazines);
    if (!TSAN_BUILD) {
        tcase_add_test(tc, fork_child_uses_the_heap);
    }
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--table") == 0) {
        print_table();
        return EXIT_SUCCESS;
    }
    unsetenv("FIXALLOC_CHECK"); /* the tests choose their modes */
    SRunner *sr = srunner_create(heap_suite());
    if (getenv("CK_FORK") == NULL) { /* CK_FORK=no: one process, for gdb */
        srunner_set_fork_status(sr, CK_FORK);
    }
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
