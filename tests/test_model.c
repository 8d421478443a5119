/*
 * test_model.c - randomized sequences of pool operations checked against a
 * reference model.
 *
 * The model is the array of live objects, each with an id whose byte
 * pattern fills the whole object while it is live. Besides the pool, a
 * counting page source sees every chunk. After each step the counters must
 * match; every few steps the pool is checked whole (fa_pool_check, walk,
 * contents, overlap, alignment). A failure names its seed; rerun one seed
 * with FIXALLOC_TEST_SEED=<seed> (that seed runs first in every config).
 * FIXALLOC_TEST_VERBOSE=1 prints what each run reached (peak live, chunks,
 * ENOMEM, trims, reserved allocations, reuses checked).
 */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixalloc.h"
#include "test_util.h"

#define PTR (sizeof(void *))
#define FILL 0xC3 /* what `first` writes */
#define SEEDS 3

/* ------------------------------------------------------------------ */
/* Configurations: sizes x variants */

static const size_t model_sizes[] = {1, 8, 16, 24, 64, 100, 256, 4000};
#define N_SIZES (sizeof model_sizes / sizeof model_sizes[0])
#define N_VARIANTS 6
#define N_CONFIGS (int)(N_SIZES * N_VARIANTS)

/* Variant 2 and 3 alignments, per size. */
static const size_t align_v2[N_SIZES] = {64, 64, 64, 64, 64, 128, 64, 4096};
static const size_t align_v3[N_SIZES] = {1, 8, 8, 8, 32, 4, 256, 8};

typedef struct mcfg {
    size_t size, align, chunk_size, max_chunks;
    unsigned flags;
    bool callbacks; /* first + release, tracked */
    bool dirty;     /* the source hands out dirty memory */
    bool failures;  /* the source fails for stretches of steps */
    char desc[160];
} mcfg;

/* The smallest chunk >= FA_CHUNK_MIN holding at least `want` slots. */
static size_t small_chunk(size_t size, size_t align, size_t want)
{
    size_t a = tu_expected_align(size, align);
    size_t slot = tu_expected_slot(size, align);
    size_t c = FA_CHUNK_MIN;
    while (tu_slots_in_chunk(c, slot, a) < want) {
        c <<= 1;
    }
    return c;
}

static mcfg make_cfg(int index)
{
    mcfg c;
    memset(&c, 0, sizeof c);
    size_t si = (size_t)index / N_VARIANTS;
    int variant = index % N_VARIANTS;
    c.size = model_sizes[si];
    switch (variant) {
    case 0: /* defaults, callbacks */ c.callbacks = true; break;
    case 1: /* FA_ZERO over a dirty source, small chunks */
        c.flags = FA_ZERO;
        c.dirty = true;
        c.chunk_size = small_chunk(c.size, 0, 8);
        break;
    case 2: /* over-aligned, small chunks, a byte limit, callbacks */
        c.align = align_v2[si];
        c.chunk_size = small_chunk(c.size, c.align, 8);
        c.max_chunks = 5;
        c.callbacks = true;
        break;
    case 3: /* FA_ZERO, under-aligned, a failing source, a limit */
        c.flags = FA_ZERO;
        c.align = align_v3[si];
        c.chunk_size = small_chunk(c.size, c.align, 8);
        c.max_chunks = 8;
        c.failures = true;
        break;
    case 4: /* checked mode, callbacks, small chunks, a limit */
        c.flags = FA_CHECKED;
        c.callbacks = true;
        c.chunk_size = small_chunk(c.size, 0, 16);
        c.max_chunks = 6;
        break;
    default: /* hardened mode, under-aligned, a failing source */
        c.flags = FA_HARDENED;
        c.align = align_v3[si];
        c.failures = true;
        break;
    }
    snprintf(c.desc, sizeof c.desc,
             "config %d: size %zu align %zu chunk %zu "
             "max_chunks %zu%s%s%s%s%s%s",
             index, c.size, c.align, c.chunk_size, c.max_chunks,
             c.flags & FA_ZERO ? " FA_ZERO" : "",
             c.flags & FA_CHECKED ? " FA_CHECKED" : "",
             c.flags & FA_HARDENED ? " FA_HARDENED" : "",
             c.callbacks ? " callbacks" : "", c.dirty ? " dirty-source" : "",
             c.failures ? " failing-source" : "");
    return c;
}

