/*
 * test_pool_purge.c - fa_pool_trim giving back the pages inside chunks that
 * still hold live objects, and the pool taking them up again; through the
 * cache and the heap too.
 */
#define _DEFAULT_SOURCE /* mincore */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fixalloc.h"
#include "test_util.h"

#define OBJ 1024
#define CHUNK ((size_t)64 << 10)

/* ---- a source that forwards to the OS and records what it discards ---- */

typedef struct discard_source {
    fa_source source;
    size_t calls, bytes;
    size_t chunk; /* every range must lie inside one chunk, off its first
                   * page */
} discard_source;

static void *ds_map(void *ctx, size_t size, size_t align, bool *zeroed)
{
    (void)ctx;
    const fa_source *os = fa_os_source();
    return os->map(os->ctx, size, align, zeroed);
}

static void ds_unmap(void *ctx, void *mem, size_t size)
{
    (void)ctx;
    const fa_source *os = fa_os_source();
    os->unmap(os->ctx, mem, size);
}

static void ds_discard(void *ctx, void *mem, size_t size)
{
    discard_source *s = ctx;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)mem;
    TU_EQ(a % page, 0);
    TU_EQ(size % page, 0);
    TU_GE(a % s->chunk, page); /* never the header's page */
    TU_LE(a % s->chunk + size, s->chunk);
    s->calls++;
    s->bytes += size;
    const fa_source *os = fa_os_source();
    os->discard(os->ctx, mem, size);
}

static void ds_init(discard_source *s, size_t chunk)
{
    memset(s, 0, sizeof *s);
    s->source = (fa_source){ds_map, ds_unmap, s, ds_discard};
    s->chunk = chunk;
}

/* ---- helpers ---- */

/* Whether the page holding p is resident. */
static bool resident(const void *p)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char v = 0;
    void *a = (void *)((uintptr_t)p & ~(uintptr_t)(page - 1));
    TU_INT_EQ(mincore(a, page, &v), 0);
    return (v & 1) != 0;
}

static fa_config purge_config_sized(unsigned flags, const fa_source *src,
                                    size_t chunk)
{
    fa_config c = tu_config(OBJ);
    c.chunk_size = chunk;
    c.flags = flags;
    c.source = src;
    return c;
}

static fa_config purge_config(unsigned flags, const fa_source *src)
{
    return purge_config_sized(flags, src, CHUNK);
}

/* Allocates n objects stamped with their index, frees all but every
 * keep-th (in a shuffled order), and returns how many it kept at the
 * front of v. */
static size_t fill_and_thin(fa_pool *p, void **v, size_t n, size_t keep)
{
    tu_pool_alloc_n(p, v, n);
    for (size_t i = 0; i < n; i++) {
        tu_stamp(v[i], OBJ, i);
    }
    size_t kept = 0;
    tu_rng r;
    tu_rng_seed(&r, 42);
    void **gone = tu_xcalloc_ptrs(n);
    size_t ngone = 0;
    for (size_t i = 0; i < n; i++) {
        if (tu_rng_below(&r, keep) == 0) {
            tu_stamp(v[i], OBJ, (uintptr_t)v[i]);
            v[kept++] = v[i];
        } else {
            gone[ngone++] = v[i];
        }
    }
    tu_shuffle(&r, gone, ngone);
    for (size_t i = 0; i < ngone; i++) {
        fa_pool_free(p, gone[i]);
    }
    free(gone);
    return kept;
}

static void verify_kept(void *const *v, size_t kept)
{
    for (size_t i = 0; i < kept; i++) {
        TU_EQ(tu_verify(v[i], 0, OBJ, (uintptr_t)v[i]), OBJ);
    }
}

/* Takes every slot back and checks that no object is handed out twice
 * and that each can be written; returns how many it took. */
static size_t take_all(fa_pool *p, void **v, size_t kept, size_t n, bool zeroed)
{
    size_t got = kept;
    while (got < n) {
        void *o = fa_pool_alloc(p);
        TU_NOT_NULL(o);
        if (zeroed) {
            TU_EQ(tu_first_nonzero(o, OBJ), OBJ);
        }
        tu_stamp(o, OBJ, 2000000 + got);
        v[got++] = o;
    }
    void **sorted = tu_xcalloc_ptrs(n);
    memcpy(sorted, v, n * sizeof *v);
    tu_sort_ptrs(sorted, n);
    for (size_t i = 1; i < n; i++) {
        TU_PTR_NE(sorted[i - 1], sorted[i]);
    }
    free(sorted);
    return got;
}

