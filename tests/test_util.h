/*
 * test_util.h - helpers shared by the fixalloc tests: a counting page
 * source, an error handler that records, byte patterns, a seeded PRNG,
 * a pointer hash map and the FIXALLOC_TEST_SCALE knob.
 *
 * Everything here sees only the public API (fixalloc.h).
 */
#ifndef FIXALLOC_TEST_UTIL_H
#define FIXALLOC_TEST_UTIL_H

#include <stdbool.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fixalloc.h"

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

#define TU_CHECK(expr) TU_ASSERT(expr, "%s", "failed")

/* Fails the running test unconditionally. */
#define TU_FAIL(...) tu_fail(__FILE__, __LINE__, "reached", __VA_ARGS__)

/* Both sides evaluated once, compared as unsigned integers. */
#define TU_CMP_(a, op, b)                                                      \
    do {                                                                       \
        uintmax_t tu_a_ = (uintmax_t)(a), tu_b_ = (uintmax_t)(b);              \
        TU_ASSERT(tu_a_ op tu_b_, "%s == %ju, %s == %ju", #a, tu_a_, #b,       \
                  tu_b_);                                                      \
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
        TU_ASSERT(tu_a_ op tu_b_, "%s == %jd, %s == %jd", #a, tu_a_, #b,       \
                  tu_b_);                                                      \
    } while (0)
#define TU_INT_EQ(a, b) TU_ICMP_(a, ==, b)
#define TU_INT_NE(a, b) TU_ICMP_(a, !=, b)
#define TU_INT_GE(a, b) TU_ICMP_(a, >=, b)
#define TU_INT_GT(a, b) TU_ICMP_(a, >, b)

/* Pointers, each evaluated once. */
#define TU_PTR_CMP_(a, op, b)                                                  \
    do {                                                                       \
        const void *tu_a_ = (const void *)(a), *tu_b_ = (const void *)(b);     \
        TU_ASSERT(tu_a_ op tu_b_, "%s == %p, %s == %p", #a, tu_a_, #b, tu_b_); \
    } while (0)
#define TU_PTR_EQ(a, b) TU_PTR_CMP_(a, ==, b)
#define TU_PTR_NE(a, b) TU_PTR_CMP_(a, !=, b)
#define TU_NULL(a) TU_PTR_CMP_(a, ==, NULL)
#define TU_NOT_NULL(a) TU_PTR_CMP_(a, !=, NULL)

/* NUL-terminated strings, each evaluated once; NULL compares unequal. */
#define TU_STR_EQ(a, b)                                                        \
    do {                                                                       \
        const char *tu_a_ = (a), *tu_b_ = (b);                                 \
        TU_ASSERT(tu_a_ != NULL && tu_b_ != NULL && strcmp(tu_a_, tu_b_) == 0, \
                  "%s == \"%s\", %s == \"%s\"", #a,                            \
                  tu_a_ != NULL ? tu_a_ : "(null)", #b,                        \
                  tu_b_ != NULL ? tu_b_ : "(null)");                           \
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
/* Sorting and small helpers. */

void tu_sort_ptrs(void **a, size_t n);
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

#endif /* FIXALLOC_TEST_UTIL_H */
