/*
 * test_pool.c - unit tests of fa_pool and the page sources, one group per
 * point of the contract in fixalloc.h. Only the public API is used.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixalloc.h"
#include "test_util.h"

#define PTR (sizeof(void *))

/* An object's first word (its first min(size, PTR) bytes) reads as zero
 * when it is handed out. */
static void expect_first_word_zero(const void *obj, size_t size)
{
    size_t n = size < PTR ? size : PTR;
    size_t bad = tu_first_nonzero(obj, n);
    TU_ASSERT(bad == n,
              "object %p handed out with byte %zu of its first "
              "word non-zero (%#x)",
              obj, bad, bad < n ? ((const unsigned char *)obj)[bad] : 0);
}

/* ------------------------------------------------------------------ */
/* Helpers */

static fa_config config(size_t size)
{
    fa_config c;
    memset(&c, 0, sizeof c);
    c.size = size;
    c.name = "test";
    return c;
}

static fa_stats stats(const fa_pool *p)
{
    fa_stats s;
    memset(&s, 0xEE, sizeof s);
    fa_pool_stats(p, &s);
    return s;
}

static void init_ok(fa_pool *p, const fa_config *c)
{
    int rc = fa_pool_init(p, c);
    TU_ASSERT(rc == 0,
              "fa_pool_init(size %zu, align %zu, chunk %zu, "
              "max %zu, flags %#x) = %d, want 0",
              c->size, c->align, c->chunk_size, c->max_bytes, c->flags, rc);
}

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

static uintptr_t base_of(const void *p, size_t chunk)
{
    return (uintptr_t)p & ~(uintptr_t)(chunk - 1);
}

static void check_ok(const fa_pool *p)
{
    TU_ASSERT(fa_pool_check(p), "fa_pool_check failed");
}

static void **xcalloc_ptrs(size_t n)
{
    void **v = calloc(n != 0 ? n : 1, sizeof *v);
    TU_CHECK(v);
    return v;
}

static void alloc_n(fa_pool *p, void **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        v[i] = fa_pool_alloc(p);
        TU_ASSERT(v[i] != NULL, "alloc %zu of %zu failed (errno %d)", i, n,
                  errno);
    }
}

/* The common small geometry: 64-byte objects, 4 KiB chunks, 63 per chunk. */
static fa_config small_config(const fa_source *src)
{
    fa_config c = config(64);
    c.chunk_size = 4096;
    c.source = src;
    return c;
}

/* Callback state for `first` and `release`. */
typedef struct cb_state {
    tu_map carved; /* slots `first` saw and `release` has not */
    size_t firsts, releases;
    size_t dup_firsts;   /* `first` on a slot already carved */
    size_t bad_releases; /* `release` on a slot `first` never saw */
    size_t fill_n;       /* first fills this many bytes ... */
    uint8_t fill;        /* ... with this byte */
    void *bad_arg;
} cb_state;

static void cb_init(cb_state *s)
{
    memset(s, 0, sizeof *s);
    tu_map_init(&s->carved);
}

static void cb_first(void *arg, void *obj)
{
    cb_state *s = arg;
    if (s == NULL || s->carved.keys == NULL) {
        abort(); /* the wrong arg: nothing sane to record into */
    }
    s->firsts++;
    if (!tu_map_put(&s->carved, obj, 1)) {
        s->dup_firsts++;
    }
    if (s->fill_n != 0) {
        memset(obj, s->fill, s->fill_n);
    }
}

static void cb_release(void *arg, void *obj)
{
    cb_state *s = arg;
    if (s == NULL || s->carved.keys == NULL) {
        abort();
    }
    s->releases++;
    if (!tu_map_del(&s->carved, obj)) {
        s->bad_releases++;
    }
}

/* ------------------------------------------------------------------ */
/* Init refusals and boundaries */

START_TEST(init_size_zero)
{
    fa_config c = config(0);
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
            fa_config c = config(sizes[s]);
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
        fa_config c = config(64);
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
        fa_config c = config(bad[i].size);
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
        fa_config c = config(bad[i]);
        expect_refused(&c, "object too large");
        c.chunk_size = FA_CHUNK_MAX;
        expect_refused(&c, "object too large for FA_CHUNK_MAX");
        c.chunk_size = 0;
        c.align = 4096;
        expect_refused(&c, "object too large, align 4096");
    }
    /* With align 4096 the header takes a whole 4096 bytes. */
    fa_config c = config(FA_CHUNK_MAX - 4096 + 1);
    c.align = 4096;
    expect_refused(&c, "slot of 1 GiB after a 4096-byte header");
}
END_TEST

