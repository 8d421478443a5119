/*
 * test_pool_modes.c - fa_pool modes: FA_ZERO, checked mode (FA_CHECKED or
 * FIXALLOC_CHECK) and hardened mode (FA_HARDENED).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixalloc.h"
#include "test_util.h"

/* ------------------------------------------------------------------ */
/* FA_ZERO */

START_TEST(zero_after_reuse)
{
    fa_config c = tu_config(100);
    c.flags = FA_ZERO;
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    tu_rng r;
    tu_rng_seed(&r, 1);
    enum { N = 300 };
    void *v[N];
    for (int round = 0; round < 4; round++) {
        tu_pool_alloc_n(&p, v, N);
        for (size_t i = 0; i < N; i++) {
            size_t bad = tu_first_nonzero(v[i], 100);
            TU_ASSERT(bad == 100,
                      "round %d: object %zu byte %zu is not "
                      "zero",
                      round, i, bad);
            memset(v[i], 0xFF, 100);
        }
        tu_shuffle(&r, v, N);
        fa_pool_free_bulk(&p, v, N / 2);
        for (size_t i = N / 2; i < N; i++) {
            fa_pool_free(&p, v[i]);
        }
        tu_pool_check_ok(&p);
    }
    /* LIFO reuse of a dirtied object. */
    void *a = fa_pool_alloc(&p);
    memset(a, 0x77, 100);
    fa_pool_free(&p, a);
    void *b = fa_pool_alloc(&p);
    TU_EQ(tu_first_nonzero(b, 100), 100);
    fa_pool_free(&p, b);
    fa_pool_destroy(&p);
}
END_TEST

/* A chunk other than the current one that becomes entirely free and is
 * handed out again must still give zeroed objects. */
START_TEST(zero_after_chunk_emptied)
{
    tu_source src;
    tu_source_init(&src, NULL);
    fa_config c = tu_small_config(&src.source);
    c.flags = FA_ZERO;
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    size_t spc = tu_pool_stats(&p).slots_per_chunk;
    TU_EQ(spc, 63);
    void **v = tu_xcalloc_ptrs(4 * spc);
    tu_pool_alloc_n(&p, v, spc + 1); /* chunk 0 full, chunk 1 current */
    for (size_t i = 0; i < spc + 1; i++) {
        memset(v[i], 0xFF, 64);
    }
    tu_rng r;
    tu_rng_seed(&r, 2);
    tu_shuffle(&r, v, spc); /* free chunk 0 in random order */
    for (size_t i = 0; i < spc; i++) {
        fa_pool_free(&p, v[i]);
    }
    tu_pool_check_ok(&p);
    /* Fill chunk 1, then chunk 0 again. */
    tu_pool_alloc_n(&p, v + spc + 1, 2 * spc - 1);
    for (size_t i = spc + 1; i < 3 * spc; i++) {
        size_t bad = tu_first_nonzero(v[i], 64);
        TU_ASSERT(bad == 64, "object %zu (%p) byte %zu not zero", i, v[i], bad);
    }
    TU_EQ(src.maps, 2);
    fa_pool_free_bulk(&p, v + spc, 2 * spc);
    tu_pool_check_ok(&p);
    fa_pool_destroy(&p);
    free(v);
    tu_source_fini(&src);
}
END_TEST

