/*
 * test_large.c - a heap's large blocks (docs/design.md, "Large blocks"):
 * kept for reuse and given back by trim, cleared no further than an
 * object wrote in them, grown by realloc without a copy.
 */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "fixalloc.h"
#include "test_util.h"

/* Free large blocks are kept for reuse, within bounds, and given back by
 * trim; a free of a kept block is reported, never followed. */
START_TEST(large_blocks_kept_and_reused)
{
    tu_source src;
    tu_source_init(&src, NULL);
    fa_heap_config cfg = {.source = &src.source};
    fa_heap *h = tu_heap_create_ok(&cfg);
    /* The caller's source maps powers of two of at least FA_HEAP_CHUNK:
     * a block of 4 chunks. */
    size_t big = FA_HEAP_CHUNK * 5 / 2;
    void *p = fa_heap_malloc(h, big);
    TU_NOT_NULL(p);
    size_t maps = src.maps;
    fa_free(p);
    fa_heap_counters s = tu_heap_stats(h);
    TU_EQ(s.large_live, 0);
    TU_EQ(s.large_kept, 1);
    TU_GT(s.large_kept_bytes, big);
    TU_EQ(s.bytes_held, s.chunk_bytes + s.large_kept_bytes);
    TU_CHECK(fa_heap_check(h));
    /* A somewhat smaller request takes it back: no map. */
    void *q = fa_heap_malloc(h, FA_HEAP_CHUNK * 9 / 4);
    TU_PTR_EQ(q, p);
    TU_EQ(src.maps, maps);
    s = tu_heap_stats(h);
    TU_EQ(s.large_reuses, 1);
    TU_EQ(s.large_kept, 0);
    /* A free of a kept block is misuse, reported. */
    fa_free(q);
    fa_error_handler old = tu_errors_install();
    fa_free(q);
    TU_INT_EQ(tu_err.count, 1);
    TU_INT_EQ(tu_err.kind, FA_ERR_FOREIGN);
    fa_set_error_handler(old);
    /* Much smaller requests do not take a big kept block. */
    void *small = fa_heap_malloc(h, FA_SMALL_MAX + 1); /* one chunk */
    TU_NOT_NULL(small);
    TU_EQ(tu_heap_stats(h).large_kept, 1);
    fa_free(small);
    TU_GT(fa_heap_trim(h), big);
    s = tu_heap_stats(h);
    TU_EQ(s.large_kept, 0);
    TU_EQ(s.bytes_held, 0);
    TU_CHECK(fa_heap_check(h));
    fa_heap_destroy(h);
    TU_EQ(src.maps, src.unmaps);
    tu_source_fini(&src);
}
END_TEST

/* From a caller's source a large block is a power of two of at least a
 * chunk: its object's usable bytes end at the page past the request, so
 * the rest of the block stays as the source gave it, and a reused block
 * is cleared (FA_ZERO, calloc) only as far as an object wrote. */
