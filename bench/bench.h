/*
 * bench.h - the benchmark's adapter contract and its workloads, written once.
 *
 * Every implementation under test (the bare free list, fa_pool, fa_cache,
 * fa_malloc, glibc, jemalloc, tcmalloc, mimalloc, oneTBB, Boost.Pool, DPDK)
 * is one small adapter: a name, its capabilities and a few functions. The
 * workloads below are written once, against that contract, as always_inline
 * templates taking the adapter's alloc and free as parameters;
 * BENCH_FIXED_WORKLOADS and BENCH_VAR_WORKLOADS instantiate them for one
 * adapter, so that the constant function pointers fold into direct calls.
 * Each implementation therefore runs the same loop, and each loop makes one
 * real call per alloc and one per free: to the library's function
 * (fa_pool_alloc, malloc through the PLT) or, where the library's fast path
 * is an inline function in its header (DPDK, Boost.Pool) or for the bare
 * list, to out-of-line wrappers. No implementation is inlined into the loop,
 * so times and instruction counts compare.
 *
 * Each implementation runs in its own process (worker.c; linking jemalloc,
 * tcmalloc or mimalloc replaces malloc process-wide), and the driver
 * (driver.c and its parts, driver.h) interleaves the processes round by
 * round. bench/README.md describes the workloads and the method.
 *
 * To add a peer: write impl_<name>.c defining a bench_impl, and give it a
 * worker executable in CMakeLists.txt (bench_worker, behind a check for the
 * library); bench/README.md says more.
 */
#ifndef FIXALLOC_BENCH_H
#define FIXALLOC_BENCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The workloads, numbered as in bench/README.md. Workloads 4 and 7 run in
 * the same fresh process (allocate up to 10M, read RSS, free 90%, trim);
 * 10 and 11 too run in a fresh process each. */
enum {
    WL_HOT = 1,        /* (1) alloc+free at once */
    WL_LIFO = 2,       /* (2) 100k batch, LIFO free */
    WL_SHUFFLE = 3,    /* (3) 100k batch, shuffled free */
    WL_COLD = 4,       /* (4) 10M cold objects: time, RSS per object */
    WL_PRODCON = 5,    /* (5) two threads, producer/consumer through a ring */
    WL_PAIRS2 = 6,     /* (6) two threads, independent hot pairs */
    WL_TRIM = 7,       /* (7) free 90% in random order, then trim */
    WL_MIXED = 8,      /* (8) random sizes 16-1024, random replacement */
    WL_LARSON = 9,     /* (9) larson-style: two threads swap their objects */
    WL_MIXED_RSS = 10, /* (10) RSS per byte requested, random sizes */
    WL_PHASE = 11,     /* (11) phase shift: one size class, then another */
    WL_COUNT = 11
};

/* Size distributions of the mixed-size workloads (bench_args.size). */
enum { BENCH_UNIFORM = 0, BENCH_SKEWED = 1 };
/* Sizes drawn from a table of this many entries (fixed seed). */
#define BENCH_SIZE_TABLE 4096
extern uint32_t bench_size_table[2][BENCH_SIZE_TABLE];

/* Capabilities of an implementation (bench_impl.caps). */
#define BENCH_FIXED 0x01u    /* serves the fixed-size workloads */
#define BENCH_VAR 0x02u      /* serves objects of any size (alloc_n) */
#define BENCH_SHARED 0x04u   /* one state serves several threads at once */
#define BENCH_REMOTE 0x08u   /* any thread may free any object */
#define BENCH_HOT_ONLY 0x10u /* a variant shown in workload 1 only */
#define BENCH_RING 0x20u     /* workload 5's floor: the ring alone */

/* ---------------------------------------------------------------------
 * Thread hand-off: a single-producer single-consumer ring, a spin barrier
 * ------------------------------------------------------------------- */

#define BENCH_RING_SIZE 1024u /* a power of two */

