/*
 * test_size_classes.c - the heap's size-class table: its properties (ascending,
 * aligned, the smallest fitting class for every request), and
 * `test_size_classes
 * --table`, which prints the table with its measured waste (the table in
 * docs/design.md, "The heap", is this output).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixalloc.h"
#include "test_util.h"

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
    fa_heap *h = tu_heap_create_ok(NULL);
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
    TU_EQ(tu_heap_stats(h).live, 0);
    TU_CHECK(fa_heap_check(h));
    fa_heap_destroy(h);
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

static Suite *suite(void)
{
    Suite *s = suite_create("size-classes");
    TCase *tc;

    tc = tcase_create("classes");
    tcase_add_test(tc, classes_ascend_and_are_aligned);
    tcase_add_test(tc, every_request_maps_to_smallest_fitting_class);
    tcase_add_test(tc, class_objects_are_aligned);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--table") == 0) {
        print_table();
        return EXIT_SUCCESS;
    }
    return tu_run_suite(suite(), false);
}
