/*
 * test_reports.c - every row of the README's misuse table, provoked as it
 * says, and the report it promises: kind, object, name and detail, word
 * for word (the parts that vary, numbers and addresses, as a prefix).
 * A row of that table with no test here is a promise nobody checks.
 */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fixalloc.h"
#include "test_util.h"

/* The one report a misuse made, as the README's row states it. */
static void expect_report(fa_error_kind kind, const char *object,
                          const char *name, const char *detail)
{
    TU_INT_EQ(tu_err.count, 1);
    TU_STR_EQ(fa_error_kind_name(tu_err.kind), fa_error_kind_name(kind));
    TU_STR_EQ(tu_err.object, object);
    TU_STR_EQ(tu_err.pool, name);
    TU_STR_EQ(tu_err.detail, detail);
}

/* The same, for a detail whose end varies (numbers, addresses). */
static void expect_report_prefix(fa_error_kind kind, const char *object,
                                 const char *name, const char *prefix)
{
    TU_INT_EQ(tu_err.count, 1);
    TU_INT_EQ(tu_err.kind, kind);
    TU_STR_EQ(tu_err.object, object);
    TU_STR_EQ(tu_err.pool, name);
    TU_ASSERT(strncmp(tu_err.detail, prefix, strlen(prefix)) == 0,
              "detail '%s' does not start with '%s'", tu_err.detail, prefix);
}

static fa_pool pool;
static bool pool_live; /* the teardown destroys it */

static void pool_teardown(void)
{
    if (pool_live) {
        pool_live = false;
        fa_pool_destroy(&pool);
    }
}

static void pool_init_ok(unsigned flags, const char *name)
{
    fa_config cfg = tu_config(64);
    cfg.chunk_size = 4096;
    cfg.flags = flags;
    cfg.name = name;
    TU_INT_EQ(fa_pool_init(&pool, &cfg), 0);
    pool_live = true;
}

/* An object of the pool's first chunk once a second chunk is current:
 * frees into it leave the fast path, where the always-on checks run. */
static void *object_of_an_old_chunk(void)
{
    void *first = fa_pool_alloc(&pool);
    TU_NOT_NULL(first);
    size_t per = tu_pool_stats(&pool).slots_per_chunk;
    for (size_t i = 1; i <= per; i++) {
        TU_NOT_NULL(fa_pool_alloc(&pool));
    }
    TU_EQ(tu_pool_stats(&pool).chunks, 2);
    return first;
}

START_TEST(double_free_checked)
{
    pool_init_ok(FA_CHECKED, "rep");
    void *a = fa_pool_alloc(&pool);
    void *b = fa_pool_alloc(&pool);
    fa_pool_free(&pool, a);
    fa_pool_free(&pool, b); /* a is no longer the list's head */
    tu_errors_install();
    fa_pool_free(&pool, a);
    expect_report(FA_ERR_DOUBLE_FREE, "pool", "rep",
                  "the object is already free");
}
END_TEST

START_TEST(double_free_always_at_the_head)
{
    pool_init_ok(0, "rep");
    void *a = object_of_an_old_chunk();
    fa_pool_free(&pool, a);
    tu_errors_install();
    fa_pool_free(&pool, a);
    expect_report(FA_ERR_DOUBLE_FREE, "pool", "rep",
                  "the slot is not allocated");
}
END_TEST

START_TEST(foreign_pointer)
{
    fa_pool other;
    fa_config cfg = tu_config(64);
    cfg.chunk_size = 4096;
    TU_INT_EQ(fa_pool_init(&other, &cfg), 0);
    void *x = fa_pool_alloc(&other);
    pool_init_ok(0, "rep");
    (void)object_of_an_old_chunk();
    tu_errors_install();
    fa_pool_free(&pool, x);
    expect_report(FA_ERR_FOREIGN, "pool", "rep",
                  "no chunk of this pool holds it");
    fa_pool_destroy(&other);
}
END_TEST

START_TEST(pointer_into_a_chunk_header)
{
    pool_init_ok(0, "rep");
    char *a = object_of_an_old_chunk();
    char *header = (char *)((uintptr_t)a & ~(uintptr_t)(4096 - 1));
    tu_errors_install();
    fa_pool_free(&pool, header + 16);
    expect_report(FA_ERR_FOREIGN, "pool", "rep",
                  "it points into a chunk header");
}
END_TEST

START_TEST(interior_pointer)
{
    pool_init_ok(0, "rep");
    char *a = object_of_an_old_chunk();
    tu_errors_install();
    fa_pool_free(&pool, a + 8);
    expect_report(FA_ERR_INTERIOR, "pool", "rep", "it points inside a slot");
}
END_TEST

START_TEST(write_after_free_checked)
{
    pool_init_ok(FA_CHECKED, "rep");
    unsigned char *a = fa_pool_alloc(&pool);
    fa_pool_free(&pool, a);
    tu_open_freed(a, 64);
    a[9] = 0x41;
    tu_errors_install();
    (void)fa_pool_alloc(&pool);
    expect_report(FA_ERR_WRITE_AFTER_FREE, "pool", "rep",
                  "byte 9 of the object changed while it was free "
                  "(0x41, expected 0xdf)");
}
END_TEST

