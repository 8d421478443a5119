/*
 * model.h - one model harness for the pool, the cache and the heap.
 *
 * A run drives a layer through one operation language (alloc, free, their
 * bulk forms, reserve, trim, walk, stats, check, realloc, verify) against a
 * reference model: the array of live objects, each stamped over its whole
 * size with the pattern of a fresh id. The core checks what every layer
 * promises (stamps kept while live, objects aligned, never handed out
 * twice, never overlapping, a walk that visits exactly the live objects,
 * counters that agree with the model, a check that passes); each layer
 * plugs in as a model_layer, a small table of operations and of the checks
 * that only it makes.
 *
 * A failure names the layer, config, seed and step; rerun one seed with
 * FIXALLOC_TEST_SEED=<seed> (it runs first in every config).
 * FIXALLOC_TEST_VERBOSE=1 prints what each run reached; FIXALLOC_TEST_SCALE
 * scales the steps.
 */
#ifndef FIXALLOC_TEST_MODEL_H
#define FIXALLOC_TEST_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fixalloc.h"
#include "test_util.h"

typedef struct model model;

/* One live object of the model. */
typedef struct model_obj {
    void *p;
    size_t n;     /* bytes asked for (the pool's and cache's object size) */
    size_t align; /* the alignment it must have */
    bool sized;   /* the heap: fa_free_sized may take it */
    uint64_t id;  /* the pattern it is stamped with */
} model_obj;

/* The operation language. */
typedef enum model_op {
    MOP_ALLOC,
    MOP_ALLOC_BULK,
    MOP_FREE,
    MOP_FREE_BULK,
    MOP_FREE_CHUNK, /* every live object of one chunk (pool) */
    MOP_RESERVE,
    MOP_TRIM,
    MOP_WALK,
    MOP_STATS,
    MOP_CHECK, /* the layer's check, the walk, every stamp, no overlap */
    MOP_REALLOC,
    MOP_VERIFY /* the stamp of one live object */
} model_op;

/* A layer: NULL entries are operations it does not have (the op is then a
 * no-op, or for the bulk forms a loop of single ones). */
typedef struct model_layer {
    const char *name;
    /* Creates the object under test for config cfg; sets m->desc. */
    void (*setup)(model *m, int cfg);
    /* Picks and runs one step's operations through model_do. */
    void (*step)(model *m);
    /* After the steps and a full check: frees, trims, destroys, and checks
     * what the layer promises at the end. */
    void (*finish)(model *m);
    /* Frees m->layer_state (after `report`). */
    void (*release)(model *m);

    /* Returns an object, its n and align filled in, or p NULL (errno set).
     * The core checks and stamps it. */
    model_obj (*alloc)(model *m);
    size_t (*alloc_bulk)(model *m, void **out, size_t n);
    /* Checks made on a new object before it is stamped. */
    void (*on_alloc)(model *m, const model_obj *o);
    /* An allocation failed: checks that it may (err: its errno). */
    void (*on_enomem)(model *m, const char *op, int err);
    /* Gives o back (its stamp was verified). */
    void (*free)(model *m, const model_obj *o);
    /* Gives v[0..n) back (NULL entries included: they are skipped). */
    void (*free_bulk)(model *m, void *const *v, size_t n);
    /* o was freed (bookkeeping of what a freed slot keeps). */
    void (*on_free)(model *m, const model_obj *o);
    void (*reserve)(model *m);
    void (*trim)(model *m);
    void (*walk)(model *m, void (*fn)(void *obj, void *arg), void *arg);
    /* Compares the layer's counters with the model's. */
    void (*stats)(model *m);
    bool (*check)(model *m);
    /* Reallocates o to n bytes (the core picks n: near o's size or a
     * random request); returns the new pointer, which must not be NULL. */
    void *(*realloc)(model *m, const model_obj *o, size_t n);
    /* An error the layer's handler saw: true when it was expected. */
    bool (*on_error)(model *m, const fa_error *err);
    /* What the run reached, for FIXALLOC_TEST_VERBOSE. */
    void (*report)(model *m, char *buf, size_t cap);
} model_layer;

struct model {
    const model_layer *layer;
    void *layer_state;
    char desc[200];
    uint64_t seed;
    size_t step, steps;
    tu_rng rng;

    model_obj *live; /* the live objects */
    size_t nlive, live_cap;
    tu_map live_idx; /* live object -> index in `live` */
    uint64_t next_id;
    uint64_t allocs, frees;
    size_t peak;
    size_t slot; /* the least distance between two objects (0: n) */
    size_t obj_size, obj_align; /* the pool's and cache's objects */
    size_t max_live;            /* alloc ops stop there */

    void **scratch;
    size_t scratch_cap;
};

/* Runs `steps` steps of the layer on config cfg with the given seed. */
void model_run(const model_layer *layer, int cfg, uint64_t seed, size_t steps);

/* Runs one operation (n: how many for the bulk forms, 0: random). */
void model_do(model *m, model_op op, size_t n);
/* Frees live[i] through the layer after verifying its stamp. */
void model_free_at(model *m, size_t i);
/* Removes live[i] from the model after verifying its stamp; returns it. */
model_obj model_take(model *m, size_t i);
/* Frees every live object. */
void model_free_all(model *m);
/* Moves k random live objects to the end of `live`. */
void model_pick_tail(model *m, size_t k);
/* Swaps live[i] and live[j], keeping the index map. */
void model_swap(model *m, size_t i, size_t j);
/* Scratch room for n pointers, reused. */
void **model_scratch(model *m, size_t n);

#endif /* FIXALLOC_TEST_MODEL_H */