/* The cycle every mode goes through, on chunks of `chunk` bytes: fill,
 * thin to 1 in 10, trim (pages go), check, walk, verify the survivors,
 * take everything back (pages come back), free everything, trim (chunks
 * go). */
static void purge_cycle_sized(unsigned flags, size_t chunk, bool expect_purge)
{
    discard_source ds;
    ds_init(&ds, chunk);
    fa_config c = purge_config_sized(flags, &ds.source, chunk);
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    /* Whole chunks, so that none holds few enough objects to empty. */
    size_t n = (chunk >= ((size_t)1 << 20) ? 4 : 40) *
               tu_pool_stats(&p).slots_per_chunk;
    void **v = tu_xcalloc_ptrs(n);
    size_t kept = fill_and_thin(&p, v, n, 10);
    size_t bytes = fa_pool_trim(&p);
    tu_pool_check_ok(&p);
    if (!expect_purge) {
        TU_EQ(ds.calls, 0);
        TU_EQ(bytes, 0);
        fa_pool_destroy(&p);
        free(v);
        return;
    }
    TU_GT(ds.calls, 0);
    TU_EQ(bytes, ds.bytes);
    /* 1 KiB objects, 1 in 10 kept: most 4 KiB pages hold none (two in
     * three), and more than a third of 8 KiB units. */
    TU_GT(ds.bytes, n * OBJ / (chunk <= ((size_t)4 << 20) ? 2 : 3));
    tu_pool_expect_walk(&p, v, kept);
    verify_kept(v, kept);
    /* A second trim finds nothing more to give back. */
    TU_EQ(fa_pool_trim(&p), 0);
    tu_pool_check_ok(&p);
    TU_EQ(take_all(&p, v, kept, n, flags & FA_ZERO), n);
    tu_pool_check_ok(&p);
    TU_EQ(tu_pool_stats(&p).live, n);
    for (size_t i = 0; i < n; i++) {
        fa_pool_free(&p, v[i]);
    }
    tu_pool_check_ok(&p);
    size_t chunks = tu_pool_stats(&p).chunks;
    TU_EQ(fa_pool_trim(&p), chunks * chunk);
    TU_EQ(tu_pool_stats(&p).chunks, 0);
    fa_pool_destroy(&p);
    free(v);
}

static void purge_cycle(unsigned flags, bool expect_purge)
{
    purge_cycle_sized(flags, CHUNK, expect_purge);
}

START_TEST(purge_plain)
{
    purge_cycle(0, true);
}
END_TEST

/* A 1 MiB chunk has 256 units of a page: a purge map of four words. */
START_TEST(purge_wide_map)
{
    purge_cycle_sized(0, (size_t)1 << 20, true);
}
END_TEST

/* Checked mode's live bitmap follows the purge map. */
START_TEST(purge_wide_map_checked)
{
    tu_errors_reset();
    fa_set_error_handler(tu_record_handler);
    purge_cycle_sized(FA_CHECKED, (size_t)1 << 20, true);
    TU_INT_EQ(tu_err.count, 0);
}
END_TEST

/* An 8 MiB chunk has at most 1024 units: 8 KiB each. */
START_TEST(purge_coarse_units)
{
    purge_cycle_sized(FA_ZERO, (size_t)8 << 20, true);
}
END_TEST

START_TEST(purge_zero)
{
    purge_cycle(FA_ZERO, true);
}
END_TEST

START_TEST(purge_hardened)
{
    purge_cycle(FA_HARDENED, true);
}
END_TEST

START_TEST(purge_checked)
{
    tu_errors_reset();
    fa_set_error_handler(tu_record_handler);
    purge_cycle(FA_CHECKED, true);
    TU_INT_EQ(tu_err.count, 0); /* restored slots carry poison again */
}
END_TEST

/* The OS source's discard: the pages are no longer resident, the kept
 * objects are, and a page comes back when its slots are handed out. */