/* ------------------------------------------------------------------ */
/* The model */

typedef struct obj {
    void *p;
    uint64_t id;
} obj;

typedef struct model {
    const mcfg *cfg;
    uint64_t seed;
    size_t step;
    tu_rng rng;

    fa_pool pool;
    tu_source src;
    size_t size, slot, align, chunk, spc, max_bytes;

    obj *live; /* the live objects */
    size_t nlive, live_cap;
    size_t target;   /* most objects the run keeps live */
    tu_map live_idx; /* live object -> index in `live` */
    tu_map freed;    /* freed slot -> id of the content it keeps */
    uint64_t next_id;
    uint64_t allocs, frees, trimmed;
    size_t peak;
    size_t budget; /* allocations promised free of source calls */
    bool failing;  /* the source fails at the moment */

    tu_map carved; /* callbacks: slots `first` saw */
    size_t firsts, releases;
    bool in_trim;       /* trim or destroy: `release` may run */
    bool destroying;    /* destroy: `release` may see live slots */
    int leaks_reported; /* checked mode: leak reports at destroy */
    void **released;    /* slots released by the current trim */
    size_t nreleased, released_cap;

    void **scratch;
    size_t scratch_cap;

    /* What the run reached (FIXALLOC_TEST_VERBOSE prints it). */
    size_t n_enomem, n_trimmed_chunks, n_reserved_allocs, n_reused_checked,
        n_peak_chunks;
} model;

static model *current; /* for the error handler */

/* Every failure names the config, seed and step of the run. */
static void model_context(char *buf, size_t cap)
{
    const model *m = current;
    if (m != NULL) {
        snprintf(buf, cap,
                 "%s, seed %llu, step %zu (rerun: "
                 "FIXALLOC_TEST_SEED=%llu)",
                 m->cfg->desc, (unsigned long long)m->seed, m->step,
                 (unsigned long long)m->seed);
    }
}

static void model_error_handler(const fa_error *err)
{
    model *m = current;
    if (m == NULL) {
        TU_FAIL("fixalloc error %d outside a model run", err->kind);
        return;
    }
    if (m->destroying && err->kind == FA_ERR_LEAK && m->nlive > 0 &&
        (m->cfg->flags & FA_CHECKED)) {
        m->leaks_reported++; /* checked mode names live objects at destroy */
        TU_ASSERT(err->addr != NULL &&
                      tu_map_get(&m->live_idx, err->addr, NULL),
                  "the leak report names %p, not a live object", err->addr);
        return;
    }
    TU_FAIL("no error expected, got fixalloc: %s in pool '%s' at %p: %s",
            fa_error_kind_name(err->kind),
            err->pool != NULL ? err->pool : "(null)", err->addr,
            err->detail != NULL ? err->detail : "(null)");
}

static void cb_first(void *arg, void *o)
{
    model *m = arg;
    m->firsts++;
    TU_ASSERT(tu_source_find(&m->src, o, m->size) != NULL,
              "`first` on %p, outside every chunk held", o);
    TU_ASSERT(tu_map_put(&m->carved, o, 1), "`first` ran twice on slot %p", o);
    memset(o, FILL, m->size);
}

static void cb_release(void *arg, void *o)
{
    model *m = arg;
    m->releases++;
    TU_ASSERT(m->in_trim, "`release` on %p outside trim and destroy", o);
    TU_ASSERT(tu_map_del(&m->carved, o),
              "`release` on %p, a slot `first` "
              "never saw (or released twice)",
              o);
    TU_ASSERT(m->destroying || !tu_map_get(&m->live_idx, o, NULL),
              "`release` on live %p", o);
    if (m->nreleased == m->released_cap) {
        m->released_cap = m->released_cap ? m->released_cap * 2 : 1024;
        m->released = realloc(m->released, m->released_cap * sizeof(void *));
        TU_CHECK(m->released);
    }
    m->released[m->nreleased++] = o;
}

static void **scratch(model *m, size_t n)
{
    if (n > m->scratch_cap) {
        m->scratch_cap = n * 2;
        free(m->scratch);
        m->scratch = malloc(m->scratch_cap * sizeof(void *));
        TU_CHECK(m->scratch);
    }
    return m->scratch;
}