typedef struct bench_ring {
    _Alignas(64) _Atomic size_t head; /* written by the producer */
    _Alignas(64) _Atomic size_t tail; /* written by the consumer */
    _Alignas(64) void *slot[BENCH_RING_SIZE];
} bench_ring;

typedef struct bench_barrier {
    _Alignas(64) _Atomic unsigned count;
    _Atomic unsigned gen;
    unsigned n;
} bench_barrier;

static inline void bench_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static inline void bench_barrier_wait(bench_barrier *b)
{
    unsigned gen = atomic_load_explicit(&b->gen, memory_order_acquire);
    if (atomic_fetch_add_explicit(&b->count, 1, memory_order_acq_rel) + 1 ==
        b->n) {
        atomic_store_explicit(&b->count, 0, memory_order_relaxed);
        atomic_store_explicit(&b->gen, gen + 1, memory_order_release);
        return;
    }
    while (atomic_load_explicit(&b->gen, memory_order_acquire) == gen) {
        bench_pause();
    }
}

/* ---------------------------------------------------------------------
 * What one timed run is told and returns
 * ------------------------------------------------------------------- */

typedef struct bench_args {
    size_t size;          /* object size; mixed: BENCH_UNIFORM or _SKEWED */
    size_t n;             /* pairs, batch, objects live, or steps */
    size_t reps;          /* batches per run; larson: epochs */
    void **ptrs;          /* n slots for the objects of a batch */
    const uint32_t *perm; /* a fixed-seed permutation of 0..n-1 */
    size_t live;          /* mixed and larson: objects per array (2^k) */
    void **arrays[2];     /* larson: the two threads' arrays */
    int thread;           /* two-thread workloads: 0 or 1 */
    uint64_t seed;
    size_t size2;     /* phase shift: phase B's size (phase A's: size) */
    bench_ring *ring; /* producer/consumer */
    bench_barrier *barrier;
    uint64_t t0, t1; /* two-thread workloads: when this thread began
                      * and ended (set by the run) */
} bench_args;

typedef struct bench_result {
    uint64_t ns;    /* the timed region */
    uint64_t pairs; /* alloc+free pairs in it */
    /* cold runs (workloads 4, 7, 10, 11): */
    uint64_t alloc_ns, free_ns, trim_ns;
    long rss_full;    /* RSS grown with every object live and written;
                       * (11): the peak over the phases */
    long rss_freed;   /* ... after freeing 90% of them; (11): at the end,
                       * everything freed */
    long rss_trimmed; /* ... after the trim call; (11): after the first
                       * phase's allocation (one phase alone) */
    uint64_t bytes;   /* bytes requested, all objects; (11): per phase */
    uint64_t sink;    /* keeps the consumer's reads alive */
} bench_result;

typedef bench_result (*bench_run_fn)(void *state, bench_args *a);

/* The adapter: one per implementation. */
typedef struct bench_impl {
    const char *id;   /* short name, for --impl */
    const char *name; /* as printed */
    unsigned caps;    /* BENCH_* */
    /* Once per process, before anything else; returns NULL, or why the
     * implementation cannot run here. mem_hint: bytes the process will
     * need at most (DPDK reserves its memory up front). NULL: nothing. */
    const char *(*setup)(size_t mem_hint);
    /* In each further thread, once, before it uses the implementation. */
    void (*thread_start)(void);
    /* The library's version, or NULL. */
    const char *(*version)(void);
    /* State for objects of `size` bytes (0: any size, for BENCH_VAR), of
     * which at most max_live are live at once; NULL on failure. */
    void *(*init)(size_t size, size_t max_live);
    void (*destroy)(void *state);
    /* The operations themselves, for filling and emptying outside the
     * timed loops (alloc_n: BENCH_VAR only). */
    void *(*alloc)(void *state);
    void *(*alloc_n)(void *state, size_t n);
    void (*free)(void *state, void *obj);
    /* Gives free memory back to the OS through the library's own call;
     * trim_call names it ("malloc_trim(0)"); NULL when there is none and
     * trim_none says why. */
    void (*trim)(void *state);
    const char *trim_call;
    const char *trim_none;
    /* Bytes one object of the state's size occupies, when known; or NULL. */
    size_t (*slot)(void *state);
    /* The fixed-size workloads, indexed by WL_*; NULL where not served. */
    bench_run_fn fixed[WL_COUNT + 1];
    bench_run_fn producer, consumer;
    /* The mixed-size workloads. */
    bench_run_fn var[WL_COUNT + 1];
} bench_impl;

