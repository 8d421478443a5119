/*
 * cache.c - fa_cache: per-thread magazines over a locked depot over a pool.
 * docs/design.md, "The cache".
 */
#include "cache_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

/* Magazine sizes, in rounds. */
#define FA_MAG_FLOOR ((size_t)4)
#define FA_MAG_CEIL ((size_t)1024)
#define FA_MAG_START_MAX ((size_t)64)
#define FA_MAG_START_BYTES ((size_t)16 * 1024)
#define FA_MAG_MAX_BYTES ((size_t)128 * 1024)
/* A configured magazine size may not exceed this. */
#define FA_MAG_LIMIT ((size_t)1 << 16)
/* Full (and empty) magazines the depot keeps by default. */
#define FA_DEPOT_DEFAULT ((size_t)16)
/* By default the depot keeps enough full magazines to hold this many bytes
 * of objects (and at least FA_DEPOT_DEFAULT magazines): a batch freed in
 * random order then waits in the depot instead of going back to the pool
 * object by object, which measured 2-4x slower on a 100k shuffled batch. */
#define FA_DEPOT_BYTES ((size_t)4 << 20)
/* Contention-driven resizing: a window of depot visits, and how many of
 * them must have waited for the magazines to grow. */
#define FA_RESIZE_WINDOW 256
#define FA_RESIZE_CONTENDED 16

/* ---- the fast paths ---- */

static __attribute__((noinline)) void *alloc_slow(fa_cache *c);
static __attribute__((noinline)) void free_slow(fa_cache *c, void *obj);

/* Pops a round of the loaded magazine (cache_impl.h), else the slow path. */
static inline void *alloc_one(fa_cache *c)
{
    void *obj;
    if (FA_LIKELY(fa_cache_pop_fast(c->toff, &obj))) {
        return obj;
    }
    return alloc_slow(c);
}

/* Pushes onto the loaded magazine, else the slow path (NULL too). */
static inline void free_one(fa_cache *c, void *obj)
{
    if (FA_LIKELY(obj != NULL && fa_cache_push_fast(c->toff, obj))) {
        return;
    }
    free_slow(c, obj);
}

void *fa_cache_alloc(fa_cache *c)
{
    return alloc_one(c);
}

void fa_cache_free(fa_cache *c, void *obj)
{
    free_one(c, obj);
}

size_t fa_cache_alloc_bulk(fa_cache *c, void **out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = alloc_one(c);
        if (out[i] == NULL) {
            return i;
        }
    }
    return n;
}

void fa_cache_free_bulk(fa_cache *c, void *const *objs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free_one(c, objs[i]);
    }
}

/* ---- the entry: folding the loaded magazine in and out of the hot words */

/* Writes the loaded magazine's round count back from the hot words. */
static void entry_unfold(fa_tentry *e)
{
    if (e->base != NULL) {
        e->loaded->n = (uint32_t)(e->top - e->base);
    }
}

/* Sets the hot words from the loaded magazine (fast mode), or to NULL. */
static void entry_fold(const fa_cache *c, fa_tentry *e)
{
    fa_mag *m = e->loaded;
    /* The slow paths rely on it: previous is never partial, and there is
     * no previous without a loaded magazine. */
    FA_ASSERT(e->prev == NULL || e->prev->n == 0 || e->prev->n == e->prev->cap);
    FA_ASSERT(m != NULL || e->prev == NULL);
    if (c->mode == FA_MODE_FAST && m != NULL) {
        e->base = m->rounds;
        e->top = m->rounds + m->n;
        e->limit = m->rounds + m->cap;
    } else {
        e->top = e->base = e->limit = NULL;
    }
}

/* Makes the entry's counters visible to fa_cache_stats in other threads. */
static void entry_publish_locked(fa_tentry *e)
{
    size_t held = fa_entry_held(e);
    e->pub_allocs = e->allocs;
    e->pub_frees = fa_entry_frees(e, held);
    e->pub_alloc_miss = e->alloc_miss;
    e->pub_free_miss = e->free_miss;
    e->pub_held = held;
}

/* ---- the depot lock ---- */

static size_t depot_default(size_t rounds, size_t slot)
{
    size_t n = FA_DEPOT_BYTES / (rounds * slot);
    return n > FA_DEPOT_DEFAULT ? n : FA_DEPOT_DEFAULT;
}