START_TEST(large_block_clears_what_was_written)
{
    tu_source src;
    tu_source_init(&src, NULL);
    fa_heap_config cfg = {.flags = FA_ZERO, .source = &src.source};
    fa_heap *h = tu_heap_create_ok(&cfg);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t small = 40000, big = FA_HEAP_CHUNK * 2 / 3;
    char *a = fa_heap_malloc(h, small);
    TU_NOT_NULL(a);
    size_t usable = fa_usable_size(a);
    TU_GE(usable, small);
    TU_LE(usable, small + page);
    memset(a, 0xee, usable);
    fa_free(a);
    /* The same block for more than the first object wrote: zeros past
     * it too. */
    char *b = fa_heap_malloc(h, big);
    TU_PTR_EQ(b, a);
    usable = fa_usable_size(b);
    TU_EQ(tu_first_nonzero(b, usable), usable);
    memset(b, 0xee, usable);
    fa_free(b);
    /* A small object after the big one, then a big one again: each cleared
     * as far as any object of the block wrote. */
    char *c = fa_heap_malloc(h, small);
    TU_PTR_EQ(c, a);
    TU_EQ(tu_first_nonzero(c, fa_usable_size(c)), fa_usable_size(c));
    fa_free(c);
    b = fa_heap_malloc(h, big);
    TU_PTR_EQ(b, a);
    TU_EQ(tu_first_nonzero(b, fa_usable_size(b)), fa_usable_size(b));
    /* Realloc within the block keeps the object where it is. */
    memset(b, 0x5a, small);
    char *d = fa_heap_realloc(h, b, big + 3 * page);
    TU_PTR_EQ(d, b);
    TU_GE(fa_usable_size(d), big + 3 * page);
    TU_EQ(tu_first_not(d, 0, small, 0x5a), small);
    fa_heap_counters s = tu_heap_stats(h);
    TU_EQ(s.live_bytes, fa_usable_size(d));
    TU_CHECK(fa_heap_check(h));
    fa_free(d);
    fa_heap_destroy(h);
    /* calloc on a heap that is not FA_ZERO, from a block an object wrote. */
    cfg.flags = 0;
    h = tu_heap_create_ok(&cfg);
    a = fa_heap_malloc(h, small);
    memset(a, 0xee, fa_usable_size(a));
    fa_free(a);
    b = fa_heap_calloc(h, 2, big / 2);
    TU_PTR_EQ(b, a);
    TU_EQ(tu_first_nonzero(b, big / 2 * 2), big / 2 * 2);
    fa_free(b);
    TU_CHECK(fa_heap_check(h));
    fa_heap_destroy(h);
    TU_EQ(src.maps, src.unmaps);
    tu_source_fini(&src);
}
END_TEST

/* Realloc of a large block keeps its bytes, whether it grows where it is
 * (the OS source: mremap) or moves. */
START_TEST(large_realloc_grows)
{
    fa_heap *h = tu_heap_create_ok(NULL);
    unsigned char *p = fa_heap_malloc(h, 100 * 1024);
    TU_NOT_NULL(p);
    for (size_t i = 0; i < 100 * 1024; i++) {
        p[i] = (unsigned char)(i * 7);
    }
    for (size_t n = 200 * 1024; n <= 8u << 20; n *= 2) {
        p = fa_heap_realloc(h, p, n);
        TU_NOT_NULL(p);
        TU_GE(fa_usable_size(p), n);
        for (size_t i = 0; i < 100 * 1024; i += 997) {
            TU_EQ(p[i], (unsigned char)(i * 7));
        }
        memset(p + 100 * 1024, 0xab, n - 100 * 1024);
    }
    TU_CHECK(fa_heap_check(h));
    fa_free(p);
    fa_heap_destroy(h);
}
END_TEST

/* A kept block reused for less than it holds: the usable size is that of
 * a fresh block for the request (fa_good_size), and a realloc within the
 * block keeps the object where it is. */
START_TEST(kept_block_reused_for_less)
{
    fa_heap *h = tu_heap_create_ok(NULL);
    size_t big = 300 * 1024, less = 250 * 1024;
    void *p = fa_heap_malloc(h, big);
    TU_NOT_NULL(p);
    fa_free(p);
    char *q = fa_heap_malloc(h, less);
    TU_PTR_EQ(q, p);
    TU_EQ(fa_usable_size(q), fa_good_size(less));
    TU_EQ(tu_heap_stats(h).live_bytes, fa_good_size(less));
    memset(q, 0x5a, less);
    char *r = fa_heap_realloc(h, q, big);
    TU_PTR_EQ(r, q);
    TU_EQ(fa_usable_size(r), fa_good_size(big));
    TU_EQ(tu_first_not(r, 0, less, 0x5a), less);
    TU_EQ(tu_heap_stats(h).live_bytes, fa_good_size(big));
    TU_CHECK(fa_heap_check(h));
    fa_free(r);
    fa_heap_destroy(h);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("large");
    TCase *tc = tcase_create("large");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, large_blocks_kept_and_reused);
    tcase_add_test(tc, large_block_clears_what_was_written);
    tcase_add_test(tc, large_realloc_grows);
    tcase_add_test(tc, kept_block_reused_for_less);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite(), false);
}