/* ---------------------------------------------------------------------
 * Helpers shared by the templates (worker.c)
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

/* splitmix64: the workloads' random numbers (fixed seeds). */
BENCH_INLINE uint64_t bench_rand(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* ---------------------------------------------------------------------
 * The workloads, written once
 * ------------------------------------------------------------------- */

typedef void *(*bench_alloc_fn)(void *state);
typedef void *(*bench_alloc_n_fn)(void *state, size_t n);
typedef void (*bench_free_fn)(void *state, void *obj);

/* (1) alloc then free at once, n times; also each thread of (6). This loop
 * is what the instruction counts measure: keep it bare (no NULL check: one
 * object is live at a time, no implementation fails on it). */
BENCH_INLINE bench_result bench_wl_hot(void *st, bench_args *a,
                                       bench_alloc_fn alloc_fn,
                                       bench_free_fn free_fn)
{
    bench_result r;
    memset(&r, 0, sizeof r);
    r.pairs = a->n;
    if (a->barrier != NULL) {
        bench_barrier_wait(a->barrier);
    }
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < a->n; i++) {
        void *p = alloc_fn(st);
        BENCH_ESCAPE(p);
        free_fn(st, p);
    }
    uint64_t t1 = bench_now_ns();
    a->t0 = t0;
    a->t1 = t1;
    r.ns = t1 - t0;
    return r;
}

/* Allocates a batch of n into a->ptrs; aborts when the implementation runs
 * out (a benchmark result without all its objects would mean nothing). */
BENCH_INLINE void bench_fill(void *st, const bench_args *a,
                             bench_alloc_fn alloc_fn, const char *name)
{
    for (size_t i = 0; i < a->n; i++) {
        void *p = alloc_fn(st);
        if (__builtin_expect(p == NULL, 0)) {
            bench_out_of_memory(name, a->size);
        }
        a->ptrs[i] = p;
    }
}

