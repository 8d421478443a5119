/*
 * cache.c - fa_cache: a thread-safe object cache of per-thread magazines
 * over a locked depot over an fa_pool (docs/design.md, "The cache").
 *
 * ---------------------------------------------------------------------
 * Big theory statement
 * ---------------------------------------------------------------------
 *
 * 1. Layers. After Bonwick and Adams's magazines (Solaris kmem, libumem),
 *    with threads in place of CPUs:
 *
 *      thread entry    two magazines per thread per cache, "loaded" and
 *                      "previous"; no lock, no atomic instruction
 *      depot           lists of full and of empty magazines, one lock
 *      pool            an fa_pool, under the same lock
 *      page source     the pool's, called by the pool only
 *
 *    A magazine is a stack of up to `cap` object pointers (rounds). An
 *    allocation pops a round of the thread's loaded magazine and a free
 *    pushes one: that is the whole fast path (fa_cache_alloc and
 *    fa_cache_free below), an index into the thread's table, a compare,
 *    a load and a store. The slow paths (alloc_slow, free_slow) are one
 *    commented loop each: loaded -> previous -> depot -> pool.
 *
 * 2. Finding the thread's magazines. Every cache has a small id; every
 *    thread that has used a cache has a table (cache_thread.c) with one
 *    entry per id, found through one thread-local pointer, so the entry
 *    of cache c is at table + c->toff: O(1), no hashing, no lock. A
 *    thread that has no table points at a shared all-zero table whose
 *    entries send every call to the slow path, which maps the thread's
 *    own table and binds the entry. Ids are reused: destroying a cache
 *    unbinds the entries of every thread first (registry lock), so an
 *    entry never outlives the cache it is bound to.
 *
 * 3. Object states. An object is exactly one of:
 *      live            handed out, owned by the caller;
 *      in a magazine   loaded or previous of some thread, or on the
 *                      depot's full list;
 *      free in pool    on a chunk's free list, or not yet carved;
 *    and the pool counts both of the first two as its live objects. So
 *    `max_bytes` (the pool's cap on bytes from the source) counts objects
 *    wherever they sit. An object moves live <-> magazine on every
 *    alloc and free, magazine <-> pool only under the depot lock.
 *
 * 4. Bounds on cached memory. A thread holds at most two magazines per
 *    cache, each of at most rounds_max rounds; the depot keeps at most
 *    depot_max full magazines (a full magazine beyond that has its rounds
 *    freed to the pool) and as many empty ones. By default rounds_max is
 *    the largest power of two with rounds_max * slot <= 128 KiB, within
 *    [4, 1024]: a thread caches at most 256 KiB (or 8 objects, for
 *    objects above 32 KiB) per cache; and depot_max is as many magazines
 *    of the current size as hold 4 MiB of objects, at least 16. The magazine size
 *    starts at min(64, 16 KiB / slot) rounds and doubles, up to
 *    rounds_max, when more than 1 in 16 of the last 256 depot visits had
 *    to wait for the lock (libumem's contention-driven resizing); a
 *    magazine size given in fa_cache_options is fixed.
 *
 * 5. Modes. The fast paths exist only for caches whose objects need no
 *    per-object work. With FA_ZERO, or when the pool tracks its memory
 *    for Valgrind or ASan, the magazines are used through the slow path,
 *    which clears or annotates each object (still no lock on a hit). A
 *    checked cache (FA_CHECKED or FIXALLOC_CHECK) keeps no magazines:
 *    every call reaches the pool under the depot lock, so every double
 *    free and write after free is seen. The fast paths check nothing; a
 *    bad pointer is caught when its round reaches the pool.
 *
 * 6. Thread exit. The first slow path of a thread registers its table
 *    with a pthread key. The key's destructor (thread_exit in
 *    cache_thread.c) gives each of the thread's magazines to its cache's
 *    depot (full ones on the full list up to depot_max, the rounds of
 *    the rest to the pool), folds its counters into the cache's totals,
 *    unbinds the entries and unmaps the table. A call on a cache later in
 *    the same thread's exit (another key's destructor) goes straight to
 *    the depot and pool under the lock.
 *
 * 7. Fork. pthread_atfork handlers take the registry lock and then every
 *    cache's depot lock in ascending id before fork, and release them in
 *    the parent and the child after. In the child only the forking thread
 *    exists: the tables of the other threads are unmapped and their
 *    entries unbound. Their magazines are not trusted (their owner may
 *    have been halfway through a push) and their objects stay counted as
 *    live: at most two magazines per vanished thread per cache.
 *
 * 8. Destroy, walk, check. Only while no other thread uses the cache:
 *    they reach into other threads' entries (under the registry lock).
 *    Destroy unbinds them and gives every chunk back; walk first empties
 *    every magazine into the pool.
 *
 * ---------------------------------------------------------------------
 * Lock order
 * ---------------------------------------------------------------------
 *
 *   1. fa_registry lock (cache_thread.c): cache ids, the list of thread
 *      tables, every cache's list of bound entries, binding and
 *      unbinding of entries.
 *   2. c->lock, the depot lock of one cache: the depot lists, every
 *      magazine's `all` links, the pool, the depot counters, the totals,
 *      and each entry's published counters (pub_*). Two depot locks are
 *      held together only by the fork handler, in ascending cache id.
 *
 *   Under a depot lock the library calls the page source (through the
 *   pool), malloc and free, and the `first` and `release` callbacks:
 *   none of them may call the cache. Functions that need the depot lock
 *   held end in _locked.
 */
