/*
 * model_pool.c - the pool's adapter to the model harness: fa_pool over a
 * counting page source, in 48 configs (8 sizes x 6 variants: callbacks,
 * FA_ZERO over a dirty source, over- and under-alignment, byte limits, a
 * source that fails for stretches of steps, checked and hardened modes).
 *
 * Besides the core's checks: exact counters (live, peak, allocs, frees,
 * bytes trimmed, chunks against the source), ENOMEM only with no free slot
 * and no chunk to be had, reservations that make no source call, trim that
 * gives back exactly the chunks without live objects, `first` once per slot
 * and `release` once per carved slot, the first word zero at allocation,
 * FA_ZERO objects all zeros, and everything past the first word kept across
 * free and reuse.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "model_layers.h"

#define FILL 0xC3 /* what `first` writes */

static const size_t model_sizes[] = {1, 8, 16, 24, 64, 100, 256, 4000};
#define N_SIZES (sizeof model_sizes / sizeof model_sizes[0])
#define N_VARIANTS 6
const int model_pool_configs = (int)(N_SIZES * N_VARIANTS);

/* Variant 2 and 3 alignments, per size. */
static const size_t align_v2[N_SIZES] = {64, 64, 64, 64, 64, 128, 64, 4096};
static const size_t align_v3[N_SIZES] = {1, 8, 8, 8, 32, 4, 256, 8};

typedef struct pool_model {
    size_t size, align, chunk_size, max_chunks;
    unsigned flags;
    bool callbacks; /* first + release, tracked */
    bool dirty;     /* the source hands out dirty memory */
    bool failures;  /* the source fails for stretches of steps */

    fa_pool pool;
    tu_source src;
    size_t slot, chunk, spc, max_bytes;
    size_t target; /* most objects the run keeps live */
    tu_map freed;  /* freed slot -> id of the content it keeps */
    uint64_t trimmed;
    size_t budget; /* allocations promised free of source calls */
    bool failing;  /* the source fails at the moment */
    size_t fail_until, phase_end;
    int alloc_pct;

    tu_map carved; /* callbacks: slots `first` saw */
    size_t firsts, releases;
    bool in_trim;    /* trim or destroy: `release` may run */
    bool destroying; /* destroy: `release` may see live slots */
    int leaks_reported;
    void **released; /* slots released by the current trim */
    size_t nreleased, released_cap;

    size_t n_enomem, n_trimmed_chunks, n_reserved_allocs, n_reused_checked,
        n_peak_chunks;
} pool_model;

static pool_model *st(model *m)
{
    return m->layer_state;
}

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

static void make_cfg(pool_model *c, int index)
{
    size_t si = (size_t)index / N_VARIANTS;
    int variant = index % N_VARIANTS;
    c->size = model_sizes[si];
    switch (variant) {
    case 0: /* defaults, callbacks */ c->callbacks = true; break;
    case 1: /* FA_ZERO over a dirty source, small chunks */
        c->flags = FA_ZERO;
        c->dirty = true;
        c->chunk_size = small_chunk(c->size, 0, 8);
        break;
    case 2: /* over-aligned, small chunks, a byte limit, callbacks */
        c->align = align_v2[si];
        c->chunk_size = small_chunk(c->size, c->align, 8);
        c->max_chunks = 5;
        c->callbacks = true;
        break;
    case 3: /* FA_ZERO, under-aligned, a failing source, a limit */
        c->flags = FA_ZERO;
        c->align = align_v3[si];
        c->chunk_size = small_chunk(c->size, c->align, 8);
        c->max_chunks = 8;
        c->failures = true;
        break;
    case 4: /* checked mode, callbacks, small chunks, a limit */
        c->flags = FA_CHECKED;
        c->callbacks = true;
        c->chunk_size = small_chunk(c->size, 0, 16);
        c->max_chunks = 6;
        break;
    default: /* hardened mode, under-aligned, a failing source */
        c->flags = FA_HARDENED;
        c->align = align_v3[si];
        c->failures = true;
        break;
    }
}

