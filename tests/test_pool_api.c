/*
 * test_pool_api.c - fa_pool: init refusals and boundaries, slot geometry,
 * alignment and chunk size, the first and release callbacks, and what a free
 * keeps.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixalloc.h"
#include "test_util.h"

/* ------------------------------------------------------------------ */
/* Helpers */

/* fa_pool_init's result for cfg; an accepted pool is destroyed again. */
static int try_init(const fa_config *c)
{
    fa_pool p;
    memset(&p, 0, sizeof p);
    int rc = fa_pool_init(&p, c);
    if (rc == 0) {
        fa_pool_destroy(&p);
    }
    return rc;
}

static void expect_refused(const fa_config *c, const char *why)
{
    int rc = try_init(c);
    TU_ASSERT(rc == EINVAL,
              "%s: fa_pool_init(size %zu, align %zu, chunk "
              "%zu, max %zu, flags %#x) = %d, want EINVAL",
              why, c->size, c->align, c->chunk_size, c->max_bytes, c->flags,
              rc);
}

static void expect_accepted(const fa_config *c, const char *why)
{
    int rc = try_init(c);
    TU_ASSERT(rc == 0,
              "%s: fa_pool_init(size %zu, align %zu, chunk %zu, "
              "max %zu, flags %#x) = %d, want 0",
              why, c->size, c->align, c->chunk_size, c->max_bytes, c->flags,
              rc);
}

/* ------------------------------------------------------------------ */
/* Init refusals and boundaries */

START_TEST(init_size_zero)
{
    fa_config c = tu_config(0);
    expect_refused(&c, "size 0");
    c.align = 16;
    expect_refused(&c, "size 0 with align");
}
END_TEST

START_TEST(init_align_refused)
{
    static const size_t bad[] = {3,   5,    6,    12,       24,
                                 100, 4095, 8192, 1u << 20, SIZE_MAX};
    static const size_t sizes[] = {1, 8, 64};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            fa_config c = tu_config(sizes[s]);
            c.align = bad[i];
            expect_refused(&c, "align");
        }
    }
}
END_TEST

START_TEST(init_chunk_refused)
{
    static const size_t bad[] = {1,
                                 2048,
                                 4097,
                                 3 * 4096,
                                 65535,
                                 65537,
                                 FA_CHUNK_MAX * 2,
                                 FA_CHUNK_MAX + 4096,
                                 SIZE_MAX,
                                 (SIZE_MAX >> 1) + 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fa_config c = tu_config(64);
        c.chunk_size = bad[i];
        expect_refused(&c, "chunk_size");
    }
}
END_TEST

START_TEST(init_chunk_too_small_for_slot)
{
    static const struct {
        size_t size, align, chunk;
    } bad[] = {
        {5000, 0, 4096},          {4096, 0, 4096},
        {4096 - 64 + 1, 0, 4096}, /* slot 4048: 64 + 4048 > 4096 */
        {8, 4096, 4096},          /* the header pushes the slot out */
        {2049, 2048, 4096},       /* slot 4096 after 2048 of header */
        {40000, 0, 32768},        {65536, 0, 65536},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fa_config c = tu_config(bad[i].size);
        c.align = bad[i].align;
        c.chunk_size = bad[i].chunk;
        expect_refused(&c, "chunk too small for one slot");
    }
}
END_TEST

START_TEST(init_object_too_large)
{
    static const size_t bad[] = {
        FA_CHUNK_MAX - FA_CHUNK_HEADER + 1,
        FA_CHUNK_MAX,
        FA_CHUNK_MAX + 1,
        (size_t)4 << 30,
        (SIZE_MAX >> 1) + 1,
        SIZE_MAX - 15,
        SIZE_MAX - 7,
        SIZE_MAX - 1,
        SIZE_MAX,
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fa_config c = tu_config(bad[i]);
        expect_refused(&c, "object too large");
        c.chunk_size = FA_CHUNK_MAX;
        expect_refused(&c, "object too large for FA_CHUNK_MAX");
        c.chunk_size = 0;
        c.align = 4096;
        expect_refused(&c, "object too large, align 4096");
    }
    /* With align 4096 the header takes a whole 4096 bytes. */
    fa_config c = tu_config(FA_CHUNK_MAX - 4096 + 1);
    c.align = 4096;
    expect_refused(&c, "slot of 1 GiB after a 4096-byte header");
}
END_TEST

