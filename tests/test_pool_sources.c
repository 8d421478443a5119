/*
 * test_pool_sources.c - the page sources: fa_static_source and fa_os_source,
 * called directly and under a pool.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixalloc.h"
#include "test_util.h"

/* ------------------------------------------------------------------ */
/* Static source */

#define STATIC_CHUNKS 8
static _Alignas(4096) unsigned char static_buf[STATIC_CHUNKS * 4096];

static bool in_buffer(const void *p, size_t n, const void *buf, size_t len)
{
    uintptr_t a = (uintptr_t)p, lo = (uintptr_t)buf;
    return a >= lo && a - lo <= len && n <= len - (a - lo);
}

START_TEST(static_source_init_refused)
{
    fa_static_source s;
    TU_INT_EQ(fa_static_source_init(&s, NULL, 4096, 0), EINVAL);
    TU_INT_EQ(fa_static_source_init(&s, NULL, 0, 0), EINVAL);
    TU_INT_EQ(fa_static_source_init(&s, static_buf, sizeof static_buf, 2),
              EINVAL);
    TU_INT_EQ(
        fa_static_source_init(&s, static_buf, sizeof static_buf, 1u << 31),
        EINVAL);
    TU_INT_EQ(fa_static_source_init(&s, static_buf, sizeof static_buf,
                                    FA_STATIC_ZEROED | 4),
              EINVAL);
    TU_INT_EQ(fa_static_source_init(&s, static_buf, sizeof static_buf,
                                    FA_STATIC_ZEROED),
              0);
    TU_INT_EQ(fa_static_source_init(&s, static_buf, sizeof static_buf, 0), 0);
}
END_TEST

START_TEST(static_source_pool)
{
    fa_static_source ss;
    TU_INT_EQ(fa_static_source_init(&ss, static_buf, sizeof static_buf,
                                    FA_STATIC_ZEROED),
              0);
    fa_config c = tu_small_config(&ss.source);
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    size_t spc = tu_pool_stats(&p).slots_per_chunk;
    size_t want = STATIC_CHUNKS * spc;
    void **v = tu_xcalloc_ptrs(want + 1);
    for (int round = 0; round < 3; round++) {
        size_t n = 0;
        for (;;) {
            errno = 0;
            void *o = fa_pool_alloc(&p);
            if (o == NULL) {
                TU_INT_EQ(errno, ENOMEM);
                break;
            }
            TU_ASSERT(n < want, "more objects than the buffer holds");
            TU_ASSERT(in_buffer(o, 64, static_buf, sizeof static_buf),
                      "object %p outside the static buffer", o);
            memset(o, 0x3C, 64);
            v[n++] = o;
        }
        TU_ASSERT(n == want,
                  "round %d: %zu objects from %d chunks of "
                  "the static buffer, want %zu",
                  round, n, STATIC_CHUNKS, want);
        TU_EQ(tu_pool_stats(&p).chunks, STATIC_CHUNKS);
        tu_pool_check_ok(&p);
        tu_rng r;
        tu_rng_seed(&r, 6 + (uint64_t)round);
        tu_shuffle(&r, v, n);
        fa_pool_free_bulk(&p, v, n);
        /* Blocks given back by trim are handed out again next round. */
        TU_EQ(fa_pool_trim(&p), STATIC_CHUNKS * 4096);
        TU_EQ(tu_pool_stats(&p).chunks, 0);
    }
    fa_pool_destroy(&p);
    free(v);
}
END_TEST

START_TEST(static_source_zero)
{
    /* Zeroed buffer: fresh blocks may skip clearing; given back ones may
     * not. */
    fa_static_source ss;
    TU_INT_EQ(fa_static_source_init(&ss, static_buf, sizeof static_buf,
                                    FA_STATIC_ZEROED),
              0);
    fa_config c = tu_small_config(&ss.source);
    c.flags = FA_ZERO;
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    size_t spc = tu_pool_stats(&p).slots_per_chunk;
    size_t n = 4 * spc;
    void **v = tu_xcalloc_ptrs(n);
    for (int round = 0; round < 3; round++) {
        tu_pool_alloc_n(&p, v, n);
        for (size_t i = 0; i < n; i++) {
            size_t bad = tu_first_nonzero(v[i], 64);
            TU_ASSERT(bad == 64, "round %d: object %zu byte %zu not zero",
                      round, i, bad);
            memset(v[i], 0xEE, 64);
        }
        fa_pool_free_bulk(&p, v, n);
        TU_EQ(fa_pool_trim(&p), 4 * 4096);
    }
    fa_pool_destroy(&p);

    /* A dirty buffer that is not said to be zeroed. */
    memset(static_buf, 0x5A, sizeof static_buf);
    TU_INT_EQ(fa_static_source_init(&ss, static_buf, sizeof static_buf, 0), 0);
    tu_pool_init_ok(&p, &c);
    tu_pool_alloc_n(&p, v, n);
    for (size_t i = 0; i < n; i++) {
        TU_EQ(tu_first_nonzero(v[i], 64), 64);
    }
    fa_pool_destroy(&p);
    free(v);
}
END_TEST