/* (2) alloc n, free them in LIFO order (last allocated first), reps times. */
BENCH_INLINE bench_result bench_wl_lifo(void *st, bench_args *a,
                                        bench_alloc_fn alloc_fn,
                                        bench_free_fn free_fn, const char *name)
{
    bench_result r;
    memset(&r, 0, sizeof r);
    r.pairs = (uint64_t)a->n * a->reps;
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
BENCH_INLINE bench_result bench_wl_shuffle(void *st, bench_args *a,
                                           bench_alloc_fn alloc_fn,
                                           bench_free_fn free_fn,
                                           const char *name)
{
    bench_result r;
    memset(&r, 0, sizeof r);
    r.pairs = (uint64_t)a->n * a->reps;
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

/* (4) and (7), in a fresh process: alloc n objects and write every byte of
 * each, read the RSS they added; free 90% of them in the order of a->perm
 * and read the RSS; call the implementation's trim and read it again; free
 * the rest. The caller touched a->ptrs and a->perm and read the baseline
 * RSS before the implementation's init. Timed: each phase. */
BENCH_INLINE bench_result bench_wl_cold(void *st, bench_args *a,
                                        bench_alloc_fn alloc_fn,
                                        bench_free_fn free_fn,
                                        void (*trim_fn)(void *),
                                        const char *name)
{
    bench_result r;
    memset(&r, 0, sizeof r);
    r.pairs = a->n;
    size_t nfree = a->n - a->n / 10;
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < a->n; i++) {
        void *p = alloc_fn(st);
        if (__builtin_expect(p == NULL, 0)) {
            bench_out_of_memory(name, a->size);
        }
        memset(p, (int)(i & 0xff) | 1, a->size);
        a->ptrs[i] = p;
    }
    r.alloc_ns = bench_now_ns() - t0;
    r.rss_full = bench_rss_bytes();
    t0 = bench_now_ns();
    for (size_t i = 0; i < nfree; i++) {
        free_fn(st, a->ptrs[a->perm[i]]);
    }
    r.free_ns = bench_now_ns() - t0;
    r.rss_freed = bench_rss_bytes();
    t0 = bench_now_ns();
    if (trim_fn != NULL) {
        trim_fn(st);
    }
    r.trim_ns = bench_now_ns() - t0;
    r.rss_trimmed = bench_rss_bytes();
    t0 = bench_now_ns();
    for (size_t i = nfree; i < a->n; i++) {
        free_fn(st, a->ptrs[a->perm[i]]);
    }
    r.free_ns += bench_now_ns() - t0;
    r.ns = r.alloc_ns + r.free_ns;
    r.bytes = (uint64_t)a->n * a->size;
    return r;
}

/* The ring's two ends. Each keeps its own index and a cached copy of the
 * other's, and publishes its index every BENCH_RING_BATCH objects, and
 * before it waits (so neither waits on progress the other has not seen):
 * the indices' cache lines then cross between the CPUs once per batch
 * rather than once per object, so the ring alone stays a floor below
 * every allocator. */
#ifndef BENCH_RING_BATCH
#define BENCH_RING_BATCH 32u
#endif

typedef struct bench_ring_end {
    size_t mine;      /* objects pushed (producer) or popped (consumer) */
    size_t published; /* the value of `mine` the other end can see */
    size_t seen;      /* the other end's index as last read */
} bench_ring_end;

BENCH_INLINE void bench_ring_push(bench_ring *ring, bench_ring_end *e, void *p)
{
    while (e->mine - e->seen == BENCH_RING_SIZE) {
        if (e->published != e->mine) {
            e->published = e->mine;
            atomic_store_explicit(&ring->head, e->mine, memory_order_release);
        }
        e->seen = atomic_load_explicit(&ring->tail, memory_order_acquire);
        if (e->mine - e->seen == BENCH_RING_SIZE) {
            bench_pause();
        }
    }
    ring->slot[e->mine & (BENCH_RING_SIZE - 1)] = p;
    e->mine += 1;
    if (e->mine - e->published >= BENCH_RING_BATCH) {
        e->published = e->mine;
        atomic_store_explicit(&ring->head, e->mine, memory_order_release);
    }
}

BENCH_INLINE void *bench_ring_pop(bench_ring *ring, bench_ring_end *e)
{
    while (e->mine == e->seen) {
        if (e->published != e->mine) {
            e->published = e->mine;
            atomic_store_explicit(&ring->tail, e->mine, memory_order_release);
        }
        e->seen = atomic_load_explicit(&ring->head, memory_order_acquire);
        if (e->mine == e->seen) {
            bench_pause();
        }
    }
    void *p = ring->slot[e->mine & (BENCH_RING_SIZE - 1)];
    e->mine += 1;
    if (e->mine - e->published >= BENCH_RING_BATCH) {
        e->published = e->mine;
        atomic_store_explicit(&ring->tail, e->mine, memory_order_release);
    }
    return p;
}

/* Publishes what is left at the end of a run. */
BENCH_INLINE void bench_ring_flush(_Atomic size_t *index, bench_ring_end *e)
{
    if (e->published != e->mine) {
        e->published = e->mine;
        atomic_store_explicit(index, e->mine, memory_order_release);
    }
}

/* (5), the producer: allocates n objects, writes a word into each and
 * hands it through the ring. */
BENCH_INLINE bench_result bench_wl_producer(void *st, bench_args *a,
                                            bench_alloc_fn alloc_fn,
                                            const char *name)
{
    bench_result r;
    memset(&r, 0, sizeof r);
    r.pairs = a->n;
    bench_ring_end e = {0, 0, 0};
    bench_barrier_wait(a->barrier);
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < a->n; i++) {
        void *p = alloc_fn(st);
        if (__builtin_expect(p == NULL, 0)) {
            bench_out_of_memory(name, a->size);
        }
        *(size_t *)p = i;
        bench_ring_push(a->ring, &e, p);
    }
    bench_ring_flush(&a->ring->head, &e);
    a->t0 = t0;
    a->t1 = bench_now_ns();
    r.ns = a->t1 - t0;
    return r;
}