static void model_init(model *m, const mcfg *c, uint64_t seed)
{
    memset(m, 0, sizeof *m);
    m->cfg = c;
    m->seed = seed;
    tu_rng_seed(&m->rng, seed);
    tu_source_init(&m->src, NULL);
    m->src.dirty = c->dirty;
    tu_map_init(&m->live_idx);
    tu_map_init(&m->freed);
    tu_map_init(&m->carved);

    fa_config fc;
    memset(&fc, 0, sizeof fc);
    fc.size = c->size;
    fc.align = c->align;
    fc.chunk_size = c->chunk_size;
    fc.flags = c->flags;
    fc.source = &m->src.source;
    fc.name = "model";
    if (c->callbacks) {
        fc.first = cb_first;
        fc.release = cb_release;
        fc.arg = m;
    }
    m->size = c->size;
    m->align = tu_expected_align(c->size, c->align);
    m->slot = tu_expected_slot(c->size, c->align);
    m->chunk = c->chunk_size != 0 ? c->chunk_size
                                  : tu_expected_chunk(c->size, c->align);
    if (c->max_chunks != 0) {
        /* A little over whole chunks: the limit counts whole chunks. */
        fc.max_bytes = m->max_bytes = c->max_chunks * m->chunk + m->chunk / 2;
    }
    int rc = fa_pool_init(&m->pool, &fc);
    TU_ASSERT(rc == 0, "fa_pool_init = %d", rc);
    fa_stats st;
    fa_pool_stats(&m->pool, &st);
    /* The exact slot rule is test_pool's business; here the slot must
     * hold the object at its alignment. */
    TU_ASSERT(st.slot_size >= m->slot && st.slot_size % m->align == 0,
              "slot %zu, want %zu", st.slot_size, m->slot);
    m->slot = st.slot_size;
    TU_ASSERT(st.chunk_size == m->chunk, "chunk %zu, want %zu", st.chunk_size,
              m->chunk);
    m->spc = st.slots_per_chunk;
    size_t spc = tu_slots_in_chunk(m->chunk, m->slot, m->align);
    if (c->flags & FA_CHECKED) {
        /* a checked chunk may give room to its bitmap */
        TU_ASSERT(m->spc >= 1 && m->spc <= spc,
                  "%zu slots per chunk (at most "
                  "%zu)",
                  m->spc, spc);
    } else {
        TU_ASSERT(m->spc == spc, "%zu slots per chunk, want %zu", m->spc, spc);
    }

    size_t cap = (size_t)(2u << 20) / m->slot + 16;
    if (cap > 2000) {
        cap = 2000;
    }
    if (c->max_chunks != 0 && cap > (c->max_chunks + 1) * m->spc) {
        cap = (c->max_chunks + 1) * m->spc; /* let the limit be reached */
    }
    m->target = cap;
    m->live_cap = cap + 128;
    m->live = calloc(m->live_cap, sizeof *m->live);
    TU_CHECK(m->live);
    current = m;
    tu_set_fail_context(model_context);
}

static void model_fini(model *m)
{
    tu_set_fail_context(NULL);
    current = NULL;
    tu_map_fini(&m->live_idx);
    tu_map_fini(&m->freed);
    tu_map_fini(&m->carved);
    tu_source_fini(&m->src);
    free(m->live);
    free(m->released);
    free(m->scratch);
}

/* Free slots the pool holds, by its own counters. */
static size_t free_slots(const model *m)
{
    fa_stats st;
    fa_pool_stats(&m->pool, &st);
    return st.chunks * m->spc - st.live;
}

/* An allocation may fail only with no free slot left and no chunk to be had
 * (the limit reached, or the source failing). */
static void check_enomem(model *m, const char *op, int err)
{
    m->n_enomem++;
    fa_stats st;
    fa_pool_stats(&m->pool, &st);
    TU_ASSERT(err == ENOMEM, "%s failed with errno %d", op, err);
    TU_ASSERT(st.chunks * m->spc == st.live, "%s failed with %zu free slots",
              op, st.chunks * m->spc - st.live);
    bool limit = m->max_bytes != 0 && st.bytes_held + m->chunk > m->max_bytes;
    TU_ASSERT(limit || m->failing,
              "%s failed with %zu bytes held of %zu, "
              "the source working",
              op, st.bytes_held, m->max_bytes);
}