START_TEST(init_max_bytes_below_chunk)
{
    fa_config c = tu_config(64);
    c.chunk_size = 4096;
    c.max_bytes = 1;
    expect_refused(&c, "max_bytes 1");
    c.max_bytes = 4095;
    expect_refused(&c, "max_bytes below chunk_size");
    c.max_bytes = 4096;
    expect_accepted(&c, "max_bytes == chunk_size");
    c.max_bytes = 4097;
    expect_accepted(&c, "max_bytes above chunk_size");

    /* Against the default chunk size (64 KiB for 64-byte objects). */
    c = tu_config(64);
    c.max_bytes = 4096;
    expect_refused(&c, "max_bytes below the default chunk");
    c.max_bytes = 65535;
    expect_refused(&c, "max_bytes just below the default chunk");
    c.max_bytes = 65536;
    expect_accepted(&c, "max_bytes == default chunk");
}
END_TEST

START_TEST(init_unknown_flags)
{
    fa_config c = tu_config(64);
    c.flags = 1u << 31;
    expect_refused(&c, "flag bit 31");
    c.flags = FA_ZERO | (1u << 30);
    expect_refused(&c, "FA_ZERO with flag bit 30");
    c.flags = FA_ZERO;
    expect_accepted(&c, "FA_ZERO");
}
END_TEST

START_TEST(init_zero_with_first)
{
    tu_callbacks cb;
    tu_callbacks_init(&cb);
    fa_config c = tu_config(64);
    c.flags = FA_ZERO;
    c.first = tu_cb_first;
    c.arg = &cb;
    expect_refused(&c, "FA_ZERO with first");
    /* FA_ZERO with release alone is fine. */
    c.first = NULL;
    c.release = tu_cb_release;
    expect_accepted(&c, "FA_ZERO with release");
    TU_EQ(cb.firsts, 0);
    tu_map_fini(&cb.carved);
}
END_TEST

static void *null_map(void *ctx, size_t size, size_t align, bool *zeroed)
{
    (void)ctx;
    (void)size;
    (void)align;
    (void)zeroed;
    return NULL;
}

static void null_unmap(void *ctx, void *mem, size_t size)
{
    (void)ctx;
    (void)mem;
    (void)size;
}

START_TEST(init_bad_source)
{
    fa_source s = {NULL, null_unmap, NULL, NULL};
    fa_config c = tu_config(64);
    c.source = &s;
    expect_refused(&c, "source without map");
    s.map = null_map;
    s.unmap = NULL;
    expect_refused(&c, "source without unmap");
    s.map = NULL;
    expect_refused(&c, "source without map and unmap");
}
END_TEST