static void cb_first(void *arg, void *o)
{
    model *m = arg;
    pool_model *s = st(m);
    s->firsts++;
    TU_ASSERT(tu_source_find(&s->src, o, s->size) != NULL,
              "`first` on %p, outside every chunk held", o);
    TU_ASSERT(tu_map_put(&s->carved, o, 1), "`first` ran twice on slot %p", o);
    memset(o, FILL, s->size);
}

static void cb_release(void *arg, void *o)
{
    model *m = arg;
    pool_model *s = st(m);
    s->releases++;
    TU_ASSERT(s->in_trim, "`release` on %p outside trim and destroy", o);
    TU_ASSERT(tu_map_del(&s->carved, o),
              "`release` on %p, a slot `first` "
              "never saw (or released twice)",
              o);
    TU_ASSERT(s->destroying || !tu_map_get(&m->live_idx, o, NULL),
              "`release` on live %p", o);
    if (s->nreleased == s->released_cap) {
        s->released_cap = s->released_cap ? s->released_cap * 2 : 1024;
        s->released = realloc(s->released, s->released_cap * sizeof(void *));
        TU_CHECK(s->released);
    }
    s->released[s->nreleased++] = o;
}

static void setup(model *m, int index)
{
    pool_model *s = calloc(1, sizeof *s);
    TU_CHECK(s);
    m->layer_state = s;
    make_cfg(s, index);
    snprintf(m->desc, sizeof m->desc,
             "config %d: size %zu align %zu chunk %zu "
             "max_chunks %zu%s%s%s%s%s%s",
             index, s->size, s->align, s->chunk_size, s->max_chunks,
             s->flags & FA_ZERO ? " FA_ZERO" : "",
             s->flags & FA_CHECKED ? " FA_CHECKED" : "",
             s->flags & FA_HARDENED ? " FA_HARDENED" : "",
             s->callbacks ? " callbacks" : "", s->dirty ? " dirty-source" : "",
             s->failures ? " failing-source" : "");
    tu_source_init(&s->src, NULL);
    s->src.dirty = s->dirty;
    tu_map_init(&s->freed);
    tu_map_init(&s->carved);
    s->alloc_pct = 50;

    fa_config fc = tu_config(s->size);
    fc.align = s->align;
    fc.chunk_size = s->chunk_size;
    fc.flags = s->flags;
    fc.source = &s->src.source;
    fc.name = "model";
    if (s->callbacks) {
        fc.first = cb_first;
        fc.release = cb_release;
        fc.arg = m;
    }
    m->obj_size = s->size;
    m->obj_align = tu_expected_align(s->size, s->align);
    s->slot = tu_expected_slot(s->size, s->align);
    s->chunk = s->chunk_size != 0 ? s->chunk_size
                                  : tu_expected_chunk(s->size, s->align);
    if (s->max_chunks != 0) {
        /* A little over whole chunks: the limit counts whole chunks. */
        fc.max_bytes = s->max_bytes = s->max_chunks * s->chunk + s->chunk / 2;
    }
    int rc = fa_pool_init(&s->pool, &fc);
    TU_ASSERT(rc == 0, "fa_pool_init = %d", rc);
    fa_stats sts = tu_pool_stats(&s->pool);
    /* The exact slot rule is test_pool_api's business; here the slot must
     * hold the object at its alignment. */
    TU_ASSERT(sts.slot_size >= s->slot && sts.slot_size % m->obj_align == 0,
              "slot %zu, want %zu", sts.slot_size, s->slot);
    s->slot = m->slot = sts.slot_size;
    TU_ASSERT(sts.chunk_size == s->chunk, "chunk %zu, want %zu", sts.chunk_size,
              s->chunk);
    s->spc = sts.slots_per_chunk;
    size_t spc = tu_slots_in_chunk(s->chunk, s->slot, m->obj_align);
    if (s->flags & FA_CHECKED) {
        /* a checked chunk may give room to its bitmap */
        TU_ASSERT(s->spc >= 1 && s->spc <= spc,
                  "%zu slots per chunk (at most "
                  "%zu)",
                  s->spc, spc);
    } else {
        TU_ASSERT(s->spc == spc, "%zu slots per chunk, want %zu", s->spc, spc);
    }
    size_t cap = (size_t)(2u << 20) / s->slot + 16;
    if (cap > 2000) {
        cap = 2000;
    }
    if (s->max_chunks != 0 && cap > (s->max_chunks + 1) * s->spc) {
        cap = (s->max_chunks + 1) * s->spc; /* let the limit be reached */
    }
    s->target = cap;
}