/* Grows new magazines when the last window of visits saw contention. */
static void resize_window_locked(fa_cache *c)
{
    if (c->adaptive && c->win_contended >= FA_RESIZE_CONTENDED &&
        c->rounds < c->rounds_max) {
        c->rounds *= 2;
        c->resizes++;
        if (c->depot_auto) {
            c->depot_max =
                depot_default(c->rounds, fa_pool_slot_size(&c->pool));
        }
    }
    c->win_visits = 0;
    c->win_contended = 0;
}

/* Takes the depot lock for a visit of the magazine layer, counting
 * whether it had to wait. */
static void depot_lock(fa_cache *c)
{
    if (pthread_mutex_trylock(&c->lock) != 0) {
        pthread_mutex_lock(&c->lock);
        c->contended++;
        c->win_contended++;
    }
    c->visits++;
    if (++c->win_visits == FA_RESIZE_WINDOW) {
        resize_window_locked(c);
    }
}

static void depot_unlock(fa_cache *c)
{
    pthread_mutex_unlock(&c->lock);
}

/* The fork handler's way in (cache_thread.c), without the counting. */
static void depot_lock_plain(fa_cache *c)
{
    pthread_mutex_lock(&c->lock);
}

/* ---- magazines ---- */

static fa_mag *mag_new_locked(fa_cache *c)
{
    fa_mag *m = fa_os_record_alloc(sizeof(fa_mag) + c->rounds * sizeof(void *),
                                   sizeof(void *));
    if (m == NULL) {
        return NULL;
    }
    m->cap = (uint32_t)c->rounds;
    fa_list_push(&c->all, &m->all_link);
    c->nmags++;
    return m;
}

static void mag_delete_locked(fa_cache *c, fa_mag *m)
{
    fa_list_remove(&c->all, &m->all_link);
    c->nmags--;
    fa_os_record_free(m);
}

/* ---- rounds to and from the pool ---- */

/* Gives n rounds back to the pool. In tracked mode a round in a magazine
 * is closed to the caller (as a free object is), so it is opened again
 * before the pool takes it back. */
static void rounds_to_pool_locked(fa_cache *c, void **rounds, size_t n)
{
    if (fa_pool_is_tracked(&c->pool)) {
        size_t size = fa_pool_object_size(&c->pool);
        for (size_t i = 0; i < n; i++) {
            fa_track_alloc(true, &c->pool, rounds[i], size, false);
        }
    }
    fa_pool_free_bulk(&c->pool, rounds, n);
    c->pool_flushes += n;
}

static void mag_empty_to_pool_locked(fa_cache *c, fa_mag *m)
{
    rounds_to_pool_locked(c, m->rounds, m->n);
    m->n = 0;
}

/* ---- the depot's lists ---- */

static void depot_put_empty_locked(fa_cache *c, fa_mag *m)
{
    if (c->nempty >= c->depot_max || m->cap < c->rounds) {
        mag_delete_locked(c, m);
        return;
    }
    m->next = c->empty;
    c->empty = m;
    c->nempty++;
    c->empty_puts++;
}

/* Files a magazine holding rounds; past depot_max its rounds go to the
 * pool instead and it is kept as an empty one. */
static void depot_put_full_locked(fa_cache *c, fa_mag *m)
{
    FA_ASSERT(m->n <= m->cap);
    if (m->n == 0) {
        depot_put_empty_locked(c, m);
        return;
    }
    if (c->nfull >= c->depot_max) {
        mag_empty_to_pool_locked(c, m);
        depot_put_empty_locked(c, m);
        return;
    }
    m->next = c->full;
    c->full = m;
    c->nfull++;
    c->full_rounds += m->n;
    c->full_puts++;
}

static fa_mag *depot_take_full_locked(fa_cache *c)
{
    fa_mag *m = c->full;
    if (m != NULL) {
        FA_ASSERT(m->n > 0 && c->full_rounds >= m->n);
        c->full = m->next;
        c->nfull--;
        c->full_rounds -= m->n;
        c->full_gets++;
    }
    return m;
}

/* An empty magazine of the current size: from the depot, else new. NULL
 * only when malloc fails. */
static fa_mag *depot_take_empty_locked(fa_cache *c)
{
    while (c->empty != NULL) {
        fa_mag *m = c->empty;
        c->empty = m->next;
        c->nempty--;
        if (m->cap >= c->rounds) {
            c->empty_gets++;
            return m;
        }
        mag_delete_locked(c, m); /* from before a resize */
    }
    return mag_new_locked(c);
}

/* Empties the depot: full magazines' rounds to the pool, every magazine
 * freed. */
