/*
 * bench.h - the benchmark's adapter contract and its workloads, written once.
 *
 * Every implementation under test (fa_pool, glibc malloc, the bare free list,
 * later jemalloc, tcmalloc, mimalloc, Boost.Pool, DPDK ...) is one small
 * adapter: a name and five functions. The workloads below are written once,
 * against that contract, as always_inline templates taking the adapter's
 * alloc and free as parameters; BENCH_ADAPTER instantiates them for one
 * implementation, so that the constant function pointers fold into direct
 * calls. Each implementation therefore runs the same loop, and each loop makes
 * one real call per alloc and one per free: to the library's function
 * (fa_pool_alloc, malloc through the PLT) or, for the bare list, to
 * out-of-line functions in their own translation unit (bare_list.c). No
 * implementation is inlined into the loop, so instruction counts compare.
 *
 * To add a peer: write impl_<name>.c with init/alloc/free/destroy (and
 * optionally slot), end it with BENCH_ADAPTER(...), and list the adapter in
 * bench_impls[] (bench.c) and in CMakeLists.txt.
 */
#ifndef FIXALLOC_BENCH_H
#define FIXALLOC_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The workloads, numbered as in bench/README.md. */
enum { WL_HOT = 1, WL_LIFO = 2, WL_SHUFFLE = 3, WL_RSS = 4, WL_COUNT = 4 };

/* What one timed run of a workload is told. */
typedef struct bench_args {
    size_t size;          /* object size in bytes */
    size_t n;             /* pairs (hot), objects per batch, or objects live */
    size_t reps;          /* batches per timed run (LIFO, shuffle) */
    void **ptrs;          /* n slots for the objects of a batch */
    const uint32_t *perm; /* shuffle: the order of the frees, n entries */
} bench_args;

/* What one run returns. */
typedef struct bench_result {
    uint64_t ns;          /* the timed region */
    uint64_t pairs;       /* alloc+free pairs in it */
    long rss_delta;       /* RSS workload: bytes of RSS grown by the objects */
} bench_result;

typedef bench_result (*bench_run_fn)(void *state, const bench_args *a);

/* The adapter: one per implementation. */
typedef struct bench_impl {
    const char *id;   /* short name, for --impl and --hot-only */
    const char *name; /* as printed */
    /* Returns the implementation's state for objects of `size` bytes, or
     * NULL. `max_live` bounds the objects live at once (the bare list maps
     * its region from it; DPDK's mempool will need it; most ignore it). */
    void *(*init)(size_t size, size_t max_live);
    void *(*alloc)(void *state);
    void (*free)(void *state, void *obj);
    void (*destroy)(void *state);
    /* Bytes one object occupies, when the implementation can say (else
     * NULL). */
    size_t (*slot)(void *state);
    /* The workloads instantiated for this adapter, indexed by WL_* - 1. */
    bench_run_fn run[WL_COUNT];
} bench_impl;

/* ---------------------------------------------------------------------
 * Helpers shared by the templates (bench.c)
 * ------------------------------------------------------------------- */

uint64_t bench_now_ns(void);
/* The process's resident set, in bytes, from /proc/self/status (VmRSS). */
long bench_rss_bytes(void);
_Noreturn void bench_out_of_memory(const char *impl, size_t size);

/* Makes the compiler forget what it knows about p: the object escapes, so an
 * alloc/free pair cannot be elided (gcc removes malloc+free of an unused
 * object), yet no instruction is emitted. */
#define BENCH_ESCAPE(p) __asm__ volatile("" : "+r"(p))

#define BENCH_INLINE static inline __attribute__((always_inline))

/* ---------------------------------------------------------------------
 * The workloads, written once
 * ------------------------------------------------------------------- */

typedef void *(*bench_alloc_fn)(void *state);
typedef void (*bench_free_fn)(void *state, void *obj);

/* (1) alloc then free at once, n times. This loop is what
 * bench/instructions.sh counts: keep it bare (no NULL check: one object is
 * live at a time, no implementation fails on it). */
BENCH_INLINE bench_result bench_wl_hot(void *st, const bench_args *a,
                                       bench_alloc_fn alloc_fn,
                                       bench_free_fn free_fn) {
    bench_result r = {0, a->n, 0};
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < a->n; i++) {
        void *p = alloc_fn(st);
        BENCH_ESCAPE(p);
        free_fn(st, p);
    }
    r.ns = bench_now_ns() - t0;
    return r;
}

/* Allocates a batch of n into a->ptrs; aborts when the implementation runs
 * out (a benchmark result without all its objects would mean nothing). */
