/*
 * test_malloc.c - the fa_malloc family on the default heap (fixalloc.h, "The
 * heap"): every call and its edge cases, large objects, realloc, aligned_alloc.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixalloc.h"
#include "test_util.h"

/* ------------------------------------------------------------------ */
/* The malloc family */

START_TEST(malloc_every_small_size)
{
    size_t top = tu_scaled(4200, 600);
    void **v = tu_xmalloc((top + 1) * sizeof *v);
    for (size_t n = 0; n <= top; n++) {
        v[n] = fa_malloc(n);
        TU_ASSERT(v[n] != NULL, "fa_malloc(%zu) failed", n);
        TU_ASSERT((uintptr_t)v[n] % tu_natural_align(n) == 0,
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
    fa_heap_counters s = tu_heap_stats(fa_heap_default());
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
    s = tu_heap_stats(fa_heap_default());
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
    TU_EQ(tu_heap_stats(fa_heap_default()).live, 0);
}
END_TEST

START_TEST(realloc_failure_keeps_object)
{
    /* A heap capped at a few chunks: growth fails, the object stays. */
    fa_heap_config cfg = {.max_bytes = 4 * FA_HEAP_CHUNK, .name = "capped"};
    fa_heap *h = tu_heap_create_ok(&cfg);
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
    TU_EQ(tu_heap_stats(fa_heap_default()).live, 0);
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

static Suite *suite(void)
{
    Suite *s = suite_create("malloc");
    TCase *tc;

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
    return s;
}

int main(void)
{
    return tu_run_suite(suite(), false);
}