static void depot_drain_locked(fa_cache *c)
{
    fa_mag *m;
    while ((m = depot_take_full_locked(c)) != NULL) {
        mag_empty_to_pool_locked(c, m);
        mag_delete_locked(c, m);
    }
    while ((m = c->empty) != NULL) {
        c->empty = m->next;
        c->nempty--;
        mag_delete_locked(c, m);
    }
}

/* ---- per-object work of the slow modes ---- */

/* A round leaves a magazine for the caller. */
static void *hand_out(const fa_cache *c, void *obj)
{
    if (c->mode != FA_MODE_FAST) {
        const fa_pool *p = &c->pool;
        bool zero = (fa_pool_flags(p) & FA_ZERO) != 0;
        size_t size = fa_pool_object_size(p);
        fa_track_alloc(fa_pool_is_tracked(p), p, obj, size, zero);
        if (zero) {
            memset(obj, 0, size);
        }
    }
    return obj;
}

/* The caller's object becomes a round. */
static void take_in(const fa_cache *c, void *obj)
{
    const fa_pool *p = &c->pool;
    fa_track_free(fa_pool_is_tracked(p), p, obj, fa_pool_slot_size(p));
}

/* ---- calls without a magazine: checked mode, exiting threads ---- */

/* An object from the depot's rounds, else the pool: the depot's rounds
 * go first, so that objects cached there count before the cap does. */
static void *alloc_direct(fa_cache *c)
{
    depot_lock(c);
    void *obj = NULL;
    fa_mag *m = c->full;
    if (m != NULL) {
        obj = hand_out(c, m->rounds[--m->n]);
        c->full_rounds--;
        if (m->n == 0) {
            depot_put_empty_locked(c, depot_take_full_locked(c));
        }
    } else {
        obj = fa_pool_alloc(&c->pool);
    }
    if (obj != NULL) {
        c->dead_allocs++;
        c->dead_alloc_miss++;
    }
    depot_unlock(c);
    return obj;
}

static void free_direct(fa_cache *c, void *obj)
{
    depot_lock(c);
    size_t live = fa_pool_live(&c->pool);
    fa_pool_free(&c->pool, obj);
    /* A free the pool refused (reported misuse, the handler returned) is
     * no free: count only what the pool took. */
    if (fa_pool_live(&c->pool) < live) {
        c->dead_frees++;
        c->dead_free_miss++;
    }
    depot_unlock(c);
}

/* ---- the slow paths: loaded -> previous -> depot -> pool ---- */

/* Step 4 of an allocation (depot lock held, depot without rounds): fill
 * the empty loaded magazine partway from the pool and pop one, or, in the
 * slow modes or without a magazine, take one object from the pool. */
static void *alloc_from_pool_locked(fa_cache *c, fa_tentry *e)
{
    fa_mag *m = e->loaded;
    if (c->mode == FA_MODE_FAST && m == NULL) {
        m = e->loaded = depot_take_empty_locked(c); /* prev is NULL too */
    }
    if (c->mode != FA_MODE_FAST || m == NULL) {
        void *obj = fa_pool_alloc(&c->pool);
        e->mag_net += obj != NULL; /* in and out again at once */
        return obj;
    }
    int saved = errno;
    size_t want = m->cap / 2 > 0 ? m->cap / 2 : 1;
    size_t got = fa_pool_alloc_bulk(&c->pool, m->rounds, want);
    if (got == 0) {
        return NULL; /* errno is ENOMEM */
    }
    errno = saved;
    m->n = (uint32_t)got;
    e->mag_net += (int64_t)got;
    c->pool_fills += got;
    return m->rounds[--m->n];
}

static __attribute__((noinline)) void *alloc_slow(fa_cache *c)
{
    if (!fa_cache_ok(c)) {
        errno = EINVAL;
        return NULL;
    }
    fa_tentry *e = c->mode != FA_MODE_DIRECT ? fa_thread_entry(c) : NULL;
    if (e == NULL) {
        return alloc_direct(c);
    }
    entry_unfold(e);
    void *obj;
    for (;;) {
        fa_mag *m = e->loaded;
        /* (1) A round in the loaded magazine: the hit. */
        if (m != NULL && m->n > 0) {
            obj = hand_out(c, m->rounds[--m->n]);
            break;
        }
        /* (2) The previous magazine is full (never partial): swap it in
         * and take from it. */
        if (e->prev != NULL && e->prev->n > 0) {
            e->loaded = e->prev;
            e->prev = m;
            continue;
        }
        /* (3) The depot: a magazine with rounds becomes the loaded one;
         * the empty previous one goes back. */
        depot_lock(c);
        e->alloc_miss++;
        fa_mag *full = depot_take_full_locked(c);
        if (full != NULL) {
            if (e->prev != NULL) {
                depot_put_empty_locked(c, e->prev);
            }
            e->prev = m;
            e->loaded = full;
            e->mag_net += full->n;
            entry_publish_locked(e);
            depot_unlock(c);
            continue;
        }
        /* (4) The pool, under the same lock: the depot had nothing, so
         * an object that the cap refuses is refused with the depot
         * empty. */
        obj = alloc_from_pool_locked(c, e);
        if (obj != NULL) {
            e->allocs++;
        }
        entry_publish_locked(e);
        depot_unlock(c);
        entry_fold(c, e);
        return obj;
    }
    e->allocs++;
    entry_fold(c, e);
    return obj;
}

