/*
 * test_pool_ops.c - fa_pool operations: exact stats, bulk calls, reserve, trim,
 * walk, destroy, ENOMEM, and the config and source copied at init.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixalloc.h"
#include "test_util.h"

/* ------------------------------------------------------------------ */
/* Stats */

#define EXPECT_STATS(p, live_, peak_, allocs_, frees_, chunks_, trimmed_)      \
    do {                                                                       \
        fa_stats s_ = tu_pool_stats(p);                                        \
        TU_EQ(s_.live, (live_));                                               \
        TU_EQ(s_.peak_live, (peak_));                                          \
        TU_EQ(s_.allocs, (allocs_));                                           \
        TU_EQ(s_.frees, (frees_));                                             \
        TU_EQ(s_.chunks, (chunks_));                                           \
        TU_EQ(s_.bytes_held, (size_t)(chunks_)*4096);                          \
        TU_EQ(s_.bytes_trimmed, (trimmed_));                                   \
    } while (0)

START_TEST(stats_exact)
{
    tu_source src;
    tu_source_init(&src, NULL);
    fa_config c = tu_small_config(&src.source);
    c.name = "stats-pool";
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    fa_stats st = tu_pool_stats(&p);
    TU_STR_EQ(st.name, "stats-pool");
    TU_EQ(st.object_size, 64);
    TU_EQ(st.slot_size, 64);
    TU_EQ(st.chunk_size, 4096);
    TU_EQ(st.slots_per_chunk, 63);
    EXPECT_STATS(&p, 0, 0, 0, 0, 0, 0);

    void *v[200];
    tu_pool_alloc_n(&p, v, 10);
    EXPECT_STATS(&p, 10, 10, 10, 0, 1, 0);
    for (size_t i = 0; i < 4; i++) {
        fa_pool_free(&p, v[i]);
    }
    EXPECT_STATS(&p, 6, 10, 10, 4, 1, 0);
    fa_pool_free(&p, NULL);
    EXPECT_STATS(&p, 6, 10, 10, 4, 1, 0);
    tu_pool_alloc_n(&p, v, 2);
    EXPECT_STATS(&p, 8, 10, 12, 4, 1, 0);
    tu_pool_alloc_n(&p, v + 2, 2);
    tu_pool_alloc_n(&p, v + 10, 60); /* v[0..70) live */
    EXPECT_STATS(&p, 70, 70, 74, 4, 2, 0);
    tu_pool_check_ok(&p);

    /* free_bulk: NULL entries are skipped, not counted. */
    void *bulk[50];
    size_t nb = 0;
    for (size_t i = 0; i < 40; i++) {
        if (i % 10 == 0) {
            bulk[nb++] = NULL;
        }
        bulk[nb++] = v[i];
    }
    fa_pool_free_bulk(&p, bulk, nb);
    EXPECT_STATS(&p, 30, 70, 74, 44, 2, 0);
    fa_pool_free_bulk(&p, v + 40, 30);
    EXPECT_STATS(&p, 0, 70, 74, 74, 2, 0);
    tu_pool_check_ok(&p);

    TU_EQ(fa_pool_trim(&p), 8192);
    EXPECT_STATS(&p, 0, 70, 74, 74, 0, 8192);
    TU_EQ(tu_source_live_bytes(&src), 0);

    v[0] = fa_pool_alloc(&p);
    EXPECT_STATS(&p, 1, 70, 75, 74, 1, 8192);
    fa_pool_free(&p, v[0]);
    TU_EQ(fa_pool_trim(&p), 4096);
    EXPECT_STATS(&p, 0, 70, 75, 75, 0, 12288);

    /* alloc_bulk counts like single allocations; peak follows. */
    TU_EQ(fa_pool_alloc_bulk(&p, v, 100), 100);
    EXPECT_STATS(&p, 100, 100, 175, 75, 2, 12288);
    fa_pool_free_bulk(&p, v, 100);
    EXPECT_STATS(&p, 0, 100, 175, 175, 2, 12288);
    tu_pool_check_ok(&p);
    fa_pool_destroy(&p);
    tu_source_fini(&src);
}
END_TEST