/* A source that hands out dirty memory and says so. */
START_TEST(zero_from_dirty_source)
{
    tu_source src;
    tu_source_init(&src, NULL);
    src.dirty = true;
    fa_config c = tu_config(48);
    c.chunk_size = 8192;
    c.flags = FA_ZERO;
    c.source = &src.source;
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    size_t spc = tu_pool_stats(&p).slots_per_chunk;
    size_t n = 3 * spc;
    void **v = tu_xcalloc_ptrs(n);
    tu_pool_alloc_n(&p, v, n);
    for (size_t i = 0; i < n; i++) {
        size_t bad = tu_first_nonzero(v[i], 48);
        TU_ASSERT(bad == 48,
                  "fresh object %zu from a dirty source: byte "
                  "%zu not zero",
                  i, bad);
    }
    size_t got = fa_pool_alloc_bulk(&p, v, n); /* reuses nothing: new chunks */
    TU_EQ(got, n);
    for (size_t i = 0; i < n; i++) {
        TU_EQ(tu_first_nonzero(v[i], 48), 48);
    }
    TU_INT_EQ(fa_pool_reserve(&p, 2 * spc), 0);
    tu_pool_alloc_n(&p, v, 2 * spc);
    for (size_t i = 0; i < 2 * spc; i++) {
        TU_EQ(tu_first_nonzero(v[i], 48), 48);
    }
    tu_pool_check_ok(&p);
    fa_pool_destroy(&p);
    TU_EQ(src.nlive, 0);
    free(v);
    tu_source_fini(&src);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Checked mode (FA_CHECKED) and hardened mode (FA_HARDENED) */

static fa_config mode_config(const char *name, unsigned flags,
                             const fa_source *src)
{
    fa_config c = tu_small_config(src);
    c.name = name;
    c.flags = flags;
    return c;
}

/* A short workout: everything handed out is distinct, aligned and keeps
 * what is written to it while live; walk, trim and check agree. */
static void workout(fa_pool *p, uint64_t seed, bool zero)
{
    tu_rng r;
    tu_rng_seed(&r, seed);
    size_t spc = tu_pool_stats(p).slots_per_chunk;
    size_t n = 4 * spc + 3;
    void **v = tu_xcalloc_ptrs(n);
    for (int round = 0; round < 3; round++) {
        tu_pool_alloc_n(p, v, n);
        for (size_t i = 0; i < n; i++) {
            if (zero) {
                TU_EQ(tu_first_nonzero(v[i], 64), 64);
            }
            tu_stamp(v[i], 64, i + (size_t)round * n);
        }
        tu_pool_expect_walk(p, v, n);
        for (size_t i = 0; i < n; i++) {
            TU_EQ(tu_verify(v[i], 0, 64, i + (size_t)round * n), 64);
        }
        tu_shuffle(&r, v, n);
        fa_pool_free_bulk(p, v, n / 2);
        tu_pool_check_ok(p);
        for (size_t i = n / 2; i < n; i++) {
            fa_pool_free(p, v[i]);
        }
        tu_pool_check_ok(p);
        TU_EQ(tu_pool_stats(p).live, 0);
        if (round == 1) {
            TU_GT(fa_pool_trim(p), 0);
        }
    }
    free(v);
}

START_TEST(checked_works)
{
    fa_error_handler old = tu_errors_install();
    static const unsigned modes[] = {
        FA_CHECKED,
        FA_CHECKED | FA_ZERO,
        FA_HARDENED,
        FA_HARDENED | FA_ZERO,
        FA_CHECKED | FA_HARDENED,
        FA_CHECKED | FA_HARDENED | FA_ZERO,
    };
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        tu_source src;
        tu_source_init(&src, NULL);
        fa_config c = mode_config("modes", modes[i], &src.source);
        fa_pool p;
        tu_pool_init_ok(&p, &c);
        fa_stats st = tu_pool_stats(&p);
        TU_EQ(st.slot_size, 64);
        /* a checked chunk may give room to a bitmap */
        TU_GE(st.slots_per_chunk, 1);
        TU_LE(st.slots_per_chunk, 63);
        workout(&p, i, (modes[i] & FA_ZERO) != 0);
        fa_pool_destroy(&p);
        TU_EQ(src.nlive, 0);
        TU_ASSERT(tu_err.count == 0,
                  "flags %#x: a correct program got "
                  "an error report: %s",
                  modes[i], tu_err.detail);
        tu_source_fini(&src);
    }
    /* Kept bytes: hardened mode changes only the link word. */
    fa_config c = mode_config("modes", FA_HARDENED, NULL);
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    void *keep = fa_pool_alloc(&p);
    void *a = fa_pool_alloc(&p);
    tu_stamp(a, 64, 99);
    fa_pool_free(&p, a);
    void *b = fa_pool_alloc(&p);
    TU_PTR_EQ(b, a);
    TU_EQ(tu_verify(b, TU_PTR, 64, 99), 64);
    fa_pool_free(&p, b);
    fa_pool_free(&p, keep);
    fa_pool_destroy(&p);
    fa_set_error_handler(old);
}
END_TEST