static __attribute__((noinline)) void free_slow(fa_cache *c, void *obj)
{
    if (obj == NULL || !fa_cache_ok(c)) {
        return;
    }
    fa_tentry *e = c->mode != FA_MODE_DIRECT ? fa_thread_entry(c) : NULL;
    if (e == NULL) {
        free_direct(c, obj);
        return;
    }
    entry_unfold(e);
    for (;;) {
        fa_mag *m = e->loaded;
        /* (1) Room in the loaded magazine: the hit. */
        if (m != NULL && m->n < m->cap) {
            take_in(c, obj);
            m->rounds[m->n++] = obj;
            break;
        }
        /* (2) The previous magazine is empty: swap it in. */
        if (e->prev != NULL && e->prev->n == 0) {
            e->loaded = e->prev;
            e->prev = m;
            continue;
        }
        /* (3) The depot: an empty magazine becomes the loaded one; the
         * full previous one goes to the depot. */
        depot_lock(c);
        e->free_miss++;
        fa_mag *empty = depot_take_empty_locked(c);
        if (empty != NULL) {
            if (e->prev != NULL) {
                e->mag_net -= e->prev->n;
                depot_put_full_locked(c, e->prev);
            }
            e->prev = m;
            e->loaded = empty;
            entry_publish_locked(e);
            depot_unlock(c);
            continue;
        }
        /* (4) No magazine to be had (malloc failed): to the pool. */
        fa_pool_free(&c->pool, obj);
        e->mag_net--; /* in and out again at once */
        entry_publish_locked(e);
        depot_unlock(c);
        break;
    }
    entry_fold(c, e);
}

/* ---- leaving an entry: thread exit, trim, walk, the fork child ---- */

/* Gives an unfolded entry's magazines to the depot: full ones as they
 * are, the partial loaded one's rounds to the pool. */
static void entry_flush_locked(fa_cache *c, fa_tentry *e, bool keep_full)
{
    fa_mag *mags[2] = {e->loaded, e->prev};
    for (int i = 0; i < 2; i++) {
        fa_mag *m = mags[i];
        if (m == NULL) {
            continue;
        }
        e->mag_net -= m->n;
        if (keep_full && m->n == m->cap) {
            depot_put_full_locked(c, m);
        } else {
            mag_empty_to_pool_locked(c, m);
            depot_put_empty_locked(c, m);
        }
    }
    e->loaded = e->prev = NULL;
    entry_fold(c, e);
}

static void retire_entry(fa_cache *c, fa_tentry *e)
{
    entry_unfold(e);
    depot_lock(c);
    entry_flush_locked(c, e, true);
    c->dead_allocs += e->allocs;
    c->dead_frees += fa_entry_frees(e, 0);
    c->dead_alloc_miss += e->alloc_miss;
    c->dead_free_miss += e->free_miss;
    depot_unlock(c);
}

static void abandon_entry_locked(fa_cache *c, fa_tentry *e)
{
    /* The magazines stay on c->all (freed at destroy), their rounds
     * counted live; the counters are kept as they were last written. */
    c->dead_allocs += e->allocs;
    c->dead_frees += fa_entry_frees(e, 0); /* its rounds count as live */
    c->dead_alloc_miss += e->alloc_miss;
    c->dead_free_miss += e->free_miss;
}

/* ---- create, destroy ---- */

static size_t pow2_floor(size_t x)
{
    size_t p = 1;
    while (p <= x / 2) {
        p *= 2;
    }
    return p;
}