START_TEST(static_source_direct)
{
    fa_static_source ss;
    memset(static_buf, 0, sizeof static_buf);
    TU_INT_EQ(fa_static_source_init(&ss, static_buf, sizeof static_buf,
                                    FA_STATIC_ZEROED),
              0);
    fa_source *s = &ss.source;
    TU_CHECK(s->map);
    TU_CHECK(s->unmap);
    bool z = false;
    void *a = s->map(s->ctx, 4096, 4096, &z);
    TU_CHECK(a);
    TU_CHECK(in_buffer(a, 4096, static_buf, sizeof static_buf));
    TU_EQ((uintptr_t)a % 4096, 0);
    void *b = s->map(s->ctx, 8192, 8192, &z);
    TU_CHECK(b);
    TU_CHECK(in_buffer(b, 8192, static_buf, sizeof static_buf));
    TU_EQ((uintptr_t)b % 8192, 0);
    TU_CHECK(!((char *)a < (char *)b + 8192 && (char *)b < (char *)a + 4096));
    memset(a, 0x11, 4096);
    s->unmap(s->ctx, a, 4096);
    /* A block of the same size comes back; it must not say zeroed. */
    z = true;
    void *c = s->map(s->ctx, 4096, 4096, &z);
    TU_PTR_EQ(c, a);
    if (z) {
        TU_ASSERT(tu_first_nonzero(c, 4096) == 4096,
                  "a reused dirty "
                  "block is reported as zeroed");
    }
    /* A different size does not get the 4096 block. */
    s->unmap(s->ctx, c, 4096);
    void *d = s->map(s->ctx, 16384, 16384, &z);
    if (d != NULL) {
        TU_CHECK(in_buffer(d, 16384, static_buf, sizeof static_buf));
        TU_CHECK(
            !((char *)a < (char *)d + 16384 && (char *)d < (char *)a + 4096));
        TU_CHECK(
            !((char *)b < (char *)d + 16384 && (char *)d < (char *)b + 8192));
    }
    /* Exhaust, then a given-back block is still handed out. */
    void *blocks[STATIC_CHUNKS];
    size_t nb = 0;
    for (;;) {
        void *e = s->map(s->ctx, 4096, 4096, &z);
        if (e == NULL) {
            break;
        }
        TU_CHECK(in_buffer(e, 4096, static_buf, sizeof static_buf));
        TU_LT(nb, STATIC_CHUNKS);
        blocks[nb++] = e;
    }
    TU_GT(nb, 0);
    s->unmap(s->ctx, blocks[0], 4096);
    TU_PTR_EQ(s->map(s->ctx, 4096, 4096, &z), blocks[0]);
    TU_NULL(s->map(s->ctx, 4096, 4096, &z));
}
END_TEST

START_TEST(static_source_unaligned_buffer)
{
    /* 3 chunks' worth starting one byte in: at most two aligned chunks. */
    fa_static_source ss;
    unsigned char *buf = static_buf + 1;
    size_t len = 3 * 4096;
    TU_INT_EQ(fa_static_source_init(&ss, buf, len, 0), 0);
    fa_config c = tu_small_config(&ss.source);
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    size_t n = 0;
    void *o;
    while ((o = fa_pool_alloc(&p)) != NULL) {
        TU_CHECK(in_buffer(o, 64, buf, len));
        n++;
        TU_LE(n, 2 * 63);
    }
    TU_EQ(n, 2 * 63);
    tu_pool_check_ok(&p);
    fa_pool_destroy(&p);
}
END_TEST

/* ------------------------------------------------------------------ */
/* The OS source */

START_TEST(os_source_direct)
{
    const fa_source *os = fa_os_source();
    TU_CHECK(os);
    TU_PTR_EQ(os, fa_os_source());
    TU_CHECK(os->map);
    TU_CHECK(os->unmap);
    static const size_t sizes[] = {4096, 65536, 1 << 21};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        bool z = false;
        unsigned char *m = os->map(os->ctx, n, n, &z);
        TU_CHECK(m);
        TU_EQ((uintptr_t)m % n, 0);
        if (z) {
            TU_EQ(tu_first_nonzero(m, n), n);
        }
        memset(m, 0xAB, n);
        os->unmap(os->ctx, m, n);
    }
    /* align below size */
    bool z;
    void *m = os->map(os->ctx, 1 << 20, 4096, &z);
    TU_CHECK(m);
    TU_EQ((uintptr_t)m % 4096, 0);
    os->unmap(os->ctx, m, 1 << 20);
}
END_TEST

/* ------------------------------------------------------------------ */

static Suite *suite(void)
{
    Suite *s = suite_create("pool-sources");
    TCase *tc;

    tc = tcase_create("sources");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, static_source_init_refused);
    tcase_add_test(tc, static_source_pool);
    tcase_add_test(tc, static_source_zero);
    tcase_add_test(tc, static_source_direct);
    tcase_add_test(tc, static_source_unaligned_buffer);
    tcase_add_test(tc, os_source_direct);
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
