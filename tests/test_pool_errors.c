/*
 * test_pool_errors.c - fa_pool misuse under an error handler that returns:
 * error kinds, handler chaining, foreign and interior frees, fa_pool_check on a
 * corrupted free list.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixalloc.h"
#include "test_util.h"

/* ------------------------------------------------------------------ */
/* Errors */

START_TEST(error_kind_names)
{
    const char *names[FA_ERR_BAD_POOL + 1] = {NULL};
    for (int k = FA_ERR_FOREIGN; k <= FA_ERR_BAD_POOL; k++) {
        names[k] = fa_error_kind_name((fa_error_kind)k);
        TU_CHECK(names[k]);
        TU_GT(strlen(names[k]), 0);
        for (int j = FA_ERR_FOREIGN; j < k; j++) {
            TU_ASSERT(strcmp(names[j], names[k]) != 0,
                      "kinds %d and %d are both named '%s'", j, k, names[k]);
        }
    }
    TU_STR_EQ(fa_error_kind_name(FA_ERR_DOUBLE_FREE), "double free");
}
END_TEST

static void other_handler(const fa_error *err)
{
    (void)err;
}

START_TEST(error_handler_returns_previous)
{
    fa_error_handler h0 = fa_set_error_handler(tu_record_handler);
    TU_CHECK(fa_set_error_handler(other_handler) == tu_record_handler);
    TU_CHECK(fa_set_error_handler(NULL) == other_handler);
    /* NULL restored the default: it reads back as the initial handler. */
    TU_CHECK(fa_set_error_handler(tu_record_handler) == h0);
    TU_CHECK(fa_set_error_handler(h0) == tu_record_handler);
}
END_TEST

START_TEST(error_foreign_free_handled)
{
    fa_error_handler old = tu_errors_install();
    fa_config ca = tu_config(64);
    ca.name = "pool-A";
    fa_config cb = tu_config(64);
    cb.name = "pool-B";
    fa_pool a, b;
    tu_pool_init_ok(&a, &ca);
    tu_pool_init_ok(&b, &cb);

    /* B holds no chunk yet. */
    void *x = fa_pool_alloc(&a);
    tu_stamp(x, 64, 7);
    fa_pool_free(&b, x);
    TU_INT_EQ(tu_err.count, 1);
    TU_INT_EQ(tu_err.kind, FA_ERR_FOREIGN);
    TU_STR_EQ(tu_err.pool, "pool-B");
    TU_PTR_EQ(tu_err.addr, x);
    TU_CHECK(!tu_err.detail_was_null);

    /* B holds chunks of its own. */
    void *y[3];
    tu_pool_alloc_n(&b, y, 3);
    fa_stats before = tu_pool_stats(&b);
    tu_errors_reset();
    fa_pool_free(&b, x);
    TU_INT_EQ(tu_err.count, 1);
    TU_INT_EQ(tu_err.kind, FA_ERR_FOREIGN);
    TU_STR_EQ(tu_err.pool, "pool-B");
    TU_PTR_EQ(tu_err.addr, x);

    /* The bad free did nothing. */
    fa_stats after = tu_pool_stats(&b);
    TU_EQ(after.live, before.live);
    TU_EQ(after.frees, before.frees);
    TU_EQ(tu_pool_stats(&a).live, 1);
    TU_EQ(tu_verify(x, 0, 64, 7), 64);
    TU_CHECK(fa_pool_check(&a));
    TU_CHECK(fa_pool_check(&b));
    TU_INT_EQ(tu_err.count, 1);
    void *z = fa_pool_alloc(&b);
    TU_PTR_NE(z, x);
    fa_pool_free(&b, z);

    /* x still belongs to A. */
    fa_pool_free(&a, x);
    TU_INT_EQ(tu_err.count, 1);
    TU_EQ(tu_pool_stats(&a).live, 0);
    fa_pool_free_bulk(&b, y, 3);
    TU_CHECK(fa_pool_check(&a));
    TU_CHECK(fa_pool_check(&b));
    fa_pool_destroy(&a);
    fa_pool_destroy(&b);
    fa_set_error_handler(old);
}
END_TEST