START_TEST(stats_unnamed)
{
    fa_config c = tu_config(64);
    c.name = NULL;
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    fa_stats st = tu_pool_stats(&p);
    TU_CHECK(st.name);
    TU_STR_EQ(st.name, "unnamed");
    fa_pool_destroy(&p);
}
END_TEST

/* fa_stats_print output, read back through a temporary file. */
static char *print_to_string(const fa_stats *st)
{
    FILE *f = tmpfile();
    TU_CHECK(f);
    fa_stats_print(st, f);
    long len = ftell(f);
    TU_INT_GT(len, 0);
    rewind(f);
    char *buf = malloc((size_t)len + 1);
    TU_CHECK(buf);
    size_t got = fread(buf, 1, (size_t)len, f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

START_TEST(stats_print)
{
    fa_config c = tu_config(24);
    c.name = "print-me-pool";
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    void *a = fa_pool_alloc(&p);
    fa_stats st = tu_pool_stats(&p);
    char *out = print_to_string(&st);
    TU_ASSERT(strstr(out, "print-me-pool") != NULL,
              "fa_stats_print output lacks the pool's name:\n%s", out);
    TU_ASSERT(strchr(out, '\n') != NULL && strchr(out, '\n')[1] != '\0',
              "fa_stats_print output is not multi-line:\n%s", out);
    free(out);
    fa_pool_free(&p, a);
    fa_pool_destroy(&p);

    c.name = NULL;
    tu_pool_init_ok(&p, &c);
    st = tu_pool_stats(&p);
    out = print_to_string(&st);
    TU_ASSERT(strstr(out, "unnamed") != NULL,
              "fa_stats_print of an unnamed pool:\n%s", out);
    free(out);
    fa_pool_destroy(&p);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Bulk */

START_TEST(bulk_alloc_free)
{
    tu_source src;
    tu_source_init(&src, NULL);
    fa_config c = tu_small_config(&src.source);
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    size_t spc = tu_pool_stats(&p).slots_per_chunk;
    size_t n = 3 * spc + 7;
    void **v = tu_xcalloc_ptrs(n + 1);
    TU_EQ(fa_pool_alloc_bulk(&p, v, 0), 0);
    TU_EQ(tu_pool_stats(&p).allocs, 0);
    TU_EQ(fa_pool_alloc_bulk(&p, v, n), n);
    void **sorted = tu_xcalloc_ptrs(n);
    memcpy(sorted, v, n * sizeof *v);
    tu_sort_ptrs(sorted, n);
    for (size_t i = 0; i < n; i++) {
        TU_CHECK(sorted[i]);
        TU_EQ((uintptr_t)sorted[i] % 16, 0);
        if (i > 0) {
            TU_ASSERT((char *)sorted[i] - (char *)sorted[i - 1] >= 64,
                      "bulk objects %p and %p overlap", sorted[i - 1],
                      sorted[i]);
        }
        memset(v[i], (int)i, 64);
    }
    TU_EQ(tu_pool_stats(&p).live, n);
    TU_EQ(tu_pool_stats(&p).chunks, 4);
    tu_pool_check_ok(&p);

    /* free_bulk with NULL entries and n == 0. */
    fa_pool_free_bulk(&p, v, 0);
    TU_EQ(tu_pool_stats(&p).live, n);
    fa_pool_free(&p, v[5]);
    v[5] = NULL;
    v[n] = NULL;
    fa_pool_free_bulk(&p, v + 4, n - 3); /* v[4..n] incl. two NULLs */
    TU_EQ(tu_pool_stats(&p).live, 4);
    fa_pool_free_bulk(&p, v, 4);
    TU_EQ(tu_pool_stats(&p).live, 0);
    tu_pool_check_ok(&p);

    /* Reuse through bulk. */
    TU_EQ(fa_pool_alloc_bulk(&p, v, n), n);
    TU_EQ(src.maps, 4);
    fa_pool_free_bulk(&p, v, n);
    fa_pool_destroy(&p);
    free(sorted);
    free(v);
    tu_source_fini(&src);
}
END_TEST

START_TEST(bulk_alloc_enomem)
{
    fa_config c = tu_small_config(NULL);
    c.max_bytes = 2 * 4096;
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    size_t spc = tu_pool_stats(&p).slots_per_chunk;
    void **v = tu_xcalloc_ptrs(3 * spc);
    errno = 0;
    size_t got = fa_pool_alloc_bulk(&p, v, 3 * spc);
    TU_EQ(got, 2 * spc);
    TU_INT_EQ(errno, ENOMEM);
    TU_EQ(tu_pool_stats(&p).allocs, 2 * spc);
    TU_EQ(tu_pool_stats(&p).live, 2 * spc);
    tu_sort_ptrs(v, got);
    for (size_t i = 1; i < got; i++) {
        TU_PTR_NE(v[i], v[i - 1]);
    }
    tu_pool_check_ok(&p);
    fa_pool_free_bulk(&p, v, 10);
    errno = 0;
    TU_EQ(fa_pool_alloc_bulk(&p, v, 20), 10);
    TU_INT_EQ(errno, ENOMEM);
    fa_pool_free_bulk(&p, v, 2 * spc);
    tu_pool_check_ok(&p);
    fa_pool_destroy(&p);
    free(v);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Reserve */

START_TEST(reserve_then_no_map)
{
    static const size_t counts[] = {1, 62, 63, 64, 200, 3 * 63 + 1};
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        size_t n = counts[k];
        tu_source src;
        tu_source_init(&src, NULL);
        fa_config c = tu_small_config(&src.source);
        fa_pool p;
        tu_pool_init_ok(&p, &c);
        TU_INT_EQ(fa_pool_reserve(&p, 0), 0);
        TU_EQ(src.map_calls, 0);
        TU_INT_EQ(fa_pool_reserve(&p, n), 0);
        size_t maps = src.map_calls;
        TU_GE(tu_pool_stats(&p).chunks * 63, n);
        TU_EQ(tu_pool_stats(&p).live, 0);
        tu_pool_check_ok(&p);
        void **v = tu_xcalloc_ptrs(n);
        for (size_t i = 0; i < n; i++) {
            v[i] = fa_pool_alloc(&p);
            TU_CHECK(v[i]);
            TU_ASSERT(src.map_calls == maps,
                      "reserve(%zu): alloc %zu "
                      "called the source",
                      n, i);
            /* Frees in between do not spoil the reservation. */
            if (i % 5 == 4) {
                fa_pool_free(&p, v[i]);
                v[i] = fa_pool_alloc(&p);
                TU_EQ(src.map_calls, maps);
            }
        }
        tu_pool_check_ok(&p);
        fa_pool_free_bulk(&p, v, n);
        fa_pool_destroy(&p);
        TU_EQ(src.nlive, 0);
        free(v);
        tu_source_fini(&src);
    }
}
END_TEST

START_TEST(reserve_counts_free_slots)
{
    tu_source src;
    tu_source_init(&src, NULL);
    fa_config c = tu_small_config(&src.source);
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    size_t spc = tu_pool_stats(&p).slots_per_chunk;
    void **v = tu_xcalloc_ptrs(4 * spc);
    tu_pool_alloc_n(&p, v, spc + 5); /* chunk 1 has spc - 5 uncarved slots */
    for (size_t i = 0; i < 10; i++) {
        fa_pool_free(&p, v[2 * i]); /* 10 free slots in chunk 0 */
    }
    size_t free_slots = 10 + (spc - 5);
    size_t maps = src.map_calls;
    TU_INT_EQ(fa_pool_reserve(&p, free_slots), 0);
    TU_ASSERT(src.map_calls == maps,
              "reserve(%zu) mapped a chunk with "
              "%zu slots free",
              free_slots, free_slots);
    /* One more than free needs one more chunk, and then none. */
    TU_INT_EQ(fa_pool_reserve(&p, free_slots + 1), 0);
    maps = src.map_calls;
    TU_EQ(tu_pool_stats(&p).chunks, 3);
    for (size_t i = 0; i < free_slots + 1; i++) {
        TU_CHECK(fa_pool_alloc(&p));
    }
    TU_EQ(src.map_calls, maps);
    tu_pool_check_ok(&p);
    fa_pool_destroy(&p);
    free(v);
    tu_source_fini(&src);
}
END_TEST

START_TEST(reserve_enomem_keeps_chunks)
{
    /* max_bytes: three chunks. */
    tu_source src;
    tu_source_init(&src, NULL);
    fa_config c = tu_small_config(&src.source);
    c.max_bytes = 3 * 4096 + 100;
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    size_t spc = tu_pool_stats(&p).slots_per_chunk;
    TU_INT_EQ(fa_pool_reserve(&p, 5 * spc), ENOMEM);
    TU_EQ(tu_pool_stats(&p).chunks, 3);
    TU_LE(tu_pool_stats(&p).bytes_held, c.max_bytes);
    tu_pool_check_ok(&p);
    size_t maps = src.map_calls;
    void **v = tu_xcalloc_ptrs(3 * spc);
    tu_pool_alloc_n(&p, v, 3 * spc);
    TU_EQ(src.map_calls, maps);
    errno = 0;
    TU_NULL(fa_pool_alloc(&p));
    TU_INT_EQ(errno, ENOMEM);
    fa_pool_free_bulk(&p, v, 3 * spc);
    fa_pool_destroy(&p);
    tu_source_fini(&src);

    /* A source that fails after two chunks. */
    tu_source_init(&src, NULL);
    src.fail_after = 2;
    c = tu_small_config(&src.source);
    tu_pool_init_ok(&p, &c);
    TU_INT_EQ(fa_pool_reserve(&p, 4 * spc), ENOMEM);
    TU_EQ(tu_pool_stats(&p).chunks, 2);
    tu_pool_check_ok(&p);
    maps = src.maps;
    tu_pool_alloc_n(&p, v, 2 * spc);
    TU_EQ(src.maps, maps);
    src.fail_after = -1; /* the source recovers: so does the pool */
    TU_INT_EQ(fa_pool_reserve(&p, spc), 0);
    TU_CHECK(fa_pool_alloc(&p));
    tu_pool_check_ok(&p);
    fa_pool_destroy(&p);
    TU_EQ(src.nlive, 0);
    free(v);
    tu_source_fini(&src);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Trim */

static void trim_round(uint64_t seed)
{
    tu_rng r;
    tu_rng_seed(&r, seed);
    tu_source src;
    tu_source_init(&src, NULL);
    fa_config c = tu_small_config(&src.source);
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    size_t spc = tu_pool_stats(&p).slots_per_chunk;
    const size_t nchunks = 6;
    size_t n = (nchunks - 1) * spc + 10; /* the last chunk is partial */
    void **v = tu_xcalloc_ptrs(n);
    void **doomed = tu_xcalloc_ptrs(n);
    tu_pool_alloc_n(&p, v, n);
    for (size_t i = 0; i < n; i++) {
        tu_stamp(v[i], 64, i);
    }
    /* Chunk k holds v[k*spc .. (k+1)*spc). Empty chunks 0, 2 and the
     * current one (5); free a random part of 1 and 3 (not all); keep 4. */
    bool empty[6] = {true, false, true, false, false, true};
    bool *freed = calloc(n, sizeof *freed);
    TU_CHECK(freed);
    size_t nd = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = i / spc;
        bool go = empty[k] ||
                  ((k == 1 || k == 3) && tu_rng_below(&r, 2) && i % spc != 0);
        if (go) {
            doomed[nd++] = v[i];
            freed[i] = true;
        }
    }
    tu_shuffle(&r, doomed, nd);
    for (size_t i = 0; i < nd; i++) {
        fa_pool_free(&p, doomed[i]);
    }
    tu_pool_check_ok(&p);
    tu_source_clear_log(&src);
    size_t got = fa_pool_trim(&p);
    TU_ASSERT(got == 3 * 4096,
              "seed %llu: trim gave back %zu bytes, "
              "want 3 chunks",
              (unsigned long long)seed, got);
    TU_EQ(src.unmaps, 3);
    for (size_t k = 0; k < nchunks; k++) {
        TU_ASSERT(tu_source_logged(&src, v[k * spc]) == empty[k],
                  "seed %llu: chunk %zu %s", (unsigned long long)seed, k,
                  empty[k] ? "kept though free" : "given back though live");
    }
    fa_stats st = tu_pool_stats(&p);
    TU_EQ(st.chunks, 3);
    TU_EQ(st.bytes_held, 3 * 4096);
    TU_EQ(st.bytes_trimmed, 3 * 4096);
    TU_EQ(st.live, n - nd);
    for (size_t i = 0; i < n; i++) {
        if (!freed[i]) {
            TU_EQ(tu_verify(v[i], 0, 64, i), 64);
        }
    }
    tu_pool_check_ok(&p);
    TU_EQ(fa_pool_trim(&p), 0);

    /* The pool goes on: allocate into the remaining holes and beyond. */
    void *more[100];
    tu_pool_alloc_n(&p, more, 100);
    fa_pool_free_bulk(&p, more, 100);
    for (size_t i = 0; i < n; i++) {
        if (!freed[i]) {
            fa_pool_free(&p, v[i]);
        }
    }
    got = fa_pool_trim(&p);
    TU_EQ(got, tu_pool_stats(&p).bytes_trimmed - 3 * 4096);
    TU_EQ(tu_pool_stats(&p).chunks, 0);
    TU_EQ(tu_pool_stats(&p).bytes_held, 0);
    TU_EQ(src.nlive, 0);
    TU_CHECK(fa_pool_alloc(&p));
    tu_pool_check_ok(&p);
    fa_pool_destroy(&p);
    free(freed);
    free(doomed);
    free(v);
    tu_source_fini(&src);
}

START_TEST(trim_shuffled)
{
    size_t rounds = tu_scaled(8, 2);
    for (size_t i = 0; i < rounds; i++) {
        trim_round(100 + i);
    }
}
END_TEST

START_TEST(trim_empty_and_current)
{
    tu_source src;
    tu_source_init(&src, NULL);
    fa_config c = tu_small_config(&src.source);
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    TU_EQ(fa_pool_trim(&p), 0);
    void *a = fa_pool_alloc(&p);
    fa_pool_free(&p, a);
    /* The only, current chunk is all free: it goes too. */
    TU_EQ(fa_pool_trim(&p), 4096);
    TU_EQ(tu_pool_stats(&p).chunks, 0);
    TU_EQ(src.nlive, 0);
    tu_pool_check_ok(&p);
    a = fa_pool_alloc(&p);
    TU_CHECK(a);
    memset(a, 1, 64);
    TU_EQ(fa_pool_trim(&p), 0);
    fa_pool_free(&p, a);
    /* Reserved, never used chunks are all free too. */
    TU_INT_EQ(fa_pool_reserve(&p, 5 * 63), 0);
    size_t got = fa_pool_trim(&p);
    TU_GE(got, 5 * 4096);
    TU_EQ(got, tu_pool_stats(&p).bytes_trimmed - 4096);
    TU_EQ(tu_pool_stats(&p).chunks, 0);
    tu_pool_check_ok(&p);
    fa_pool_destroy(&p);
    tu_source_fini(&src);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Walk */

/* Frees in a row into chunks other than the current one, each near the
 * object freed into its chunk before it, make the chunk the current one:
 * the next allocation reuses the object freed last (LIFO, in cache), and
 * its next frees take the fast path. Two such walks at once take turns
 * being current. Scattered frees do not move the current chunk
 * (scattered_frees_keep_current). */
START_TEST(free_streak_moves_current)
{
    fa_config c = tu_small_config(NULL);
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    size_t spc = tu_pool_stats(&p).slots_per_chunk;
    size_t n = 3 * spc - 10;
    void **v = tu_xcalloc_ptrs(n);
    tu_pool_alloc_n(&p, v, n); /* chunks 0 and 1 full, 2 current with room */
    for (size_t i = spc; i-- > 0;) {
        fa_pool_free(&p, v[i]); /* chunk 0, last allocated first */
    }
    void *again = fa_pool_alloc(&p);
    TU_PTR_EQ(again, v[0]);
    TU_CHECK(fa_pool_check(&p));
    /* Chunk 1 and chunk 2, alternately, each in address order: chunk 0
     * stops being current, and the allocation reuses the object freed
     * last into the chunk current now. */
    size_t last = spc - 11;
    for (size_t i = 0; i <= last; i++) {
        fa_pool_free(&p, v[spc + i]);
        fa_pool_free(&p, v[2 * spc + i]);
    }
    void *next = fa_pool_alloc(&p);
    TU_CHECK(next == v[spc + last] || next == v[2 * spc + last]);
    TU_CHECK(fa_pool_check(&p));
    free(v);
    fa_pool_destroy(&p);
}
END_TEST

/* A small pool with chunk 0 full and chunk 1 current with room: its
 * objects in v (returned), *spc slots a chunk, *n objects. */
static void **full_and_current(fa_pool *p, size_t *spc, size_t *n)
{
    fa_config c = tu_small_config(NULL);
    tu_pool_init_ok(p, &c);
    *spc = tu_pool_stats(p).slots_per_chunk;
    *n = 2 * *spc - 10;
    void **v = tu_xcalloc_ptrs(*n);
    tu_pool_alloc_n(p, v, *n);
    return v;
}

/* Frees that all land in one chunk but far apart (every 16th slot, then
 * the next 16th...) are no streak: the current chunk stays, and the next
 * allocation comes from it. */
START_TEST(scattered_frees_keep_current)
{
    fa_pool p;
    size_t spc, n;
    void **v = full_and_current(&p, &spc, &n);
    for (size_t k = 0; k < 16; k++) {
        for (size_t i = k; i < spc; i += 16) {
            fa_pool_free(&p, v[i]);
        }
    }
    void *next = fa_pool_alloc(&p);
    TU_CHECK((char *)next >= (char *)v[spc] &&
             (char *)next < (char *)v[spc] + tu_pool_stats(&p).chunk_size);
    TU_CHECK(fa_pool_check(&p));
    free(v);
    fa_pool_destroy(&p);
}
END_TEST

/* The current chunk emptied by fast frees in random order is reset when
 * another chunk is refiled: the allocations that follow carve slots in
 * address order rather than walk the list in the order of the frees. */
START_TEST(emptied_current_chunk_is_reset)
{
    fa_pool p;
    size_t spc, n;
    void **v = full_and_current(&p, &spc, &n);
    tu_rng r;
    tu_rng_seed(&r, 11);
    tu_shuffle(&r, v + spc, n - spc);
    for (size_t i = spc; i < n; i++) {
        fa_pool_free(&p, v[i]); /* chunk 1 empties, its list shuffled */
    }
    tu_shuffle(&r, v, spc);
    for (size_t i = 0; i < spc; i++) {
        fa_pool_free(&p, v[i]); /* chunk 0 empties and is refiled */
    }
    TU_CHECK(fa_pool_check(&p));
    TU_EQ(tu_pool_stats(&p).live, 0);
    tu_pool_alloc_n(&p, v, spc);
    for (size_t i = 1; i < spc; i++) {
        TU_PTR_EQ(v[i], (char *)v[i - 1] + tu_pool_stats(&p).slot_size);
    }
    TU_CHECK(fa_pool_check(&p));
    free(v);
    fa_pool_destroy(&p);
}
END_TEST

/* A chunk emptied in LIFO order keeps its list (already in address
 * order) instead of being carved again; one emptied in another order is
 * reset. Either way the pool checks, trims, and hands the slots out again
 * in address order. */
START_TEST(emptied_chunks_keep_or_reset)
{
    fa_config c = tu_small_config(NULL);
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    size_t spc = tu_pool_stats(&p).slots_per_chunk;
    size_t n = 3 * spc;
    void **v = tu_xcalloc_ptrs(n);
    for (int round = 0; round < 3; round++) {
        tu_pool_alloc_n(&p, v, n);
        for (size_t i = 1; i < n; i++) {
            TU_CHECK((char *)v[i] > (char *)v[i - 1] || i % spc == 0);
        }
        if (round == 1) { /* chunk 0 in a stride, the rest LIFO */
            for (size_t k = 0; k < 7; k++) {
                for (size_t i = k; i < spc; i += 7) {
                    fa_pool_free(&p, v[i]);
                }
            }
            for (size_t i = n; i-- > spc;) {
                fa_pool_free(&p, v[i]);
            }
        } else {
            for (size_t i = n; i-- > 0;) {
                fa_pool_free(&p, v[i]);
            }
        }
        TU_CHECK(fa_pool_check(&p));
        TU_EQ(tu_pool_stats(&p).live, 0);
    }
    TU_CHECK(fa_pool_trim(&p) > 0);
    TU_CHECK(fa_pool_check(&p));
    free(v);
    fa_pool_destroy(&p);
}
END_TEST

START_TEST(walk_live_only)
{
    fa_config c = tu_config(48);
    c.chunk_size = 4096;
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    tu_pool_expect_walk(&p, NULL, 0);
    size_t spc = tu_pool_stats(&p).slots_per_chunk;
    size_t n = 3 * spc + 17;
    void **v = tu_xcalloc_ptrs(n);
    void **live = tu_xcalloc_ptrs(n);
    tu_pool_alloc_n(&p, v, n);
    tu_pool_expect_walk(&p, v, n);
    tu_rng r;
    tu_rng_seed(&r, 5);
    size_t nl = 0;
    for (size_t i = 0; i < n; i++) {
        /* free chunk 1 entirely, half of the others at random */
        if (i / spc == 1 || tu_rng_below(&r, 2)) {
            fa_pool_free(&p, v[i]);
        } else {
            live[nl++] = v[i];
        }
    }
    tu_pool_expect_walk(&p, live, nl);
    /* reuse some of the holes */
    void *more[40];
    tu_pool_alloc_n(&p, more, 40);
    memcpy(live + nl, more, sizeof more);
    nl += 40;
    tu_pool_expect_walk(&p, live, nl);
    fa_pool_trim(&p);
    tu_pool_expect_walk(&p, live, nl);
    fa_pool_free_bulk(&p, live, nl);
    tu_pool_expect_walk(&p, NULL, 0);
    tu_pool_check_ok(&p);
    fa_pool_destroy(&p);
    free(live);
    free(v);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Destroy */

START_TEST(destroy_returns_everything)
{
    tu_source src;
    tu_source_init(&src, NULL);
    fa_config c = tu_small_config(&src.source);
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    fa_pool_destroy(&p);
    TU_EQ(src.maps, src.unmaps);

    for (int round = 0; round < 3; round++) {
        tu_pool_init_ok(&p, &c); /* the same pool, initialised again */
        void *v[300];
        tu_pool_alloc_n(&p, v, 300);
        fa_pool_free_bulk(&p, v, 100);
        TU_INT_EQ(fa_pool_reserve(&p, 500), 0);
        fa_pool_trim(&p);
        tu_pool_alloc_n(&p, v, 50);
        tu_pool_check_ok(&p);
        fa_pool_destroy(&p); /* 250 still live: gone */
        TU_EQ(src.nlive, 0);
        TU_EQ(src.maps, src.unmaps);
        TU_EQ(src.bytes_mapped, src.bytes_unmapped);
    }
    TU_GT(src.maps, 0);
    tu_source_fini(&src);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Running out of memory */

START_TEST(enomem_max_bytes)
{
    fa_config c = tu_small_config(NULL);
    c.max_bytes = 4096;
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    size_t spc = tu_pool_stats(&p).slots_per_chunk;
    void **v = tu_xcalloc_ptrs(spc);
    tu_pool_alloc_n(&p, v, spc);
    for (int k = 0; k < 3; k++) {
        errno = 0;
        TU_NULL(fa_pool_alloc(&p));
        TU_INT_EQ(errno, ENOMEM);
    }
    fa_stats st = tu_pool_stats(&p);
    TU_EQ(st.allocs, spc);
    TU_EQ(st.live, spc);
    TU_EQ(st.chunks, 1);
    tu_pool_check_ok(&p);
    void *x = v[17];
    fa_pool_free(&p, x);
    void *y = fa_pool_alloc(&p);
    TU_PTR_EQ(y, x);
    errno = 0;
    TU_NULL(fa_pool_alloc(&p));
    TU_INT_EQ(errno, ENOMEM);
    tu_pool_check_ok(&p);
    /* After everything is freed and trimmed the limit is whole again. */
    fa_pool_free_bulk(&p, v, spc);
    TU_EQ(fa_pool_trim(&p), 4096);
    tu_pool_alloc_n(&p, v, spc);
    TU_NULL(fa_pool_alloc(&p));
    fa_pool_free_bulk(&p, v, spc);
    tu_pool_check_ok(&p);
    fa_pool_destroy(&p);
    free(v);
}
END_TEST

START_TEST(enomem_source_fails)
{
    tu_source src;
    tu_source_init(&src, NULL);
    src.fail_after = 2;
    fa_config c = tu_small_config(&src.source);
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    size_t spc = tu_pool_stats(&p).slots_per_chunk;
    void **v = tu_xcalloc_ptrs(3 * spc);
    tu_pool_alloc_n(&p, v, 2 * spc);
    errno = 0;
    TU_NULL(fa_pool_alloc(&p));
    TU_INT_EQ(errno, ENOMEM);
    TU_EQ(tu_pool_stats(&p).allocs, 2 * spc);
    TU_EQ(tu_pool_stats(&p).live, 2 * spc);
    TU_EQ(tu_pool_stats(&p).chunks, 2);
    tu_pool_check_ok(&p);
    fa_pool_free(&p, v[3]);
    v[3] = fa_pool_alloc(&p);
    TU_CHECK(v[3]);
    errno = 0;
    TU_NULL(fa_pool_alloc(&p));
    TU_INT_EQ(errno, ENOMEM);
    tu_pool_check_ok(&p);
    src.fail_after = -1;
    v[2 * spc] = fa_pool_alloc(&p);
    TU_CHECK(v[2 * spc]);
    TU_EQ(tu_pool_stats(&p).chunks, 3);
    tu_pool_check_ok(&p);
    fa_pool_free_bulk(&p, v, 2 * spc + 1);
    fa_pool_destroy(&p);
    TU_EQ(src.nlive, 0);
    free(v);
    tu_source_fini(&src);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Sources and configs are copied */

START_TEST(config_and_source_copied)
{
    fa_source s = *fa_os_source();
    fa_config c = tu_config(64);
    c.source = &s;
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    memset(&s, 0, sizeof s); /* the pool holds its own copy */
    c.size = 999;
    c.chunk_size = 12345;
    void *a = fa_pool_alloc(&p);
    TU_CHECK(a);
    TU_EQ(tu_pool_stats(&p).object_size, 64);
    fa_pool_free(&p, a);
    TU_EQ(fa_pool_trim(&p), tu_pool_stats(&p).chunk_size);
    fa_pool_destroy(&p);
}
END_TEST

/* ------------------------------------------------------------------ */

static Suite *suite(void)
{
    Suite *s = suite_create("pool-ops");
    TCase *tc;

    tc = tcase_create("operations");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, stats_exact);
    tcase_add_test(tc, stats_unnamed);
    tcase_add_test(tc, stats_print);
    tcase_add_test(tc, bulk_alloc_free);
    tcase_add_test(tc, bulk_alloc_enomem);
    tcase_add_test(tc, reserve_then_no_map);
    tcase_add_test(tc, reserve_counts_free_slots);
    tcase_add_test(tc, reserve_enomem_keeps_chunks);
    tcase_add_test(tc, trim_shuffled);
    tcase_add_test(tc, trim_empty_and_current);
    tcase_add_test(tc, free_streak_moves_current);
    tcase_add_test(tc, scattered_frees_keep_current);
    tcase_add_test(tc, emptied_current_chunk_is_reset);
    tcase_add_test(tc, emptied_chunks_keep_or_reset);
    tcase_add_test(tc, walk_live_only);
    tcase_add_test(tc, destroy_returns_everything);
    tcase_add_test(tc, enomem_max_bytes);
    tcase_add_test(tc, enomem_source_fails);
    tcase_add_test(tc, config_and_source_copied);
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