START_TEST(init_boundaries_accepted)
{
    fa_pool p;
    fa_stats st;

    /* The largest object: one slot in the largest chunk, which then keeps
     * no purge map (its 1024 one-MiB units would take 128 bytes). */
    fa_config c = tu_config(FA_CHUNK_MAX - FA_CHUNK_HEADER);
    tu_pool_init_ok(&p, &c);
    st = tu_pool_stats(&p);
    TU_EQ(st.slot_size, FA_CHUNK_MAX - FA_CHUNK_HEADER);
    TU_EQ(st.chunk_size, FA_CHUNK_MAX);
    TU_EQ(st.slots_per_chunk, 1);
    TU_EQ(st.chunks, 0);
    TU_EQ(st.bytes_held, 0);
    fa_pool_destroy(&p);

    /* A big object whose 32 slots would pass FA_CHUNK_MAX: capped. */
    c = tu_config((size_t)64 << 20);
    tu_pool_init_ok(&p, &c);
    st = tu_pool_stats(&p);
    TU_EQ(st.chunk_size, FA_CHUNK_MAX);
    TU_EQ(st.slots_per_chunk, 15);
    fa_pool_destroy(&p);

    static const struct {
        size_t size, align, chunk, slots;
    } ok[] = {
        {4096 - 64, 0, 4096, 1},
        {4096 - 64, 64, 4096, 1},
        {8, 2048, 4096, 1},
        {2048, 2048, 4096, 1},
        {1, 1, 4096, 504},
        {8, 0, FA_CHUNK_MIN, 504},
        {8, 4096, 8192, 1},
        {8192 - 64, 0, 8192, 1},
        /* 1024 trim units of 1 MiB: 128 bytes of purge map. */
        {8, 0, FA_CHUNK_MAX, (FA_CHUNK_MAX - 64 - 128) / 8},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        c = tu_config(ok[i].size);
        c.align = ok[i].align;
        c.chunk_size = ok[i].chunk;
        tu_pool_init_ok(&p, &c);
        st = tu_pool_stats(&p);
        TU_EQ(st.chunk_size, ok[i].chunk);
        TU_ASSERT(st.slots_per_chunk == ok[i].slots,
                  "size %zu align %zu chunk %zu: %zu slots, want %zu",
                  ok[i].size, ok[i].align, ok[i].chunk, st.slots_per_chunk,
                  ok[i].slots);
        fa_pool_destroy(&p);
    }

    /* Every power of two from 1 to FA_ALIGN_MAX is an alignment. */
    for (size_t a = 1; a <= FA_ALIGN_MAX; a <<= 1) {
        c = tu_config(24);
        c.align = a;
        expect_accepted(&c, "power-of-two align");
    }
}
END_TEST

/* ------------------------------------------------------------------ */
/* Slot size rule, seen through stats and addresses */

static const struct geometry_case {
    size_t size, align;
} geometry_cases[] = {
    {1, 0},     {7, 0},       {8, 0},   {9, 0},       {15, 0},   {16, 0},
    {17, 0},    {24, 0},      {100, 0}, {256, 0},     {4000, 0}, {2032, 0},
    {2048, 0},  {1, 1},       {9, 1},   {9, 2},       {9, 4},    {12, 4},
    {3, 64},    {100, 64},    {24, 8},  {4000, 4096}, {8, 4096}, {33, 32},
    {200, 128}, {1000, 1024},
};
#define N_GEOMETRY (int)(sizeof geometry_cases / sizeof geometry_cases[0])