/* (5), the consumer: takes n objects from the ring, reads the word and
 * frees each (an object another thread allocated). */
BENCH_INLINE bench_result bench_wl_consumer(void *st, bench_args *a,
                                            bench_free_fn free_fn)
{
    bench_result r;
    memset(&r, 0, sizeof r);
    r.pairs = a->n;
    bench_ring_end e = {0, 0, 0};
    uint64_t sum = 0;
    bench_barrier_wait(a->barrier);
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < a->n; i++) {
        void *p = bench_ring_pop(a->ring, &e);
        sum += *(const size_t *)p;
        free_fn(st, p);
    }
    bench_ring_flush(&a->ring->tail, &e);
    a->t0 = t0;
    a->t1 = bench_now_ns();
    r.ns = a->t1 - t0;
    r.sink = sum;
    return r;
}

/* (8) random replacement, one thread: a->live objects of random sizes
 * (a->arrays[0], filled outside); each step frees a random one and
 * allocates one of a random size in its place, writing its first byte. */
BENCH_INLINE bench_result bench_wl_mixed(void *st, bench_args *a,
                                         bench_alloc_n_fn alloc_fn,
                                         bench_free_fn free_fn,
                                         const char *name)
{
    bench_result r;
    memset(&r, 0, sizeof r);
    r.pairs = a->n;
    void **arr = a->arrays[0];
    const uint32_t *sizes = bench_size_table[a->size];
    uint64_t x = a->seed;
    size_t mask = a->live - 1;
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < a->n; i++) {
        uint64_t z = bench_rand(&x);
        size_t k = (size_t)(z >> 32) & mask;
        free_fn(st, arr[k]);
        void *p = alloc_fn(st, sizes[z & (BENCH_SIZE_TABLE - 1)]);
        if (__builtin_expect(p == NULL, 0)) {
            bench_out_of_memory(name, 0);
        }
        *(char *)p = 1;
        arr[k] = p;
    }
    r.ns = bench_now_ns() - t0;
    a->seed = x;
    return r;
}

/* (9) larson-style, one of two threads: a->reps epochs of a->n steps of
 * random replacement in an array of a->live objects; after each epoch the
 * two threads swap arrays, so each frees objects the other allocated. */
BENCH_INLINE bench_result bench_wl_larson(void *st, bench_args *a,
                                          bench_alloc_n_fn alloc_fn,
                                          bench_free_fn free_fn,
                                          const char *name)
{
    bench_result r;
    memset(&r, 0, sizeof r);
    r.pairs = (uint64_t)a->n * a->reps;
    const uint32_t *sizes = bench_size_table[BENCH_UNIFORM];
    uint64_t x = a->seed;
    size_t mask = a->live - 1;
    bench_barrier_wait(a->barrier);
    uint64_t t0 = bench_now_ns();
    for (size_t e = 0; e < a->reps; e++) {
        void **arr = a->arrays[((size_t)a->thread + e) & 1];
        for (size_t i = 0; i < a->n; i++) {
            uint64_t z = bench_rand(&x);
            size_t k = (size_t)(z >> 32) & mask;
            free_fn(st, arr[k]);
            void *p = alloc_fn(st, sizes[z & (BENCH_SIZE_TABLE - 1)]);
            if (__builtin_expect(p == NULL, 0)) {
                bench_out_of_memory(name, 0);
            }
            *(char *)p = 1;
            arr[k] = p;
        }
        bench_barrier_wait(a->barrier);
    }
    a->t0 = t0;
    a->t1 = bench_now_ns();
    r.ns = a->t1 - t0;
    a->seed = x;
    return r;
}