#include "cache_impl.h"
#include "track.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
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

static inline fa_tentry *tls_entry(const fa_cache *c)
{
    return fa_tentry_at(c->toff);
}

static __attribute__((noinline)) void *alloc_slow(fa_cache *c);
static __attribute__((noinline)) void free_slow(fa_cache *c, void *obj);

/* Pops a round of the loaded magazine. Unbound entries, entries without a
 * loaded magazine and caches not in fast mode have top == base == NULL. */
static inline void *alloc_one(fa_cache *c)
{
    fa_tentry *e = tls_entry(c);
    void **top = e->top;
    if (FA_LIKELY(top != e->base)) {
        e->allocs++;
        e->top = top - 1;
        return top[-1];
    }
    return alloc_slow(c);
}

/* Pushes onto the loaded magazine; top == limit (NULL or full) misses. */
static inline void free_one(fa_cache *c, void *obj)
{
    fa_tentry *e = tls_entry(c);
    void **top = e->top;
    if (FA_LIKELY(top != e->limit && obj != NULL)) {
        *top = obj;
        e->top = top + 1;
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
    if (c->mode == FA_MODE_FAST && m != NULL) {
        e->base = m->rounds;
        e->top = m->rounds + m->n;
        e->limit = m->rounds + m->cap;
    } else {
        e->top = e->base = e->limit = NULL;
    }
}

/* Rounds in an unfolded entry's magazines. */
static size_t entry_held(const fa_tentry *e)
{
    return (e->loaded != NULL ? e->loaded->n : 0) +
           (e->prev != NULL ? e->prev->n : 0);
}

/* Frees through the entry, from held = mag_net + frees - allocs. */
static uint64_t entry_frees(const fa_tentry *e, size_t held)
{
    return (uint64_t)((int64_t)held - e->mag_net) + e->allocs;
}

/* Makes the entry's counters visible to fa_cache_stats in other threads. */
static void entry_publish_locked(fa_tentry *e)
{
    size_t held = entry_held(e);
    e->pub_allocs = e->allocs;
    e->pub_frees = entry_frees(e, held);
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
            c->depot_max = depot_default(c->rounds, c->pool.slot);
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

void fa_cache_depot_lock(fa_cache *c)
{
    pthread_mutex_lock(&c->lock);
}

void fa_cache_depot_unlock(fa_cache *c)
{
    pthread_mutex_unlock(&c->lock);
}

/* ---- magazines ---- */

static fa_mag *mag_new_locked(fa_cache *c)
{
    fa_mag *m = malloc(sizeof(fa_mag) + c->rounds * sizeof(void *));
    if (m == NULL) {
        return NULL;
    }
    m->next = NULL;
    m->n = 0;
    m->cap = (uint32_t)c->rounds;
    m->all_prev = NULL;
    m->all_next = c->all;
    if (c->all != NULL) {
        c->all->all_prev = m;
    }
    c->all = m;
    c->nmags++;
    return m;
}

static void mag_delete_locked(fa_cache *c, fa_mag *m)
{
    if (m->all_prev != NULL) {
        m->all_prev->all_next = m->all_next;
    } else {
        c->all = m->all_next;
    }
    if (m->all_next != NULL) {
        m->all_next->all_prev = m->all_prev;
    }
    c->nmags--;
    free(m);
}

/* ---- rounds to and from the pool ---- */

/* Gives n rounds back to the pool. In tracked mode a round in a magazine
 * is closed to the caller (as a free object is), so it is opened again
 * before the pool takes it back. */
static void rounds_to_pool_locked(fa_cache *c, void **rounds, size_t n)
{
    if (c->pool.tracked) {
        for (size_t i = 0; i < n; i++) {
            fa_track_alloc(true, &c->pool, rounds[i], c->pool.size, false);
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
        bool zero = (c->pool.flags & FA_ZERO) != 0;
        fa_track_alloc(c->pool.tracked, &c->pool, obj, c->pool.size, zero);
        if (zero) {
            memset(obj, 0, c->pool.size);
        }
    }
    return obj;
}

/* The caller's object becomes a round. */
static void take_in(const fa_cache *c, void *obj)
{
    fa_track_free(c->pool.tracked, &c->pool, obj, c->pool.slot);
}

/* ---- errors ---- */

static FA_COLD void bad_cache(const fa_cache *c)
{
    fa_report(FA_ERR_BAD_POOL, NULL, c,
              "the cache is not created, or destroyed");
}

static bool cache_ok(const fa_cache *c)
{
    if (FA_UNLIKELY(c == NULL || c->magic != FA_CACHE_MAGIC)) {
        bad_cache(c);
        return false;
    }
    return true;
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
    if (!cache_ok(c)) {
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
    if (obj == NULL || !cache_ok(c)) {
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

void fa_cache_retire_entry(fa_cache *c, fa_tentry *e)
{
    entry_unfold(e);
    depot_lock(c);
    entry_flush_locked(c, e, true);
    c->dead_allocs += e->allocs;
    c->dead_frees += entry_frees(e, 0);
    c->dead_alloc_miss += e->alloc_miss;
    c->dead_free_miss += e->free_miss;
    depot_unlock(c);
}

void fa_cache_abandon_entry_locked(fa_cache *c, fa_tentry *e)
{
    /* The magazines stay on c->all (freed at destroy), their rounds
     * counted live; the counters are kept as they were last written. */
    c->dead_allocs += e->allocs;
    c->dead_frees += entry_frees(e, 0); /* its rounds count as live */
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
    size_t slot = c->pool.slot;
    if (opt != NULL && opt->magazine_rounds != 0) {
        c->rounds = c->rounds_max = opt->magazine_rounds;
        c->adaptive = false;
    } else {
        c->rounds = clamp(pow2_floor(FA_MAG_START_BYTES / slot), FA_MAG_FLOOR,
                          FA_MAG_START_MAX);
        c->rounds_max = clamp(pow2_floor(FA_MAG_MAX_BYTES / slot),
                              c->rounds, FA_MAG_CEIL);
        c->adaptive = true;
    }
    c->depot_auto = opt == NULL || opt->depot_magazines == 0;
    c->depot_max = c->depot_auto ? depot_default(c->rounds, slot)
                                 : opt->depot_magazines;
}

static void lock_init(pthread_mutex_t *m)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
#ifdef PTHREAD_MUTEX_ADAPTIVE_NP
    /* Spin a little before sleeping: depot visits are short. */
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
    pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
}

fa_cache *fa_cache_create_opts(const fa_config *cfg,
                               const fa_cache_options *opt)
{
    if (opt != NULL && opt->magazine_rounds > FA_MAG_LIMIT) {
        errno = EINVAL;
        return NULL;
    }
    size_t bytes = (sizeof(fa_cache) + 63) / 64 * 64;
    fa_cache *c = aligned_alloc(64, bytes);
    if (c == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    memset(c, 0, bytes);
    int err = fa_pool_init(&c->pool, cfg);
    if (err != 0) {
        free(c);
        errno = err;
        return NULL;
    }
    c->mode = c->pool.checked ? FA_MODE_DIRECT
              : ((c->pool.flags & FA_ZERO) || c->pool.tracked) ? FA_MODE_SLOW
                                                               : FA_MODE_FAST;
    cache_geometry(c, opt);
    lock_init(&c->lock);
    err = fa_registry_add(c);
    if (err != 0) {
        pthread_mutex_destroy(&c->lock);
        fa_pool_destroy(&c->pool);
        free(c);
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
    if (c == NULL || !cache_ok(c)) {
        return;
    }
    fa_registry_remove(c); /* no entry refers to c's magazines now */
    c->magic = 0;
    while (c->all != NULL) {
        mag_delete_locked(c, c->all);
    }
    fa_pool_destroy(&c->pool);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* ---- reserve, trim, walk ---- */

int fa_cache_reserve(fa_cache *c, size_t n)
{
    if (!cache_ok(c)) {
        return EINVAL;
    }
    depot_lock(c);
    int err = fa_pool_reserve(&c->pool, n);
    depot_unlock(c);
    return err;
}

size_t fa_cache_trim(fa_cache *c)
{
    if (!cache_ok(c)) {
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
    if (!cache_ok(c)) {
        return;
    }
    fa_registry_lock();
    depot_lock(c);
    for (fa_tentry *e = c->entries; e != NULL; e = e->reg_next) {
        entry_unfold(e);
        entry_flush_locked(c, e, false);
        entry_publish_locked(e);
    }
    depot_drain_locked(c);
    fa_pool_walk(&c->pool, fn, arg);
    depot_unlock(c);
    fa_registry_unlock();
}

/* ---- stats ---- */

/* Adds one entry's counters: the caller's own exactly, another thread's
 * as of its last depot visit. */
static void stats_add_entry(fa_cache_counters *s, const fa_tentry *e, bool own)
{
    if (own) {
        size_t held = (e->prev != NULL ? e->prev->n : 0) +
                      (e->base != NULL ? (size_t)(e->top - e->base)
                                       : (e->loaded ? e->loaded->n : 0));
        s->allocs += e->allocs;
        s->frees += entry_frees(e, held);
        s->alloc_depot += e->alloc_miss;
        s->free_depot += e->free_miss;
        s->in_threads += held;
    } else {
        s->allocs += e->pub_allocs;
        s->frees += e->pub_frees;
        s->alloc_depot += e->pub_alloc_miss;
        s->free_depot += e->pub_free_miss;
        s->in_threads += e->pub_held;
    }
}

void fa_cache_stats(fa_cache *c, fa_cache_counters *out)
{
    memset(out, 0, sizeof *out);
    if (!cache_ok(c)) {
        return;
    }
    const fa_tentry *self = fa_thread_entry_peek(c);
    fa_registry_lock();
    pthread_mutex_lock(&c->lock);
    fa_pool_stats(&c->pool, &out->pool);
    out->allocs = c->dead_allocs;
    out->frees = c->dead_frees;
    out->alloc_depot = c->dead_alloc_miss;
    out->free_depot = c->dead_free_miss;
    for (const fa_tentry *e = c->entries; e != NULL; e = e->reg_next) {
        stats_add_entry(out, e, e == self);
    }
    out->threads = c->nentries;
    out->live = (size_t)(out->allocs - out->frees);
    out->in_depot = c->full_rounds;
    out->depot_full = c->nfull;
    out->depot_empty = c->nempty;
    out->magazines = c->nmags;
    out->magazine_rounds = c->rounds;
    out->magazine_rounds_max = c->rounds_max;
    out->depot_max = c->depot_max;
    out->full_gets = c->full_gets;
    out->full_puts = c->full_puts;
    out->empty_gets = c->empty_gets;
    out->empty_puts = c->empty_puts;
    out->pool_fills = c->pool_fills;
    out->pool_flushes = c->pool_flushes;
    out->depot_visits = c->visits;
    out->depot_contended = c->contended;
    out->resizes = c->resizes;
    pthread_mutex_unlock(&c->lock);
    fa_registry_unlock();
}

static double percent(uint64_t part, uint64_t whole)
{
    return whole != 0 ? 100.0 * (double)part / (double)whole : 0.0;
}

void fa_cache_stats_print(const fa_cache_counters *s, FILE *f)
{
    fprintf(f,
            "fixalloc cache '%s'\n"
            "  live objects     %zu\n"
            "  allocs / frees   %" PRIu64 " / %" PRIu64 "\n"
            "  magazine hits    %.2f%% of allocs, %.2f%% of frees\n"
            "  cached objects   %zu in %zu threads, %zu in the depot\n"
            "  magazines        %zu of %zu rounds (max %zu); depot %zu full, "
            "%zu empty (max %zu)\n"
            "  depot traffic    %" PRIu64 " visits (%" PRIu64 " waited), "
            "full %" PRIu64 " out / %" PRIu64 " in, empty %" PRIu64
            " out / %" PRIu64 " in\n"
            "  pool traffic     %" PRIu64 " rounds filled, %" PRIu64
            " flushed; %" PRIu64 " resizes\n",
            s->pool.name ? s->pool.name : "unnamed", s->live, s->allocs,
            s->frees, 100.0 - percent(s->alloc_depot, s->allocs),
            100.0 - percent(s->free_depot, s->frees), s->in_threads,
            s->threads, s->in_depot, s->magazines, s->magazine_rounds,
            s->magazine_rounds_max, s->depot_full, s->depot_empty,
            s->depot_max, s->depot_visits, s->depot_contended, s->full_gets,
            s->full_puts, s->empty_gets, s->empty_puts, s->pool_fills,
            s->pool_flushes, s->resizes);
    fa_stats_print(&s->pool, f);
}

/* ---- check ---- */

static bool broken(const fa_cache *c, const void *addr, const char *what)
{
    fa_report(FA_ERR_CORRUPT, &c->pool, addr, what);
    return false;
}

/* Every one of the n rounds is a slot start in one of the pool's chunks. */
static bool rounds_ok(const fa_cache *c, const fa_mag *m, size_t n)
{
    if (n > m->cap) {
        return broken(c, m, "a magazine holds more rounds than it can");
    }
    for (size_t i = 0; i < n; i++) {
        const fa_chunk *ch = fa_chunk_of(&c->pool, m->rounds[i]);
        if (ch->magic != FA_CHUNK_MAGIC || ch->pool != &c->pool ||
            (char *)m->rounds[i] < fa_chunk_base(&c->pool, ch)) {
            return broken(c, m->rounds[i], "a magazine holds a round that "
                                           "is not the pool's");
        }
    }
    return true;
}

static bool depot_ok_locked(const fa_cache *c)
{
    size_t n = 0, rounds = 0;
    for (const fa_mag *m = c->full; m != NULL; m = m->next, n++) {
        if (m->n == 0) {
            return broken(c, m, "an empty magazine on the full list");
        }
        if (!rounds_ok(c, m, m->n)) {
            return false;
        }
        rounds += m->n;
    }
    if (n != c->nfull || rounds != c->full_rounds) {
        return broken(c, c, "the depot's full list is miscounted");
    }
    n = 0;
    for (const fa_mag *m = c->empty; m != NULL; m = m->next, n++) {
        if (m->n != 0) {
            return broken(c, m, "a magazine with rounds on the empty list");
        }
    }
    if (n != c->nempty) {
        return broken(c, c, "the depot's empty list is miscounted");
    }
    n = 0;
    for (const fa_mag *m = c->all; m != NULL; m = m->all_next) {
        n++;
    }
    return n == c->nmags || broken(c, c, "the magazine list is miscounted");
}

/* A thread's magazines: rounds of the pool; previous empty or full. */
static bool entry_ok(const fa_cache *c, const fa_tentry *e)
{
    const fa_mag *m = e->loaded;
    if (m != NULL) {
        size_t n = e->base != NULL ? (size_t)(e->top - e->base) : m->n;
        if (!rounds_ok(c, m, n)) {
            return false;
        }
    } else if (e->prev != NULL || e->base != NULL) {
        return broken(c, e, "a thread has a previous magazine but no loaded one");
    }
    m = e->prev;
    if (m != NULL && m->n != 0 && m->n != m->cap) {
        return broken(c, m, "a thread's previous magazine is partial");
    }
    return m == NULL || rounds_ok(c, m, m->n);
}

bool fa_cache_check(fa_cache *c)
{
    if (!cache_ok(c)) {
        return false;
    }
    fa_registry_lock();
    pthread_mutex_lock(&c->lock);
    bool ok = depot_ok_locked(c);
    for (const fa_tentry *e = c->entries; ok && e != NULL; e = e->reg_next) {
        ok = entry_ok(c, e);
    }
    ok = ok && fa_pool_check(&c->pool);
    pthread_mutex_unlock(&c->lock);
    fa_registry_unlock();
    return ok;
}