START_TEST(corrupted_link_hardened)
{
    pool_init_ok(FA_HARDENED, "rep");
    void *a = fa_pool_alloc(&pool);
    void *b = fa_pool_alloc(&pool);
    fa_pool_free(&pool, a);
    fa_pool_free(&pool, b); /* b's link now leads to a */
    tu_open_freed(b, sizeof(void *));
    memset(b, 0x41, sizeof(void *));
    tu_errors_install();
    (void)fa_pool_alloc(&pool);
    expect_report(FA_ERR_CORRUPT, "pool", "rep",
                  "the free-list link in this free object was overwritten");
}
END_TEST

START_TEST(leak_at_destroy_checked)
{
    pool_init_ok(FA_CHECKED, "rep");
    TU_NOT_NULL(fa_pool_alloc(&pool));
    TU_NOT_NULL(fa_pool_alloc(&pool));
    tu_errors_install();
    pool_live = false;
    fa_pool_destroy(&pool);
    expect_report_prefix(FA_ERR_LEAK, "pool", "rep",
                         "2 objects still live at destroy, the first at 0x");
}
END_TEST

START_TEST(pool_not_initialised)
{
    fa_pool zero;
    memset(&zero, 0, sizeof zero);
    tu_errors_install();
    errno = 0;
    TU_NULL(fa_pool_alloc(&zero));
    TU_INT_EQ(errno, EINVAL);
    expect_report(FA_ERR_BAD_POOL, "pool", "unnamed",
                  "the pool is not initialised");
}
END_TEST

START_TEST(cache_not_created)
{
    tu_errors_install();
    TU_NULL(fa_cache_alloc(NULL));
    expect_report(FA_ERR_BAD_POOL, "cache", "unnamed",
                  "the cache is not created, or destroyed");
}
END_TEST

START_TEST(heap_not_created)
{
    tu_errors_install();
    TU_NULL(fa_heap_malloc(NULL, 10));
    expect_report(FA_ERR_BAD_POOL, "heap", "unnamed",
                  "the heap is not created, or destroyed");
}
END_TEST

START_TEST(default_heap_destroy)
{
    fa_heap *h = fa_heap_default();
    TU_NOT_NULL(h);
    tu_errors_install();
    fa_heap_destroy(h);
    expect_report(FA_ERR_BAD_POOL, "heap", "default",
                  "the default heap cannot be destroyed");
    void *p = fa_malloc(10); /* still there */
    TU_NOT_NULL(p);
    fa_free(p);
}
END_TEST

static fa_heap *checked_heap(void)
{
    fa_heap_config cfg = {.flags = FA_CHECKED, .name = "rep"};
    fa_heap *h = fa_heap_create(&cfg);
    TU_NOT_NULL(h);
    return h;
}

START_TEST(free_of_a_pointer_no_heap_holds)
{
    fa_heap *h = checked_heap();
    static char outside[64];
    tu_errors_install();
    fa_free(outside + 16);
    expect_report(FA_ERR_FOREIGN, "heap", "unnamed",
                  "no heap holds it (freed already, or never a heap's)");
    fa_heap_destroy(h);
}
END_TEST

START_TEST(pointer_inside_a_large_object)
{
    fa_heap *h = checked_heap();
    char *p = fa_heap_malloc(h, 100000);
    TU_NOT_NULL(p);
    tu_errors_install();
    fa_free(p + 16);
    expect_report(FA_ERR_INTERIOR, "heap", "rep",
                  "it points inside a large object");
    fa_free(p);
    fa_heap_destroy(h);
}
END_TEST

START_TEST(free_sized_with_a_wrong_size)
{
    fa_heap *h = checked_heap();
    void *p = fa_heap_malloc(h, 100);
    TU_NOT_NULL(p);
    tu_errors_install();
    fa_free_sized(p, 5000);
    expect_report(FA_ERR_FOREIGN, "heap", "rep",
                  "fa_free_sized: the size is not the one the object was "
                  "allocated with");
    fa_free_sized(p, 100);
    fa_heap_destroy(h);
}
END_TEST

static Suite *reports_suite(void)
{
    Suite *s = suite_create("reports");
    TCase *tc = tcase_create("readme-table");
    tcase_add_checked_fixture(tc, NULL, pool_teardown);
    tcase_add_test(tc, double_free_checked);
    tcase_add_test(tc, double_free_always_at_the_head);
    tcase_add_test(tc, foreign_pointer);
    tcase_add_test(tc, pointer_into_a_chunk_header);
    tcase_add_test(tc, interior_pointer);
    tcase_add_test(tc, write_after_free_checked);
    tcase_add_test(tc, corrupted_link_hardened);
    tcase_add_test(tc, leak_at_destroy_checked);
    tcase_add_test(tc, pool_not_initialised);
    tcase_add_test(tc, cache_not_created);
    tcase_add_test(tc, heap_not_created);
    tcase_add_test(tc, default_heap_destroy);
    tcase_add_test(tc, free_of_a_pointer_no_heap_holds);
    tcase_add_test(tc, pointer_inside_a_large_object);
    tcase_add_test(tc, free_sized_with_a_wrong_size);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(reports_suite(), true);
}