/* Free slots the pool holds, by its own counters. */
static size_t free_slots(pool_model *s)
{
    fa_stats sts = tu_pool_stats(&s->pool);
    return sts.chunks * s->spc - sts.live;
}

/* An allocation may fail only with no free slot left and no chunk to be
 * had (the limit reached, or the source failing). */
static void on_enomem(model *m, const char *op, int err)
{
    pool_model *s = st(m);
    s->n_enomem++;
    fa_stats sts = tu_pool_stats(&s->pool);
    TU_ASSERT(err == ENOMEM, "%s failed with errno %d", op, err);
    TU_ASSERT(sts.chunks * s->spc == sts.live, "%s failed with %zu free slots",
              op, sts.chunks * s->spc - sts.live);
    bool limit = s->max_bytes != 0 && sts.bytes_held + s->chunk > s->max_bytes;
    TU_ASSERT(limit || s->failing,
              "%s failed with %zu bytes held of %zu, "
              "the source working",
              op, sts.bytes_held, s->max_bytes);
}

static model_obj alloc(model *m)
{
    pool_model *s = st(m);
    size_t calls = s->src.map_calls;
    model_obj o = {.n = m->obj_size, .align = m->obj_align};
    o.p = fa_pool_alloc(&s->pool);
    if (o.p == NULL) {
        TU_ASSERT(s->budget == 0, "alloc failed under a reservation of %zu",
                  s->budget);
        return o;
    }
    if (s->budget > 0) {
        TU_ASSERT(s->src.map_calls == calls,
                  "alloc called the source under "
                  "a reservation of %zu",
                  s->budget);
        s->budget--;
        s->n_reserved_allocs++;
    }
    return o;
}

static size_t alloc_bulk(model *m, void **out, size_t n)
{
    pool_model *s = st(m);
    size_t calls = s->src.map_calls;
    size_t got = fa_pool_alloc_bulk(&s->pool, out, n);
    if (s->budget >= n) {
        TU_ASSERT(got == n && s->src.map_calls == calls,
                  "alloc_bulk(%zu) under a reservation of %zu: %zu, %zu "
                  "source calls",
                  n, s->budget, got, s->src.map_calls - calls);
    }
    s->budget = s->budget >= got ? s->budget - got : 0;
    return got;
}

static void on_alloc(model *m, const model_obj *o)
{
    pool_model *s = st(m);
    void *p = o->p;
    TU_ASSERT(tu_source_find(&s->src, p, s->size) != NULL,
              "%p outside every chunk held", p);
    if (s->callbacks) {
        TU_ASSERT(tu_map_get(&s->carved, p, NULL),
                  "%p handed out before `first` ran on it", p);
    }
    /* The first word reads as zero at allocation. */
    size_t fw = s->size < TU_PTR ? s->size : TU_PTR;
    size_t badw = tu_first_nonzero(p, fw);
    TU_ASSERT(badw == fw,
              "%p handed out with byte %zu of its first word "
              "non-zero",
              p, badw);
    uint64_t old;
    bool was_freed = tu_map_get(&s->freed, p, &old);
    if (s->flags & FA_ZERO) {
        size_t bad = tu_first_nonzero(p, s->size);
        TU_ASSERT(bad == s->size, "FA_ZERO object %p: byte %zu is %#x", p, bad,
                  ((unsigned char *)p)[bad]);
    } else if (was_freed && !(s->flags & FA_CHECKED)) {
        /* Everything past the first word is kept across free + alloc
         * (checked mode poisons freed objects instead). */
        s->n_reused_checked++;
        size_t bad = tu_verify(p, TU_PTR, s->size, old);
        TU_ASSERT(bad == s->size,
                  "reused %p: byte %zu of the content it had "
                  "when freed (id %llu) changed",
                  p, bad, (unsigned long long)old);
    } else if (!was_freed && s->callbacks && s->size > TU_PTR) {
        size_t bad = tu_first_not(p, TU_PTR, s->size, FILL);
        TU_ASSERT(bad == s->size,
                  "fresh %p: byte %zu is not what `first` "
                  "wrote",
                  p, bad);
    }
    if (was_freed) {
        tu_map_del(&s->freed, p);
    }
}

