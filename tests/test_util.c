/*
 * test_util.c - helpers shared by the fixalloc tests (see test_util.h).
 */
#include "test_util.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define TU_VALGRIND 1
#endif
#endif
#ifndef TU_VALGRIND
#define TU_VALGRIND 0
#endif

#if defined(__SANITIZE_ADDRESS__)
#define TU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TU_ASAN 1
#endif
#endif
#ifndef TU_ASAN
#define TU_ASAN 0
#endif
#if TU_ASAN
#include <sanitizer/asan_interface.h>
#endif

/* ------------------------------------------------------------------ */
/* Cheap assertions */

static tu_context_fn fail_context;

void tu_set_fail_context(tu_context_fn fn)
{
    fail_context = fn;
}

void tu_fail(const char *file, int line, const char *expr, const char *fmt, ...)
{
    char msg[1024];
    char ctx[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ctx[0] = '\0';
    if (fail_context != NULL) {
        tu_context_fn fn = fail_context;
        fail_context = NULL; /* a failure inside the hook ends here */
        fn(ctx, sizeof ctx);
    }
    _ck_assert_failed(file, line, "Assertion failed", "%s%s'%s' failed: %s",
                      ctx, ctx[0] != '\0' ? ": " : "", expr, msg);
    abort(); /* not reached: Check ends the test */
}

/* ------------------------------------------------------------------ */
/* Scale */

unsigned tu_scale(void)
{
    static unsigned cached;
    if (cached == 0) {
        const char *e = getenv("FIXALLOC_TEST_SCALE");
        unsigned long v = 100;
        if (e != NULL && *e != '\0') {
            char *end = NULL;
            v = strtoul(e, &end, 10);
            if (end == e || v == 0) {
                v = 1;
            }
        }
        cached = v > 10000 ? 10000u : (unsigned)v;
    }
    return cached;
}

size_t tu_scaled(size_t n, size_t min)
{
    size_t v = n / 100 * tu_scale() + n % 100 * tu_scale() / 100;
    return v < min ? min : v;
}

/* ------------------------------------------------------------------ */
/* PRNG */

void tu_rng_seed(tu_rng *r, uint64_t seed)
{
    uint64_t z = seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    r->s = z != 0 ? z : 0x2545F4914F6CDD1Dull;
}

uint64_t tu_rng_next(tu_rng *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

size_t tu_rng_below(tu_rng *r, size_t n)
{
    return (size_t)(tu_rng_next(r) % (uint64_t)n);
}

void tu_shuffle(tu_rng *r, void **a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = tu_rng_below(r, i);
        void *t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

/* ------------------------------------------------------------------ */
/* Patterns */

static uint64_t pattern_seed(uint64_t id)
{
    uint64_t h = (id + 1) * 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 32);
}

static uint8_t pattern_at(uint64_t h, size_t i)
{
    /* Every byte of h shows within 8 bytes: distinct ids, distinct
     * patterns. */
    return (uint8_t)((h >> ((i & 7) * 8)) ^ (uint64_t)(i * 131u) ^
                     (uint64_t)(i >> 8));
}

uint8_t tu_pattern_byte(uint64_t id, size_t i)
{
    return pattern_at(pattern_seed(id), i);
}

void tu_stamp(void *obj, size_t n, uint64_t id)
{
    unsigned char *b = obj;
    uint64_t h = pattern_seed(id);
    for (size_t i = 0; i < n; i++) {
        b[i] = pattern_at(h, i);
    }
}

size_t tu_verify(const void *obj, size_t from, size_t n, uint64_t id)
{
    const unsigned char *b = obj;
    uint64_t h = pattern_seed(id);
    for (size_t i = from; i < n; i++) {
        if (b[i] != pattern_at(h, i)) {
            return i;
        }
    }
    return n;
}

size_t tu_first_nonzero(const void *obj, size_t n)
{
    return tu_first_not(obj, 0, n, 0);
}

size_t tu_first_not(const void *obj, size_t from, size_t n, uint8_t v)
{
    const unsigned char *b = obj;
    for (size_t i = from; i < n; i++) {
        if (b[i] != v) {
            return i;
        }
    }
    return n;
}

/* ------------------------------------------------------------------ */
/* Sorting and geometry */

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (void *const *)a;
    uintptr_t y = (uintptr_t) * (void *const *)b;
    return x < y ? -1 : x > y;
}

void tu_sort_ptrs(void **a, size_t n)
{
    if (n > 1) {
        qsort(a, n, sizeof *a, cmp_ptr);
    }
}

size_t tu_round_up(size_t x, size_t a)
{
    return (x + a - 1) / a * a;
}

bool tu_is_pow2(size_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

size_t tu_expected_align(size_t size, size_t align)
{
    if (align != 0) {
        return align;
    }
    return size >= 16 ? 16 : 8;
}

size_t tu_expected_slot(size_t size, size_t align)
{
    /* Rounded up to the alignment, or to a pointer's when that is larger:
     * the free-list link in a free slot must be aligned. */
    size_t a = tu_expected_align(size, align);
    if (a < _Alignof(void *)) {
        a = _Alignof(void *);
    }
    size_t s = size < sizeof(void *) ? sizeof(void *) : size;
    return tu_round_up(s, a);
}

size_t tu_slots_in_chunk(size_t chunk, size_t slot, size_t align)
{
    size_t first = tu_round_up(FA_CHUNK_HEADER, align);
    if (chunk < first + slot) {
        return 0;
    }
    return (chunk - first) / slot;
}

size_t tu_expected_chunk(size_t size, size_t align)
{
    size_t a = tu_expected_align(size, align);
    size_t slot = tu_expected_slot(size, align);
    size_t c = (size_t)64 * 1024;
    while (c < FA_CHUNK_MAX && tu_slots_in_chunk(c, slot, a) < 32) {
        c <<= 1;
    }
    return c;
}

/* ------------------------------------------------------------------ */
/* Hash map */

static size_t map_hash(uintptr_t k, size_t cap)
{
    uint64_t h = (uint64_t)k * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 17) & (cap - 1);
}

void tu_map_init(tu_map *m)
{
    m->cap = 1024;
    m->len = 0;
    m->keys = calloc(m->cap, sizeof *m->keys);
    m->vals = calloc(m->cap, sizeof *m->vals);
    TU_CHECK(m->keys);
    TU_CHECK(m->vals);
}

void tu_map_fini(tu_map *m)
{
    free(m->keys);
    free(m->vals);
    m->keys = NULL;
    m->vals = NULL;
    m->cap = m->len = 0;
}

void tu_map_clear(tu_map *m)
{
    memset(m->keys, 0, m->cap * sizeof *m->keys);
    m->len = 0;
}

static void map_grow(tu_map *m)
{
    tu_map n;
    n.cap = m->cap * 2;
    n.len = 0;
    n.keys = calloc(n.cap, sizeof *n.keys);
    n.vals = calloc(n.cap, sizeof *n.vals);
    TU_CHECK(n.keys);
    TU_CHECK(n.vals);
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] != 0) {
            tu_map_put(&n, (const void *)m->keys[i], m->vals[i]);
        }
    }
    tu_map_fini(m);
    *m = n;
}

