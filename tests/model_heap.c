/*
 * model_heap.c - the heap's adapter to the model harness: the whole
 * fa_malloc family (malloc, calloc, aligned_alloc, realloc, free and
 * free_sized) over random sizes and alignments, on the default heap and on
 * heaps of their own over a counting page source (plain, FA_ZERO,
 * FA_HARDENED, FA_CHECKED).
 *
 * Besides the core's checks: every object aligned to what it asked for and
 * to its class's natural alignment, its usable size at least what it asked
 * for, in the right heap; calloc and FA_ZERO objects all zeros; realloc in
 * place when the object's class still fits; at the end the heap's counters
 * back to zero and every byte back to the source.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "model_layers.h"

/* heap flags; -1: the default heap */
static const int model_heaps[] = {-1, 0, FA_ZERO, FA_HARDENED, FA_CHECKED};
const int model_heap_configs =
    (int)(sizeof model_heaps / sizeof model_heaps[0]);

typedef struct heap_model {
    fa_heap *h; /* NULL: the default heap, through fa_malloc & co. */
    bool zero;  /* FA_ZERO heap */
    tu_source src;
} heap_model;

static heap_model *st(model *m)
{
    return m->layer_state;
}

static void setup(model *m, int i)
{
    heap_model *s = calloc(1, sizeof *s);
    TU_CHECK(s);
    m->layer_state = s;
    tu_source_init(&s->src, NULL);
    if (model_heaps[i] < 0) {
        snprintf(m->desc, sizeof m->desc, "config %d: the default heap", i);
        return;
    }
    snprintf(m->desc, sizeof m->desc, "config %d: a heap with flags %#x", i,
             (unsigned)model_heaps[i]);
    fa_heap_config cfg = {.flags = (unsigned)model_heaps[i],
                          .source = &s->src.source,
                          .name = "model"};
    s->h = tu_heap_create_ok(&cfg);
    s->zero = (cfg.flags & FA_ZERO) != 0;
}

static model_obj alloc(model *m)
{
    heap_model *s = st(m);
    fa_heap *h = s->h;
    model_obj o = {.n = tu_random_size(&m->rng, 100)};
    size_t kind = tu_rng_below(&m->rng, 100);
    if (kind < 60) {
        o.p = h != NULL ? fa_heap_malloc(h, o.n) : fa_malloc(o.n);
        o.sized = true;
    } else if (kind < 75) {
        size_t k = 1 + tu_rng_below(&m->rng, 8);
        o.n = o.n / k * k;
        o.p = h != NULL ? fa_heap_calloc(h, k, o.n / k) : fa_calloc(k, o.n / k);
        o.sized = true;
        TU_ASSERT(o.p == NULL || tu_first_nonzero(o.p, o.n) == o.n,
                  "calloc'd %p is not zero", o.p);
    } else if (kind < 92) {
        o.align = (size_t)1 << tu_rng_below(&m->rng, 17); /* 1 .. 64 KiB */
        o.p = h != NULL ? fa_heap_aligned_alloc(h, o.align, o.n)
                        : fa_aligned_alloc(o.align, o.n);
    } else {
        o.p = h != NULL ? fa_heap_realloc(h, NULL, o.n) : fa_realloc(NULL, o.n);
        o.sized = true;
    }
    /* Not on_alloc: a realloc'd object keeps its bytes. */
    TU_ASSERT(!s->zero || o.p == NULL || tu_first_nonzero(o.p, o.n) == o.n,
              "FA_ZERO object %p is not zero", o.p);
    return o;
}

static void on_alloc(model *m, const model_obj *o)
{
    heap_model *s = st(m);
    size_t nat = tu_natural_align(o->n);
    size_t a = o->align > nat ? o->align : nat;
    TU_ASSERT((uintptr_t)o->p % a == 0, "object %p of %zu not aligned to %zu",
              o->p, o->n, a);
    TU_ASSERT(fa_usable_size(o->p) >= o->n, "usable %zu < %zu",
              fa_usable_size(o->p), o->n);
    TU_ASSERT(fa_heap_of(o->p) == (s->h != NULL ? s->h : fa_heap_default()),
              "object %p in the wrong heap", o->p);
}

static void on_enomem(model *m, const char *op, int err)
{
    (void)m;
    TU_FAIL("%s failed: errno %d", op, err);
}

static void heap_free(model *m, const model_obj *o)
{
    if (o->sized && tu_rng_below(&m->rng, 2) == 0) {
        fa_free_sized(o->p, o->n);
    } else {
        fa_free(o->p);
    }
}

static void *heap_realloc(model *m, const model_obj *o, size_t n)
{
    fa_heap *h = st(m)->h;
    size_t usable = fa_usable_size(o->p);
    void *q = h != NULL ? fa_heap_realloc(h, o->p, n) : fa_realloc(o->p, n);
    TU_ASSERT(!(n <= usable && fa_good_size(n) > usable / 2 &&
                (uintptr_t)o->p % tu_natural_align(n) == 0) ||
                  q == o->p,
              "realloc of %p (usable %zu) to %zu moved it", o->p, usable, n);
    return q;
}

static bool check(model *m)
{
    heap_model *s = st(m);
    return fa_heap_check(s->h != NULL ? s->h : fa_heap_default());
}

/* Grow towards a few thousand live objects, then churn. */
static void step(model *m)
{
    size_t r = tu_rng_below(&m->rng, 100);
    size_t grow = m->nlive < 3000 ? 45 : 30;
    if (r < grow || m->nlive == 0) {
        model_do(m, MOP_ALLOC, 0);
    } else if (r < 80) {
        model_do(m, MOP_FREE, 0);
    } else if (r < 95) {
        model_do(m, MOP_REALLOC, 0);
    } else {
        model_do(m, MOP_VERIFY, 0);
    }
}

static void finish(model *m)
{
    heap_model *s = st(m);
    model_free_all(m);
    fa_heap *counted = s->h != NULL ? s->h : fa_heap_default();
    fa_heap_counters hs = tu_heap_stats(counted);
    TU_EQ(hs.live, 0);
    TU_EQ(hs.live_bytes, 0);
    TU_EQ(hs.large_bytes, 0);
    TU_EQ(hs.allocs, hs.frees);
    TU_CHECK(fa_heap_check(counted));
    if (s->h != NULL) {
        fa_heap_trim(s->h);
        TU_EQ(tu_heap_stats(s->h).bytes_held, 0);
        fa_heap_destroy(s->h);
        TU_EQ(s->src.maps, s->src.unmaps);
    }
}

static void release_state(model *m)
{
    heap_model *s = st(m);
    tu_source_fini(&s->src);
    free(s);
    m->layer_state = NULL;
}

const model_layer model_heap_layer = {
    .name = "heap",
    .setup = setup,
    .step = step,
    .finish = finish,
    .release = release_state,
    .alloc = alloc,
    .on_alloc = on_alloc,
    .on_enomem = on_enomem,
    .free = heap_free,
    .realloc = heap_realloc,
    .check = check,
};