static void on_free(model *m, const model_obj *o)
{
    pool_model *s = st(m);
    if (!(s->flags & FA_ZERO) && s->size > TU_PTR) {
        tu_map_put(&s->freed, o->p, o->id);
    }
}

static void pool_free(model *m, const model_obj *o)
{
    fa_pool_free(&st(m)->pool, o->p);
}

static void pool_free_bulk(model *m, void *const *v, size_t n)
{
    fa_pool_free_bulk(&st(m)->pool, v, n);
}

static void reserve(model *m)
{
    pool_model *s = st(m);
    size_t n = tu_rng_below(&m->rng, 2 * s->spc + 2);
    int rc = fa_pool_reserve(&s->pool, n);
    if (rc == 0) {
        size_t f = free_slots(s);
        TU_ASSERT(f >= n, "reserve(%zu) = 0 with %zu free slots", n, f);
        if (n > s->budget) {
            s->budget = n;
        }
    } else {
        TU_ASSERT(rc == ENOMEM, "reserve(%zu) = %d", n, rc);
        fa_stats sts = tu_pool_stats(&s->pool);
        bool limit =
            s->max_bytes != 0 && sts.bytes_held + s->chunk > s->max_bytes;
        TU_ASSERT(limit || s->failing,
                  "reserve(%zu) = ENOMEM with %zu bytes "
                  "held of %zu, the source working",
                  n, sts.bytes_held, s->max_bytes);
        TU_ASSERT(free_slots(s) < n,
                  "reserve(%zu) = ENOMEM with %zu free "
                  "slots",
                  n, free_slots(s));
    }
}

static int cmp_uptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

static void trim(model *m)
{
    pool_model *s = st(m);
    tu_source_clear_log(&s->src);
    s->nreleased = 0;
    size_t unmapped = s->src.bytes_unmapped;
    s->in_trim = true;
    size_t got = fa_pool_trim(&s->pool);
    s->in_trim = false;
    TU_ASSERT(got == s->src.bytes_unmapped - unmapped,
              "trim returned %zu, "
              "gave back %zu",
              got, s->src.bytes_unmapped - unmapped);
    s->trimmed += got;
    s->budget = 0;
    s->n_trimmed_chunks += got / s->chunk;

    /* No chunk with a live object went back ... */
    for (size_t i = 0; i < m->nlive; i++) {
        TU_ASSERT(!tu_source_logged(&s->src, m->live[i].p),
                  "trim gave back the chunk of live %p", m->live[i].p);
    }
    /* ... and every chunk left holds one. */
    uintptr_t *bases = (uintptr_t *)(void *)model_scratch(m, m->nlive + 1);
    size_t nb = 0;
    for (size_t i = 0; i < m->nlive; i++) {
        bases[nb++] = tu_chunk_base(m->live[i].p, s->chunk);
    }
    qsort(bases, nb, sizeof *bases, cmp_uptr);
    size_t distinct = 0;
    for (size_t i = 0; i < nb; i++) {
        distinct += i == 0 || bases[i] != bases[i - 1];
    }
    fa_stats sts = tu_pool_stats(&s->pool);
    TU_ASSERT(sts.chunks == distinct,
              "after trim %zu chunks held, %zu hold "
              "live objects",
              sts.chunks, distinct);
    for (size_t j = 0; j < s->src.nlog; j++) {
        uintptr_t lo = (uintptr_t)s->src.log[j].mem;
        uintptr_t hi = lo + s->src.log[j].size;
        tu_map_del_range(&s->freed, lo, hi);
        if (s->callbacks) {
            size_t left = tu_map_count_range(&s->carved, lo, hi);
            TU_ASSERT(left == 0, "%zu slots of a trimmed chunk not released",
                      left);
        }
    }
    for (size_t j = 0; j < s->nreleased; j++) {
        TU_ASSERT(tu_source_logged(&s->src, s->released[j]),
                  "`release` on %p, whose chunk was kept", s->released[j]);
    }
}