/* NULL is let go in every mode, also by a pool with no current chunk
 * (fresh, or trimmed to nothing), whose missing chunk NULL's would-be
 * chunk (address 0) must not be taken for; and a pool of garbage bytes
 * is reported, not followed. */
START_TEST(null_free_every_mode)
{
    fa_error_handler old = tu_errors_install();
    static const unsigned modes[] = {0, FA_ZERO, FA_CHECKED, FA_HARDENED,
                                     FA_HARDENED | FA_ZERO};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        fa_config c = mode_config("null", modes[i], NULL);
        fa_pool p;
        tu_pool_init_ok(&p, &c);
        fa_pool_free(&p, NULL);
        void *a = fa_pool_alloc(&p);
        TU_NOT_NULL(a);
        fa_pool_free(&p, NULL);
        fa_pool_free(&p, a);
        fa_pool_trim(&p);
        TU_EQ(tu_pool_stats(&p).chunks, 0);
        fa_pool_free(&p, NULL);
        tu_pool_check_ok(&p);
        TU_ASSERT(tu_err.count == 0, "flags %#x: NULL was reported: %s",
                  modes[i], tu_err.detail);
        fa_pool_destroy(&p);
    }
    /* Bytes of 1: every flag set (a valid bool), every field garbage. */
    fa_pool junk;
    memset(&junk, 1, sizeof junk);
    int x;
    fa_pool_free(&junk, &x);
    TU_INT_EQ(tu_err.count, 1);
    TU_INT_EQ(tu_err.kind, FA_ERR_BAD_POOL);
    fa_set_error_handler(old);
}
END_TEST

START_TEST(checked_double_free)
{
    fa_error_handler old = tu_errors_install();
    tu_source src;
    tu_source_init(&src, NULL);
    fa_config c = mode_config("dbl", FA_CHECKED, &src.source);
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    size_t spc = tu_pool_stats(&p).slots_per_chunk;
    size_t n = spc + 5; /* chunk 0 full, chunk 1 current */
    void **v = tu_xcalloc_ptrs(3 * spc);
    tu_pool_alloc_n(&p, v, n);

    void *twice[3] = {v[spc + 1], v[3], v[0]};
    for (int k = 0; k < 3; k++) {
        if (k == 2) {
            /* chunk 0 entirely free first */
            for (size_t i = 0; i < spc; i++) {
                if (i != 3) {
                    fa_pool_free(&p, v[i]);
                }
            }
        } else {
            fa_pool_free(&p, twice[k]);
        }
        fa_stats before = tu_pool_stats(&p);
        tu_errors_reset();
        fa_pool_free(&p, twice[k]);
        TU_ASSERT(tu_err.count == 1, "double free %d: %d reports", k,
                  tu_err.count);
        TU_INT_EQ(tu_err.kind, FA_ERR_DOUBLE_FREE);
        TU_STR_EQ(tu_err.pool, "dbl");
        TU_PTR_EQ(tu_err.addr, twice[k]);
        fa_stats after = tu_pool_stats(&p);
        TU_EQ(after.frees, before.frees);
        TU_EQ(after.live, before.live);
        tu_errors_reset();
        tu_pool_check_ok(&p);
        TU_INT_EQ(tu_err.count, 0);
    }
    /* The ignored double frees put nothing on a list twice. */
    size_t live = tu_pool_stats(&p).live;
    size_t more = 3 * spc - live;
    void **w = tu_xcalloc_ptrs(more);
    tu_pool_alloc_n(&p, w, more);
    void **all = tu_xcalloc_ptrs(more + 4);
    memcpy(all, w, more * sizeof *w);
    all[more] = v[spc];
    all[more + 1] = v[spc + 2];
    all[more + 2] = v[spc + 3];
    all[more + 3] = v[spc + 4];
    tu_sort_ptrs(all, more + 4);
    for (size_t i = 1; i < more + 4; i++) {
        TU_ASSERT(all[i] != all[i - 1], "%p handed out twice", all[i]);
    }
    TU_INT_EQ(tu_err.count, 0);
    fa_pool_destroy(&p); /* with live objects: a leak report */
    free(all);
    free(w);
    free(v);
    tu_source_fini(&src);
    fa_set_error_handler(old);
}
END_TEST