/* (10), in a fresh process: a->n objects of random sizes, each written in
 * full; RSS read; 90% freed in the order of a->perm, trim, RSS read; the
 * rest freed. As bench_wl_cold, with bytes = the bytes requested. */
BENCH_INLINE bench_result bench_wl_mixed_rss(void *st, bench_args *a,
                                             bench_alloc_n_fn alloc_fn,
                                             bench_free_fn free_fn,
                                             void (*trim_fn)(void *),
                                             const char *name)
{
    bench_result r;
    memset(&r, 0, sizeof r);
    r.pairs = a->n;
    const uint32_t *sizes = bench_size_table[a->size];
    uint64_t x = a->seed;
    size_t nfree = a->n - a->n / 10;
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < a->n; i++) {
        size_t n = sizes[bench_rand(&x) & (BENCH_SIZE_TABLE - 1)];
        void *p = alloc_fn(st, n);
        if (__builtin_expect(p == NULL, 0)) {
            bench_out_of_memory(name, n);
        }
        memset(p, (int)(i & 0xff) | 1, n);
        a->ptrs[i] = p;
        r.bytes += n;
    }
    r.alloc_ns = bench_now_ns() - t0;
    r.rss_full = bench_rss_bytes();
    t0 = bench_now_ns();
    for (size_t i = 0; i < nfree; i++) {
        free_fn(st, a->ptrs[a->perm[i]]);
    }
    r.free_ns = bench_now_ns() - t0;
    r.rss_freed = bench_rss_bytes();
    t0 = bench_now_ns();
    if (trim_fn != NULL) {
        trim_fn(st);
    }
    r.trim_ns = bench_now_ns() - t0;
    r.rss_trimmed = bench_rss_bytes();
    t0 = bench_now_ns();
    for (size_t i = nfree; i < a->n; i++) {
        free_fn(st, a->ptrs[a->perm[i]]);
    }
    r.free_ns += bench_now_ns() - t0;
    r.ns = r.alloc_ns + r.free_ns;
    return r;
}

/* (11), in a fresh process: a->reps cycles of two phases. Phase A
 * allocates a->n objects of a->size bytes and writes each in full, reads
 * the RSS, then frees them all in the order of a->perm; phase B does the
 * same with a->n * size / size2 objects of a->size2 bytes (the same bytes
 * in another size class). a->ptrs and a->perm hold enough for the larger
 * count; a phase with fewer objects skips the permutation's larger
 * indices. No trim call: what the allocator keeps between and after the
 * phases is its own choice. rss_full: the highest RSS read after a
 * phase's allocation; rss_trimmed: after the first one; rss_freed: at the
 * end. alloc_ns and free_ns add up every phase. */
BENCH_INLINE bench_result bench_wl_phase(void *st, bench_args *a,
                                         bench_alloc_n_fn alloc_fn,
                                         bench_free_fn free_fn,
                                         const char *name)
{
    bench_result r;
    memset(&r, 0, sizeof r);
    size_t bytes = a->n * a->size;
    size_t most = a->size < a->size2 ? bytes / a->size : bytes / a->size2;
    r.bytes = bytes;
    for (size_t phase = 0; phase < 2 * a->reps; phase++) {
        size_t sz = phase % 2 == 0 ? a->size : a->size2;
        size_t n = bytes / sz;
        r.pairs += n;
        uint64_t t0 = bench_now_ns();
        for (size_t i = 0; i < n; i++) {
            void *p = alloc_fn(st, sz);
            if (__builtin_expect(p == NULL, 0)) {
                bench_out_of_memory(name, sz);
            }
            memset(p, (int)(i & 0xff) | 1, sz);
            a->ptrs[i] = p;
        }
        r.alloc_ns += bench_now_ns() - t0;
        long rss = bench_rss_bytes();
        if (phase == 0) {
            r.rss_trimmed = rss;
        }
        if (rss > r.rss_full) {
            r.rss_full = rss;
        }
        t0 = bench_now_ns();
        for (size_t i = 0; i < most; i++) {
            uint32_t k = a->perm[i];
            if (k < n) {
                free_fn(st, a->ptrs[k]);
            }
        }
        r.free_ns += bench_now_ns() - t0;
    }
    r.rss_freed = bench_rss_bytes();
    r.ns = r.alloc_ns + r.free_ns;
    return r;
}