/* Bookkeeping for one object the pool handed out. */
static void on_alloc(model *m, void *p)
{
    uintptr_t a = (uintptr_t)p;
    TU_ASSERT(p != NULL, "NULL object");
    TU_ASSERT(a % m->align == 0, "%p not aligned to %zu", p, m->align);
    TU_ASSERT(tu_source_find(&m->src, p, m->size) != NULL,
              "%p outside every chunk held", p);
    TU_ASSERT(!tu_map_get(&m->live_idx, p, NULL), "%p handed out while live",
              p);
    if (m->cfg->callbacks) {
        TU_ASSERT(tu_map_get(&m->carved, p, NULL),
                  "%p handed out before `first` ran on it", p);
    }
    /* The first word reads as zero at allocation. */
    size_t fw = m->size < PTR ? m->size : PTR;
    size_t badw = tu_first_nonzero(p, fw);
    TU_ASSERT(badw == fw,
              "%p handed out with byte %zu of its first word "
              "non-zero",
              p, badw);
    uint64_t old;
    bool was_freed = tu_map_get(&m->freed, p, &old);
    if (m->cfg->flags & FA_ZERO) {
        size_t bad = tu_first_nonzero(p, m->size);
        TU_ASSERT(bad == m->size, "FA_ZERO object %p: byte %zu is %#x", p, bad,
                  ((unsigned char *)p)[bad]);
    } else if (was_freed && !(m->cfg->flags & FA_CHECKED)) {
        /* Everything past the first word is kept across free + alloc
         * (checked mode poisons freed objects instead). */
        m->n_reused_checked++;
        size_t bad = tu_verify(p, PTR, m->size, old);
        TU_ASSERT(bad == m->size,
                  "reused %p: byte %zu of the content it had "
                  "when freed (id %llu) changed",
                  p, bad, (unsigned long long)old);
    } else if (!was_freed && m->cfg->callbacks && m->size > PTR) {
        size_t bad = tu_first_not(p, PTR, m->size, FILL);
        TU_ASSERT(bad == m->size,
                  "fresh %p: byte %zu is not what `first` "
                  "wrote",
                  p, bad);
    }
    if (was_freed) {
        tu_map_del(&m->freed, p);
    }
    uint64_t id = m->next_id++;
    tu_stamp(p, m->size, id);
    if (m->nlive == m->live_cap) {
        m->live_cap *= 2;
        m->live = realloc(m->live, m->live_cap * sizeof *m->live);
        TU_CHECK(m->live);
    }
    m->live[m->nlive].p = p;
    m->live[m->nlive].id = id;
    tu_map_put(&m->live_idx, p, m->nlive);
    m->nlive++;
    m->allocs++;
    if (m->nlive > m->peak) {
        m->peak = m->nlive;
    }
}

/* Bookkeeping for live[i] about to be freed; returns its pointer. */
static void *on_free(model *m, size_t i)
{
    obj o = m->live[i];
    size_t bad = tu_verify(o.p, 0, m->size, o.id);
    TU_ASSERT(bad == m->size, "live %p (id %llu): byte %zu changed", o.p,
              (unsigned long long)o.id, bad);
    m->nlive--;
    tu_map_del(&m->live_idx, o.p);
    if (i != m->nlive) {
        m->live[i] = m->live[m->nlive];
        tu_map_put(&m->live_idx, m->live[i].p, i);
    }
    if (!(m->cfg->flags & FA_ZERO) && m->size > PTR) {
        tu_map_put(&m->freed, o.p, o.id);
    }
    m->frees++;
    return o.p;
}

/* ------------------------------------------------------------------ */
/* Operations */

static void op_alloc(model *m)
{
    size_t calls = m->src.map_calls;
    errno = 0;
    void *p = fa_pool_alloc(&m->pool);
    int err = errno;
    if (p == NULL) {
        TU_ASSERT(m->budget == 0, "alloc failed under a reservation of %zu",
                  m->budget);
        check_enomem(m, "alloc", err);
        return;
    }
    if (m->budget > 0) {
        TU_ASSERT(m->src.map_calls == calls,
                  "alloc called the source under "
                  "a reservation of %zu",
                  m->budget);
        m->budget--;
        m->n_reserved_allocs++;
    }
    on_alloc(m, p);
}