START_TEST(slot_geometry)
{
    const struct geometry_case *g = &geometry_cases[_i];
    size_t align = tu_expected_align(g->size, g->align);
    size_t slot = tu_expected_slot(g->size, g->align);
    size_t chunk = tu_expected_chunk(g->size, g->align);
    size_t spc = tu_slots_in_chunk(chunk, slot, align);
    tu_source src;
    tu_source_init(&src, NULL);
    fa_config c = tu_config(g->size);
    c.align = g->align;
    c.source = &src.source;
    fa_pool p;
    tu_pool_init_ok(&p, &c);

    fa_stats st = tu_pool_stats(&p);
    TU_STR_EQ(st.name, "test");
    TU_EQ(st.object_size, g->size);
    TU_ASSERT(st.slot_size == slot,
              "size %zu align %zu: slot %zu, want "
              "%zu",
              g->size, g->align, st.slot_size, slot);
    TU_ASSERT(st.chunk_size == chunk,
              "size %zu align %zu: chunk %zu, "
              "want %zu",
              g->size, g->align, st.chunk_size, chunk);
    TU_ASSERT(st.slots_per_chunk == spc,
              "size %zu align %zu: %zu slots "
              "per chunk, want %zu",
              g->size, g->align, st.slots_per_chunk, spc);

    size_t n = spc + 3; /* one full chunk and a bit of the next */
    void **v = tu_xcalloc_ptrs(n);
    tu_pool_alloc_n(&p, v, n);
    for (size_t i = 0; i < n; i++) {
        uintptr_t a = (uintptr_t)v[i];
        uintptr_t base = tu_chunk_base(v[i], chunk);
        size_t off = (size_t)(a - base);
        TU_ASSERT(a % align == 0, "object %p not aligned to %zu", v[i], align);
        TU_ASSERT(off >= FA_CHUNK_HEADER && off + slot <= chunk,
                  "object %p at offset %zu of its chunk (slot %zu, "
                  "chunk %zu)",
                  v[i], off, slot, chunk);
        /* Objects k*spc .. (k+1)*spc-1 fill chunk k. */
        TU_ASSERT(base == tu_chunk_base(v[i / spc * spc], chunk),
                  "object %zu not in the chunk of object %zu", i,
                  i / spc * spc);
        if (i % spc != 0) {
            TU_ASSERT(a - (uintptr_t)v[i - 1] == slot,
                      "fresh objects %zu and %zu are %td bytes apart, "
                      "want the slot size %zu",
                      i - 1, i, (char *)v[i] - (char *)v[i - 1], slot);
        } else if (i != 0) {
            TU_ASSERT(base != tu_chunk_base(v[i - 1], chunk),
                      "object %zu should open a new chunk", i);
        }
    }
    st = tu_pool_stats(&p);
    TU_EQ(st.chunks, 2);
    TU_EQ(st.bytes_held, 2 * chunk);
    TU_EQ(src.maps, 2);
    TU_EQ(src.last_map_size, chunk);
    TU_EQ(st.live, n);
    tu_pool_check_ok(&p);
    fa_pool_free_bulk(&p, v, n);
    tu_pool_check_ok(&p);
    fa_pool_destroy(&p);
    TU_EQ(src.nlive, 0);
    free(v);
    tu_source_fini(&src);
}
END_TEST

/* ------------------------------------------------------------------ */
/* first and release */

START_TEST(first_once_per_slot)
{
    tu_callbacks cb;
    tu_callbacks_init(&cb);
    cb.fill = 0xC3;
    cb.fill_n = 64;
    tu_source src;
    tu_source_init(&src, NULL);
    fa_config c = tu_small_config(&src.source);
    c.first = tu_cb_first;
    c.release = tu_cb_release;
    c.arg = &cb;
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    size_t spc = tu_pool_stats(&p).slots_per_chunk;
    void **v = tu_xcalloc_ptrs(4 * spc);

    /* Fresh objects: each was passed to `first` before being handed out,
     * and carries what `first` wrote past the first word, which reads as
     * zero. */
    tu_pool_alloc_n(&p, v, spc + 1);
    for (size_t i = 0; i < spc + 1; i++) {
        TU_ASSERT(tu_map_get(&cb.carved, v[i], NULL),
                  "object %zu handed out before `first` ran on it", i);
        tu_expect_first_word_zero(v[i], 64);
        TU_EQ(tu_first_not(v[i], TU_PTR, 64, 0xC3), 64);
    }
    TU_EQ(cb.dup_firsts, 0);
    TU_GE(cb.firsts, spc + 1);
    TU_LE(cb.firsts, 2 * spc);
    size_t firsts = cb.firsts;

    /* Reuse within the current chunk: no new `first`; the bytes past the
     * first word are still what `first` wrote. */
    void *x = v[spc];
    fa_pool_free(&p, x);
    void *y = fa_pool_alloc(&p);
    TU_PTR_EQ(y, x);
    TU_EQ(cb.firsts, firsts);
    tu_expect_first_word_zero(y, 64);
    TU_EQ(tu_first_not(y, TU_PTR, 64, 0xC3), 64);

    /* Chunk 0 becomes entirely free, then is handed out again. */
    tu_rng r;
    tu_rng_seed(&r, 3);
    tu_shuffle(&r, v, spc);
    for (size_t i = 0; i < spc; i++) {
        fa_pool_free(&p, v[i]);
    }
    tu_pool_alloc_n(&p, v + spc + 1,
                    2 * spc - 1); /* rest of chunk 1, all of 0 */
    TU_EQ(src.maps, 2);
    TU_ASSERT(cb.dup_firsts == 0,
              "`first` ran again on %zu slots of a "
              "chunk that became free and was reused",
              cb.dup_firsts);
    TU_LE(cb.firsts, 2 * spc);
    for (size_t i = spc; i < 3 * spc; i++) {
        TU_ASSERT(tu_map_get(&cb.carved, v[i], NULL),
                  "object %zu handed out before `first` ran on it", i);
        /* Nobody but `first` wrote past the first word. */
        tu_expect_first_word_zero(v[i], 64);
        TU_EQ(tu_first_not(v[i], TU_PTR, 64, 0xC3), 64);
    }
    TU_EQ(cb.releases, 0);
    tu_pool_check_ok(&p);

    fa_pool_destroy(&p);
    TU_EQ(cb.bad_releases, 0);
    TU_ASSERT(cb.releases == cb.firsts, "%zu releases for %zu firsts",
              cb.releases, cb.firsts);
    TU_EQ(cb.carved.len, 0);
    TU_EQ(src.nlive, 0);
    free(v);
    tu_map_fini(&cb.carved);
    tu_source_fini(&src);
}
END_TEST

