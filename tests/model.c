/*
 * model.c - the model harness's core: the live objects, the operation
 * language and the checks every layer shares (see model.h).
 */
#include "model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static model *current; /* for the error handler and failure messages */

/* Every failure names the layer, config, seed and step of the run. */
static void model_context(char *buf, size_t cap)
{
    const model *m = current;
    if (m != NULL) {
        snprintf(buf, cap,
                 "%s model, %s, seed %llu, step %zu (rerun: "
                 "FIXALLOC_TEST_SEED=%llu)",
                 m->layer->name, m->desc, (unsigned long long)m->seed, m->step,
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
    if (m->layer->on_error != NULL && m->layer->on_error(m, err)) {
        return;
    }
    TU_FAIL("no error expected, got fixalloc: %s in pool '%s' at %p: %s",
            fa_error_kind_name(err->kind),
            err->pool != NULL ? err->pool : "(null)", err->addr,
            err->detail != NULL ? err->detail : "(null)");
}

void **model_scratch(model *m, size_t n)
{
    if (n > m->scratch_cap) {
        m->scratch_cap = n * 2;
        free(m->scratch);
        m->scratch = tu_xmalloc(m->scratch_cap * sizeof(void *));
    }
    return m->scratch;
}

void model_swap(model *m, size_t i, size_t j)
{
    model_obj t = m->live[i];
    m->live[i] = m->live[j];
    m->live[j] = t;
    tu_map_put(&m->live_idx, m->live[i].p, i);
    tu_map_put(&m->live_idx, m->live[j].p, j);
}

void model_pick_tail(model *m, size_t k)
{
    for (size_t j = 0; j < k; j++) {
        size_t last = m->nlive - 1 - j;
        model_swap(m, tu_rng_below(&m->rng, last + 1), last);
    }
}

/* ------------------------------------------------------------------ */
/* Objects in and out of the model */

static void verify(const model_obj *o, size_t upto)
{
    size_t len = upto < o->n ? upto : o->n;
    size_t bad = tu_verify(o->p, 0, len, o->id);
    TU_ASSERT(bad == len, "live %p (id %llu, %zu bytes): byte %zu changed",
              o->p, (unsigned long long)o->id, o->n, bad);
}

/* Checks a new object, stamps it and adds it to the model. */
static void add(model *m, model_obj o)
{
    TU_ASSERT(o.p != NULL, "NULL object");
    TU_ASSERT(o.align == 0 || (uintptr_t)o.p % o.align == 0,
              "%p not aligned to %zu", o.p, o.align);
    TU_ASSERT(!tu_map_get(&m->live_idx, o.p, NULL), "%p handed out while live",
              o.p);
    if (m->layer->on_alloc != NULL) {
        m->layer->on_alloc(m, &o);
    }
    o.id = m->next_id++;
    tu_stamp(o.p, o.n, o.id);
    if (m->nlive == m->live_cap) {
        m->live_cap = m->live_cap != 0 ? 2 * m->live_cap : 1024;
        m->live = realloc(m->live, m->live_cap * sizeof *m->live);
        TU_CHECK(m->live);
    }
    m->live[m->nlive] = o;
    tu_map_put(&m->live_idx, o.p, m->nlive);
    m->nlive++;
    m->allocs++;
    if (m->nlive > m->peak) {
        m->peak = m->nlive;
    }
}

model_obj model_take(model *m, size_t i)
{
    model_obj o = m->live[i];
    verify(&o, o.n);
    m->nlive--;
    TU_ASSERT(tu_map_del(&m->live_idx, o.p), "%p was not live", o.p);
    if (i != m->nlive) {
        m->live[i] = m->live[m->nlive];
        tu_map_put(&m->live_idx, m->live[i].p, i);
    }
    m->frees++;
    if (m->layer->on_free != NULL) {
        m->layer->on_free(m, &o);
    }
    return o;
}

void model_free_at(model *m, size_t i)
{
    model_obj o = model_take(m, i);
    m->layer->free(m, &o);
}

void model_free_all(model *m)
{
    while (m->nlive > 0) {
        model_free_at(m, m->nlive - 1);
    }
}

/* ------------------------------------------------------------------ */
/* Operations */

static void op_alloc(model *m)
{
    if (m->nlive >= m->max_live) {
        return;
    }
    errno = 0;
    model_obj o = m->layer->alloc(m);
    int err = errno;
    if (o.p == NULL) {
        m->layer->on_enomem(m, "alloc", err);
        return;
    }
    add(m, o);
}

static void op_alloc_bulk(model *m, size_t n)
{
    if (m->layer->alloc_bulk == NULL) {
        for (size_t i = 0; i < n; i++) {
            op_alloc(m);
        }
        return;
    }
    if (m->nlive + n > m->max_live) {
        n = m->max_live - m->nlive;
    }
    void **out = model_scratch(m, n + 1);
    errno = 0;
    size_t got = m->layer->alloc_bulk(m, out, n);
    int err = errno;
    TU_ASSERT(got <= n, "alloc_bulk(%zu) = %zu", n, got);
    /* The objects are the layer's now: scratch may move under `add`. */
    void **v = tu_xmalloc((got + 1) * sizeof *v);
    memcpy(v, out, got * sizeof *v);
    for (size_t i = 0; i < got; i++) {
        add(m, (model_obj){.p = v[i], .n = m->obj_size, .align = m->obj_align});
    }
    free(v);
    if (got < n) {
        m->layer->on_enomem(m, "alloc_bulk", err);
    }
}

static void op_free(model *m)
{
    if (m->nlive > 0) {
        model_free_at(m, tu_rng_below(&m->rng, m->nlive));
    }
}

static void op_free_bulk(model *m, size_t k)
{
    if (m->nlive == 0) {
        return;
    }
    if (k > m->nlive) {
        k = m->nlive;
    }
    if (m->layer->free_bulk == NULL || k == 1) {
        while (k-- > 0) {
            op_free(m);
        }
        return;
    }
    model_pick_tail(m, k);
    void **v = model_scratch(m, 2 * k + 1);
    size_t n = 0;
    while (k-- > 0) {
        if (tu_rng_below(&m->rng, 8) == 0) {
            v[n++] = NULL; /* skipped */
        }
        v[n++] = model_take(m, m->nlive - 1).p;
    }
    m->layer->free_bulk(m, v, n);
}

/* Frees every live object of one chunk (m->slot's chunk: the layer says
 * which through chunk_mask), in random order: the chunk becomes entirely
 * free while others are in use. */
static void op_free_chunk(model *m, size_t chunk)
{
    if (m->nlive == 0 || chunk == 0) {
        return;
    }
    uintptr_t mask = ~(uintptr_t)(chunk - 1);
    uintptr_t base =
        (uintptr_t)m->live[tu_rng_below(&m->rng, m->nlive)].p & mask;
    size_t end = m->nlive;
    for (size_t i = 0; i < end;) {
        if (((uintptr_t)m->live[i].p & mask) == base) {
            model_swap(m, i, --end);
        } else {
            i++;
        }
    }
    size_t k = m->nlive - end;
    for (size_t j = k; j > 1; j--) { /* shuffle the tail */
        model_swap(m, end + j - 1, end + tu_rng_below(&m->rng, j));
    }
    while (m->nlive > end) {
        model_free_at(m, m->nlive - 1);
    }
}

typedef struct walk_state {
    void **v;
    size_t n, cap;
} walk_state;

static void walk_fn(void *o, void *arg)
{
    walk_state *w = arg;
    TU_ASSERT(w->n < w->cap, "walk visited more than the %zu live objects",
              w->cap);
    w->v[w->n++] = o;
}

/* The walk visits exactly the live objects, each once. */
static void check_walk(model *m)
{
    if (m->layer->walk == NULL) {
        return;
    }
    walk_state w = {model_scratch(m, 2 * m->nlive + 1), 0, m->nlive};
    m->layer->walk(m, walk_fn, &w);
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

static int cmp_obj(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const model_obj *)a)->p;
    uintptr_t y = (uintptr_t)((const model_obj *)b)->p;
    return x < y ? -1 : x > y;
}

/* The layer's check, the walk, every stamp, and no two objects overlap. */
static void check_full(model *m)
{
    if (m->layer->check != NULL) {
        TU_ASSERT(m->layer->check(m), "the %s's check failed", m->layer->name);
    }
    check_walk(m);
    model_obj *v = tu_xmalloc((m->nlive + 1) * sizeof *v);
    for (size_t i = 0; i < m->nlive; i++) {
        verify(&m->live[i], m->live[i].n);
        v[i] = m->live[i];
    }
    if (m->nlive > 1) {
        qsort(v, m->nlive, sizeof *v, cmp_obj);
    }
    for (size_t i = 1; i < m->nlive; i++) {
        size_t ext = v[i - 1].n > m->slot ? v[i - 1].n : m->slot;
        TU_ASSERT((uintptr_t)v[i].p - (uintptr_t)v[i - 1].p >= ext &&
                      v[i].p != v[i - 1].p,
                  "live objects %p and %p overlap (%zu bytes)", v[i - 1].p,
                  v[i].p, ext);
    }
    free(v);
}

/* Reallocates a random live object: the new one keeps the old bytes up
 * to the smaller size, and takes a fresh stamp. */
static void op_realloc(model *m)
{
    if (m->layer->realloc == NULL || m->nlive == 0) {
        return;
    }
    size_t i = tu_rng_below(&m->rng, m->nlive);
    model_obj o = m->live[i];
    size_t n = tu_rng_below(&m->rng, 4) == 0 ? o.n + tu_rng_below(&m->rng, 64)
                                             : tu_random_size(&m->rng, 60);
    verify(&o, o.n);
    void *q = m->layer->realloc(m, &o, n);
    TU_ASSERT(q != NULL, "realloc(%p, %zu) failed", o.p, n);
    model_obj moved = o;
    moved.p = q;
    verify(&moved, n);
    /* The old object is gone from the model without a free of its own. */
    m->nlive--;
    tu_map_del(&m->live_idx, o.p);
    if (i != m->nlive) {
        m->live[i] = m->live[m->nlive];
        tu_map_put(&m->live_idx, m->live[i].p, i);
    }
    add(m, (model_obj){.p = q, .n = n, .align = 0, .sized = true});
}

void model_do(model *m, model_op op, size_t n)
{
    switch (op) {
    case MOP_ALLOC: op_alloc(m); break;
    case MOP_ALLOC_BULK:
        op_alloc_bulk(m, n != 0 ? n : 1 + tu_rng_below(&m->rng, 64));
        break;
    case MOP_FREE: op_free(m); break;
    case MOP_FREE_BULK:
        op_free_bulk(m, n != 0 ? n : 1 + tu_rng_below(&m->rng, 64));
        break;
    case MOP_FREE_CHUNK: op_free_chunk(m, n); break;
    case MOP_RESERVE:
        if (m->layer->reserve != NULL) {
            m->layer->reserve(m);
        }
        break;
    case MOP_TRIM:
        if (m->layer->trim != NULL) {
            m->layer->trim(m);
        }
        break;
    case MOP_WALK: check_walk(m); break;
    case MOP_STATS:
        if (m->layer->stats != NULL) {
            m->layer->stats(m);
        }
        break;
    case MOP_CHECK: check_full(m); break;
    case MOP_REALLOC: op_realloc(m); break;
    case MOP_VERIFY:
        if (m->nlive > 0) {
            const model_obj *o = &m->live[tu_rng_below(&m->rng, m->nlive)];
            verify(o, o->n);
        }
        break;
    }
}

/* ------------------------------------------------------------------ */
/* A run */

void model_run(const model_layer *layer, int cfg, uint64_t seed, size_t steps)
{
    model *m = calloc(1, sizeof *m);
    TU_CHECK(m);
    m->layer = layer;
    m->seed = seed;
    m->steps = steps;
    m->max_live = SIZE_MAX;
    tu_rng_seed(&m->rng, seed);
    tu_map_init(&m->live_idx);
    snprintf(m->desc, sizeof m->desc, "config %d", cfg);
    current = m;
    tu_set_fail_context(model_context);
    fa_error_handler old = fa_set_error_handler(model_error_handler);

    layer->setup(m, cfg);
    for (m->step = 0; m->step < steps; m->step++) {
        layer->step(m);
    }
    check_full(m);
    layer->finish(m);

    fa_set_error_handler(old);
    if (tu_verbose()) {
        char what[256] = "";
        if (layer->report != NULL) {
            layer->report(m, what, sizeof what);
        }
        printf("%s model, %s, seed %llu: %zu steps, peak %zu live%s%s\n",
               layer->name, m->desc, (unsigned long long)seed, steps, m->peak,
               what[0] != '\0' ? ", " : "", what);
        fflush(stdout);
    }
    layer->release(m);
    tu_set_fail_context(NULL);
    current = NULL;
    tu_map_fini(&m->live_idx);
    free(m->live);
    free(m->scratch);
    free(m);
}