START_TEST(checked_interior_current_chunk)
{
    fa_error_handler old = tu_errors_install();
    fa_config c = mode_config("int", FA_CHECKED, NULL);
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    void *v[3];
    tu_pool_alloc_n(&p, v, 3);
    char *bad = (char *)v[1] + 4;
    fa_pool_free(&p, bad);
    TU_INT_EQ(tu_err.count, 1);
    TU_INT_EQ(tu_err.kind, FA_ERR_INTERIOR);
    TU_CHECK(tu_err.addr == bad || tu_err.addr == v[1]);
    TU_EQ(tu_pool_stats(&p).live, 3);
    fa_pool_free_bulk(&p, v, 3);
    tu_pool_check_ok(&p);
    TU_INT_EQ(tu_err.count, 1);
    fa_pool_destroy(&p);
    fa_set_error_handler(old);
}
END_TEST

static _Alignas(64) char not_pooled[256];

START_TEST(checked_foreign_pointers)
{
    fa_error_handler old = tu_errors_install();
    fa_config ca = mode_config("plain-A", 0, NULL);
    fa_config cb = mode_config("checked-B", FA_CHECKED, NULL);
    fa_config cc = mode_config("checked-C", FA_CHECKED, NULL);
    fa_pool a, b, cp;
    tu_pool_init_ok(&a, &ca);
    tu_pool_init_ok(&b, &cb);
    tu_pool_init_ok(&cp, &cc);
    void *own = fa_pool_alloc(&b);
    void *x = fa_pool_alloc(&a);
    void *y = fa_pool_alloc(&cp);
    char *heap = malloc(4096);
    TU_CHECK(heap);
    /* Pointers no chunk of b holds, some in memory no pool ever had: a
     * checked pool knows before it reads a would-be chunk header. */
    void *foreign[] = {x, y, not_pooled + 64, heap + 64};
    for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++) {
        tu_errors_reset();
        fa_pool_free(&b, foreign[i]);
        TU_ASSERT(tu_err.count == 1, "foreign pointer %zu: %d reports", i,
                  tu_err.count);
        TU_INT_EQ(tu_err.kind, FA_ERR_FOREIGN);
        TU_PTR_EQ(tu_err.addr, foreign[i]);
        TU_STR_EQ(tu_err.pool, "checked-B");
    }
    tu_errors_reset();
    TU_EQ(tu_pool_stats(&b).live, 1);
    tu_pool_check_ok(&b);
    fa_pool_free(&b, own);
    fa_pool_free(&a, x);
    fa_pool_free(&cp, y);
    TU_INT_EQ(tu_err.count, 0);
    fa_pool_destroy(&a);
    fa_pool_destroy(&b);
    fa_pool_destroy(&cp);
    free(heap);
    fa_set_error_handler(old);
}
END_TEST