START_TEST(error_interior_free_handled)
{
    fa_error_handler old = tu_errors_install();
    fa_config c = tu_small_config(NULL);
    c.name = "interior";
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    size_t spc = tu_pool_stats(&p).slots_per_chunk;
    void **v = tu_xcalloc_ptrs(spc + 1);
    tu_pool_alloc_n(&p, v, spc + 1); /* chunk 0 full, chunk 1 current */
    static const size_t offs[] = {1, TU_PTR, 16, 63};
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            /* chunk 0 partly free (fewer frees in a row than make a
             * chunk the current one) */
            for (size_t i = 0; i < 5; i++) {
                fa_pool_free(&p, v[i]);
                v[i] = NULL;
            }
        }
        for (size_t k = 0; k < sizeof offs / sizeof offs[0]; k++) {
            char *obj = v[20 + k];
            char *bad = obj + offs[k];
            fa_stats before = tu_pool_stats(&p);
            tu_errors_reset();
            fa_pool_free(&p, bad);
            TU_ASSERT(tu_err.count == 1,
                      "pass %d: freeing %p (+%zu into "
                      "an object) reported %d errors",
                      pass, bad, offs[k], tu_err.count);
            TU_INT_EQ(tu_err.kind, FA_ERR_INTERIOR);
            TU_STR_EQ(tu_err.pool, "interior");
            TU_CHECK(tu_err.addr == bad || tu_err.addr == obj);
            fa_stats after = tu_pool_stats(&p);
            TU_EQ(after.live, before.live);
            TU_EQ(after.frees, before.frees);
            TU_CHECK(fa_pool_check(&p));
        }
    }
    TU_INT_EQ(tu_err.count, 1);
    fa_pool_free_bulk(&p, v, spc + 1);
    TU_EQ(tu_pool_stats(&p).live, 0);
    TU_CHECK(fa_pool_check(&p));
    TU_INT_EQ(tu_err.count, 1);
    fa_pool_destroy(&p);
    free(v);
    fa_set_error_handler(old);
}
END_TEST

START_TEST(error_unnamed_pool)
{
    fa_error_handler old = tu_errors_install();
    fa_config ca = tu_config(64);
    fa_config cb = tu_config(64);
    cb.name = NULL;
    fa_pool a, b;
    tu_pool_init_ok(&a, &ca);
    tu_pool_init_ok(&b, &cb);
    void *x = fa_pool_alloc(&a);
    fa_pool_free(&b, x);
    TU_INT_EQ(tu_err.count, 1);
    TU_STR_EQ(tu_err.pool, "unnamed");
    fa_pool_free(&a, x);
    fa_pool_destroy(&a);
    fa_pool_destroy(&b);
    fa_set_error_handler(old);
}
END_TEST

/* A corrupted free list: fa_pool_check reports it, does not hang. */
static void corrupt_check(int how)
{
    fa_error_handler old = tu_errors_install();
    fa_config c = tu_small_config(NULL);
    c.name = "corrupt";
    /* Left broken: static keeps the pool and its objects reachable (a
     * tracking pool's live objects are heap blocks to Valgrind). */
    static fa_pool p;
    static void *v[8];
    tu_pool_init_ok(&p, &c);
    tu_pool_alloc_n(&p, v, 8);
    TU_CHECK(fa_pool_check(&p));
    TU_INT_EQ(tu_err.count, 0);
    fa_pool_free(&p, v[2]);
    fa_pool_free(&p, v[4]); /* v[4]'s first word links to v[2] */
    void *link;
    if (how == 0) {
        link = v[4]; /* a cycle */
    } else {
        link = (char *)v[6] + 1; /* into the middle of a live object */
    }
    tu_open_freed(v[4], sizeof link);
    memcpy(v[4], &link, sizeof link);
    TU_ASSERT(!fa_pool_check(&p),
              "fa_pool_check passed a corrupted "
              "free list (%s)",
              how == 0 ? "cycle" : "interior link");
    TU_INT_EQ(tu_err.count, 1);
    TU_INT_EQ(tu_err.kind, FA_ERR_CORRUPT);
    TU_STR_EQ(tu_err.pool, "corrupt");
    fa_set_error_handler(old);
    /* The pool is broken: leave it (this test runs in its own process). */
}

/* A destroyed or never-initialised pool is reported by every call, and
 * no call touches memory through it; a free of NULL stays a no-op (its
 * fast path once took NULL as an object of an all-zero pool's chunk). */
START_TEST(bad_pool_every_call)
{
    fa_error_handler old = tu_errors_install();
    fa_pool dead;
    fa_config c = tu_small_config(NULL);
    tu_pool_init_ok(&dead, &c);
    fa_pool_destroy(&dead);
    fa_pool zero;
    memset(&zero, 0, sizeof zero);
    fa_pool *pools[] = {&dead, &zero};
    int x;
    for (int k = 0; k < 2; k++) {
        fa_pool *p = pools[k];
        tu_errors_reset();
        fa_pool_free(p, NULL);
        fa_pool_free_bulk(p, (void *[]){NULL, NULL}, 2);
        TU_INT_EQ(tu_err.count, 0);
        TU_NULL(fa_pool_alloc(p));
        fa_pool_free(p, &x);
        TU_INT_EQ(fa_pool_reserve(p, 10), EINVAL);
        TU_EQ(fa_pool_trim(p), 0);
        fa_pool_walk(p, NULL, NULL);
        fa_stats st;
        fa_pool_stats(p, &st);
        TU_EQ(st.live, 0);
        TU_CHECK(!fa_pool_check(p));
        TU_INT_EQ(tu_err.count, 7);
        TU_INT_EQ(tu_err.kind, FA_ERR_BAD_POOL);
    }
    fa_set_error_handler(old);
}
END_TEST