bool tu_map_put(tu_map *m, const void *key, uint64_t val)
{
    uintptr_t k = (uintptr_t)key;
    TU_CHECK(k != 0);
    if ((m->len + 1) * 4 > m->cap * 3) {
        map_grow(m);
    }
    size_t i = map_hash(k, m->cap);
    while (m->keys[i] != 0) {
        if (m->keys[i] == k) {
            m->vals[i] = val;
            return false;
        }
        i = (i + 1) & (m->cap - 1);
    }
    m->keys[i] = k;
    m->vals[i] = val;
    m->len++;
    return true;
}

static size_t map_find(const tu_map *m, uintptr_t k)
{
    size_t i = map_hash(k, m->cap);
    while (m->keys[i] != 0) {
        if (m->keys[i] == k) {
            return i;
        }
        i = (i + 1) & (m->cap - 1);
    }
    return SIZE_MAX;
}

bool tu_map_get(const tu_map *m, const void *key, uint64_t *val)
{
    size_t i = map_find(m, (uintptr_t)key);
    if (i == SIZE_MAX) {
        return false;
    }
    if (val != NULL) {
        *val = m->vals[i];
    }
    return true;
}

/* Backward-shift deletion keeps probe sequences intact without tombstones. */
static void map_del_at(tu_map *m, size_t i)
{
    size_t mask = m->cap - 1;
    size_t j = i;
    m->keys[i] = 0;
    m->len--;
    for (;;) {
        j = (j + 1) & mask;
        if (m->keys[j] == 0) {
            return;
        }
        size_t h = map_hash(m->keys[j], m->cap);
        /* Move keys[j] into the hole at i when its home h is not within
         * the cyclic range (i, j]. */
        bool in_range = i <= j ? (h > i && h <= j) : (h > i || h <= j);
        if (!in_range) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            m->keys[j] = 0;
            i = j;
        }
    }
}