START_TEST(checked_write_after_free)
{
    fa_error_handler old = tu_errors_install();
    fa_config c = mode_config("waf", FA_CHECKED, NULL);
    static fa_pool p; /* left broken: static keeps it reachable */
    static void *v[3];
    tu_pool_init_ok(&p, &c);
    tu_pool_alloc_n(&p, v, 3);
    fa_pool_free(&p, v[1]);
    TU_INT_EQ(tu_err.count, 0);
    unsigned char *b = v[1];
    tu_open_freed(b + 20, 1);
    b[20] ^= 0x5A; /* the caller writes to a freed object */
    static void *again;
    again = fa_pool_alloc(&p); /* the slot is verified on reuse */
    TU_ASSERT(tu_err.count >= 1, "a write to a freed object went "
                                 "unnoticed");
    TU_INT_EQ(tu_err.kind, FA_ERR_WRITE_AFTER_FREE);
    TU_STR_EQ(tu_err.pool, "waf");
    TU_PTR_EQ(tu_err.addr, v[1]);
    (void)again;
    fa_set_error_handler(old);
}
END_TEST

START_TEST(checked_corrupt_link)
{
    static const unsigned modes[] = {FA_CHECKED, FA_HARDENED};
    static fa_pool pools[2]; /* left broken: static keeps them reachable */
    static void *v[2][10];
    for (size_t m = 0; m < 2; m++) {
        fa_error_handler old = tu_errors_install();
        fa_config c = mode_config("link", modes[m], NULL);
        fa_pool *p = &pools[m];
        void **vm = v[m];
        tu_pool_init_ok(p, &c);
        tu_pool_alloc_n(p, vm, 8);
        fa_pool_free(p, vm[2]);
        fa_pool_free(p, vm[4]);
        /* v[4]'s link now steers to the live v[6], the attacker's pick. */
        tu_open_freed(vm[4], TU_PTR);
        memcpy(vm[4], &vm[6], TU_PTR);
        void *x = vm[8] = fa_pool_alloc(p);
        void *y = vm[9] = fa_pool_alloc(p);
        TU_ASSERT(tu_err.count >= 1,
                  "flags %#x: the overwritten link "
                  "went unreported",
                  modes[m]);
        TU_ASSERT(tu_err.kind == FA_ERR_CORRUPT ||
                      tu_err.kind == FA_ERR_WRITE_AFTER_FREE,
                  "flags %#x: reported as %s", modes[m],
                  fa_error_kind_name(tu_err.kind));
        TU_STR_EQ(tu_err.pool, "link");
        /* The handler returned: the offending call does nothing, so no
         * live object is handed out a second time. */
        TU_ASSERT(x != vm[6] && y != vm[6],
                  "flags %#x: an overwritten "
                  "link made the pool hand out the live %p (after "
                  "reporting %s: %s)",
                  modes[m], vm[6], fa_error_kind_name(tu_err.kind),
                  tu_err.detail);
        fa_set_error_handler(old);
    }
}
END_TEST

START_TEST(checked_leak_at_destroy)
{
    fa_error_handler old = tu_errors_install();
    tu_source src;
    tu_source_init(&src, NULL);
    fa_config c = mode_config("leaky", FA_CHECKED, &src.source);
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    void *v[3];
    tu_pool_alloc_n(&p, v, 3);
    fa_pool_free(&p, v[1]);
    TU_INT_EQ(tu_err.count, 0);
    fa_pool_destroy(&p);
    TU_INT_EQ(tu_err.count, 1);
    TU_INT_EQ(tu_err.kind, FA_ERR_LEAK);
    TU_STR_EQ(tu_err.pool, "leaky");
    TU_CHECK(tu_err.addr == v[0] || tu_err.addr == v[2]);
    TU_GT(strlen(tu_err.detail), 0);
    /* Destroy still gives everything back. */
    TU_EQ(src.nlive, 0);
    TU_EQ(src.maps, src.unmaps);

    /* No report when nothing is live. */
    tu_errors_reset();
    tu_pool_init_ok(&p, &c);
    tu_pool_alloc_n(&p, v, 3);
    fa_pool_free_bulk(&p, v, 3);
    fa_pool_destroy(&p);
    TU_INT_EQ(tu_err.count, 0);
    tu_source_fini(&src);
    fa_set_error_handler(old);
}
END_TEST