START_TEST(purge_gives_pages_back)
{
    fa_config c = purge_config(0, NULL);
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    size_t n = 40 * (CHUNK / OBJ);
    void **v = tu_xcalloc_ptrs(n);
    void **all = tu_xcalloc_ptrs(n);
    tu_pool_alloc_n(&p, all, n);
    /* Keep the objects that start in every fourth page. */
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (((uintptr_t)all[i] / 4096) % 4 == 1) {
            v[kept++] = all[i];
        } else {
            fa_pool_free(&p, all[i]);
        }
    }
    TU_GT(kept, 0);
    TU_GT(fa_pool_trim(&p), 0);
    tu_pool_check_ok(&p);
    size_t gone = 0;
    for (size_t i = 0; i < n; i++) {
        uintptr_t page = (uintptr_t)all[i] / 4096;
        if (page % 4 == 3 && (uintptr_t)all[i] % CHUNK >= 4096) {
            gone += !resident(all[i]);
        }
    }
    TU_GT(gone, 0);
    for (size_t i = 0; i < kept; i++) {
        TU_CHECK(resident(v[i]));
    }
    tu_pool_expect_walk(&p, v, kept);
    TU_EQ(take_all(&p, v, kept, n, false), n);
    for (size_t i = 0; i < n; i++) {
        TU_CHECK(resident(v[i]));
    }
    tu_pool_check_ok(&p);
    fa_pool_destroy(&p);
    free(v);
    free(all);
}
END_TEST

/* Pools whose slots keep what `first` built, and sources without a
 * discard, give back whole chunks only. */
static void count_first(void *arg, void *obj)
{
    (*(size_t *)arg)++;
    memset(obj, 0x5A, OBJ);
}

START_TEST(no_purge_with_first)
{
    discard_source ds;
    ds_init(&ds, CHUNK);
    fa_config c = purge_config(0, &ds.source);
    size_t firsts = 0;
    c.first = count_first;
    c.arg = &firsts;
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    size_t n = 8 * (CHUNK / OBJ);
    void **v = tu_xcalloc_ptrs(n);
    tu_pool_alloc_n(&p, v, n);
    for (size_t i = 1; i < n; i += 2) {
        fa_pool_free(&p, v[i]);
    }
    TU_EQ(fa_pool_trim(&p), 0);
    TU_EQ(ds.calls, 0);
    fa_pool_destroy(&p);
    free(v);
}
END_TEST

START_TEST(no_purge_without_discard)
{
    tu_source ts;
    tu_source_init(&ts, NULL);
    fa_config c = purge_config(0, &ts.source);
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    size_t n = 8 * (CHUNK / OBJ);
    void **v = tu_xcalloc_ptrs(n);
    size_t kept = fill_and_thin(&p, v, n, 10);
    TU_EQ(fa_pool_trim(&p) % CHUNK, 0); /* whole chunks only */
    tu_pool_expect_walk(&p, v, kept);
    verify_kept(v, kept);
    fa_pool_destroy(&p);
    tu_source_fini(&ts);
    free(v);
}
END_TEST

/* A chunk whose every object goes after a purge is reset: carved anew, and
 * given back whole by the next trim. */
START_TEST(purged_chunk_empties)
{
    fa_config c = purge_config(FA_ZERO, NULL);
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    size_t n = 4 * (CHUNK / OBJ);
    void **v = tu_xcalloc_ptrs(n);
    size_t kept = fill_and_thin(&p, v, n, 10);
    TU_GT(fa_pool_trim(&p), 0);
    for (size_t i = 0; i < kept; i++) {
        fa_pool_free(&p, v[i]);
    }
    tu_pool_check_ok(&p);
    size_t chunks = tu_pool_stats(&p).chunks;
    TU_EQ(fa_pool_trim(&p), chunks * CHUNK);
    /* Carving the same memory again reads zeros (FA_ZERO). */
    TU_EQ(take_all(&p, v, 0, n, true), n);
    tu_pool_check_ok(&p);
    fa_pool_destroy(&p);
    free(v);
}
END_TEST

/* Frees that land in a purged chunk (it becomes current through a streak
 * of them) and allocations that follow: counts stay right. */