static void op_alloc_bulk(model *m)
{
    size_t n = 1 + tu_rng_below(&m->rng, 64);
    void **out = scratch(m, n);
    size_t calls = m->src.map_calls;
    errno = 0;
    size_t got = fa_pool_alloc_bulk(&m->pool, out, n);
    int err = errno;
    TU_ASSERT(got <= n, "alloc_bulk(%zu) = %zu", n, got);
    if (m->budget >= n) {
        TU_ASSERT(got == n && m->src.map_calls == calls,
                  "alloc_bulk(%zu) under a reservation of %zu: %zu, %zu source "
                  "calls",
                  n, m->budget, got, m->src.map_calls - calls);
    }
    m->budget = m->budget >= got ? m->budget - got : 0;
    for (size_t i = 0; i < got; i++) {
        on_alloc(m, out[i]);
    }
    if (got < n) {
        check_enomem(m, "alloc_bulk", err);
    }
}

static void op_free(model *m)
{
    if (m->nlive == 0) {
        return;
    }
    void *p = on_free(m, tu_rng_below(&m->rng, m->nlive));
    fa_pool_free(&m->pool, p);
}

/* Moves k random live objects to the end of `live`. */
static void pick_tail(model *m, size_t k)
{
    for (size_t j = 0; j < k; j++) {
        size_t last = m->nlive - 1 - j;
        size_t i = tu_rng_below(&m->rng, last + 1);
        obj t = m->live[i];
        m->live[i] = m->live[last];
        m->live[last] = t;
        tu_map_put(&m->live_idx, m->live[i].p, i);
        tu_map_put(&m->live_idx, m->live[last].p, last);
    }
}

static void op_free_bulk(model *m)
{
    if (m->nlive == 0) {
        return;
    }
    size_t k = 1 + tu_rng_below(&m->rng, m->nlive < 64 ? m->nlive : 64);
    pick_tail(m, k);
    void **v = scratch(m, 2 * k + 1);
    size_t n = 0;
    while (k-- > 0) {
        if (tu_rng_below(&m->rng, 8) == 0) {
            v[n++] = NULL; /* skipped */
        }
        v[n++] = on_free(m, m->nlive - 1);
    }
    fa_pool_free_bulk(&m->pool, v, n);
}

/* Frees every live object of one chunk, in random order: the chunk becomes
 * entirely free while others are in use. */
static void op_free_chunk(model *m)
{
    if (m->nlive == 0) {
        return;
    }
    uintptr_t mask = ~(uintptr_t)(m->chunk - 1);
    uintptr_t base =
        (uintptr_t)m->live[tu_rng_below(&m->rng, m->nlive)].p & mask;
    size_t end = m->nlive;
    for (size_t i = 0; i < end;) {
        if (((uintptr_t)m->live[i].p & mask) == base) {
            end--;
            obj t = m->live[i];
            m->live[i] = m->live[end];
            m->live[end] = t;
            tu_map_put(&m->live_idx, m->live[i].p, i);
            tu_map_put(&m->live_idx, m->live[end].p, end);
        } else {
            i++;
        }
    }
    size_t k = m->nlive - end;
    /* shuffle the tail */
    for (size_t j = k; j > 1; j--) {
        size_t a = end + j - 1, b = end + tu_rng_below(&m->rng, j);
        obj t = m->live[a];
        m->live[a] = m->live[b];
        m->live[b] = t;
        tu_map_put(&m->live_idx, m->live[a].p, a);
        tu_map_put(&m->live_idx, m->live[b].p, b);
    }
    while (m->nlive > end) {
        void *p = on_free(m, m->nlive - 1);
        fa_pool_free(&m->pool, p);
    }
}