START_TEST(release_on_trim)
{
    tu_callbacks cb;
    tu_callbacks_init(&cb);
    tu_source src;
    tu_source_init(&src, NULL);
    fa_config c = tu_small_config(&src.source);
    c.first = tu_cb_first;
    c.release = tu_cb_release;
    c.arg = &cb;
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    size_t spc = tu_pool_stats(&p).slots_per_chunk;
    size_t n = 3 * spc + 5; /* chunks 0..2 full, chunk 3 has 5 */
    void **v = tu_xcalloc_ptrs(n);
    tu_pool_alloc_n(&p, v, n);

    /* Keep one object alive in chunk 1; free the rest. */
    void *keep = v[spc + 7];
    uintptr_t keep_base = tu_chunk_base(keep, 4096);
    for (size_t i = 0; i < n; i++) {
        if (v[i] != keep) {
            fa_pool_free(&p, v[i]);
        }
    }
    size_t carved_kept =
        tu_map_count_range(&cb.carved, keep_base, keep_base + 4096);
    size_t firsts = cb.firsts;
    tu_source_clear_log(&src);
    size_t got = fa_pool_trim(&p);
    TU_EQ(got, 3 * 4096);
    TU_EQ(src.unmaps, 3);
    TU_EQ(cb.bad_releases, 0);
    TU_EQ(cb.releases, firsts - carved_kept);
    TU_EQ(cb.carved.len, carved_kept);
    TU_EQ(tu_map_count_range(&cb.carved, keep_base, keep_base + 4096),
          carved_kept);
    TU_CHECK(!tu_source_logged(&src, keep));
    TU_EQ(tu_pool_stats(&p).chunks, 1);
    tu_pool_check_ok(&p);

    /* Trim with nothing free to give gives nothing. */
    TU_EQ(fa_pool_trim(&p), 0);

    fa_pool_free(&p, keep);
    TU_EQ(fa_pool_trim(&p), 4096);
    TU_EQ(cb.carved.len, 0);
    TU_EQ(cb.releases, cb.firsts);
    TU_EQ(tu_pool_stats(&p).chunks, 0);

    /* A chunk mapped again after trim gets `first` again, once per slot. */
    void *a = fa_pool_alloc(&p);
    TU_CHECK(a);
    TU_CHECK(tu_map_get(&cb.carved, a, NULL));
    fa_pool_destroy(&p);
    TU_EQ(cb.carved.len, 0);
    TU_EQ(cb.releases, cb.firsts);
    TU_EQ(cb.dup_firsts, 0);
    TU_EQ(cb.bad_releases, 0);
    free(v);
    tu_map_fini(&cb.carved);
    tu_source_fini(&src);
}
END_TEST