/* ---------------------------------------------------------------------
 * Instantiation
 * ------------------------------------------------------------------- */

/* Defines the fixed-size workloads of adapter `id` from ALLOC and FREE
 * (functions the compiler can see: static wrappers around the library
 * call, or out-of-line functions) and TRIM (a function, or NULL); then
 * BENCH_FIXED_RUNS(id) fills a bench_impl's fixed[], producer and
 * consumer. */
#define BENCH_FIXED_WORKLOADS(id, NAME, ALLOC, FREE, TRIM)                     \
    static bench_result id##_run_hot(void *st, bench_args *a)                  \
    {                                                                          \
        return bench_wl_hot(st, a, ALLOC, FREE);                               \
    }                                                                          \
    static bench_result id##_run_lifo(void *st, bench_args *a)                 \
    {                                                                          \
        return bench_wl_lifo(st, a, ALLOC, FREE, NAME);                        \
    }                                                                          \
    static bench_result id##_run_shuffle(void *st, bench_args *a)              \
    {                                                                          \
        return bench_wl_shuffle(st, a, ALLOC, FREE, NAME);                     \
    }                                                                          \
    static bench_result id##_run_cold(void *st, bench_args *a)                 \
    {                                                                          \
        return bench_wl_cold(st, a, ALLOC, FREE, TRIM, NAME);                  \
    }                                                                          \
    static bench_result id##_run_producer(void *st, bench_args *a)             \
    {                                                                          \
        return bench_wl_producer(st, a, ALLOC, NAME);                          \
    }                                                                          \
    static bench_result id##_run_consumer(void *st, bench_args *a)             \
    {                                                                          \
        return bench_wl_consumer(st, a, FREE);                                 \
    }

#define BENCH_FIXED_RUNS(id)                                                   \
    .fixed = {NULL,          id##_run_hot, id##_run_lifo, id##_run_shuffle,    \
              id##_run_cold, NULL,         id##_run_hot,  NULL},               \
    .producer = id##_run_producer, .consumer = id##_run_consumer

/* The mixed-size workloads of a malloc-like adapter: ALLOC_N(state, n). */
#define BENCH_VAR_WORKLOADS(id, NAME, ALLOC_N, FREE, TRIM)                     \
    static bench_result id##_run_mixed(void *st, bench_args *a)                \
    {                                                                          \
        return bench_wl_mixed(st, a, ALLOC_N, FREE, NAME);                     \
    }                                                                          \
    static bench_result id##_run_larson(void *st, bench_args *a)               \
    {                                                                          \
        return bench_wl_larson(st, a, ALLOC_N, FREE, NAME);                    \
    }                                                                          \
    static bench_result id##_run_mixed_rss(void *st, bench_args *a)            \
    {                                                                          \
        return bench_wl_mixed_rss(st, a, ALLOC_N, FREE, TRIM, NAME);           \
    }                                                                          \
    static bench_result id##_run_phase(void *st, bench_args *a)                \
    {                                                                          \
        return bench_wl_phase(st, a, ALLOC_N, FREE, NAME);                     \
    }

#define BENCH_VAR_RUNS(id)                                                     \
    .var = {NULL,                                                              \
            NULL,                                                              \
            NULL,                                                              \
            NULL,                                                              \
            NULL,                                                              \
            NULL,                                                              \
            NULL,                                                              \
            NULL,                                                              \
            id##_run_mixed,                                                    \
            id##_run_larson,                                                   \
            id##_run_mixed_rss,                                                \
            id##_run_phase}

#ifdef __cplusplus
}
#endif

#endif /* FIXALLOC_BENCH_H */