bool tu_map_del(tu_map *m, const void *key)
{
    size_t i = map_find(m, (uintptr_t)key);
    if (i == SIZE_MAX) {
        return false;
    }
    map_del_at(m, i);
    return true;
}

size_t tu_map_del_range(tu_map *m, uintptr_t lo, uintptr_t hi)
{
    /* Collect first: deleting while scanning would move keys around. */
    size_t n = 0, cap = 64;
    uintptr_t *doomed = malloc(cap * sizeof *doomed);
    TU_CHECK(doomed);
    for (size_t i = 0; i < m->cap; i++) {
        uintptr_t k = m->keys[i];
        if (k != 0 && k >= lo && k < hi) {
            if (n == cap) {
                cap *= 2;
                doomed = realloc(doomed, cap * sizeof *doomed);
                TU_CHECK(doomed);
            }
            doomed[n++] = k;
        }
    }
    for (size_t i = 0; i < n; i++) {
        tu_map_del(m, (const void *)doomed[i]);
    }
    free(doomed);
    return n;
}

size_t tu_map_count_range(const tu_map *m, uintptr_t lo, uintptr_t hi)
{
    size_t n = 0;
    for (size_t i = 0; i < m->cap; i++) {
        uintptr_t k = m->keys[i];
        if (k != 0 && k >= lo && k < hi) {
            n++;
        }
    }
    return n;
}

/* ------------------------------------------------------------------ */
/* Counting source */

static void push_block(tu_block **a, size_t *n, size_t *cap, void *mem,
                       size_t size)
{
    if (*n == *cap) {
        *cap = *cap != 0 ? *cap * 2 : 64;
        *a = realloc(*a, *cap * sizeof **a);
        TU_CHECK(*a);
    }
    (*a)[*n].mem = mem;
    (*a)[*n].size = size;
    (*n)++;
}

static void *counting_map(void *ctx, size_t size, size_t align, bool *zeroed)
{
    tu_source *s = ctx;
    TU_ASSERT(tu_is_pow2(size), "source asked for size %zu", size);
    TU_ASSERT(tu_is_pow2(align), "source asked for align %zu", align);
    TU_ASSERT(align <= size, "source asked for align %zu > size %zu", align,
              size);
    TU_CHECK(zeroed);
    s->map_calls++;
    s->last_map_size = size;
    s->last_map_align = align;
    if (s->fail_after >= 0 && s->maps >= (size_t)s->fail_after) {
        return NULL;
    }
    bool z = false;
    void *mem = s->inner->map(s->inner->ctx, size, align, &z);
    if (mem == NULL) {
        return NULL;
    }
    TU_ASSERT((uintptr_t)mem % align == 0,
              "inner source returned %p not aligned to %zu", mem, align);
    if (z) {
        size_t bad = tu_first_nonzero(mem, size);
        TU_ASSERT(bad == size,
                  "source said block %p is zeroed but byte %zu is not", mem,
                  bad);
    }
    if (s->dirty) {
        memset(mem, 0xA5, size);
        z = false;
    }
    *zeroed = z;
    s->maps++;
    s->bytes_mapped += size;
    push_block(&s->live, &s->nlive, &s->live_cap, mem, size);
    return mem;
}

static void counting_unmap(void *ctx, void *mem, size_t size)
{
    tu_source *s = ctx;
    size_t i;
    for (i = 0; i < s->nlive; i++) {
        if (s->live[i].mem == mem) {
            break;
        }
    }
    TU_ASSERT(i < s->nlive,
              "unmap of %p, a block the source never "
              "handed out (or gave back already)",
              mem);
    TU_ASSERT(s->live[i].size == size,
              "unmap of %p with size %zu, mapped with size %zu", mem, size,
              s->live[i].size);
    s->live[i] = s->live[s->nlive - 1];
    s->nlive--;
    s->unmaps++;
    s->bytes_unmapped += size;
    push_block(&s->log, &s->nlog, &s->log_cap, mem, size);
    s->inner->unmap(s->inner->ctx, mem, size);
}

void tu_source_init(tu_source *s, const fa_source *inner)
{
    memset(s, 0, sizeof *s);
    s->inner = inner != NULL ? inner : fa_os_source();
    s->fail_after = -1;
    s->source.map = counting_map;
    s->source.unmap = counting_unmap;
    s->source.ctx = s;
}