static void walk(model *m, void (*fn)(void *, void *), void *arg)
{
    fa_pool_walk(&st(m)->pool, fn, arg);
}

static void stats(model *m)
{
    pool_model *s = st(m);
    fa_stats sts = tu_pool_stats(&s->pool);
    TU_ASSERT(sts.live == m->nlive, "stats.live %zu, model %zu", sts.live,
              m->nlive);
    TU_ASSERT(sts.peak_live == m->peak, "stats.peak_live %zu, model %zu",
              sts.peak_live, m->peak);
    TU_ASSERT(sts.allocs == m->allocs, "stats.allocs %llu, model %llu",
              (unsigned long long)sts.allocs, (unsigned long long)m->allocs);
    TU_ASSERT(sts.frees == m->frees, "stats.frees %llu, model %llu",
              (unsigned long long)sts.frees, (unsigned long long)m->frees);
    TU_ASSERT(sts.bytes_trimmed == s->trimmed,
              "stats.bytes_trimmed %llu, "
              "model %llu",
              (unsigned long long)sts.bytes_trimmed,
              (unsigned long long)s->trimmed);
    TU_ASSERT(sts.chunks == s->src.nlive,
              "stats.chunks %zu, the source has %zu "
              "blocks out",
              sts.chunks, s->src.nlive);
    TU_ASSERT(sts.bytes_held == sts.chunks * s->chunk,
              "bytes_held %zu for %zu "
              "chunks",
              sts.bytes_held, sts.chunks);
    TU_ASSERT(sts.bytes_held == s->src.bytes_mapped - s->src.bytes_unmapped,
              "bytes_held %zu, the source has %zu out", sts.bytes_held,
              s->src.bytes_mapped - s->src.bytes_unmapped);
    TU_ASSERT(s->max_bytes == 0 || sts.bytes_held <= s->max_bytes,
              "bytes_held %zu over max_bytes %zu", sts.bytes_held,
              s->max_bytes);
    TU_ASSERT(sts.live <= sts.chunks * s->spc, "%zu live in %zu chunks",
              sts.live, sts.chunks);
    if (sts.chunks > s->n_peak_chunks) {
        s->n_peak_chunks = sts.chunks;
    }
}

static bool check(model *m)
{
    return fa_pool_check(&st(m)->pool);
}

/* Checked mode names each live object at destroy. */
static bool on_error(model *m, const fa_error *err)
{
    pool_model *s = st(m);
    if (s->destroying && err->kind == FA_ERR_LEAK && m->nlive > 0 &&
        (s->flags & FA_CHECKED)) {
        s->leaks_reported++;
        TU_ASSERT(err->addr != NULL &&
                      tu_map_get(&m->live_idx, err->addr, NULL),
                  "the leak report names %p, not a live object", err->addr);
        return true;
    }
    return false;
}