START_TEST(init_max_bytes_below_chunk)
{
    fa_config c = config(64);
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
    c = config(64);
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
    fa_config c = config(64);
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
    cb_state cb;
    cb_init(&cb);
    fa_config c = config(64);
    c.flags = FA_ZERO;
    c.first = cb_first;
    c.arg = &cb;
    expect_refused(&c, "FA_ZERO with first");
    /* FA_ZERO with release alone is fine. */
    c.first = NULL;
    c.release = cb_release;
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
    fa_source s = {NULL, null_unmap, NULL};
    fa_config c = config(64);
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

    /* The largest object: one slot in the largest chunk. */
    fa_config c = config(FA_CHUNK_MAX - FA_CHUNK_HEADER);
    init_ok(&p, &c);
    st = stats(&p);
    TU_EQ(st.slot_size, FA_CHUNK_MAX - FA_CHUNK_HEADER);
    TU_EQ(st.chunk_size, FA_CHUNK_MAX);
    TU_EQ(st.slots_per_chunk, 1);
    TU_EQ(st.chunks, 0);
    TU_EQ(st.bytes_held, 0);
    fa_pool_destroy(&p);

    /* A big object whose 32 slots would pass FA_CHUNK_MAX: capped. */
    c = config((size_t)64 << 20);
    init_ok(&p, &c);
    st = stats(&p);
    TU_EQ(st.chunk_size, FA_CHUNK_MAX);
    TU_EQ(st.slots_per_chunk, 15);
    fa_pool_destroy(&p);

    static const struct {
        size_t size, align, chunk, slots;
    } ok[] = {
        {4096 - 64, 0, 4096, 1}, {4096 - 64, 64, 4096, 1},
        {8, 2048, 4096, 1},      {2048, 2048, 4096, 1},
        {1, 1, 4096, 504},       {8, 0, FA_CHUNK_MIN, 504},
        {8, 4096, 8192, 1},      {8, 0, FA_CHUNK_MAX, (FA_CHUNK_MAX - 64) / 8},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        c = config(ok[i].size);
        c.align = ok[i].align;
        c.chunk_size = ok[i].chunk;
        init_ok(&p, &c);
        st = stats(&p);
        TU_EQ(st.chunk_size, ok[i].chunk);
        TU_ASSERT(st.slots_per_chunk == ok[i].slots,
                  "size %zu align %zu chunk %zu: %zu slots, want %zu",
                  ok[i].size, ok[i].align, ok[i].chunk, st.slots_per_chunk,
                  ok[i].slots);
        fa_pool_destroy(&p);
    }

    /* Every power of two from 1 to FA_ALIGN_MAX is an alignment. */
    for (size_t a = 1; a <= FA_ALIGN_MAX; a <<= 1) {
        c = config(24);
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
    fa_config c = config(g->size);
    c.align = g->align;
    c.source = &src.source;
    fa_pool p;
    init_ok(&p, &c);

    fa_stats st = stats(&p);
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
    void **v = xcalloc_ptrs(n);
    alloc_n(&p, v, n);
    for (size_t i = 0; i < n; i++) {
        uintptr_t a = (uintptr_t)v[i];
        uintptr_t base = base_of(v[i], chunk);
        size_t off = (size_t)(a - base);
        TU_ASSERT(a % align == 0, "object %p not aligned to %zu", v[i], align);
        TU_ASSERT(off >= FA_CHUNK_HEADER && off + slot <= chunk,
                  "object %p at offset %zu of its chunk (slot %zu, "
                  "chunk %zu)",
                  v[i], off, slot, chunk);
        /* Objects k*spc .. (k+1)*spc-1 fill chunk k. */
        TU_ASSERT(base == base_of(v[i / spc * spc], chunk),
                  "object %zu not in the chunk of object %zu", i,
                  i / spc * spc);
        if (i % spc != 0) {
            TU_ASSERT(a - (uintptr_t)v[i - 1] == slot,
                      "fresh objects %zu and %zu are %td bytes apart, "
                      "want the slot size %zu",
                      i - 1, i, (char *)v[i] - (char *)v[i - 1], slot);
        } else if (i != 0) {
            TU_ASSERT(base != base_of(v[i - 1], chunk),
                      "object %zu should open a new chunk", i);
        }
    }
    st = stats(&p);
    TU_EQ(st.chunks, 2);
    TU_EQ(st.bytes_held, 2 * chunk);
    TU_EQ(src.maps, 2);
    TU_EQ(src.last_map_size, chunk);
    TU_EQ(st.live, n);
    check_ok(&p);
    fa_pool_free_bulk(&p, v, n);
    check_ok(&p);
    fa_pool_destroy(&p);
    TU_EQ(src.nlive, 0);
    free(v);
    tu_source_fini(&src);
}
END_TEST

/* ------------------------------------------------------------------ */
/* FA_ZERO */

START_TEST(zero_after_reuse)
{
    fa_config c = config(100);
    c.flags = FA_ZERO;
    fa_pool p;
    init_ok(&p, &c);
    tu_rng r;
    tu_rng_seed(&r, 1);
    enum { N = 300 };
    void *v[N];
    for (int round = 0; round < 4; round++) {
        alloc_n(&p, v, N);
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
        check_ok(&p);
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
    fa_config c = small_config(&src.source);
    c.flags = FA_ZERO;
    fa_pool p;
    init_ok(&p, &c);
    size_t spc = stats(&p).slots_per_chunk;
    TU_EQ(spc, 63);
    void **v = xcalloc_ptrs(4 * spc);
    alloc_n(&p, v, spc + 1); /* chunk 0 full, chunk 1 current */
    for (size_t i = 0; i < spc + 1; i++) {
        memset(v[i], 0xFF, 64);
    }
    tu_rng r;
    tu_rng_seed(&r, 2);
    tu_shuffle(&r, v, spc); /* free chunk 0 in random order */
    for (size_t i = 0; i < spc; i++) {
        fa_pool_free(&p, v[i]);
    }
    check_ok(&p);
    /* Fill chunk 1, then chunk 0 again. */
    alloc_n(&p, v + spc + 1, 2 * spc - 1);
    for (size_t i = spc + 1; i < 3 * spc; i++) {
        size_t bad = tu_first_nonzero(v[i], 64);
        TU_ASSERT(bad == 64, "object %zu (%p) byte %zu not zero", i, v[i], bad);
    }
    TU_EQ(src.maps, 2);
    fa_pool_free_bulk(&p, v + spc, 2 * spc);
    check_ok(&p);
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
    fa_config c = config(48);
    c.chunk_size = 8192;
    c.flags = FA_ZERO;
    c.source = &src.source;
    fa_pool p;
    init_ok(&p, &c);
    size_t spc = stats(&p).slots_per_chunk;
    size_t n = 3 * spc;
    void **v = xcalloc_ptrs(n);
    alloc_n(&p, v, n);
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
    alloc_n(&p, v, 2 * spc);
    for (size_t i = 0; i < 2 * spc; i++) {
        TU_EQ(tu_first_nonzero(v[i], 48), 48);
    }
    check_ok(&p);
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
    cb_state cb;
    cb_init(&cb);
    cb.fill = 0xC3;
    cb.fill_n = 64;
    tu_source src;
    tu_source_init(&src, NULL);
    fa_config c = small_config(&src.source);
    c.first = cb_first;
    c.release = cb_release;
    c.arg = &cb;
    fa_pool p;
    init_ok(&p, &c);
    size_t spc = stats(&p).slots_per_chunk;
    void **v = xcalloc_ptrs(4 * spc);

    /* Fresh objects: each was passed to `first` before being handed out,
     * and carries what `first` wrote past the first word, which reads as
     * zero. */
    alloc_n(&p, v, spc + 1);
    for (size_t i = 0; i < spc + 1; i++) {
        TU_ASSERT(tu_map_get(&cb.carved, v[i], NULL),
                  "object %zu handed out before `first` ran on it", i);
        expect_first_word_zero(v[i], 64);
        TU_EQ(tu_first_not(v[i], PTR, 64, 0xC3), 64);
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
    expect_first_word_zero(y, 64);
    TU_EQ(tu_first_not(y, PTR, 64, 0xC3), 64);

    /* Chunk 0 becomes entirely free, then is handed out again. */
    tu_rng r;
    tu_rng_seed(&r, 3);
    tu_shuffle(&r, v, spc);
    for (size_t i = 0; i < spc; i++) {
        fa_pool_free(&p, v[i]);
    }
    alloc_n(&p, v + spc + 1, 2 * spc - 1); /* rest of chunk 1, all of 0 */
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
        expect_first_word_zero(v[i], 64);
        TU_EQ(tu_first_not(v[i], PTR, 64, 0xC3), 64);
    }
    TU_EQ(cb.releases, 0);
    check_ok(&p);

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
    cb_state cb;
    cb_init(&cb);
    tu_source src;
    tu_source_init(&src, NULL);
    fa_config c = small_config(&src.source);
    c.first = cb_first;
    c.release = cb_release;
    c.arg = &cb;
    fa_pool p;
    init_ok(&p, &c);
    size_t spc = stats(&p).slots_per_chunk;
    size_t n = 3 * spc + 5; /* chunks 0..2 full, chunk 3 has 5 */
    void **v = xcalloc_ptrs(n);
    alloc_n(&p, v, n);

    /* Keep one object alive in chunk 1; free the rest. */
    void *keep = v[spc + 7];
    uintptr_t keep_base = base_of(keep, 4096);
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
    TU_EQ(stats(&p).chunks, 1);
    check_ok(&p);

    /* Trim with nothing free to give gives nothing. */
    TU_EQ(fa_pool_trim(&p), 0);

    fa_pool_free(&p, keep);
    TU_EQ(fa_pool_trim(&p), 4096);
    TU_EQ(cb.carved.len, 0);
    TU_EQ(cb.releases, cb.firsts);
    TU_EQ(stats(&p).chunks, 0);

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
    cb_state cb;
    cb_init(&cb);
    fa_config c = config(40);
    c.chunk_size = 8192;
    c.first = cb_first;
    c.release = cb_release;
    c.arg = &cb;
    fa_pool p;
    init_ok(&p, &c);
    size_t spc = stats(&p).slots_per_chunk;
    void **v = xcalloc_ptrs(2 * spc);
    alloc_n(&p, v, 2 * spc);
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
        fa_config c = config(size);
        fa_pool p;
        init_ok(&p, &c);
        void *keep = fa_pool_alloc(&p); /* not alone in its chunk */
        void *a = fa_pool_alloc(&p);
        TU_CHECK(a);
        tu_stamp(a, size, 42 + s);
        fa_pool_free(&p, a);
        void *b = fa_pool_alloc(&p);
        TU_PTR_EQ(b, a); /* LIFO */
        /* The bytes past the first word are kept across free + alloc; the
         * first word reads as zero. */
        expect_first_word_zero(b, size);
        size_t bad = tu_verify(b, PTR, size, 42 + s);
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
    fa_config c = config(32);
    fa_pool p;
    init_ok(&p, &c);
    enum { N = 20 };
    void *v[N];
    alloc_n(&p, v, N);
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
        expect_first_word_zero(o, 32);
        TU_EQ(tu_verify(o, PTR, 32, i), 32);
    }
    fa_pool_destroy(&p);
}
END_TEST

/* Content survives a chunk becoming entirely free and being reused. */
START_TEST(free_keeps_bytes_across_emptied_chunk)
{
    tu_source src;
    tu_source_init(&src, NULL);
    fa_config c = small_config(&src.source);
    fa_pool p;
    init_ok(&p, &c);
    size_t spc = stats(&p).slots_per_chunk;
    void **v = xcalloc_ptrs(3 * spc);
    tu_map ids;
    tu_map_init(&ids);
    alloc_n(&p, v, spc + 1);
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
    alloc_n(&p, v, 2 * spc - 1);
    TU_EQ(src.maps, 2);
    size_t reused = 0;
    for (size_t i = 0; i < 2 * spc - 1; i++) {
        uint64_t id;
        if (tu_map_get(&ids, v[i], &id)) {
            reused++;
            expect_first_word_zero(v[i], 64);
            size_t bad = tu_verify(v[i], PTR, 64, id);
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
            fa_config c = config(sizes[s]);
            c.chunk_size = 4096;
            c.flags = modes[m];
            c.source = &src.source;
            fa_pool p;
            init_ok(&p, &c);
            size_t n = 2 * stats(&p).slots_per_chunk + 1;
            void **v = xcalloc_ptrs(n);
            for (int round = 0; round < 2; round++) {
                alloc_n(&p, v, n);
                for (size_t i = 0; i < n; i++) {
                    expect_first_word_zero(v[i], sizes[s]);
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
/* Stats */

#define EXPECT_STATS(p, live_, peak_, allocs_, frees_, chunks_, trimmed_)      \
    do {                                                                       \
        fa_stats s_ = stats(p);                                                \
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
    fa_config c = small_config(&src.source);
    c.name = "stats-pool";
    fa_pool p;
    init_ok(&p, &c);
    fa_stats st = stats(&p);
    TU_STR_EQ(st.name, "stats-pool");
    TU_EQ(st.object_size, 64);
    TU_EQ(st.slot_size, 64);
    TU_EQ(st.chunk_size, 4096);
    TU_EQ(st.slots_per_chunk, 63);
    EXPECT_STATS(&p, 0, 0, 0, 0, 0, 0);

    void *v[200];
    alloc_n(&p, v, 10);
    EXPECT_STATS(&p, 10, 10, 10, 0, 1, 0);
    for (size_t i = 0; i < 4; i++) {
        fa_pool_free(&p, v[i]);
    }
    EXPECT_STATS(&p, 6, 10, 10, 4, 1, 0);
    fa_pool_free(&p, NULL);
    EXPECT_STATS(&p, 6, 10, 10, 4, 1, 0);
    alloc_n(&p, v, 2);
    EXPECT_STATS(&p, 8, 10, 12, 4, 1, 0);
    alloc_n(&p, v + 2, 2);
    alloc_n(&p, v + 10, 60); /* v[0..70) live */
    EXPECT_STATS(&p, 70, 70, 74, 4, 2, 0);
    check_ok(&p);

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
    check_ok(&p);

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
    check_ok(&p);
    fa_pool_destroy(&p);
    tu_source_fini(&src);
}
END_TEST

START_TEST(stats_unnamed)
{
    fa_config c = config(64);
    c.name = NULL;
    fa_pool p;
    init_ok(&p, &c);
    fa_stats st = stats(&p);
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
    fa_config c = config(24);
    c.name = "print-me-pool";
    fa_pool p;
    init_ok(&p, &c);
    void *a = fa_pool_alloc(&p);
    fa_stats st = stats(&p);
    char *out = print_to_string(&st);
    TU_ASSERT(strstr(out, "print-me-pool") != NULL,
              "fa_stats_print output lacks the pool's name:\n%s", out);
    TU_ASSERT(strchr(out, '\n') != NULL && strchr(out, '\n')[1] != '\0',
              "fa_stats_print output is not multi-line:\n%s", out);
    free(out);
    fa_pool_free(&p, a);
    fa_pool_destroy(&p);

    c.name = NULL;
    init_ok(&p, &c);
    st = stats(&p);
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
    fa_config c = small_config(&src.source);
    fa_pool p;
    init_ok(&p, &c);
    size_t spc = stats(&p).slots_per_chunk;
    size_t n = 3 * spc + 7;
    void **v = xcalloc_ptrs(n + 1);
    TU_EQ(fa_pool_alloc_bulk(&p, v, 0), 0);
    TU_EQ(stats(&p).allocs, 0);
    TU_EQ(fa_pool_alloc_bulk(&p, v, n), n);
    void **sorted = xcalloc_ptrs(n);
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
    TU_EQ(stats(&p).live, n);
    TU_EQ(stats(&p).chunks, 4);
    check_ok(&p);

    /* free_bulk with NULL entries and n == 0. */
    fa_pool_free_bulk(&p, v, 0);
    TU_EQ(stats(&p).live, n);
    fa_pool_free(&p, v[5]);
    v[5] = NULL;
    v[n] = NULL;
    fa_pool_free_bulk(&p, v + 4, n - 3); /* v[4..n] incl. two NULLs */
    TU_EQ(stats(&p).live, 4);
    fa_pool_free_bulk(&p, v, 4);
    TU_EQ(stats(&p).live, 0);
    check_ok(&p);

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
    fa_config c = small_config(NULL);
    c.max_bytes = 2 * 4096;
    fa_pool p;
    init_ok(&p, &c);
    size_t spc = stats(&p).slots_per_chunk;
    void **v = xcalloc_ptrs(3 * spc);
    errno = 0;
    size_t got = fa_pool_alloc_bulk(&p, v, 3 * spc);
    TU_EQ(got, 2 * spc);
    TU_INT_EQ(errno, ENOMEM);
    TU_EQ(stats(&p).allocs, 2 * spc);
    TU_EQ(stats(&p).live, 2 * spc);
    tu_sort_ptrs(v, got);
    for (size_t i = 1; i < got; i++) {
        TU_PTR_NE(v[i], v[i - 1]);
    }
    check_ok(&p);
    fa_pool_free_bulk(&p, v, 10);
    errno = 0;
    TU_EQ(fa_pool_alloc_bulk(&p, v, 20), 10);
    TU_INT_EQ(errno, ENOMEM);
    fa_pool_free_bulk(&p, v, 2 * spc);
    check_ok(&p);
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
        fa_config c = small_config(&src.source);
        fa_pool p;
        init_ok(&p, &c);
        TU_INT_EQ(fa_pool_reserve(&p, 0), 0);
        TU_EQ(src.map_calls, 0);
        TU_INT_EQ(fa_pool_reserve(&p, n), 0);
        size_t maps = src.map_calls;
        TU_GE(stats(&p).chunks * 63, n);
        TU_EQ(stats(&p).live, 0);
        check_ok(&p);
        void **v = xcalloc_ptrs(n);
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
        check_ok(&p);
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
    fa_config c = small_config(&src.source);
    fa_pool p;
    init_ok(&p, &c);
    size_t spc = stats(&p).slots_per_chunk;
    void **v = xcalloc_ptrs(4 * spc);
    alloc_n(&p, v, spc + 5); /* chunk 1 has spc - 5 uncarved slots */
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
    TU_EQ(stats(&p).chunks, 3);
    for (size_t i = 0; i < free_slots + 1; i++) {
        TU_CHECK(fa_pool_alloc(&p));
    }
    TU_EQ(src.map_calls, maps);
    check_ok(&p);
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
    fa_config c = small_config(&src.source);
    c.max_bytes = 3 * 4096 + 100;
    fa_pool p;
    init_ok(&p, &c);
    size_t spc = stats(&p).slots_per_chunk;
    TU_INT_EQ(fa_pool_reserve(&p, 5 * spc), ENOMEM);
    TU_EQ(stats(&p).chunks, 3);
    TU_LE(stats(&p).bytes_held, c.max_bytes);
    check_ok(&p);
    size_t maps = src.map_calls;
    void **v = xcalloc_ptrs(3 * spc);
    alloc_n(&p, v, 3 * spc);
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
    c = small_config(&src.source);
    init_ok(&p, &c);
    TU_INT_EQ(fa_pool_reserve(&p, 4 * spc), ENOMEM);
    TU_EQ(stats(&p).chunks, 2);
    check_ok(&p);
    maps = src.maps;
    alloc_n(&p, v, 2 * spc);
    TU_EQ(src.maps, maps);
    src.fail_after = -1; /* the source recovers: so does the pool */
    TU_INT_EQ(fa_pool_reserve(&p, spc), 0);
    TU_CHECK(fa_pool_alloc(&p));
    check_ok(&p);
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
    fa_config c = small_config(&src.source);
    fa_pool p;
    init_ok(&p, &c);
    size_t spc = stats(&p).slots_per_chunk;
    const size_t nchunks = 6;
    size_t n = (nchunks - 1) * spc + 10; /* the last chunk is partial */
    void **v = xcalloc_ptrs(n);
    void **doomed = xcalloc_ptrs(n);
    alloc_n(&p, v, n);
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
    check_ok(&p);
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
    fa_stats st = stats(&p);
    TU_EQ(st.chunks, 3);
    TU_EQ(st.bytes_held, 3 * 4096);
    TU_EQ(st.bytes_trimmed, 3 * 4096);
    TU_EQ(st.live, n - nd);
    for (size_t i = 0; i < n; i++) {
        if (!freed[i]) {
            TU_EQ(tu_verify(v[i], 0, 64, i), 64);
        }
    }
    check_ok(&p);
    TU_EQ(fa_pool_trim(&p), 0);

    /* The pool goes on: allocate into the remaining holes and beyond. */
    void *more[100];
    alloc_n(&p, more, 100);
    fa_pool_free_bulk(&p, more, 100);
    for (size_t i = 0; i < n; i++) {
        if (!freed[i]) {
            fa_pool_free(&p, v[i]);
        }
    }
    got = fa_pool_trim(&p);
    TU_EQ(got, stats(&p).bytes_trimmed - 3 * 4096);
    TU_EQ(stats(&p).chunks, 0);
    TU_EQ(stats(&p).bytes_held, 0);
    TU_EQ(src.nlive, 0);
    TU_CHECK(fa_pool_alloc(&p));
    check_ok(&p);
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
    fa_config c = small_config(&src.source);
    fa_pool p;
    init_ok(&p, &c);
    TU_EQ(fa_pool_trim(&p), 0);
    void *a = fa_pool_alloc(&p);
    fa_pool_free(&p, a);
    /* The only, current chunk is all free: it goes too. */
    TU_EQ(fa_pool_trim(&p), 4096);
    TU_EQ(stats(&p).chunks, 0);
    TU_EQ(src.nlive, 0);
    check_ok(&p);
    a = fa_pool_alloc(&p);
    TU_CHECK(a);
    memset(a, 1, 64);
    TU_EQ(fa_pool_trim(&p), 0);
    fa_pool_free(&p, a);
    /* Reserved, never used chunks are all free too. */
    TU_INT_EQ(fa_pool_reserve(&p, 5 * 63), 0);
    size_t got = fa_pool_trim(&p);
    TU_GE(got, 5 * 4096);
    TU_EQ(got, stats(&p).bytes_trimmed - 4096);
    TU_EQ(stats(&p).chunks, 0);
    check_ok(&p);
    fa_pool_destroy(&p);
    tu_source_fini(&src);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Walk */

typedef struct collect {
    void **v;
    size_t n, cap;
    int magic;
} collect;

static void collect_fn(void *obj, void *arg)
{
    collect *c = arg;
    TU_INT_EQ(c->magic, 0x5eed);
    TU_ASSERT(c->n < c->cap, "walk visited more objects than are live");
    c->v[c->n++] = obj;
}

static void expect_walk(fa_pool *p, void **live, size_t nlive)
{
    collect c;
    c.cap = nlive + 1;
    c.v = xcalloc_ptrs(c.cap);
    c.n = 0;
    c.magic = 0x5eed;
    fa_pool_walk(p, collect_fn, &c);
    TU_ASSERT(c.n == nlive, "walk visited %zu objects, %zu are live", c.n,
              nlive);
    void **want = xcalloc_ptrs(nlive);
    if (nlive > 0) {
        memcpy(want, live, nlive * sizeof *live);
    }
    tu_sort_ptrs(want, nlive);
    tu_sort_ptrs(c.v, c.n);
    for (size_t i = 0; i < nlive; i++) {
        TU_ASSERT(c.v[i] == want[i],
                  "walk: visited %p where the %zu-th "
                  "live object is %p (a duplicate or a free slot)",
                  c.v[i], i, want[i]);
    }
    free(want);
    free(c.v);
}

START_TEST(walk_live_only)
{
    fa_config c = config(48);
    c.chunk_size = 4096;
    fa_pool p;
    init_ok(&p, &c);
    expect_walk(&p, NULL, 0);
    size_t spc = stats(&p).slots_per_chunk;
    size_t n = 3 * spc + 17;
    void **v = xcalloc_ptrs(n);
    void **live = xcalloc_ptrs(n);
    alloc_n(&p, v, n);
    expect_walk(&p, v, n);
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
    expect_walk(&p, live, nl);
    /* reuse some of the holes */
    void *more[40];
    alloc_n(&p, more, 40);
    memcpy(live + nl, more, sizeof more);
    nl += 40;
    expect_walk(&p, live, nl);
    fa_pool_trim(&p);
    expect_walk(&p, live, nl);
    fa_pool_free_bulk(&p, live, nl);
    expect_walk(&p, NULL, 0);
    check_ok(&p);
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
    fa_config c = small_config(&src.source);
    fa_pool p;
    init_ok(&p, &c);
    fa_pool_destroy(&p);
    TU_EQ(src.maps, src.unmaps);

    for (int round = 0; round < 3; round++) {
        init_ok(&p, &c); /* the same pool, initialised again */
        void *v[300];
        alloc_n(&p, v, 300);
        fa_pool_free_bulk(&p, v, 100);
        TU_INT_EQ(fa_pool_reserve(&p, 500), 0);
        fa_pool_trim(&p);
        alloc_n(&p, v, 50);
        check_ok(&p);
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
    fa_config c = small_config(NULL);
    c.max_bytes = 4096;
    fa_pool p;
    init_ok(&p, &c);
    size_t spc = stats(&p).slots_per_chunk;
    void **v = xcalloc_ptrs(spc);
    alloc_n(&p, v, spc);
    for (int k = 0; k < 3; k++) {
        errno = 0;
        TU_NULL(fa_pool_alloc(&p));
        TU_INT_EQ(errno, ENOMEM);
    }
    fa_stats st = stats(&p);
    TU_EQ(st.allocs, spc);
    TU_EQ(st.live, spc);
    TU_EQ(st.chunks, 1);
    check_ok(&p);
    void *x = v[17];
    fa_pool_free(&p, x);
    void *y = fa_pool_alloc(&p);
    TU_PTR_EQ(y, x);
    errno = 0;
    TU_NULL(fa_pool_alloc(&p));
    TU_INT_EQ(errno, ENOMEM);
    check_ok(&p);
    /* After everything is freed and trimmed the limit is whole again. */
    fa_pool_free_bulk(&p, v, spc);
    TU_EQ(fa_pool_trim(&p), 4096);
    alloc_n(&p, v, spc);
    TU_NULL(fa_pool_alloc(&p));
    fa_pool_free_bulk(&p, v, spc);
    check_ok(&p);
    fa_pool_destroy(&p);
    free(v);
}
END_TEST

START_TEST(enomem_source_fails)
{
    tu_source src;
    tu_source_init(&src, NULL);
    src.fail_after = 2;
    fa_config c = small_config(&src.source);
    fa_pool p;
    init_ok(&p, &c);
    size_t spc = stats(&p).slots_per_chunk;
    void **v = xcalloc_ptrs(3 * spc);
    alloc_n(&p, v, 2 * spc);
    errno = 0;
    TU_NULL(fa_pool_alloc(&p));
    TU_INT_EQ(errno, ENOMEM);
    TU_EQ(stats(&p).allocs, 2 * spc);
    TU_EQ(stats(&p).live, 2 * spc);
    TU_EQ(stats(&p).chunks, 2);
    check_ok(&p);
    fa_pool_free(&p, v[3]);
    v[3] = fa_pool_alloc(&p);
    TU_CHECK(v[3]);
    errno = 0;
    TU_NULL(fa_pool_alloc(&p));
    TU_INT_EQ(errno, ENOMEM);
    check_ok(&p);
    src.fail_after = -1;
    v[2 * spc] = fa_pool_alloc(&p);
    TU_CHECK(v[2 * spc]);
    TU_EQ(stats(&p).chunks, 3);
    check_ok(&p);
    fa_pool_free_bulk(&p, v, 2 * spc + 1);
    fa_pool_destroy(&p);
    TU_EQ(src.nlive, 0);
    free(v);
    tu_source_fini(&src);
}
END_TEST

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
    fa_config c = small_config(&ss.source);
    fa_pool p;
    init_ok(&p, &c);
    size_t spc = stats(&p).slots_per_chunk;
    size_t want = STATIC_CHUNKS * spc;
    void **v = xcalloc_ptrs(want + 1);
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
        TU_EQ(stats(&p).chunks, STATIC_CHUNKS);
        check_ok(&p);
        tu_rng r;
        tu_rng_seed(&r, 6 + (uint64_t)round);
        tu_shuffle(&r, v, n);
        fa_pool_free_bulk(&p, v, n);
        /* Blocks given back by trim are handed out again next round. */
        TU_EQ(fa_pool_trim(&p), STATIC_CHUNKS * 4096);
        TU_EQ(stats(&p).chunks, 0);
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
    fa_config c = small_config(&ss.source);
    c.flags = FA_ZERO;
    fa_pool p;
    init_ok(&p, &c);
    size_t spc = stats(&p).slots_per_chunk;
    size_t n = 4 * spc;
    void **v = xcalloc_ptrs(n);
    for (int round = 0; round < 3; round++) {
        alloc_n(&p, v, n);
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
    init_ok(&p, &c);
    alloc_n(&p, v, n);
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
    fa_config c = small_config(&ss.source);
    fa_pool p;
    init_ok(&p, &c);
    size_t n = 0;
    void *o;
    while ((o = fa_pool_alloc(&p)) != NULL) {
        TU_CHECK(in_buffer(o, 64, buf, len));
        n++;
        TU_LE(n, 2 * 63);
    }
    TU_EQ(n, 2 * 63);
    check_ok(&p);
    fa_pool_destroy(&p);
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
        fa_config c = config(size);
        c.align = align;
        /* small chunks, so that a few objects cross chunk boundaries */
        size_t slot = tu_expected_slot(size, align);
        c.chunk_size = FA_CHUNK_MIN;
        while (tu_slots_in_chunk(c.chunk_size, slot, align) < 8) {
            c.chunk_size <<= 1;
        }
        fa_pool p;
        init_ok(&p, &c);
        fa_stats st = stats(&p);
        TU_EQ(st.slot_size, slot);
        TU_EQ(st.slot_size % align, 0);
        size_t n = 2 * st.slots_per_chunk + 2;
        void **v = xcalloc_ptrs(n);
        alloc_n(&p, v, n);
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
        check_ok(&p);
        fa_pool_free_bulk(&p, v, n);
        check_ok(&p);
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
    fa_config c = config(size);
    c.chunk_size = cs;
    c.source = &src.source;
    fa_pool p;
    init_ok(&p, &c);
    fa_stats st = stats(&p);
    TU_EQ(st.chunk_size, cs);
    size_t spc = st.slots_per_chunk;
    TU_EQ(spc, tu_slots_in_chunk(cs, size, 16));
    size_t n = 2 * spc + 1;
    void **v = xcalloc_ptrs(n);
    alloc_n(&p, v, n);
    for (size_t i = 0; i < n; i++) {
        uintptr_t want = base_of(v[i / spc * spc], cs);
        TU_ASSERT(base_of(v[i], cs) == want,
                  "chunk %zu: object %zu at "
                  "%p is not in the chunk of the first (%p)",
                  cs, i, v[i], v[i / spc * spc]);
        TU_CHECK(tu_source_find(&src, v[i], size) != NULL);
    }
    TU_CHECK(base_of(v[0], cs) != base_of(v[spc], cs));
    TU_CHECK(base_of(v[spc], cs) != base_of(v[2 * spc], cs));
    TU_EQ(src.maps, 3);
    TU_EQ(src.last_map_size, cs);
    TU_EQ(stats(&p).bytes_held, 3 * cs);
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
    fa_config c = config(64);
    c.source = &s;
    fa_pool p;
    init_ok(&p, &c);
    memset(&s, 0, sizeof s); /* the pool holds its own copy */
    c.size = 999;
    c.chunk_size = 12345;
    void *a = fa_pool_alloc(&p);
    TU_CHECK(a);
    TU_EQ(stats(&p).object_size, 64);
    fa_pool_free(&p, a);
    TU_EQ(fa_pool_trim(&p), stats(&p).chunk_size);
    fa_pool_destroy(&p);
}
END_TEST

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
    tu_errors_reset();
    fa_error_handler old = fa_set_error_handler(tu_record_handler);
    fa_config ca = config(64);
    ca.name = "pool-A";
    fa_config cb = config(64);
    cb.name = "pool-B";
    fa_pool a, b;
    init_ok(&a, &ca);
    init_ok(&b, &cb);

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
    alloc_n(&b, y, 3);
    fa_stats before = stats(&b);
    tu_errors_reset();
    fa_pool_free(&b, x);
    TU_INT_EQ(tu_err.count, 1);
    TU_INT_EQ(tu_err.kind, FA_ERR_FOREIGN);
    TU_STR_EQ(tu_err.pool, "pool-B");
    TU_PTR_EQ(tu_err.addr, x);

    /* The bad free did nothing. */
    fa_stats after = stats(&b);
    TU_EQ(after.live, before.live);
    TU_EQ(after.frees, before.frees);
    TU_EQ(stats(&a).live, 1);
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
    TU_EQ(stats(&a).live, 0);
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
    tu_errors_reset();
    fa_error_handler old = fa_set_error_handler(tu_record_handler);
    fa_config c = small_config(NULL);
    c.name = "interior";
    fa_pool p;
    init_ok(&p, &c);
    size_t spc = stats(&p).slots_per_chunk;
    void **v = xcalloc_ptrs(spc + 1);
    alloc_n(&p, v, spc + 1); /* chunk 0 full, chunk 1 current */
    static const size_t offs[] = {1, PTR, 16, 63};
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            /* chunk 0 partly free */
            for (size_t i = 0; i < 10; i++) {
                fa_pool_free(&p, v[i]);
                v[i] = NULL;
            }
        }
        for (size_t k = 0; k < sizeof offs / sizeof offs[0]; k++) {
            char *obj = v[20 + k];
            char *bad = obj + offs[k];
            fa_stats before = stats(&p);
            tu_errors_reset();
            fa_pool_free(&p, bad);
            TU_ASSERT(tu_err.count == 1,
                      "pass %d: freeing %p (+%zu into "
                      "an object) reported %d errors",
                      pass, bad, offs[k], tu_err.count);
            TU_INT_EQ(tu_err.kind, FA_ERR_INTERIOR);
            TU_STR_EQ(tu_err.pool, "interior");
            TU_CHECK(tu_err.addr == bad || tu_err.addr == obj);
            fa_stats after = stats(&p);
            TU_EQ(after.live, before.live);
            TU_EQ(after.frees, before.frees);
            TU_CHECK(fa_pool_check(&p));
        }
    }
    TU_INT_EQ(tu_err.count, 1);
    fa_pool_free_bulk(&p, v, spc + 1);
    TU_EQ(stats(&p).live, 0);
    TU_CHECK(fa_pool_check(&p));
    TU_INT_EQ(tu_err.count, 1);
    fa_pool_destroy(&p);
    free(v);
    fa_set_error_handler(old);
}
END_TEST

START_TEST(error_unnamed_pool)
{
    tu_errors_reset();
    fa_error_handler old = fa_set_error_handler(tu_record_handler);
    fa_config ca = config(64);
    fa_config cb = config(64);
    cb.name = NULL;
    fa_pool a, b;
    init_ok(&a, &ca);
    init_ok(&b, &cb);
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
    tu_errors_reset();
    fa_error_handler old = fa_set_error_handler(tu_record_handler);
    fa_config c = small_config(NULL);
    c.name = "corrupt";
    /* Left broken: static keeps the pool and its objects reachable (a
     * tracking pool's live objects are heap blocks to Valgrind). */
    static fa_pool p;
    static void *v[8];
    init_ok(&p, &c);
    alloc_n(&p, v, 8);
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
    tu_errors_reset();
    fa_error_handler old = fa_set_error_handler(tu_record_handler);
    fa_config c = config(8);
    fa_pool p;
    init_ok(&p, &c);
    TU_CHECK(fa_pool_check(&p));
    fa_pool_destroy(&p);
    init_ok(&p, &c);
    TU_CHECK(fa_pool_check(&p));
    TU_INT_EQ(tu_err.count, 0);
    fa_pool_destroy(&p);
    fa_set_error_handler(old);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Checked mode (FA_CHECKED) and hardened mode (FA_HARDENED) */

static fa_config mode_config(const char *name, unsigned flags,
                             const fa_source *src)
{
    fa_config c = small_config(src);
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
    size_t spc = stats(p).slots_per_chunk;
    size_t n = 4 * spc + 3;
    void **v = xcalloc_ptrs(n);
    for (int round = 0; round < 3; round++) {
        alloc_n(p, v, n);
        for (size_t i = 0; i < n; i++) {
            if (zero) {
                TU_EQ(tu_first_nonzero(v[i], 64), 64);
            }
            tu_stamp(v[i], 64, i + (size_t)round * n);
        }
        expect_walk(p, v, n);
        for (size_t i = 0; i < n; i++) {
            TU_EQ(tu_verify(v[i], 0, 64, i + (size_t)round * n), 64);
        }
        tu_shuffle(&r, v, n);
        fa_pool_free_bulk(p, v, n / 2);
        check_ok(p);
        for (size_t i = n / 2; i < n; i++) {
            fa_pool_free(p, v[i]);
        }
        check_ok(p);
        TU_EQ(stats(p).live, 0);
        if (round == 1) {
            TU_GT(fa_pool_trim(p), 0);
        }
    }
    free(v);
}

START_TEST(checked_works)
{
    tu_errors_reset();
    fa_error_handler old = fa_set_error_handler(tu_record_handler);
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
        init_ok(&p, &c);
        fa_stats st = stats(&p);
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
    init_ok(&p, &c);
    void *keep = fa_pool_alloc(&p);
    void *a = fa_pool_alloc(&p);
    tu_stamp(a, 64, 99);
    fa_pool_free(&p, a);
    void *b = fa_pool_alloc(&p);
    TU_PTR_EQ(b, a);
    TU_EQ(tu_verify(b, PTR, 64, 99), 64);
    fa_pool_free(&p, b);
    fa_pool_free(&p, keep);
    fa_pool_destroy(&p);
    fa_set_error_handler(old);
}
END_TEST

START_TEST(checked_double_free)
{
    tu_errors_reset();
    fa_error_handler old = fa_set_error_handler(tu_record_handler);
    tu_source src;
    tu_source_init(&src, NULL);
    fa_config c = mode_config("dbl", FA_CHECKED, &src.source);
    fa_pool p;
    init_ok(&p, &c);
    size_t spc = stats(&p).slots_per_chunk;
    size_t n = spc + 5; /* chunk 0 full, chunk 1 current */
    void **v = xcalloc_ptrs(3 * spc);
    alloc_n(&p, v, n);

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
        fa_stats before = stats(&p);
        tu_errors_reset();
        fa_pool_free(&p, twice[k]);
        TU_ASSERT(tu_err.count == 1, "double free %d: %d reports", k,
                  tu_err.count);
        TU_INT_EQ(tu_err.kind, FA_ERR_DOUBLE_FREE);
        TU_STR_EQ(tu_err.pool, "dbl");
        TU_PTR_EQ(tu_err.addr, twice[k]);
        fa_stats after = stats(&p);
        TU_EQ(after.frees, before.frees);
        TU_EQ(after.live, before.live);
        tu_errors_reset();
        check_ok(&p);
        TU_INT_EQ(tu_err.count, 0);
    }
    /* The ignored double frees put nothing on a list twice. */
    size_t live = stats(&p).live;
    size_t more = 3 * spc - live;
    void **w = xcalloc_ptrs(more);
    alloc_n(&p, w, more);
    void **all = xcalloc_ptrs(more + 4);
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
    tu_errors_reset();
    fa_error_handler old = fa_set_error_handler(tu_record_handler);
    fa_config c = mode_config("int", FA_CHECKED, NULL);
    fa_pool p;
    init_ok(&p, &c);
    void *v[3];
    alloc_n(&p, v, 3);
    char *bad = (char *)v[1] + 4;
    fa_pool_free(&p, bad);
    TU_INT_EQ(tu_err.count, 1);
    TU_INT_EQ(tu_err.kind, FA_ERR_INTERIOR);
    TU_CHECK(tu_err.addr == bad || tu_err.addr == v[1]);
    TU_EQ(stats(&p).live, 3);
    fa_pool_free_bulk(&p, v, 3);
    check_ok(&p);
    TU_INT_EQ(tu_err.count, 1);
    fa_pool_destroy(&p);
    fa_set_error_handler(old);
}
END_TEST

static _Alignas(64) char not_pooled[256];

START_TEST(checked_foreign_pointers)
{
    tu_errors_reset();
    fa_error_handler old = fa_set_error_handler(tu_record_handler);
    fa_config ca = mode_config("plain-A", 0, NULL);
    fa_config cb = mode_config("checked-B", FA_CHECKED, NULL);
    fa_config cc = mode_config("checked-C", FA_CHECKED, NULL);
    fa_pool a, b, cp;
    init_ok(&a, &ca);
    init_ok(&b, &cb);
    init_ok(&cp, &cc);
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
    TU_EQ(stats(&b).live, 1);
    check_ok(&b);
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
    tu_errors_reset();
    fa_error_handler old = fa_set_error_handler(tu_record_handler);
    fa_config c = mode_config("waf", FA_CHECKED, NULL);
    static fa_pool p; /* left broken: static keeps it reachable */
    static void *v[3];
    init_ok(&p, &c);
    alloc_n(&p, v, 3);
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
        tu_errors_reset();
        fa_error_handler old = fa_set_error_handler(tu_record_handler);
        fa_config c = mode_config("link", modes[m], NULL);
        fa_pool *p = &pools[m];
        void **vm = v[m];
        init_ok(p, &c);
        alloc_n(p, vm, 8);
        fa_pool_free(p, vm[2]);
        fa_pool_free(p, vm[4]);
        /* v[4]'s link now steers to the live v[6], the attacker's pick. */
        tu_open_freed(vm[4], PTR);
        memcpy(vm[4], &vm[6], PTR);
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
    tu_errors_reset();
    fa_error_handler old = fa_set_error_handler(tu_record_handler);
    tu_source src;
    tu_source_init(&src, NULL);
    fa_config c = mode_config("leaky", FA_CHECKED, &src.source);
    fa_pool p;
    init_ok(&p, &c);
    void *v[3];
    alloc_n(&p, v, 3);
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
    init_ok(&p, &c);
    alloc_n(&p, v, 3);
    fa_pool_free_bulk(&p, v, 3);
    fa_pool_destroy(&p);
    TU_INT_EQ(tu_err.count, 0);
    tu_source_fini(&src);
    fa_set_error_handler(old);
}
END_TEST

START_TEST(checked_from_environment)
{
    tu_errors_reset();
    fa_error_handler old = fa_set_error_handler(tu_record_handler);
    TU_INT_EQ(setenv("FIXALLOC_CHECK", "1", 1), 0);
    fa_config c = mode_config("env", 0, NULL);
    fa_pool p;
    init_ok(&p, &c);
    void *v[2];
    alloc_n(&p, v, 2);
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
    tu_errors_reset();
    fa_error_handler old = fa_set_error_handler(tu_record_handler);
    fa_config c = mode_config("hard", FA_HARDENED, NULL);
    fa_pool p;
    init_ok(&p, &c);
    /* LIFO and first-word-only hold in hardened mode too. */
    void *v[10];
    alloc_n(&p, v, 10);
    for (size_t i = 0; i < 10; i++) {
        tu_stamp(v[i], 64, i);
    }
    for (size_t i = 0; i < 10; i++) {
        fa_pool_free(&p, v[i]);
    }
    for (size_t i = 10; i-- > 0;) {
        void *o = fa_pool_alloc(&p);
        TU_PTR_EQ(o, v[i]);
        expect_first_word_zero(o, 64);
        TU_EQ(tu_verify(o, PTR, 64, i), 64);
    }
    check_ok(&p);
    TU_INT_EQ(tu_err.count, 0);
    fa_pool_destroy(&p);
    fa_set_error_handler(old);
}
END_TEST

START_TEST(hardened_link_overwrite)
{
    /* The link of the most recently freed object is overwritten with a
     * pointer outside the pool: hardened mode must not hand it out. */
    tu_errors_reset();
    fa_error_handler old = fa_set_error_handler(tu_record_handler);
    fa_config c = mode_config("hard", FA_HARDENED, NULL);
    static fa_pool p; /* left broken: static keeps it reachable */
    static void *v[6];
    init_ok(&p, &c);
    alloc_n(&p, v, 4);
    fa_pool_free(&p, v[1]);
    fa_pool_free(&p, v[2]);
    void *target = not_pooled;
    tu_open_freed(v[2], PTR);
    memcpy(v[2], &target, PTR);
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

static Suite *pool_suite(void)
{
    Suite *s = suite_create("pool");
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
    tcase_add_test(tc, zero_after_reuse);
    tcase_add_test(tc, zero_after_chunk_emptied);
    tcase_add_test(tc, zero_from_dirty_source);
    tcase_add_test(tc, first_once_per_slot);
    tcase_add_test(tc, release_on_trim);
    tcase_add_test(tc, release_on_destroy_with_live);
    tcase_add_test(tc, free_keeps_all_but_first_word);
    tcase_add_test(tc, lifo_order);
    tcase_add_test(tc, first_word_zero_at_alloc);
    tcase_add_test(tc, free_keeps_bytes_across_emptied_chunk);
    suite_add_tcase(s, tc);

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
    tcase_add_test(tc, walk_live_only);
    tcase_add_test(tc, destroy_returns_everything);
    tcase_add_test(tc, enomem_max_bytes);
    tcase_add_test(tc, enomem_source_fails);
    tcase_add_test(tc, config_and_source_copied);
    suite_add_tcase(s, tc);

    tc = tcase_create("sources");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, static_source_init_refused);
    tcase_add_test(tc, static_source_pool);
    tcase_add_test(tc, static_source_zero);
    tcase_add_test(tc, static_source_direct);
    tcase_add_test(tc, static_source_unaligned_buffer);
    tcase_add_test(tc, os_source_direct);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, error_kind_names);
    tcase_add_test(tc, error_handler_returns_previous);
    tcase_add_test(tc, error_foreign_free_handled);
    tcase_add_test(tc, error_interior_free_handled);
    tcase_add_test(tc, error_unnamed_pool);
    tcase_add_test(tc, check_detects_cycle);
    tcase_add_test(tc, check_detects_bad_link);
    tcase_add_test(tc, check_fresh_pools);
    suite_add_tcase(s, tc);

    tc = tcase_create("checked");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, checked_works);
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
     * the slots per chunk. The "checked" tests turn it on themselves. */
    unsetenv("FIXALLOC_CHECK");
    SRunner *sr = srunner_create(pool_suite());
    /* Tests change process-wide state (the error handler, static buffers):
     * each needs its own process. */
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