START_TEST(release_on_destroy_with_live)
{
    tu_callbacks cb;
    tu_callbacks_init(&cb);
    fa_config c = tu_config(40);
    c.chunk_size = 8192;
    c.first = tu_cb_first;
    c.release = tu_cb_release;
    c.arg = &cb;
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    size_t spc = tu_pool_stats(&p).slots_per_chunk;
    void **v = tu_xcalloc_ptrs(2 * spc);
    tu_pool_alloc_n(&p, v, 2 * spc);
    for (size_t i = 0; i < 2 * spc; i += 2) {
        fa_pool_free(&p, v[i]);
    }
    TU_EQ(cb.releases, 0);
    fa_pool_destroy(&p); /* with live objects: they are gone */
    TU_EQ(cb.releases, cb.firsts);
    TU_EQ(cb.carved.len, 0);
    TU_EQ(cb.bad_releases, 0);
    free(v);
    tu_map_fini(&cb.carved);
}
END_TEST

/* ------------------------------------------------------------------ */
/* What free overwrites; LIFO reuse */

START_TEST(free_keeps_all_but_first_word)
{
    static const size_t sizes[] = {9, 16, 24, 64, 100, 256, 4000};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t size = sizes[s];
        fa_config c = tu_config(size);
        fa_pool p;
        tu_pool_init_ok(&p, &c);
        void *keep = fa_pool_alloc(&p); /* not alone in its chunk */
        void *a = fa_pool_alloc(&p);
        TU_CHECK(a);
        tu_stamp(a, size, 42 + s);
        fa_pool_free(&p, a);
        void *b = fa_pool_alloc(&p);
        TU_PTR_EQ(b, a); /* LIFO */
        /* The bytes past the first word are kept across free + alloc; the
         * first word reads as zero. */
        tu_expect_first_word_zero(b, size);
        size_t bad = tu_verify(b, TU_PTR, size, 42 + s);
        TU_ASSERT(bad == size,
                  "size %zu: byte %zu changed by free + "
                  "alloc",
                  size, bad);
        fa_pool_free(&p, b);
        fa_pool_free(&p, keep);
        fa_pool_destroy(&p);
    }
}
END_TEST

START_TEST(lifo_order)
{
    fa_config c = tu_config(32);
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    enum { N = 20 };
    void *v[N];
    tu_pool_alloc_n(&p, v, N);
    for (size_t i = 0; i < N; i++) {
        tu_stamp(v[i], 32, i);
    }
    for (size_t i = 0; i < N; i++) {
        fa_pool_free(&p, v[i]);
    }
    for (size_t i = N; i-- > 0;) {
        void *o = fa_pool_alloc(&p);
        TU_ASSERT(o == v[i],
                  "alloc %zu returned %p, want the most "
                  "recently freed %p",
                  N - 1 - i, o, v[i]);
        tu_expect_first_word_zero(o, 32);
        TU_EQ(tu_verify(o, TU_PTR, 32, i), 32);
    }
    fa_pool_destroy(&p);
}
END_TEST