/* A page source that hands out a misaligned block: reported, and the block
 * goes back to it. */
static void *misaligned_map(void *ctx, size_t size, size_t align, bool *zeroed)
{
    tu_source *src = ctx;
    char *mem = src->inner->map(src->inner->ctx, size * 2, align, zeroed);
    src->maps++;
    return mem != NULL ? mem + 64 : NULL;
}

static void misaligned_unmap(void *ctx, void *mem, size_t size)
{
    tu_source *src = ctx;
    src->unmaps++;
    src->inner->unmap(src->inner->ctx, (char *)mem - 64, size * 2);
}

START_TEST(misaligned_block_given_back)
{
    tu_source src = {0};
    src.inner = fa_os_source();
    fa_source bad = {misaligned_map, misaligned_unmap, &src, NULL};
    fa_config c = tu_small_config(&bad);
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    fa_error_handler old = tu_errors_install();
    errno = 0;
    TU_NULL(fa_pool_alloc(&p));
    TU_INT_EQ(errno, ENOMEM);
    TU_INT_EQ(tu_err.kind, FA_ERR_CORRUPT);
    TU_EQ(src.maps, 1);
    TU_EQ(src.unmaps, 1);
    fa_set_error_handler(old);
    fa_pool_destroy(&p);
}
END_TEST

/* Checked mode: a freed object's link zeroed (a write after free) would
 * end the free list early and drop the rest of it; the pop sees it. */
START_TEST(checked_zeroed_link_reported)
{
    if (tu_under_memory_tool()) {
        return; /* the write after free is theirs to report first */
    }
    fa_config c = tu_small_config(NULL);
    c.flags = FA_CHECKED;
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    void *v[10];
    tu_pool_alloc_n(&p, v, 10);
    for (int i = 9; i >= 0; i--) {
        fa_pool_free(&p, v[i]); /* list: v[0], v[1], ... */
    }
    fa_error_handler old = tu_errors_install();
    memset(v[0], 0, sizeof(void *)); /* the write after free */
    void *a = fa_pool_alloc(&p);
    TU_CHECK(a == NULL || tu_err.count > 0);
    TU_GE(tu_err.count, 1);
    TU_CHECK(tu_err.kind == FA_ERR_CORRUPT ||
             tu_err.kind == FA_ERR_WRITE_AFTER_FREE);
    fa_set_error_handler(old);
}
END_TEST

START_TEST(check_detects_cycle)
{
    corrupt_check(0);
}
END_TEST

START_TEST(check_detects_bad_link)
{
    corrupt_check(1);
}
END_TEST

START_TEST(check_fresh_pools)
{
    fa_error_handler old = tu_errors_install();
    fa_config c = tu_config(8);
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    TU_CHECK(fa_pool_check(&p));
    fa_pool_destroy(&p);
    tu_pool_init_ok(&p, &c);
    TU_CHECK(fa_pool_check(&p));
    TU_INT_EQ(tu_err.count, 0);
    fa_pool_destroy(&p);
    fa_set_error_handler(old);
}
END_TEST

/* ------------------------------------------------------------------ */

static Suite *suite(void)
{
    Suite *s = suite_create("pool-errors");
    TCase *tc;

    tc = tcase_create("errors");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, error_kind_names);
    tcase_add_test(tc, error_handler_returns_previous);
    tcase_add_test(tc, error_foreign_free_handled);
    tcase_add_test(tc, error_interior_free_handled);
    tcase_add_test(tc, error_unnamed_pool);
    tcase_add_test(tc, bad_pool_every_call);
    tcase_add_test(tc, misaligned_block_given_back);
    tcase_add_test(tc, checked_zeroed_link_reported);
    tcase_add_test(tc, check_detects_cycle);
    tcase_add_test(tc, check_detects_bad_link);
    tcase_add_test(tc, check_fresh_pools);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* The contract under test is the default one: checked mode, which
     * FIXALLOC_CHECK turns on for every pool, changes what a free keeps and
     * the slots per chunk (tu_run_suite clears it; the "checked" tests turn
     * it on themselves). Tests change process-wide state (the error handler,
     * static buffers): each needs its own process. */
    return tu_run_suite(suite(), true);
}