static void op_reserve(model *m)
{
    size_t n = tu_rng_below(&m->rng, 2 * m->spc + 2);
    int rc = fa_pool_reserve(&m->pool, n);
    if (rc == 0) {
        size_t f = free_slots(m);
        TU_ASSERT(f >= n, "reserve(%zu) = 0 with %zu free slots", n, f);
        if (n > m->budget) {
            m->budget = n;
        }
    } else {
        TU_ASSERT(rc == ENOMEM, "reserve(%zu) = %d", n, rc);
        fa_stats st;
        fa_pool_stats(&m->pool, &st);
        bool limit =
            m->max_bytes != 0 && st.bytes_held + m->chunk > m->max_bytes;
        TU_ASSERT(limit || m->failing,
                  "reserve(%zu) = ENOMEM with %zu bytes "
                  "held of %zu, the source working",
                  n, st.bytes_held, m->max_bytes);
        TU_ASSERT(free_slots(m) < n,
                  "reserve(%zu) = ENOMEM with %zu free "
                  "slots",
                  n, free_slots(m));
    }
}

static int cmp_uptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

static void op_trim(model *m)
{
    tu_source_clear_log(&m->src);
    m->nreleased = 0;
    size_t unmapped = m->src.bytes_unmapped;
    m->in_trim = true;
    size_t got = fa_pool_trim(&m->pool);
    m->in_trim = false;
    TU_ASSERT(got == m->src.bytes_unmapped - unmapped,
              "trim returned %zu, "
              "gave back %zu",
              got, m->src.bytes_unmapped - unmapped);
    m->trimmed += got;
    m->budget = 0;
    m->n_trimmed_chunks += got / m->chunk;

    /* No chunk with a live object went back ... */
    for (size_t i = 0; i < m->nlive; i++) {
        TU_ASSERT(!tu_source_logged(&m->src, m->live[i].p),
                  "trim gave back the chunk of live %p", m->live[i].p);
    }
    /* ... and every chunk left holds one. */
    uintptr_t *bases = (uintptr_t *)(void *)scratch(m, m->nlive + 1);
    size_t nb = 0;
    for (size_t i = 0; i < m->nlive; i++) {
        bases[nb++] = (uintptr_t)m->live[i].p & ~(uintptr_t)(m->chunk - 1);
    }
    qsort(bases, nb, sizeof *bases, cmp_uptr);
    size_t distinct = 0;
    for (size_t i = 0; i < nb; i++) {
        distinct += i == 0 || bases[i] != bases[i - 1];
    }
    fa_stats st;
    fa_pool_stats(&m->pool, &st);
    TU_ASSERT(st.chunks == distinct,
              "after trim %zu chunks held, %zu hold "
              "live objects",
              st.chunks, distinct);

    for (size_t j = 0; j < m->src.nlog; j++) {
        uintptr_t lo = (uintptr_t)m->src.log[j].mem;
        uintptr_t hi = lo + m->src.log[j].size;
        tu_map_del_range(&m->freed, lo, hi);
        if (m->cfg->callbacks) {
            size_t left = tu_map_count_range(&m->carved, lo, hi);
            TU_ASSERT(left == 0, "%zu slots of a trimmed chunk not released",
                      left);
        }
    }
    for (size_t j = 0; j < m->nreleased; j++) {
        TU_ASSERT(tu_source_logged(&m->src, m->released[j]),
                  "`release` on %p, whose chunk was kept", m->released[j]);
    }
}

typedef struct walk_state {
    model *m;
    void **v;
    size_t n, cap;
} walk_state;

static void walk_fn(void *o, void *arg)
{
    walk_state *w = arg;
    TU_ASSERT(w->n < w->cap, "walk visited more than the %zu live objects",
              w->m->nlive);
    w->v[w->n++] = o;
}

static void check_walk(model *m)
{
    walk_state w;
    w.m = m;
    w.cap = m->nlive;
    w.v = scratch(m, 2 * m->nlive + 1);
    w.n = 0;
    fa_pool_walk(&m->pool, walk_fn, &w);
    TU_ASSERT(w.n == m->nlive, "walk visited %zu objects of %zu live", w.n,
              m->nlive);
    void **want = w.v + m->nlive;
    for (size_t i = 0; i < m->nlive; i++) {
        want[i] = m->live[i].p;
    }
    tu_sort_ptrs(w.v, w.n);
    tu_sort_ptrs(want, m->nlive);
    for (size_t i = 0; i < m->nlive; i++) {
        TU_ASSERT(w.v[i] == want[i],
                  "walk visited %p where %p is live "
                  "(a duplicate or a free slot)",
                  w.v[i], want[i]);
    }
}