START_TEST(checked_from_environment)
{
    fa_error_handler old = tu_errors_install();
    TU_INT_EQ(setenv("FIXALLOC_CHECK", "1", 1), 0);
    fa_config c = mode_config("env", 0, NULL);
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    void *v[2];
    tu_pool_alloc_n(&p, v, 2);
    fa_pool_free(&p, v[0]);
    fa_pool_free(&p, v[0]);
    TU_INT_EQ(tu_err.count, 1);
    TU_INT_EQ(tu_err.kind, FA_ERR_DOUBLE_FREE);
    fa_pool_free(&p, v[1]);
    fa_pool_destroy(&p);
    unsetenv("FIXALLOC_CHECK");
    fa_set_error_handler(old);
}
END_TEST

START_TEST(hardened_works)
{
    fa_error_handler old = tu_errors_install();
    fa_config c = mode_config("hard", FA_HARDENED, NULL);
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    /* LIFO and first-word-only hold in hardened mode too. */
    void *v[10];
    tu_pool_alloc_n(&p, v, 10);
    for (size_t i = 0; i < 10; i++) {
        tu_stamp(v[i], 64, i);
    }
    for (size_t i = 0; i < 10; i++) {
        fa_pool_free(&p, v[i]);
    }
    for (size_t i = 10; i-- > 0;) {
        void *o = fa_pool_alloc(&p);
        TU_PTR_EQ(o, v[i]);
        tu_expect_first_word_zero(o, 64);
        TU_EQ(tu_verify(o, TU_PTR, 64, i), 64);
    }
    tu_pool_check_ok(&p);
    TU_INT_EQ(tu_err.count, 0);
    fa_pool_destroy(&p);
    fa_set_error_handler(old);
}
END_TEST

START_TEST(hardened_link_overwrite)
{
    /* The link of the most recently freed object is overwritten with a
     * pointer outside the pool: hardened mode must not hand it out. */
    fa_error_handler old = tu_errors_install();
    fa_config c = mode_config("hard", FA_HARDENED, NULL);
    static fa_pool p; /* left broken: static keeps it reachable */
    static void *v[6];
    tu_pool_init_ok(&p, &c);
    tu_pool_alloc_n(&p, v, 4);
    fa_pool_free(&p, v[1]);
    fa_pool_free(&p, v[2]);
    void *target = not_pooled;
    tu_open_freed(v[2], TU_PTR);
    memcpy(v[2], &target, TU_PTR);
    void *x = v[4] = fa_pool_alloc(&p);
    void *y = v[5] = fa_pool_alloc(&p);
    TU_ASSERT(x != target && y != target,
              "hardened mode handed out the "
              "address planted in a freed object's link");
    TU_INT_GE(tu_err.count, 1);
    TU_INT_EQ(tu_err.kind, FA_ERR_CORRUPT);
    fa_set_error_handler(old);
}
END_TEST

/* ------------------------------------------------------------------ */

static Suite *suite(void)
{
    Suite *s = suite_create("pool-modes");
    TCase *tc;

    tc = tcase_create("zero");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, zero_after_reuse);
    tcase_add_test(tc, zero_after_chunk_emptied);
    tcase_add_test(tc, zero_from_dirty_source);
    suite_add_tcase(s, tc);

    tc = tcase_create("checked");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, checked_works);
    tcase_add_test(tc, null_free_every_mode);
    tcase_add_test(tc, checked_double_free);
    tcase_add_test(tc, checked_interior_current_chunk);
    tcase_add_test(tc, checked_foreign_pointers);
    tcase_add_test(tc, checked_write_after_free);
    tcase_add_test(tc, checked_corrupt_link);
    tcase_add_test(tc, checked_leak_at_destroy);
    tcase_add_test(tc, checked_from_environment);
    tcase_add_test(tc, hardened_works);
    tcase_add_test(tc, hardened_link_overwrite);
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