void tu_source_fini(tu_source *s)
{
    free(s->live);
    free(s->log);
    s->live = s->log = NULL;
    s->nlive = s->nlog = s->live_cap = s->log_cap = 0;
}

void tu_source_clear_log(tu_source *s)
{
    s->nlog = 0;
}

size_t tu_source_live_bytes(const tu_source *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nlive; i++) {
        n += s->live[i].size;
    }
    return n;
}

const tu_block *tu_source_find(const tu_source *s, const void *p, size_t n)
{
    uintptr_t a = (uintptr_t)p;
    for (size_t i = 0; i < s->nlive; i++) {
        uintptr_t lo = (uintptr_t)s->live[i].mem;
        if (a >= lo && a - lo <= s->live[i].size &&
            n <= s->live[i].size - (a - lo)) {
            return &s->live[i];
        }
    }
    return NULL;
}

bool tu_source_logged(const tu_source *s, const void *p)
{
    uintptr_t a = (uintptr_t)p;
    for (size_t i = 0; i < s->nlog; i++) {
        uintptr_t lo = (uintptr_t)s->log[i].mem;
        if (a >= lo && a - lo < s->log[i].size) {
            return true;
        }
    }
    return false;
}

/* ------------------------------------------------------------------ */
/* Recording error handler */

tu_errors tu_err;

void tu_errors_reset(void)
{
    memset(&tu_err, 0, sizeof tu_err);
}

void tu_record_handler(const fa_error *err)
{
    tu_err.count++;
    tu_err.kind = err->kind;
    tu_err.addr = err->addr;
    tu_err.pool_was_null = err->pool == NULL;
    tu_err.detail_was_null = err->detail == NULL;
    snprintf(tu_err.pool, sizeof tu_err.pool, "%s",
             err->pool != NULL ? err->pool : "");
    snprintf(tu_err.detail, sizeof tu_err.detail, "%s",
             err->detail != NULL ? err->detail : "");
    snprintf(tu_err.object, sizeof tu_err.object, "%s",
             err->object != NULL ? err->object : "");
}

/* ------------------------------------------------------------------ */
/* Memory tools */

void tu_open_freed(void *p, size_t n)
{
#if TU_VALGRIND
    VALGRIND_MAKE_MEM_DEFINED(p, n);
#endif
#if TU_ASAN
    ASAN_UNPOISON_MEMORY_REGION(p, n);
#endif
    (void)p;
    (void)n;
}

bool tu_under_valgrind(void)
{
#if TU_VALGRIND
    return RUNNING_ON_VALGRIND != 0;
#else
    return false;
#endif
}

bool tu_under_memory_tool(void)
{
#if TU_VALGRIND
    if (RUNNING_ON_VALGRIND) {
        return true;
    }
#endif
    return TU_ASAN != 0;
}

/* ---- threads ---- */

void *tu_xmalloc(size_t n)
{
    void *p = malloc(n);
    TU_NOT_NULL(p);
    return p;
}

static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
static char fail_msg[256];
static atomic_int fail_count;