static void check_stats(model *m)
{
    fa_stats st;
    fa_pool_stats(&m->pool, &st);
    TU_ASSERT(st.live == m->nlive, "stats.live %zu, model %zu", st.live,
              m->nlive);
    TU_ASSERT(st.peak_live == m->peak, "stats.peak_live %zu, model %zu",
              st.peak_live, m->peak);
    TU_ASSERT(st.allocs == m->allocs, "stats.allocs %llu, model %llu",
              (unsigned long long)st.allocs, (unsigned long long)m->allocs);
    TU_ASSERT(st.frees == m->frees, "stats.frees %llu, model %llu",
              (unsigned long long)st.frees, (unsigned long long)m->frees);
    TU_ASSERT(st.bytes_trimmed == m->trimmed,
              "stats.bytes_trimmed %llu, "
              "model %llu",
              (unsigned long long)st.bytes_trimmed,
              (unsigned long long)m->trimmed);
    TU_ASSERT(st.chunks == m->src.nlive,
              "stats.chunks %zu, the source has %zu "
              "blocks out",
              st.chunks, m->src.nlive);
    TU_ASSERT(st.bytes_held == st.chunks * m->chunk,
              "bytes_held %zu for %zu "
              "chunks",
              st.bytes_held, st.chunks);
    TU_ASSERT(st.bytes_held == m->src.bytes_mapped - m->src.bytes_unmapped,
              "bytes_held %zu, the source has %zu out", st.bytes_held,
              m->src.bytes_mapped - m->src.bytes_unmapped);
    TU_ASSERT(m->max_bytes == 0 || st.bytes_held <= m->max_bytes,
              "bytes_held %zu over max_bytes %zu", st.bytes_held, m->max_bytes);
    TU_ASSERT(st.live <= st.chunks * m->spc, "%zu live in %zu chunks", st.live,
              st.chunks);
    if (st.chunks > m->n_peak_chunks) {
        m->n_peak_chunks = st.chunks;
    }
}

static void check_full(model *m)
{
    TU_ASSERT(fa_pool_check(&m->pool), "fa_pool_check failed");
    check_walk(m);
    void **v = scratch(m, m->nlive + 1);
    for (size_t i = 0; i < m->nlive; i++) {
        const obj *o = &m->live[i];
        size_t bad = tu_verify(o->p, 0, m->size, o->id);
        TU_ASSERT(bad == m->size, "live %p (id %llu): byte %zu changed", o->p,
                  (unsigned long long)o->id, bad);
        TU_ASSERT(tu_source_find(&m->src, o->p, m->size) != NULL,
                  "live %p outside every chunk held", o->p);
        v[i] = o->p;
    }
    tu_sort_ptrs(v, m->nlive);
    for (size_t i = 1; i < m->nlive; i++) {
        TU_ASSERT((uintptr_t)v[i] - (uintptr_t)v[i - 1] >= m->slot,
                  "live objects %p and %p overlap (slot %zu)", v[i - 1], v[i],
                  m->slot);
    }
}

/* ------------------------------------------------------------------ */
/* A run */