/* Content survives a chunk becoming entirely free and being reused. */
START_TEST(free_keeps_bytes_across_emptied_chunk)
{
    tu_source src;
    tu_source_init(&src, NULL);
    fa_config c = tu_small_config(&src.source);
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    size_t spc = tu_pool_stats(&p).slots_per_chunk;
    void **v = tu_xcalloc_ptrs(3 * spc);
    tu_map ids;
    tu_map_init(&ids);
    tu_pool_alloc_n(&p, v, spc + 1);
    for (size_t i = 0; i < spc + 1; i++) {
        tu_stamp(v[i], 64, 1000 + i);
        tu_map_put(&ids, v[i], 1000 + i);
    }
    tu_rng r;
    tu_rng_seed(&r, 4);
    tu_shuffle(&r, v, spc);
    for (size_t i = 0; i < spc; i++) {
        fa_pool_free(&p, v[i]);
    }
    tu_pool_alloc_n(&p, v, 2 * spc - 1);
    TU_EQ(src.maps, 2);
    size_t reused = 0;
    for (size_t i = 0; i < 2 * spc - 1; i++) {
        uint64_t id;
        if (tu_map_get(&ids, v[i], &id)) {
            reused++;
            tu_expect_first_word_zero(v[i], 64);
            size_t bad = tu_verify(v[i], TU_PTR, 64, id);
            TU_ASSERT(bad == 64,
                      "reused object %p: byte %zu of its old "
                      "content changed",
                      v[i], bad);
        }
    }
    TU_EQ(reused, spc);
    fa_pool_destroy(&p);
    tu_map_fini(&ids);
    free(v);
    tu_source_fini(&src);
}
END_TEST

/* The first word reads as zero at allocation even over dirty memory, fresh
 * or reused, in every mode. */
START_TEST(first_word_zero_at_alloc)
{
    static const unsigned modes[] = {0, FA_HARDENED, FA_CHECKED};
    static const size_t sizes[] = {1, 8, 24, 100};
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            tu_source src;
            tu_source_init(&src, NULL);
            src.dirty = true;
            fa_config c = tu_config(sizes[s]);
            c.chunk_size = 4096;
            c.flags = modes[m];
            c.source = &src.source;
            fa_pool p;
            tu_pool_init_ok(&p, &c);
            size_t n = 2 * tu_pool_stats(&p).slots_per_chunk + 1;
            void **v = tu_xcalloc_ptrs(n);
            for (int round = 0; round < 2; round++) {
                tu_pool_alloc_n(&p, v, n);
                for (size_t i = 0; i < n; i++) {
                    tu_expect_first_word_zero(v[i], sizes[s]);
                    memset(v[i], 0xFF, sizes[s]);
                }
                fa_pool_free_bulk(&p, v, n);
            }
            fa_pool_destroy(&p);
            free(v);
            tu_source_fini(&src);
        }
    }
}
END_TEST

/* ------------------------------------------------------------------ */
/* Alignment and chunk size */

START_TEST(alignment_honoured)
{
    size_t align = (size_t)1 << _i; /* 1 .. FA_ALIGN_MAX */
    static const size_t sizes[] = {1, 24, 100, 4000};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t size = sizes[s];
        fa_config c = tu_config(size);
        c.align = align;
        /* small chunks, so that a few objects cross chunk boundaries */
        size_t slot = tu_expected_slot(size, align);
        c.chunk_size = FA_CHUNK_MIN;
        while (tu_slots_in_chunk(c.chunk_size, slot, align) < 8) {
            c.chunk_size <<= 1;
        }
        fa_pool p;
        tu_pool_init_ok(&p, &c);
        fa_stats st = tu_pool_stats(&p);
        TU_EQ(st.slot_size, slot);
        TU_EQ(st.slot_size % align, 0);
        size_t n = 2 * st.slots_per_chunk + 2;
        void **v = tu_xcalloc_ptrs(n);
        tu_pool_alloc_n(&p, v, n);
        for (size_t i = 0; i < n; i++) {
            TU_ASSERT((uintptr_t)v[i] % align == 0,
                      "size %zu align %zu:"
                      " object %zu at %p",
                      size, align, i, v[i]);
            tu_stamp(v[i], size, i);
        }
        /* free in two interleaved passes, then reuse, then verify */
        for (size_t i = 0; i < n; i += 2) {
            fa_pool_free(&p, v[i]);
        }
        for (size_t i = 0; i < n; i += 2) {
            v[i] = fa_pool_alloc(&p);
            TU_EQ((uintptr_t)v[i] % align, 0);
            tu_stamp(v[i], size, i);
        }
        for (size_t i = 0; i < n; i++) {
            TU_EQ(tu_verify(v[i], 0, size, i), size);
        }
        tu_pool_check_ok(&p);
        fa_pool_free_bulk(&p, v, n);
        tu_pool_check_ok(&p);
        fa_pool_destroy(&p);
        free(v);
    }
}
END_TEST