void tu_thread_fail(const char *fmt, ...)
{
    pthread_mutex_lock(&fail_lock);
    if (atomic_fetch_add(&fail_count, 1) == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(fail_msg, sizeof fail_msg, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&fail_lock);
}

void tu_check_thread_failures(void)
{
    TU_ASSERT(atomic_load(&fail_count) == 0,
              "%d failures in threads, "
              "first: %s",
              atomic_load(&fail_count), fail_msg);
}

pthread_t tu_spawn(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    int rc = pthread_create(&t, NULL, fn, arg);
    TU_ASSERT(rc == 0, "pthread_create: %d", rc);
    return t;
}

void tu_join(pthread_t t)
{
    TU_INT_EQ(pthread_join(t, NULL), 0);
}

void tu_phase_wait(tu_phase *g, int phase)
{
    pthread_mutex_lock(&g->lock);
    while (g->phase < phase) {
        pthread_cond_wait(&g->cond, &g->lock);
    }
    pthread_mutex_unlock(&g->lock);
}

void tu_phase_set(tu_phase *g, int phase)
{
    pthread_mutex_lock(&g->lock);
    g->phase = phase;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

/* ------------------------------------------------------------------ */
/* Fixtures */

uint64_t tu_seed(uint64_t base, uint64_t k)
{
    const char *e = getenv("FIXALLOC_TEST_SEED");
    if (e != NULL && *e != '\0') {
        return (uint64_t)strtoull(e, NULL, 0) + k;
    }
    return base + k;
}

bool tu_verbose(void)
{
    const char *v = getenv("FIXALLOC_TEST_VERBOSE");
    return v != NULL && *v != '\0' && strcmp(v, "0") != 0;
}

fa_config tu_config(size_t size)
{
    fa_config c;
    memset(&c, 0, sizeof c);
    c.size = size;
    c.name = "test";
    return c;
}

fa_config tu_small_config(const fa_source *src)
{
    fa_config c = tu_config(64);
    c.chunk_size = 4096;
    c.source = src;
    return c;
}

void tu_pool_init_ok(fa_pool *p, const fa_config *c)
{
    int rc = fa_pool_init(p, c);
    TU_ASSERT(rc == 0,
              "fa_pool_init(size %zu, align %zu, chunk %zu, "
              "max %zu, flags %#x) = %d, want 0",
              c->size, c->align, c->chunk_size, c->max_bytes, c->flags, rc);
}

fa_stats tu_pool_stats(const fa_pool *p)
{
    fa_stats s;
    memset(&s, 0xEE, sizeof s);
    fa_pool_stats(p, &s);
    return s;
}

void tu_pool_check_ok(const fa_pool *p)
{
    TU_ASSERT(fa_pool_check(p), "fa_pool_check failed");
}

void tu_pool_alloc_n(fa_pool *p, void **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        v[i] = fa_pool_alloc(p);
        TU_ASSERT(v[i] != NULL, "alloc %zu of %zu failed (errno %d)", i, n,
                  errno);
    }
}

uintptr_t tu_chunk_base(const void *p, size_t chunk)
{
    return (uintptr_t)p & ~(uintptr_t)(chunk - 1);
}

void tu_expect_first_word_zero(const void *obj, size_t size)
{
    size_t n = size < TU_PTR ? size : TU_PTR;
    size_t bad = tu_first_nonzero(obj, n);
    TU_ASSERT(bad == n,
              "object %p handed out with byte %zu of its first "
              "word non-zero (%#x)",
              obj, bad, bad < n ? ((const unsigned char *)obj)[bad] : 0);
}

void **tu_xcalloc_ptrs(size_t n)
{
    void **v = calloc(n != 0 ? n : 1, sizeof *v);
    TU_CHECK(v);
    return v;
}

typedef struct walk_collect {
    void **v;
    size_t n, cap;
    int magic;
} walk_collect;

static void walk_collect_fn(void *obj, void *arg)
{
    walk_collect *c = arg;
    TU_INT_EQ(c->magic, 0x5eed);
    TU_ASSERT(c->n < c->cap, "walk visited more objects than are live");
    c->v[c->n++] = obj;
}

void tu_pool_expect_walk(fa_pool *p, void **live, size_t nlive)
{
    walk_collect c;
    c.cap = nlive + 1;
    c.v = tu_xcalloc_ptrs(c.cap);
    c.n = 0;
    c.magic = 0x5eed;
    fa_pool_walk(p, walk_collect_fn, &c);
    TU_ASSERT(c.n == nlive, "walk visited %zu objects, %zu are live", c.n,
              nlive);
    void **want = tu_xcalloc_ptrs(nlive);
    if (nlive > 0) {
        memcpy(want, live, nlive * sizeof *live);
    }
    tu_sort_ptrs(want, nlive);
    tu_sort_ptrs(c.v, c.n);
    for (size_t i = 0; i < nlive; i++) {
        TU_ASSERT(c.v[i] == want[i],
                  "walk: visited %p where the %zu-th "
                  "live object is %p (a duplicate or a free slot)",
                  c.v[i], i, want[i]);
    }
    free(want);
    free(c.v);
}

fa_cache *tu_cache_create_ok(const fa_config *cfg, const fa_cache_options *o)
{
    fa_cache *c = fa_cache_create_opts(cfg, o);
    TU_ASSERT(c != NULL,
              "fa_cache_create(size %zu, align %zu, flags %#x) "
              "failed: errno %d",
              cfg->size, cfg->align, cfg->flags, errno);
    return c;
}

fa_cache_counters tu_cache_stats(fa_cache *c)
{
    fa_cache_counters s;
    memset(&s, 0xEE, sizeof s);
    fa_cache_stats(c, &s);
    return s;
}

fa_heap *tu_heap_create_ok(const fa_heap_config *cfg)
{
    fa_heap *h = fa_heap_create(cfg);
    TU_ASSERT(h != NULL, "fa_heap_create failed: errno %d", errno);
    return h;
}

fa_heap_counters tu_heap_stats(fa_heap *h)
{
    fa_heap_counters s;
    memset(&s, 0xEE, sizeof s);
    fa_heap_stats(h, &s);
    return s;
}

size_t tu_natural_align(size_t n)
{
    return n <= FA_SMALL_MAX && fa_size_class_size(fa_size_class(n)) % 16 ? 8
                                                                          : 16;
}

size_t tu_random_size(tu_rng *r, size_t large_in)
{
    if (large_in != 0 && tu_rng_below(r, large_in) == 0) {
        return FA_SMALL_MAX + 1 + tu_rng_below(r, 300 * 1024);
    }
    size_t octave = tu_rng_below(r, 16); /* 1 << 0 .. 1 << 15 */
    size_t lo = (size_t)1 << octave;
    size_t n = lo + tu_rng_below(r, lo);
    return n > FA_SMALL_MAX ? FA_SMALL_MAX : (tu_rng_below(r, 50) == 0 ? 0 : n);
}

void tu_stamp_id(void *p, size_t size, uint64_t id)
{
    if (size < sizeof id) { /* too small for the id: the pattern only */
        tu_stamp(p, size, id);
        return;
    }
    memcpy(p, &id, sizeof id);
    tu_stamp((char *)p + sizeof id, size - sizeof id, id);
}

bool tu_stamp_id_ok(const void *p, size_t size, uint64_t *id_out)
{
    if (size < sizeof *id_out) {
        return tu_verify(p, 0, size, *id_out) == size;
    }
    uint64_t id;
    memcpy(&id, p, sizeof id);
    *id_out = id;
    return tu_verify((const char *)p + sizeof id, 0, size - sizeof id, id) ==
           size - sizeof id;
}

void tu_callbacks_init(tu_callbacks *s)
{
    memset(s, 0, sizeof *s);
    tu_map_init(&s->carved);
}

void tu_cb_first(void *arg, void *obj)
{
    tu_callbacks *s = arg;
    if (s == NULL || s->carved.keys == NULL) {
        abort(); /* the wrong arg: nothing sane to record into */
    }
    s->firsts++;
    if (!tu_map_put(&s->carved, obj, 1)) {
        s->dup_firsts++;
    }
    if (s->fill_n != 0) {
        memset(obj, s->fill, s->fill_n);
    }
}

void tu_cb_release(void *arg, void *obj)
{
    tu_callbacks *s = arg;
    if (s == NULL || s->carved.keys == NULL) {
        abort();
    }
    s->releases++;
    if (!tu_map_del(&s->carved, obj)) {
        s->bad_releases++;
    }
}

fa_error_handler tu_errors_install(void)
{
    tu_errors_reset();
    return fa_set_error_handler(tu_record_handler);
}

void tu_exchange_init(tu_exchange *x, size_t cap)
{
    memset(x, 0, sizeof *x);
    TU_INT_EQ(pthread_mutex_init(&x->lock, NULL), 0);
    x->items = tu_xmalloc(cap * sizeof *x->items);
    x->cap = cap;
}

void tu_exchange_fini(tu_exchange *x)
{
    pthread_mutex_destroy(&x->lock);
    free(x->items);
    x->items = NULL;
    x->n = x->cap = 0;
}

bool tu_exchange_put(tu_exchange *x, tu_item it)
{
    pthread_mutex_lock(&x->lock);
    bool kept = x->n < x->cap;
    if (kept) {
        x->items[x->n++] = it;
    }
    pthread_mutex_unlock(&x->lock);
    return kept;
}

bool tu_exchange_take(tu_exchange *x, tu_rng *r, tu_item *out)
{
    pthread_mutex_lock(&x->lock);
    bool got = x->n > 0;
    if (got) {
        size_t k = tu_rng_below(r, x->n);
        *out = x->items[k];
        x->items[k] = x->items[--x->n];
    }
    pthread_mutex_unlock(&x->lock);
    return got;
}

int tu_run_suite(Suite *s, bool always_fork)
{
    unsetenv("FIXALLOC_CHECK");
    SRunner *sr = srunner_create(s);
    if (always_fork || getenv("CK_FORK") == NULL) {
        srunner_set_fork_status(sr, CK_FORK);
    }
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

void tu_sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}