static size_t clamp(size_t x, size_t lo, size_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

static void cache_geometry(fa_cache *c, const fa_cache_options *opt)
{
    size_t slot = fa_pool_slot_size(&c->pool);
    if (opt != NULL && opt->magazine_rounds != 0) {
        c->rounds = c->rounds_max = opt->magazine_rounds;
        c->adaptive = false;
    } else {
        c->rounds = clamp(pow2_floor(FA_MAG_START_BYTES / slot), FA_MAG_FLOOR,
                          FA_MAG_START_MAX);
        c->rounds_max =
            clamp(pow2_floor(FA_MAG_MAX_BYTES / slot), c->rounds, FA_MAG_CEIL);
        c->adaptive = true;
    }
    c->depot_auto = opt == NULL || opt->depot_magazines == 0;
    c->depot_max =
        c->depot_auto ? depot_default(c->rounds, slot) : opt->depot_magazines;
}

/* The registry's hooks into this layer (cache_impl.h). */
static const fa_entry_ops entry_ops = {
    .retire = retire_entry,
    .abandon_locked = abandon_entry_locked,
    .lock = depot_lock_plain,
    .unlock = depot_unlock,
};

/* How the cache uses its magazines, from its pool's mode. */
static enum fa_cache_mode mode_of(const fa_pool *p)
{
    if (fa_pool_is_checked(p)) {
        return FA_MODE_DIRECT;
    }
    bool per_object = (fa_pool_flags(p) & FA_ZERO) || fa_pool_is_tracked(p);
    return per_object ? FA_MODE_SLOW : FA_MODE_FAST;
}

fa_cache *fa_cache_create_opts(const fa_config *cfg,
                               const fa_cache_options *opt)
{
    if (opt != NULL && opt->magazine_rounds > FA_MAG_LIMIT) {
        errno = EINVAL;
        return NULL;
    }
    /* Own cache lines: the fast paths of every thread read toff. */
    fa_cache *c = fa_os_record_alloc(sizeof(fa_cache), 64);
    if (c == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    int err = fa_pool_init(&c->pool, cfg);
    if (err != 0) {
        fa_os_record_free(c);
        errno = err;
        return NULL;
    }
    c->mode = (uint8_t)mode_of(&c->pool);
    cache_geometry(c, opt);
    fa_os_lock_init(&c->lock);
    err = fa_registry_add(c, &entry_ops);
    if (err != 0) {
        pthread_mutex_destroy(&c->lock);
        fa_pool_destroy(&c->pool);
        fa_os_record_free(c);
        errno = err;
        return NULL;
    }
    c->magic = FA_CACHE_MAGIC;
    return c;
}

fa_cache *fa_cache_create(const fa_config *cfg)
{
    return fa_cache_create_opts(cfg, NULL);
}

void fa_cache_destroy(fa_cache *c)
{
    if (c == NULL || !fa_cache_ok(c)) {
        return;
    }
    fa_registry_remove(c); /* no entry refers to c's magazines now */
    c->magic = 0;
    while (c->all != NULL) {
        mag_delete_locked(c, fa_list_entry(c->all, fa_mag, all_link));
    }
    fa_pool_destroy(&c->pool);
    pthread_mutex_destroy(&c->lock);
    fa_os_record_free(c);
}

/* ---- reserve, trim, walk ---- */

int fa_cache_reserve(fa_cache *c, size_t n)
{
    if (!fa_cache_ok(c)) {
        return EINVAL;
    }
    depot_lock(c);
    int err = fa_pool_reserve(&c->pool, n);
    depot_unlock(c);
    return err;
}

size_t fa_cache_trim(fa_cache *c)
{
    if (!fa_cache_ok(c)) {
        return 0;
    }
    fa_tentry *self = fa_thread_entry_peek(c);
    if (self != NULL) {
        entry_unfold(self);
    }
    depot_lock(c);
    if (self != NULL) {
        entry_flush_locked(c, self, false);
        entry_publish_locked(self);
    }
    depot_drain_locked(c);
    size_t bytes = fa_pool_trim(&c->pool);
    depot_unlock(c);
    return bytes;
}

void fa_cache_walk(fa_cache *c, void (*fn)(void *obj, void *arg), void *arg)
{
    if (!fa_cache_ok(c)) {
        return;
    }
    fa_registry_lock();
    depot_lock(c);
    for (fa_list_node *n = c->entries; n != NULL; n = n->next) {
        fa_tentry *e = fa_list_entry(n, fa_tentry, reg_link);
        entry_unfold(e);
        entry_flush_locked(c, e, false);
        entry_publish_locked(e);
    }
    depot_drain_locked(c);
    fa_pool_walk(&c->pool, fn, arg);
    depot_unlock(c);
    fa_registry_unlock();
}
