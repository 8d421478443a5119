/*
 * test_util.h - helpers shared by the fixalloc tests: the one assertion
 * family (TU_*), a counting page source, an error handler that records,
 * byte patterns and id stamps, a seeded PRNG, a pointer hash map, thread
 * helpers (spawn, phase gates, an exchange), the fixtures of the three
 * layers (configs, create-or-fail, counter snapshots, callbacks), the suite
 * runner and the FIXALLOC_TEST_SCALE, _SEED and _VERBOSE knobs.
 *
 * Everything here sees only the public API (fixalloc.h).
 */
#ifndef FIXALLOC_TEST_UTIL_H
#define FIXALLOC_TEST_UTIL_H

#include <check.h>
#include <stdbool.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fixalloc.h"

/* One pointer's size: the first word of an object. */
#define TU_PTR (sizeof(void *))

/* ------------------------------------------------------------------ */
/* Cheap assertions. Check sends every passing ck_assert through a pipe (a
 * write(2) each), which dominates hot loops; these call into Check only
 * when they fail, and report the caller's file and line. */

__attribute__((noreturn, format(printf, 4, 5))) void tu_fail(
    const char *file, int line, const char *expr, const char *fmt, ...);

#define TU_ASSERT(expr, ...)                                                   \
    do {                                                                       \
        if (!(expr)) {                                                         \
            tu_fail(__FILE__, __LINE__, #expr, __VA_ARGS__);                   \
        }                                                                      \
    } while (0)

/* TU_ASSERT, naming `text` as the expression that failed. */
#define TU_ASSERT_AS_(cond, text, ...)                                         \
    do {                                                                       \
        if (!(cond)) {                                                         \
            tu_fail(__FILE__, __LINE__, text, __VA_ARGS__);                    \
        }                                                                      \
    } while (0)

#define TU_CHECK(expr) TU_ASSERT(expr, "%s", "failed")

/* Fails the running test unconditionally. */
#define TU_FAIL(...) tu_fail(__FILE__, __LINE__, "reached", __VA_ARGS__)

/* Both sides evaluated once, compared as unsigned integers. */
#define TU_CMP_(a, op, b)                                                      \
    do {                                                                       \
        uintmax_t tu_a_ = (uintmax_t)(a), tu_b_ = (uintmax_t)(b);              \
        TU_ASSERT_AS_(tu_a_ op tu_b_, #a " " #op " " #b,                       \
                      "%s == %ju, %s == %ju", #a, tu_a_, #b, tu_b_);           \
    } while (0)
#define TU_EQ(a, b) TU_CMP_(a, ==, b)
#define TU_NE(a, b) TU_CMP_(a, !=, b)
#define TU_LT(a, b) TU_CMP_(a, <, b)
#define TU_LE(a, b) TU_CMP_(a, <=, b)
#define TU_GT(a, b) TU_CMP_(a, >, b)
#define TU_GE(a, b) TU_CMP_(a, >=, b)

/* The same, compared as signed integers (return codes, errno, pids). */
#define TU_ICMP_(a, op, b)                                                     \
    do {                                                                       \
        intmax_t tu_a_ = (intmax_t)(a), tu_b_ = (intmax_t)(b);                 \
        TU_ASSERT_AS_(tu_a_ op tu_b_, #a " " #op " " #b,                       \
                      "%s == %jd, %s == %jd", #a, tu_a_, #b, tu_b_);           \
    } while (0)
#define TU_INT_EQ(a, b) TU_ICMP_(a, ==, b)
#define TU_INT_NE(a, b) TU_ICMP_(a, !=, b)
#define TU_INT_GE(a, b) TU_ICMP_(a, >=, b)
#define TU_INT_GT(a, b) TU_ICMP_(a, >, b)

/* Pointers, each evaluated once. */
#define TU_PTR_CMP_(a, op, b)                                                  \
    do {                                                                       \
        const void *tu_a_ = (const void *)(a), *tu_b_ = (const void *)(b);     \
        TU_ASSERT_AS_(tu_a_ op tu_b_, #a " " #op " " #b, "%s == %p, %s == %p", \
                      #a, tu_a_, #b, tu_b_);                                   \
    } while (0)
#define TU_PTR_EQ(a, b) TU_PTR_CMP_(a, ==, b)
#define TU_PTR_NE(a, b) TU_PTR_CMP_(a, !=, b)
#define TU_NULL(a) TU_PTR_CMP_(a, ==, NULL)
#define TU_NOT_NULL(a) TU_PTR_CMP_(a, !=, NULL)

/* NUL-terminated strings, each evaluated once; NULL compares unequal. */
#define TU_STR_EQ(a, b)                                                        \
    do {                                                                       \
        const char *tu_a_ = (a), *tu_b_ = (b);                                 \
        TU_ASSERT_AS_(tu_a_ != NULL && tu_b_ != NULL &&                        \
                          strcmp(tu_a_, tu_b_) == 0,                           \
                      #a " == " #b, "%s == \"%s\", %s == \"%s\"", #a,          \
                      tu_a_ != NULL ? tu_a_ : "(null)", #b,                    \
                      tu_b_ != NULL ? tu_b_ : "(null)");                       \
    } while (0)

/* A hook that adds context (a seed, a step) to every failure message while
 * it is set; NULL removes it. It writes at most `cap` bytes into buf. */
typedef void (*tu_context_fn)(char *buf, size_t cap);
void tu_set_fail_context(tu_context_fn fn);

/* ------------------------------------------------------------------ */
/* Scale: FIXALLOC_TEST_SCALE (percent, default 100) shrinks heavy loops. */

unsigned tu_scale(void);
/* n * scale / 100, at least `min`. */
size_t tu_scaled(size_t n, size_t min);

/* ------------------------------------------------------------------ */
/* PRNG: xorshift64*, seeded through splitmix64. */

typedef struct tu_rng {
    uint64_t s;
} tu_rng;

void tu_rng_seed(tu_rng *r, uint64_t seed);
uint64_t tu_rng_next(tu_rng *r);
/* Uniform in [0, n); n > 0. */
size_t tu_rng_below(tu_rng *r, size_t n);
void tu_shuffle(tu_rng *r, void **a, size_t n);

/* ------------------------------------------------------------------ */
/* Byte patterns derived from an id. */

uint8_t tu_pattern_byte(uint64_t id, size_t i);
void tu_stamp(void *obj, size_t n, uint64_t id);
/* Checks bytes [from, n) against the pattern of id; returns the offset of the
 * first wrong byte, or n when all match. */
size_t tu_verify(const void *obj, size_t from, size_t n, uint64_t id);
/* Returns the offset of the first non-zero byte in [0, n), or n. */
size_t tu_first_nonzero(const void *obj, size_t n);
/* Returns the offset of the first byte in [from, n) that is not `b`, or n. */
size_t tu_first_not(const void *obj, size_t from, size_t n, uint8_t b);

/* ------------------------------------------------------------------ */
/* Fork (test_fork.c) */

/* Forks `forks` times, a millisecond apart, while the caller's threads
 * keep working; each child exits with child(arg), which must be 0. */
void tu_fork_repeatedly(int forks, int (*child)(void *arg), void *arg);

/* ------------------------------------------------------------------ */
/* Sorting and small helpers. */

void tu_sort_ptrs(void **a, size_t n);
/* Sleeps for ms milliseconds. */
void tu_sleep_ms(unsigned ms);
size_t tu_round_up(size_t x, size_t a);
bool tu_is_pow2(size_t x);
/* The slot the contract promises: max(size, pointer) rounded up to the
 * alignment, or to a pointer's alignment when that is larger (align 0 means
 * the default). */
size_t tu_expected_align(size_t size, size_t align);
size_t tu_expected_slot(size_t size, size_t align);
/* The default chunk size the contract promises. */
size_t tu_expected_chunk(size_t size, size_t align);
/* Slots of `slot` bytes, aligned to `align`, that fit in a chunk after its
 * header. */
size_t tu_slots_in_chunk(size_t chunk, size_t slot, size_t align);

/* ------------------------------------------------------------------ */
/* Pointer-keyed hash map (keys non-NULL; linear probing). */

typedef struct tu_map {
    uintptr_t *keys;
    uint64_t *vals;
    size_t cap, len;
} tu_map;

void tu_map_init(tu_map *m);
void tu_map_fini(tu_map *m);
void tu_map_clear(tu_map *m);
/* Returns false when the key was already present (the value is replaced). */
bool tu_map_put(tu_map *m, const void *key, uint64_t val);
bool tu_map_get(const tu_map *m, const void *key, uint64_t *val);
/* Returns false when the key was absent. */
bool tu_map_del(tu_map *m, const void *key);
/* Removes every key in [lo, hi); returns how many. */
size_t tu_map_del_range(tu_map *m, uintptr_t lo, uintptr_t hi);
/* Counts keys in [lo, hi). */
size_t tu_map_count_range(const tu_map *m, uintptr_t lo, uintptr_t hi);

/* ------------------------------------------------------------------ */
/* A counting page source wrapping another one (fa_os_source() by default).
 *
 * It checks every request (sizes and alignments powers of two, align <=
 * size, blocks aligned as asked, a block said to be zeroed reads as zeros,
 * unmap only of blocks it handed out, whole) and fails the running test on
 * a violation. It can fail on purpose (fail_after) and can hand out dirty
 * memory (dirty). */

typedef struct tu_block {
    void *mem;
    size_t size;
} tu_block;

typedef struct tu_source {
    fa_source source; /* pass &s.source as fa_config.source */
    const fa_source *inner;
    size_t maps;      /* successful map calls */
    size_t map_calls; /* all map calls, failed ones too */
    size_t unmaps;
    size_t bytes_mapped, bytes_unmapped;
    long fail_after; /* successful maps allowed before failing; -1: never */
    bool dirty;      /* fill new blocks with 0xA5, report not zeroed */
    size_t last_map_size, last_map_align;
    tu_block *live; /* blocks handed out and not given back */
    size_t nlive, live_cap;
    tu_block *log; /* blocks given back since tu_source_clear_log */
    size_t nlog, log_cap;
} tu_source;

void tu_source_init(tu_source *s, const fa_source *inner);
void tu_source_fini(tu_source *s);
void tu_source_clear_log(tu_source *s);
size_t tu_source_live_bytes(const tu_source *s);
/* The live block holding [p, p + n), or NULL. */
const tu_block *tu_source_find(const tu_source *s, const void *p, size_t n);
bool tu_source_logged(const tu_source *s, const void *p);

/* ------------------------------------------------------------------ */
/* An error handler that records and returns (making the bad call a no-op). */

typedef struct tu_errors {
    int count;
    fa_error_kind kind;
    const void *addr;
    char pool[128];
    char object[16]; /* "pool", "cache" or "heap" */
    char detail[256];
    bool pool_was_null, detail_was_null;
} tu_errors;

extern tu_errors tu_err;
void tu_errors_reset(void);
void tu_record_handler(const fa_error *err);

/* ------------------------------------------------------------------ */
/* Memory tools: under Valgrind or ASan a pool keeps free slots
 * inaccessible. Tests that misbehave on purpose (overwrite a freed object)
 * open the bytes first, so the pool, not the tool, sees the misuse. */

void tu_open_freed(void *p, size_t n);
/* Whether the tests run under a tool that tracks pooled memory. */
/* Whether the process runs under Valgrind. */
bool tu_under_valgrind(void);
bool tu_under_memory_tool(void);

/* ---- threads ---- */

/* malloc that fails the test instead of returning NULL. */
void *tu_xmalloc(size_t n);
/* Records a failure seen in a thread other than the test's own; the main
 * thread reports the first through tu_check_thread_failures. */
__attribute__((format(printf, 1, 2))) void tu_thread_fail(const char *fmt, ...);
void tu_check_thread_failures(void);
pthread_t tu_spawn(void *(*fn)(void *), void *arg);
void tu_join(pthread_t t);

/* A phase two threads step through together: one sets, the other waits
 * until the phase is reached. */
typedef struct tu_phase {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int phase;
} tu_phase;
#define TU_PHASE_INIT                                                          \
    {                                                                          \
        PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0                 \
    }
void tu_phase_wait(tu_phase *g, int phase);
void tu_phase_set(tu_phase *g, int phase);

/* ------------------------------------------------------------------ */
/* Fixtures shared by the test files. */

/* ThreadSanitizer builds: its deadlock detector follows at most 64 mutexes
 * held at once, and a fork handler holds every cache's depot lock (64 for
 * the default heap alone), so the heap's fork test is left out there. */
#if defined(__SANITIZE_THREAD__)
#define TU_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TU_TSAN 1
#endif
#endif
#ifndef TU_TSAN
#define TU_TSAN 0
#endif

/* FIXALLOC_TEST_SEED + k when the variable is set, else base + k. */
uint64_t tu_seed(uint64_t base, uint64_t k);
/* FIXALLOC_TEST_VERBOSE is set, and not to 0. */
bool tu_verbose(void);

/* A config of `size` bytes named "test", every other field zero. */
fa_config tu_config(size_t size);
/* The common small geometry: 64-byte objects, 4 KiB chunks, 63 per
 * chunk, over `src` (NULL: the OS). */
fa_config tu_small_config(const fa_source *src);

/* The pool: init that must succeed, a snapshot of the counters (the
 * struct pre-filled with junk, so a field left unset shows), a check that
 * must pass, n allocations that must succeed. */
void tu_pool_init_ok(fa_pool *p, const fa_config *c);
fa_stats tu_pool_stats(const fa_pool *p);
void tu_pool_check_ok(const fa_pool *p);
void tu_pool_alloc_n(fa_pool *p, void **v, size_t n);
/* The base of the chunk holding p. */
uintptr_t tu_chunk_base(const void *p, size_t chunk);
/* An object's first word (its first min(size, TU_PTR) bytes) reads as zero
 * when it is handed out. */
void tu_expect_first_word_zero(const void *obj, size_t size);
/* fa_pool_walk visits exactly live[0..nlive), each once. */
void tu_pool_expect_walk(fa_pool *p, void **live, size_t nlive);
/* calloc of n pointers (at least one) that fails the test instead. */
void **tu_xcalloc_ptrs(size_t n);

/* The cache and the heap: creation that must succeed and counters. */
fa_cache *tu_cache_create_ok(const fa_config *cfg, const fa_cache_options *o);
fa_cache_counters tu_cache_stats(fa_cache *c);
fa_heap *tu_heap_create_ok(const fa_heap_config *cfg);
fa_heap_counters tu_heap_stats(fa_heap *h);

/* The heap's geometry: the alignment every object of n bytes gets without
 * asking (16, or 8 for the classes that are not multiples of 16), and a
 * random request: mostly small, spread over every octave, and now and then
 * (1 in `large_in`; 0: never) a large one up to 300 KiB. */
size_t tu_natural_align(size_t n);
size_t tu_random_size(tu_rng *r, size_t large_in);

/* Id stamps: the object's id in its first word and the id's pattern in the
 * rest, so that a lost, doubled or overwritten object is seen. Objects
 * smaller than an id hold the pattern only (and _ok checks *id_out's). */
void tu_stamp_id(void *p, size_t size, uint64_t id);
bool tu_stamp_id_ok(const void *p, size_t size, uint64_t *id_out);

/* `first` and `release` callbacks that record (arg: a tu_callbacks). */
typedef struct tu_callbacks {
    tu_map carved; /* slots `first` saw and `release` has not */
    size_t firsts, releases;
    size_t dup_firsts;   /* `first` on a slot already carved */
    size_t bad_releases; /* `release` on a slot `first` never saw */
    size_t fill_n;       /* first fills this many bytes ... */
    uint8_t fill;        /* ... with this byte */
    void *bad_arg;
} tu_callbacks;
void tu_callbacks_init(tu_callbacks *s);
void tu_cb_first(void *arg, void *obj);
void tu_cb_release(void *arg, void *obj);

/* Resets tu_err and installs tu_record_handler; returns the previous
 * handler, to restore with fa_set_error_handler. */
fa_error_handler tu_errors_install(void);

/* An exchange between threads: a bag of objects under a lock, from which
 * any thread takes a random one. */
typedef struct tu_item {
    void *p;
    size_t n;
    uint64_t id;
} tu_item;
typedef struct tu_exchange {
    pthread_mutex_t lock;
    tu_item *items;
    size_t n, cap;
} tu_exchange;
void tu_exchange_init(tu_exchange *x, size_t cap);
void tu_exchange_fini(tu_exchange *x);
/* false when full (the item stays with the caller). */
bool tu_exchange_put(tu_exchange *x, tu_item it);
/* false when empty. */
bool tu_exchange_take(tu_exchange *x, tu_rng *r, tu_item *out);

/* Runs the suite and returns the exit status. Every test gets a process
 * of its own: always when `always_fork`, else unless CK_FORK is set
 * (CK_FORK=no: one process, for a debugger). FIXALLOC_CHECK is cleared
 * first: the tests choose their modes. */
int tu_run_suite(Suite *s, bool always_fork);

#endif /* FIXALLOC_TEST_UTIL_H */