static void step(model *m)
{
    pool_model *s = st(m);
    if (m->step >= s->phase_end) {
        /* A new phase: grow, shrink or churn, for 100..600 steps. */
        static const int pct[] = {80, 30, 50, 60};
        s->alloc_pct = pct[tu_rng_below(&m->rng, 4)];
        s->phase_end = m->step + 100 + tu_rng_below(&m->rng, 500);
    }
    if (s->failures) {
        if (s->failing && m->step >= s->fail_until) {
            s->failing = false;
            s->src.fail_after = -1;
        } else if (!s->failing && tu_rng_below(&m->rng, 400) == 0) {
            s->failing = true;
            s->src.fail_after = (long)s->src.maps;
            s->fail_until = m->step + 50 + tu_rng_below(&m->rng, 200);
        }
    }
    size_t r = tu_rng_below(&m->rng, 1000);
    bool full = m->nlive >= s->target;
    bool grow = !full && tu_rng_below(&m->rng, 100) < (size_t)s->alloc_pct;
    if (r < 50) {
        model_do(m, grow ? MOP_ALLOC_BULK : MOP_FREE_BULK, 0);
    } else if (r < 60) {
        model_do(m, MOP_RESERVE, 0);
    } else if (r < 70) {
        model_do(m, MOP_TRIM, 0);
    } else if (r < 85) {
        /* a whole chunk freed, unless the phase grows */
        if (s->alloc_pct < 70) {
            model_do(m, MOP_FREE_CHUNK, s->chunk);
        } else if (grow) {
            model_do(m, MOP_ALLOC_BULK, 0);
        }
    } else if (r < 95) {
        model_do(m, MOP_WALK, 0);
    } else {
        model_do(m, grow ? MOP_ALLOC : MOP_FREE, 0);
    }
    model_do(m, MOP_STATS, 0);
    if (m->step % 97 == 0) {
        model_do(m, MOP_CHECK, 0);
    }
}

/* Either free everything and trim, or destroy with objects live. */
static void finish(model *m)
{
    pool_model *s = st(m);
    s->failing = false;
    s->src.fail_after = -1;
    if (m->seed % 2 == 0) {
        model_free_all(m);
        stats(m);
        trim(m);
        fa_stats sts = tu_pool_stats(&s->pool);
        TU_ASSERT(sts.chunks == 0 && sts.bytes_held == 0,
                  "all free and trimmed, "
                  "still %zu chunks",
                  sts.chunks);
        model_do(m, MOP_CHECK, 0);
    }
    s->in_trim = s->destroying = true; /* destroy releases like trim */
    fa_pool_destroy(&s->pool);
    s->in_trim = s->destroying = false;
    TU_ASSERT(s->src.nlive == 0, "destroy kept %zu blocks", s->src.nlive);
    if (s->flags & FA_CHECKED) {
        TU_ASSERT(s->leaks_reported == (m->nlive > 0),
                  "%d leak reports for %zu "
                  "live objects",
                  s->leaks_reported, m->nlive);
    }
    TU_ASSERT(s->src.maps == s->src.unmaps, "%zu maps, %zu unmaps", s->src.maps,
              s->src.unmaps);
    TU_ASSERT(s->src.bytes_mapped == s->src.bytes_unmapped,
              "bytes mapped "
              "%zu, unmapped %zu",
              s->src.bytes_mapped, s->src.bytes_unmapped);
    if (s->callbacks) {
        TU_ASSERT(s->carved.len == 0, "%zu carved slots never released",
                  s->carved.len);
        TU_ASSERT(s->firsts == s->releases, "%zu firsts, %zu releases",
                  s->firsts, s->releases);
    }
}

static void report(model *m, char *buf, size_t cap)
{
    pool_model *s = st(m);
    snprintf(buf, cap,
             "up to %zu chunks, %zu ENOMEM, %zu chunks trimmed, %zu "
             "reserved allocs, %zu reuses checked",
             s->n_peak_chunks, s->n_enomem, s->n_trimmed_chunks,
             s->n_reserved_allocs, s->n_reused_checked);
}

static void release_state(model *m)
{
    pool_model *s = st(m);
    if (s == NULL) {
        return;
    }
    tu_map_fini(&s->freed);
    tu_map_fini(&s->carved);
    tu_source_fini(&s->src);
    free(s->released);
    free(s);
    m->layer_state = NULL;
}

const model_layer model_pool_layer = {
    .name = "pool",
    .setup = setup,
    .step = step,
    .finish = finish,
    .alloc = alloc,
    .alloc_bulk = alloc_bulk,
    .on_alloc = on_alloc,
    .on_enomem = on_enomem,
    .free = pool_free,
    .free_bulk = pool_free_bulk,
    .on_free = on_free,
    .reserve = reserve,
    .trim = trim,
    .walk = walk,
    .stats = stats,
    .check = check,
    .on_error = on_error,
    .report = report,
    .release = release_state,
};