BENCH_INLINE void bench_fill(void *st, const bench_args *a,
                             bench_alloc_fn alloc_fn, const char *name) {
    for (size_t i = 0; i < a->n; i++) {
        void *p = alloc_fn(st);
        if (__builtin_expect(p == NULL, 0)) {
            bench_out_of_memory(name, a->size);
        }
        a->ptrs[i] = p;
    }
}

/* (2) alloc n, free them in LIFO order (last allocated first), reps times. */
BENCH_INLINE bench_result bench_wl_lifo(void *st, const bench_args *a,
                                        bench_alloc_fn alloc_fn,
                                        bench_free_fn free_fn,
                                        const char *name) {
    bench_result r = {0, (uint64_t)a->n * a->reps, 0};
    uint64_t t0 = bench_now_ns();
    for (size_t rep = 0; rep < a->reps; rep++) {
        bench_fill(st, a, alloc_fn, name);
        for (size_t i = a->n; i-- > 0;) {
            free_fn(st, a->ptrs[i]);
        }
    }
    r.ns = bench_now_ns() - t0;
    return r;
}

/* (3) alloc n, free them in the order of a->perm (a fixed-seed shuffle
 * prepared outside), reps times. */
BENCH_INLINE bench_result bench_wl_shuffle(void *st, const bench_args *a,
                                           bench_alloc_fn alloc_fn,
                                           bench_free_fn free_fn,
                                           const char *name) {
    bench_result r = {0, (uint64_t)a->n * a->reps, 0};
    uint64_t t0 = bench_now_ns();
    for (size_t rep = 0; rep < a->reps; rep++) {
        bench_fill(st, a, alloc_fn, name);
        for (size_t i = 0; i < a->n; i++) {
            free_fn(st, a->ptrs[a->perm[i]]);
        }
    }
    r.ns = bench_now_ns() - t0;
    return r;
}

/* (4) alloc n objects, write every byte of each, read the RSS they added,
 * free them all. The caller runs this in a fresh process and has touched
 * a->ptrs already, so the RSS delta is the objects' alone. Timed: the alloc
 * and touch phase plus the free phase (the RSS read is not). */
BENCH_INLINE bench_result bench_wl_rss(void *st, const bench_args *a,
                                       bench_alloc_fn alloc_fn,
                                       bench_free_fn free_fn,
                                       const char *name) {
    bench_result r = {0, a->n, 0};
    long rss0 = bench_rss_bytes();
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < a->n; i++) {
        void *p = alloc_fn(st);
        if (__builtin_expect(p == NULL, 0)) {
            bench_out_of_memory(name, a->size);
        }
        memset(p, (int)(i & 0xff), a->size);
        a->ptrs[i] = p;
    }
    uint64_t t1 = bench_now_ns();
    r.rss_delta = bench_rss_bytes() - rss0;
    uint64_t t2 = bench_now_ns();
    for (size_t i = 0; i < a->n; i++) {
        free_fn(st, a->ptrs[i]);
    }
    r.ns = (t1 - t0) + (bench_now_ns() - t2);
    return r;
}

/* Instantiates the workloads for one implementation and defines its adapter,
 * `const bench_impl bench_impl_<id>`. ALLOC and FREE should be functions the
 * compiler can see (static wrappers around the library call) or out-of-line
 * functions; either way the loop ends up with one direct call per operation. */
#define BENCH_ADAPTER(id, NAME, INIT, ALLOC, FREE, DESTROY, SLOT)             \
    static bench_result id##_run_hot(void *st, const bench_args *a) {         \
        return bench_wl_hot(st, a, ALLOC, FREE);                              \
    }                                                                         \
    static bench_result id##_run_lifo(void *st, const bench_args *a) {        \
        return bench_wl_lifo(st, a, ALLOC, FREE, NAME);                       \
    }                                                                         \
    static bench_result id##_run_shuffle(void *st, const bench_args *a) {     \
        return bench_wl_shuffle(st, a, ALLOC, FREE, NAME);                    \
    }                                                                         \
    static bench_result id##_run_rss(void *st, const bench_args *a) {         \
        return bench_wl_rss(st, a, ALLOC, FREE, NAME);                        \
    }                                                                         \
    const bench_impl bench_impl_##id = {                                      \
        #id, NAME, INIT, ALLOC, FREE, DESTROY, SLOT,                          \
        {id##_run_hot, id##_run_lifo, id##_run_shuffle, id##_run_rss}}

/* The adapters (impl_*.c). */
extern const bench_impl bench_impl_bare;
extern const bench_impl bench_impl_fixalloc;
extern const bench_impl bench_impl_glibc;

#endif /* FIXALLOC_BENCH_H */