static void model_run(const mcfg *c, uint64_t seed, size_t steps)
{
    model *m = calloc(1, sizeof *m);
    TU_CHECK(m);
    model_init(m, c, seed);
    fa_error_handler old = fa_set_error_handler(model_error_handler);

    int alloc_pct = 50;
    size_t phase_end = 0;
    size_t fail_until = 0;
    for (m->step = 0; m->step < steps; m->step++) {
        if (m->step >= phase_end) {
            /* A new phase: grow, shrink or churn, for 100..600 steps. */
            static const int pct[] = {80, 30, 50, 60};
            alloc_pct = pct[tu_rng_below(&m->rng, 4)];
            phase_end = m->step + 100 + tu_rng_below(&m->rng, 500);
        }
        if (c->failures) {
            if (m->failing && m->step >= fail_until) {
                m->failing = false;
                m->src.fail_after = -1;
            } else if (!m->failing && tu_rng_below(&m->rng, 400) == 0) {
                m->failing = true;
                m->src.fail_after = (long)m->src.maps;
                fail_until = m->step + 50 + tu_rng_below(&m->rng, 200);
            }
        }
        size_t r = tu_rng_below(&m->rng, 1000);
        bool full = m->nlive >= m->target;
        bool grow = !full && tu_rng_below(&m->rng, 100) < (size_t)alloc_pct;
        if (r < 50) {
            if (grow) {
                op_alloc_bulk(m);
            } else {
                op_free_bulk(m);
            }
        } else if (r < 60) {
            op_reserve(m);
        } else if (r < 70) {
            op_trim(m);
        } else if (r < 85) {
            /* a whole chunk freed, unless the phase grows */
            if (alloc_pct < 70) {
                op_free_chunk(m);
            } else if (grow) {
                op_alloc_bulk(m);
            }
        } else if (r < 95) {
            check_walk(m);
        } else if (grow) {
            op_alloc(m);
        } else {
            op_free(m);
        }
        check_stats(m);
        if (m->step % 97 == 0) {
            check_full(m);
        }
    }
    check_full(m);

    /* End: either free everything and trim, or destroy with objects live. */
    m->failing = false;
    m->src.fail_after = -1;
    if (seed % 2 == 0) {
        while (m->nlive > 0) {
            void *p = on_free(m, m->nlive - 1);
            fa_pool_free(&m->pool, p);
        }
        check_stats(m);
        op_trim(m);
        fa_stats st;
        fa_pool_stats(&m->pool, &st);
        TU_ASSERT(st.chunks == 0 && st.bytes_held == 0,
                  "all free and trimmed, "
                  "still %zu chunks",
                  st.chunks);
        check_full(m);
    }
    m->in_trim = m->destroying = true; /* destroy releases like trim */
    fa_pool_destroy(&m->pool);
    m->in_trim = m->destroying = false;
    TU_ASSERT(m->src.nlive == 0, "destroy kept %zu blocks", m->src.nlive);
    if (c->flags & FA_CHECKED) {
        TU_ASSERT(m->leaks_reported == (m->nlive > 0),
                  "%d leak reports for %zu "
                  "live objects",
                  m->leaks_reported, m->nlive);
    }
    TU_ASSERT(m->src.maps == m->src.unmaps, "%zu maps, %zu unmaps", m->src.maps,
              m->src.unmaps);
    TU_ASSERT(m->src.bytes_mapped == m->src.bytes_unmapped,
              "bytes mapped "
              "%zu, unmapped %zu",
              m->src.bytes_mapped, m->src.bytes_unmapped);
    if (c->callbacks) {
        TU_ASSERT(m->carved.len == 0, "%zu carved slots never released",
                  m->carved.len);
        TU_ASSERT(m->firsts == m->releases, "%zu firsts, %zu releases",
                  m->firsts, m->releases);
    }
    fa_set_error_handler(old);
    const char *verbose = getenv("FIXALLOC_TEST_VERBOSE");
    if (verbose != NULL && *verbose != '\0' && strcmp(verbose, "0") != 0) {
        printf("%s seed %llu: %zu steps, peak %zu live in up to %zu chunks, "
               "%zu ENOMEM, %zu chunks trimmed, %zu reserved allocs, %zu "
               "reuses checked\n",
               c->desc, (unsigned long long)seed, steps, m->peak,
               m->n_peak_chunks, m->n_enomem, m->n_trimmed_chunks,
               m->n_reserved_allocs, m->n_reused_checked);
        fflush(stdout);
    }
    model_fini(m);
    free(m);
}

static uint64_t seed_for(int cfg, int k)
{
    const char *e = getenv("FIXALLOC_TEST_SEED");
    if (e != NULL && *e != '\0') {
        return (uint64_t)strtoull(e, NULL, 0) + (uint64_t)k;
    }
    return 0x5EED0000ull + (uint64_t)cfg * 1000 + (uint64_t)k;
}

START_TEST(model_random)
{
    mcfg c = make_cfg(_i);
    size_t steps = tu_scaled(10000, 300);
    for (int k = 0; k < SEEDS; k++) {
        model_run(&c, seed_for(_i, k), steps);
    }
}
END_TEST

static Suite *model_suite(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("model");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, model_random, 0, N_CONFIGS);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(model_suite(), false);
}
