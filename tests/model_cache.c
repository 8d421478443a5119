/*
 * model_cache.c - the cache's adapter to the model harness: fa_cache from
 * one thread over a counting page source, in 7 configs (default and small
 * bounds on empty chunks, a small or no depot, byte caps, FA_ZERO,
 * hardened and checked modes).
 *
 * Besides the core's checks: the counters agree with the model (live,
 * allocs, frees; the pools' live objects are the live ones, since one
 * thread sends nothing on its way; the depot within its bound; bytes held
 * as the source says), trim returns what it gave back, and ENOMEM comes
 * only when every object under the cap is live.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "model_layers.h"

/* size, flags, empty chunks a thread keeps (0: default), depot chunks (0:
 * default), cap in chunks (0: none) */
static const struct {
    size_t size;
    unsigned flags;
    size_t keep, depot, max_chunks;
} model_cfgs[] = {
    {64, 0, 0, 0, 0},          {16, 0, 1, 1, 0},           {100, 0, 2, 1, 3},
    {256, FA_ZERO, 0, 2, 0},   {24, FA_HARDENED, 0, 0, 2}, {4000, 0, 3, 1, 6},
    {48, FA_CHECKED, 0, 0, 4},
};
const int model_cache_configs = (int)(sizeof model_cfgs / sizeof model_cfgs[0]);

typedef struct cache_model {
    fa_cache *c;
    tu_source src;
    unsigned flags;
    size_t cap_objs;
    int alloc_pct;
} cache_model;

static cache_model *st(model *m)
{
    return m->layer_state;
}

static void setup(model *m, int i)
{
    cache_model *s = calloc(1, sizeof *s);
    TU_CHECK(s);
    m->layer_state = s;
    snprintf(m->desc, sizeof m->desc,
             "config %d: size %zu flags %#x keep %zu depot %zu max_chunks %zu",
             i, model_cfgs[i].size, model_cfgs[i].flags, model_cfgs[i].keep,
             model_cfgs[i].depot, model_cfgs[i].max_chunks);
    tu_source_init(&s->src, NULL);
    fa_config cfg = tu_config(model_cfgs[i].size);
    cfg.flags = s->flags = model_cfgs[i].flags;
    cfg.source = &s->src.source;
    cfg.chunk_size = 64 * 1024;
    cfg.max_bytes = model_cfgs[i].max_chunks * cfg.chunk_size;
    fa_cache_options o = {.thread_empty_chunks = model_cfgs[i].keep,
                          .depot_bytes = model_cfgs[i].depot * cfg.chunk_size};
    s->c = tu_cache_create_ok(&cfg, &o);
    fa_cache_counters cs = tu_cache_stats(s->c);
    if (model_cfgs[i].max_chunks != 0) {
        s->cap_objs = model_cfgs[i].max_chunks * cs.pool.slots_per_chunk;
    }
    m->obj_size = model_cfgs[i].size;
    m->obj_align = tu_expected_align(m->obj_size, 0);
    m->slot = cs.pool.slot_size;
    m->max_live = 4000;
    s->alloc_pct = 50;
}

static model_obj alloc(model *m)
{
    model_obj o = {.n = m->obj_size, .align = m->obj_align};
    o.p = fa_cache_alloc(st(m)->c);
    return o;
}

static size_t alloc_bulk(model *m, void **out, size_t n)
{
    return fa_cache_alloc_bulk(st(m)->c, out, n);
}

static void on_alloc(model *m, const model_obj *o)
{
    if (st(m)->flags & FA_ZERO) {
        size_t bad = tu_first_nonzero(o->p, o->n);
        TU_ASSERT(bad == o->n, "FA_ZERO object %p: byte %zu is not zero", o->p,
                  bad);
    }
}

/* Only when every object under the cap is live: the thread's own chunks
 * and the depot's are used before the source is asked. */
static void on_enomem(model *m, const char *op, int err)
{
    cache_model *s = st(m);
    TU_ASSERT(err == ENOMEM, "%s failed with errno %d", op, err);
    TU_ASSERT(s->cap_objs != 0 && m->nlive == s->cap_objs,
              "%s: ENOMEM with %zu live, cap %zu", op, m->nlive, s->cap_objs);
}