START_TEST(chunk_size_honoured)
{
    static const size_t chunks[] = {4096, 8192, 65536, 1 << 20, 1 << 21};
    size_t cs = chunks[_i];
    size_t size = cs >= 65536 ? 1008 : 48; /* a few hundred per chunk */
    tu_source src;
    tu_source_init(&src, NULL);
    fa_config c = tu_config(size);
    c.chunk_size = cs;
    c.source = &src.source;
    fa_pool p;
    tu_pool_init_ok(&p, &c);
    fa_stats st = tu_pool_stats(&p);
    TU_EQ(st.chunk_size, cs);
    size_t spc = st.slots_per_chunk;
    TU_EQ(spc, tu_slots_in_chunk(cs, size, 16));
    size_t n = 2 * spc + 1;
    void **v = tu_xcalloc_ptrs(n);
    tu_pool_alloc_n(&p, v, n);
    for (size_t i = 0; i < n; i++) {
        uintptr_t want = tu_chunk_base(v[i / spc * spc], cs);
        TU_ASSERT(tu_chunk_base(v[i], cs) == want,
                  "chunk %zu: object %zu at "
                  "%p is not in the chunk of the first (%p)",
                  cs, i, v[i], v[i / spc * spc]);
        TU_CHECK(tu_source_find(&src, v[i], size) != NULL);
    }
    TU_CHECK(tu_chunk_base(v[0], cs) != tu_chunk_base(v[spc], cs));
    TU_CHECK(tu_chunk_base(v[spc], cs) != tu_chunk_base(v[2 * spc], cs));
    TU_EQ(src.maps, 3);
    TU_EQ(src.last_map_size, cs);
    TU_EQ(tu_pool_stats(&p).bytes_held, 3 * cs);
    fa_pool_destroy(&p);
    TU_EQ(src.nlive, 0);
    free(v);
    tu_source_fini(&src);
}
END_TEST

/* ------------------------------------------------------------------ */

static Suite *suite(void)
{
    Suite *s = suite_create("pool-api");
    TCase *tc;

    tc = tcase_create("init");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, init_size_zero);
    tcase_add_test(tc, init_align_refused);
    tcase_add_test(tc, init_chunk_refused);
    tcase_add_test(tc, init_chunk_too_small_for_slot);
    tcase_add_test(tc, init_object_too_large);
    tcase_add_test(tc, init_max_bytes_below_chunk);
    tcase_add_test(tc, init_unknown_flags);
    tcase_add_test(tc, init_zero_with_first);
    tcase_add_test(tc, init_bad_source);
    tcase_add_test(tc, init_boundaries_accepted);
    suite_add_tcase(s, tc);

    tc = tcase_create("geometry");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, slot_geometry, 0, N_GEOMETRY);
    tcase_add_loop_test(tc, alignment_honoured, 0, 13);
    tcase_add_loop_test(tc, chunk_size_honoured, 0, 5);
    suite_add_tcase(s, tc);

    tc = tcase_create("contents");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, first_once_per_slot);
    tcase_add_test(tc, release_on_trim);
    tcase_add_test(tc, release_on_destroy_with_live);
    tcase_add_test(tc, free_keeps_all_but_first_word);
    tcase_add_test(tc, lifo_order);
    tcase_add_test(tc, first_word_zero_at_alloc);
    tcase_add_test(tc, free_keeps_bytes_across_emptied_chunk);
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