START_TEST(frees_into_purged_chunks)
{
    fa_config c = purge_config(0, NULL);
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    size_t n = 16 * (CHUNK / OBJ);
    void **v = tu_xcalloc_ptrs(n);
    size_t kept = fill_and_thin(&p, v, n, 4);
    TU_GT(fa_pool_trim(&p), 0);
    /* Free half the survivors in address order: long streaks. */
    tu_sort_ptrs(v, kept);
    size_t half = kept / 2;
    for (size_t i = 0; i < half; i++) {
        fa_pool_free(&p, v[i]);
    }
    memmove(v, v + half, (kept - half) * sizeof *v);
    kept -= half;
    tu_pool_check_ok(&p);
    verify_kept(v, kept);
    fa_pool_trim(&p);
    tu_pool_check_ok(&p);
    verify_kept(v, kept);
    TU_EQ(take_all(&p, v, kept, n, false), n);
    tu_pool_check_ok(&p);
    fa_pool_destroy(&p);
    free(v);
}
END_TEST

/* ---- through the cache and the heap ---- */

START_TEST(cache_trim_purges)
{
    fa_config c = purge_config(0, NULL);
    fa_cache *fc = tu_cache_create_ok(&c, NULL);
    size_t n = 40 * (CHUNK / OBJ);
    void **v = tu_xcalloc_ptrs(n);
    for (size_t i = 0; i < n; i++) {
        v[i] = fa_cache_alloc(fc);
        TU_NOT_NULL(v[i]);
    }
    for (size_t i = 0; i < n; i++) {
        if (i % 10 != 0) {
            fa_cache_free(fc, v[i]);
        }
    }
    TU_GT(fa_cache_trim(fc), n * OBJ / 2);
    TU_CHECK(fa_cache_check(fc));
    for (size_t i = 0; i < n; i++) {
        v[i] = i % 10 == 0 ? v[i] : fa_cache_alloc(fc);
        TU_NOT_NULL(v[i]);
        memset(v[i], 0x33, OBJ);
    }
    TU_CHECK(fa_cache_check(fc));
    for (size_t i = 0; i < n; i++) {
        fa_cache_free(fc, v[i]);
    }
    fa_cache_destroy(fc);
    free(v);
}
END_TEST

START_TEST(heap_trim_purges)
{
    fa_heap *h = fa_heap_create(NULL);
    TU_NOT_NULL(h);
    size_t n = 4000;
    void **v = tu_xcalloc_ptrs(n);
    for (size_t i = 0; i < n; i++) {
        v[i] = fa_heap_malloc(h, OBJ);
        TU_NOT_NULL(v[i]);
        memset(v[i], (int)(i & 0xff), OBJ);
    }
    for (size_t i = 0; i < n; i++) {
        if (i % 10 != 0) {
            fa_free(v[i]);
            v[i] = NULL;
        }
    }
    TU_GT(fa_heap_trim(h), n * OBJ / 2);
    TU_CHECK(fa_heap_check(h));
    for (size_t i = 0; i < n; i += 10) {
        TU_EQ(tu_first_not(v[i], 0, OBJ, (uint8_t)(i & 0xff)), OBJ);
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i] == NULL) {
            v[i] = fa_heap_malloc(h, OBJ);
            TU_NOT_NULL(v[i]);
            memset(v[i], 0x44, OBJ);
        }
    }
    TU_CHECK(fa_heap_check(h));
    for (size_t i = 0; i < n; i++) {
        fa_free(v[i]);
    }
    fa_heap_destroy(h);
    free(v);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("pool-purge");
    TCase *tc = tcase_create("purge");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, purge_plain);
    tcase_add_test(tc, purge_wide_map);
    tcase_add_test(tc, purge_wide_map_checked);
    tcase_add_test(tc, purge_coarse_units);
    tcase_add_test(tc, purge_zero);
    tcase_add_test(tc, purge_hardened);
    tcase_add_test(tc, purge_checked);
    tcase_add_test(tc, purge_gives_pages_back);
    tcase_add_test(tc, no_purge_with_first);
    tcase_add_test(tc, no_purge_without_discard);
    tcase_add_test(tc, purged_chunk_empties);
    tcase_add_test(tc, frees_into_purged_chunks);
    tcase_add_test(tc, cache_trim_purges);
    tcase_add_test(tc, heap_trim_purges);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite(), true);
}