static void cache_free(model *m, const model_obj *o)
{
    fa_cache_free(st(m)->c, o->p);
}

static void cache_free_bulk(model *m, void *const *v, size_t n)
{
    fa_cache_free_bulk(st(m)->c, v, n);
}

static void reserve(model *m)
{
    cache_model *s = st(m);
    int rc = fa_cache_reserve(s->c, tu_rng_below(&m->rng, 500));
    TU_ASSERT(rc == 0 || (rc == ENOMEM && s->cap_objs != 0),
              "reserve = %d, cap %zu", rc, s->cap_objs);
}

static void trim(model *m)
{
    cache_model *s = st(m);
    size_t before = tu_source_live_bytes(&s->src);
    size_t got = fa_cache_trim(s->c);
    TU_EQ(before - tu_source_live_bytes(&s->src), got);
}

static void walk(model *m, void (*fn)(void *, void *), void *arg)
{
    fa_cache_walk(st(m)->c, fn, arg);
}

static void stats(model *m)
{
    cache_model *s = st(m);
    fa_cache_counters cs = tu_cache_stats(s->c);
    TU_EQ(cs.live, m->nlive);
    TU_EQ(cs.allocs, m->allocs);
    TU_EQ(cs.frees, m->frees);
    TU_EQ(cs.in_flight, 0);
    TU_EQ(cs.pool.live, m->nlive);
    TU_LE(cs.depot_chunks, cs.depot_max);
    TU_EQ(cs.pool.bytes_held, tu_source_live_bytes(&s->src));
}

static bool check(model *m)
{
    return fa_cache_check(st(m)->c);
}

static void step(model *m)
{
    cache_model *s = st(m);
    if (m->step % 250 == 0) {
        static const int pct[] = {80, 25, 50, 60};
        s->alloc_pct = pct[tu_rng_below(&m->rng, 4)];
    }
    size_t r = tu_rng_below(&m->rng, 1000);
    size_t n = 1 + tu_rng_below(&m->rng, 40);
    if (r < 10) {
        model_do(m, MOP_TRIM, 0);
    } else if (r < 20) {
        model_do(m, MOP_RESERVE, 0);
    } else if (r < 30) {
        model_do(m, MOP_CHECK, 0);
        model_do(m, MOP_STATS, 0);
    } else if (tu_rng_below(&m->rng, 100) < (size_t)s->alloc_pct) {
        model_do(m, r < 500 ? MOP_ALLOC : MOP_ALLOC_BULK, n);
    } else {
        model_do(m, r < 500 ? MOP_FREE : MOP_FREE_BULK, n);
    }
    model_do(m, MOP_STATS, 0);
}

static void finish(model *m)
{
    cache_model *s = st(m);
    while (m->nlive > 0) {
        model_do(m, MOP_FREE_BULK, 64);
    }
    model_do(m, MOP_CHECK, 0);
    model_do(m, MOP_STATS, 0);
    fa_cache_trim(s->c);
    fa_cache_counters cs = tu_cache_stats(s->c);
    TU_EQ(cs.pool.bytes_held, 0);
    TU_EQ(s->src.maps, s->src.unmaps);
    fa_cache_destroy(s->c);
    TU_EQ(s->src.maps, s->src.unmaps);
}

static void release_state(model *m)
{
    cache_model *s = st(m);
    tu_source_fini(&s->src);
    free(s);
    m->layer_state = NULL;
}

const model_layer model_cache_layer = {
    .name = "cache",
    .setup = setup,
    .step = step,
    .finish = finish,
    .release = release_state,
    .alloc = alloc,
    .alloc_bulk = alloc_bulk,
    .on_alloc = on_alloc,
    .on_enomem = on_enomem,
    .free = cache_free,
    .free_bulk = cache_free_bulk,
    .reserve = reserve,
    .trim = trim,
    .walk = walk,
    .stats = stats,
    .check = check,
};
