/*
 * cache.c - fa_cache: a pool per thread, remote frees in batches, a depot
 * of empty chunks. docs/design.md, "The cache".
 */
#include "cache_impl.h"

#include <errno.h>
#include <string.h>

/* Empty chunks a thread's pool keeps for itself by default; the rest go
 * to the depot. */
#define FA_KEEP_EMPTY_DEFAULT ((size_t)1)
/* By default the depot keeps as many empty chunks as hold this many
 * bytes, and at least FA_DEPOT_MIN. */
#define FA_DEPOT_BYTES ((size_t)4 << 20)
#define FA_DEPOT_MIN ((size_t)4)
/* Objects freed into another thread's pool that an outbox gathers before
 * it goes, by default and at most. */
#define FA_BATCH_DEFAULT ((size_t)64)
#define FA_BATCH_LIMIT ((size_t)1 << 16)
/* A thread's slow paths of one cache between two sweeps of its entry. */
#define FA_SWEEP_TICKS 64
/* How long an empty chunk beyond the kept ones stays unused in a thread's
 * pool, or in the depot, before it moves on, by default. */
#define FA_DECAY_MS ((size_t)50)
/* A cache's chunk, when its config names none and its pages come from the
 * OS, holds at least this many objects, up to FA_CACHE_CHUNK_MAX bytes
 * (cache_chunk_size). */
#define FA_CACHE_CHUNK_OBJECTS ((size_t)4096)
#define FA_CACHE_CHUNK_MAX ((size_t)1 << 20)

/* ---- remote frees (the outbox and inbox themselves: cache_remote.c) ---- */

/* An object of pool `to` (another thread's) freed by e's thread: into the
 * outbox, carried by the newest carrier (the chain's head) or a new
 * carrier itself (only that object is written), which goes when it is full
 * or when the next object is for another pool. */
static inline void free_remote(const fa_cache *c, fa_tentry *e, fa_pool *to,
                               void *obj)
{
    if (FA_UNLIKELY(e->out_to != to)) {
        fa_outbox_send(e);
        e->out_to = to;
        e->out_tail = obj; /* the batch's first object: its oldest carrier */
    }
    fa_carrier *head = e->out_head;
    if (c->carry != 0 && head != NULL && head->n < c->carry) {
        head->objs[head->n++] = obj;
    } else {
        fa_carrier *k = obj;
        k->next = head;
        if (c->carry != 0) {
            k->n = 0;
        }
        e->out_head = k;
    }
    e->sent++;
    if (FA_UNLIKELY(++e->out_n >= c->batch)) {
        fa_outbox_send(e);
    }
}

/* ---- the entry ---- */

/* Everything a thread's entry owes the others, and the memory it need not
 * keep: the outbox goes, the inbox comes in, empty chunks beyond `keep`
 * leave. */
static void settle(fa_cache *c, fa_tentry *e, size_t keep)
{
    fa_outbox_send(e);
    fa_inbox_take(e);
    fa_depot_shed(c, &e->pool, keep);
    fa_entry_publish(e);
}

/* Notes the pool's empty chunks for its decay window (its slow paths). */
static void note_empty(fa_tentry *e)
{
    size_t n = fa_pool_empty_chunks(&e->pool);
    if (n < e->low_empty) {
        e->low_empty = n;
    }
}

/* A thread's last look at its quiet entries, ns. */
static _Thread_local uint64_t tls_quiet_look;

/* An entry of the calling thread for a cache it has not swept for two
 * decay times (a size class it stopped using): what it owes goes, and its
 * empty chunks beyond the kept ones leave, as a closing window would. */
static void settle_quiet(fa_tentry *e, void *arg)
{
    uint64_t now = *(const uint64_t *)arg;
    fa_cache *c = e->cache;
    if (now - e->last_sweep < 2 * c->decay_ns) {
        return;
    }
    settle(c, e, c->keep_empty);
    e->low_empty = fa_pool_empty_chunks(&e->pool);
    e->last_sweep = e->window_start = now;
    e->window_sweeps = 0;
}

/*
 * Every FA_SWEEP_TICKS slow paths of a thread: the settling above, where
 * the empty chunks that leave are those that stayed unused for a whole
 * decay window (the pool's low-water mark of empty chunks, beyond the
 * kept ones), so that a burst's chunks stay for the next burst while a
 * pool that stopped growing gives them back; and the depot's decay.
 */
static void sweep(fa_cache *c, fa_tentry *e)
{
    e->sweep_in = FA_SWEEP_TICKS - 1;
    note_empty(e);
    uint64_t now = fa_os_now_ns();
    size_t keep = SIZE_MAX;
    bool closes = ++e->window_sweeps >= FA_WINDOW_SWEEPS &&
                  now - e->window_start >= c->decay_ns;
    if (closes) {
        size_t idle =
            e->low_empty > c->keep_empty ? e->low_empty - c->keep_empty : 0;
        keep = fa_pool_empty_chunks(&e->pool) - idle;
    }
    settle(c, e, keep);
    if (closes) {
        e->low_empty = fa_pool_empty_chunks(&e->pool);
        e->window_start = now;
        e->window_sweeps = 0;
    }
    fa_depot_decay(c, now);
    e->last_sweep = now;
    /* Once a decay time, the thread's other caches: one it stopped using
     * gets no sweep of its own. */
    if (now - tls_quiet_look >= c->decay_ns) {
        tls_quiet_look = now;
        fa_thread_each_entry(settle_quiet, &now);
    }
}

/* Sets up a zero entry for c: its pool, then its place on c's list. */
static bool entry_bind(fa_cache *c, fa_tentry *e)
{
    if (fa_pool_init_like(&e->pool, &c->cfg, &c->direct.pool) != 0) {
        return false;
    }
    fa_pool_untrack_peak(&e->pool);
    e->cache = c;
    e->toff = c->toff;
    e->window_start = e->last_sweep = fa_os_now_ns();
    e->sweep_in = FA_SWEEP_TICKS - 1;
    fa_registry_bind(c, e);
    return true;
}

/* The calling thread's entry for c, bound; NULL when the thread is exiting
 * or has no table (the caller then uses the direct entry). */
static fa_tentry *bound_entry(fa_cache *c)
{
    fa_tentry *e = fa_tentry_at(c->toff);
    if (FA_LIKELY(e->cache == c)) {
        return e;
    }
    e = fa_thread_entry(c);
    if (e == NULL || (e->cache != c && !entry_bind(c, e))) {
        return NULL;
    }
    return e;
}

/* The pool of this cache that holds obj, or NULL after a report. */
static fa_pool *owner_of(fa_cache *c, void *obj)
{
    const void *hdr = (const void *)((uintptr_t)obj & ~(c->chunk_size - 1));
    if (fa_chunkmap_has(hdr) && fa_is_chunk_header(hdr)) {
        fa_pool *p = fa_pool_of_header(hdr);
        if (p == &c->direct.pool || fa_entry_of_pool(p)->cache == c) {
            return p;
        }
    }
    fa_report(FA_ERR_FOREIGN, FA_OBJ_CACHE, c->cfg.name, obj,
              "no pool of this cache holds it");
    return NULL;
}

/* ---- the direct entry: checked caches, exiting threads ---- */

static void *alloc_direct(fa_cache *c)
{
    pthread_mutex_lock(&c->lock);
    void *obj = fa_pool_alloc(&c->direct.pool);
    c->direct_calls++;
    pthread_mutex_unlock(&c->lock);
    return obj;
}

static void free_direct(fa_cache *c, void *obj)
{
    pthread_mutex_lock(&c->lock);
    fa_pool_free(&c->direct.pool, obj);
    c->direct_calls++;
    pthread_mutex_unlock(&c->lock);
}

/* ---- the slow paths ---- */

static __attribute__((noinline)) void *alloc_slow(fa_cache *c)
{
    if (!fa_cache_ok(c)) {
        errno = EINVAL;
        return NULL;
    }
    fa_tentry *e = c->mode == FA_MODE_THREADS ? bound_entry(c) : NULL;
    if (e == NULL) {
        return alloc_direct(c);
    }
    /* The pool's list ran dry: what other threads freed comes in first,
     * then a chunk of the depot before the source is asked for one. */
    if (atomic_load_explicit(&e->inbox, memory_order_relaxed) != NULL) {
        fa_inbox_take(e);
    }
    if (fa_pool_needs_chunk(&e->pool) && !fa_depot_take(c, &e->pool) &&
        c->owner != NULL) {
        fa_depot_take_sibling(c, e);
    }
    void *obj = fa_pool_alloc(&e->pool);
    note_empty(e);
    if (--e->sweep_in < 0) {
        sweep(c, e);
    } else {
        fa_entry_publish(e);
    }
    return obj;
}

static __attribute__((noinline)) void free_other(fa_cache *c, void *obj);

/* The thread's own object in another of its chunks, on a sweep's turn. */
static FA_COLD void free_own_sweep(fa_tentry *e, void *obj, void *chunk)
{
    fa_pool_free_owned(&e->pool, obj, chunk);
    sweep(e->cache, e);
}

/* The thread's own object, in chunk `chunk` of e's pool other than the
 * current one: the pool's slow free, and every FA_SWEEP_TICKS slow paths
 * a sweep. */
static inline void free_own(fa_tentry *e, void *obj, void *chunk)
{
    if (FA_UNLIKELY(--e->sweep_in < 0)) {
        free_own_sweep(e, obj, chunk);
        return;
    }
    fa_pool_free_owned(&e->pool, obj, chunk);
}

/* A free past the fast path of obj, whose chunk `chunk` the map shows
 * with a header naming pool `to`: first the common case, the thread's own
 * object in another of its chunks (an unbound entry's pool is named by none),
 * then another thread's object for the pool the outbox is gathering for
 * (checked to be this cache's when the outbox began). */
static inline void free_mapped(fa_cache *c, fa_tentry *e, fa_pool *to,
                               void *obj, void *chunk)
{
    if (FA_LIKELY(to == &e->pool)) {
        free_own(e, obj, chunk);
        return;
    }
    if (to == e->out_to) {
        free_remote(c, e, to, obj);
        return;
    }
    free_other(c, obj);
}

/* Past the fast path of e, the calling thread's entry of c (not NULL).
 * NULL is let go in free_other: no chunk starts at 0. The arguments come
 * in the order fa_cache_free has them, and the header found is passed on
 * to the pool: a slow free computes nothing twice. */
static __attribute__((noinline)) void free_slow(fa_cache *c, void *obj,
                                                fa_tentry *e)
{
    void *hdr = (void *)((uintptr_t)obj & c->chunk_mask);
    if (FA_LIKELY(fa_chunkmap_has(hdr))) { /* then hdr is a chunk header */
        free_mapped(c, e, fa_pool_of_header(hdr), obj, hdr);
        return;
    }
    free_other(c, obj);
}

/* Makes the entry at table offset toff, in the calling thread's own table,
 * its guess for `key` (fa_cache_guess). */
static inline void guess_put(size_t key, size_t toff)
{
    fa_ttab *t = (fa_ttab *)(void *)fa_tls_table;
    t->guess[key] = (uint32_t)(toff - FA_TOFF_FIRST);
}

void fa_cache_free_keyed(fa_pool *to, void *obj, void *chunk, size_t key,
                         const fa_pool *guess)
{
    fa_tentry *owner = fa_entry_of_pool(to);
    if (FA_LIKELY(to == guess)) { /* its fast free was tried */
        free_own(owner, obj, chunk);
        return;
    }
    size_t toff = owner->toff;
    fa_tentry *e = fa_tentry_at(toff);
    if (FA_LIKELY(e == owner)) { /* bound, in the thread's own table */
        guess_put(key, toff);
        if (fa_pool_try_free(to, obj)) {
            return;
        }
        free_own(e, obj, chunk);
        return;
    }
    /* Another thread's object: the guess only where the thread has an
     * entry of that cache (bound, so its table is its own; the shared
     * all-zero table is never written). */
    if (e->cache != NULL) {
        guess_put(key, toff);
    }
    free_mapped(owner->cache, e, to, obj, chunk);
}

/* Every other free past the fast path: checked caches, objects of other
 * threads' pools, foreign pointers, calls of threads without a pool. */
static __attribute__((noinline)) void free_other(fa_cache *c, void *obj)
{
    if (obj == NULL) {
        return;
    }
    if (!fa_cache_ok(c)) {
        return;
    }
    if (c->mode == FA_MODE_DIRECT) {
        free_direct(c, obj);
        return;
    }
    fa_pool *to = owner_of(c, obj);
    if (to == NULL) {
        return;
    }
    if (to == &c->direct.pool) {
        free_direct(c, obj);
        return;
    }
    fa_tentry *e = bound_entry(c);
    if (e == NULL) {
        fa_inbox_push_one(c, fa_entry_of_pool(to), obj); /* an exiting thread */
        pthread_mutex_lock(&c->lock);
        c->direct.sent++;
        pthread_mutex_unlock(&c->lock);
        return;
    }
    free_remote(c, e, to, obj);
}

/* ---- the public calls ---- */

/* A NULL handle goes to the slow paths, which report it (one test and a
 * branch never taken on the fast path). */
void *fa_cache_alloc(fa_cache *c)
{
    void *obj;
    if (FA_LIKELY(c != NULL && fa_cache_pop_fast(c->toff, &obj))) {
        return obj;
    }
    return alloc_slow(c);
}

/* NULL takes no fast free (fa_pool_try_free) and is let go in free_other. */
void fa_cache_free(fa_cache *c, void *obj)
{
    if (FA_LIKELY(c != NULL)) {
        fa_tentry *e = fa_tentry_at(c->toff);
        if (FA_LIKELY(fa_pool_try_free(&e->pool, obj))) {
            return;
        }
        free_slow(c, obj, e);
        return;
    }
    (void)fa_cache_ok(c); /* the report */
}

size_t fa_cache_alloc_bulk(fa_cache *c, void **out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = fa_cache_alloc(c);
        if (out[i] == NULL) {
            return i;
        }
    }
    return n;
}

void fa_cache_free_bulk(fa_cache *c, void *const *objs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fa_cache_free(c, objs[i]);
    }
}

/* ---- the registry's hooks ---- */

/* Thread exit (registry lock held): nothing stays in the outbox, and the
 * pool keeps no empty chunk; its objects still live keep it, and the
 * table waits for the next new thread. */
static void retire_entry(fa_cache *c, fa_tentry *e)
{
    settle(c, e, 0);
}

static void fork_lock(fa_cache *c)
{
    pthread_mutex_lock(&c->lock);
    pthread_mutex_lock(&c->source_lock);
}

static void fork_unlock(fa_cache *c)
{
    pthread_mutex_unlock(&c->source_lock);
    pthread_mutex_unlock(&c->lock);
}

static const fa_entry_ops entry_ops = {
    .retire = retire_entry,
    .lock = fork_lock,
    .unlock = fork_unlock,
};

/* ---- create, destroy ---- */

static bool options_valid(const fa_cache_options *opt)
{
    return opt == NULL || opt->remote_batch <= FA_BATCH_LIMIT;
}

static void cache_tuning(fa_cache *c, const fa_cache_options *opt)
{
    static const fa_cache_options defaults;
    opt = opt != NULL ? opt : &defaults;
    c->keep_empty = opt->thread_empty_chunks != 0 ? opt->thread_empty_chunks
                                                  : FA_KEEP_EMPTY_DEFAULT;
    size_t bytes = opt->depot_bytes != 0 ? opt->depot_bytes : FA_DEPOT_BYTES;
    c->depot_max = bytes / c->chunk_size;
    if (opt->depot_bytes == 0 && c->depot_max < FA_DEPOT_MIN) {
        c->depot_max = FA_DEPOT_MIN;
    }
    c->batch = opt->remote_batch != 0 ? opt->remote_batch : FA_BATCH_DEFAULT;
    /* The object's own bytes (not the slot's): a tool may guard the rest. */
    size_t words = c->cfg.size / sizeof(void *);
    c->carry = words > 2 ? (uint32_t)(words - 2) : 0;
    size_t ms = opt->decay_ms != 0 ? opt->decay_ms : FA_DECAY_MS;
    c->decay_ns = (uint64_t)ms * 1000000u;
}

/*
 * The chunk size of a cache whose config names none: the pool's default
 * (64 KiB, or 32 slots), grown to hold FA_CACHE_CHUNK_OBJECTS objects, up
 * to FA_CACHE_CHUNK_MAX (a heap class's chunk); 0 keeps the default. A
 * remote free lands in the owner's current chunk, on its fast path, only
 * when the objects on their way back (a queue between two threads, the
 * batches) fit in one chunk: a queue of 1024 objects of 256 B spans four
 * 64 KiB chunks, and its frees took the slow path into another chunk and
 * switched the current chunk back and forth (design.md, "The cache's
 * chunk size"). A bigger chunk costs address space, not memory: carving
 * touches a page at a time, and trim discards free pages inside chunks.
 * Pages a caller's source hands out, and a max_bytes under eight of the
 * grown chunks, keep the pool's default.
 */
static size_t cache_chunk_size(const fa_config *cfg)
{
    /* Objects above 16 KiB: the pool's default (32 slots) is as big. */
    if (cfg->chunk_size != 0 || cfg->source != NULL ||
        cfg->size > FA_CACHE_CHUNK_MAX / 64) {
        return cfg->chunk_size;
    }
    size_t want = cfg->size * FA_CACHE_CHUNK_OBJECTS;
    size_t chunk = FA_CACHE_CHUNK_MAX;
    while (chunk > FA_CHUNK_DEFAULT && chunk / 2 >= want) {
        chunk /= 2;
    }
    if (chunk <= FA_CHUNK_DEFAULT ||
        (cfg->max_bytes != 0 && cfg->max_bytes / 8 < chunk)) {
        return 0; /* the pool's default */
    }
    return chunk;
}

/* The config of every pool of c: the caller's, through the counted
 * source, with the cap counted there. */
static void cache_config(fa_cache *c, const fa_config *cfg)
{
    c->cfg = *cfg;
    c->cfg.chunk_size = cache_chunk_size(cfg);
    c->inner = cfg->source != NULL ? *cfg->source : *fa_os_source();
    c->max_bytes = cfg->max_bytes;
    c->counted = fa_cache_counted_source(c);
    c->cfg.source = &c->counted;
    c->cfg.max_bytes = 0;
}

static void cache_free_record(fa_cache *c)
{
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->source_lock);
    fa_os_record_free(c->depot);
    fa_os_record_free(c);
}

fa_cache *fa_cache_create_opts(const fa_config *cfg,
                               const fa_cache_options *opt)
{
    if (cfg == NULL || !options_valid(opt) ||
        (cfg->source != NULL &&
         (cfg->source->map == NULL || cfg->source->unmap == NULL))) {
        errno = EINVAL;
        return NULL;
    }
    /* Own cache lines: the fast paths of every thread read toff. */
    fa_cache *c = fa_os_record_alloc(sizeof(fa_cache), 64);
    if (c == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    fa_os_lock_init(&c->lock);
    pthread_mutex_init(&c->source_lock, NULL);
    cache_config(c, cfg);
    int err = fa_pool_init(&c->direct.pool, &c->cfg);
    if (err == 0 && cfg->max_bytes != 0 &&
        cfg->max_bytes < fa_pool_chunk_size(&c->direct.pool)) {
        fa_pool_destroy(&c->direct.pool);
        err = EINVAL;
    }
    if (err != 0) {
        cache_free_record(c);
        errno = err;
        return NULL;
    }
    c->chunk_size = fa_pool_chunk_size(&c->direct.pool);
    c->chunk_mask = ~(uintptr_t)(c->chunk_size - 1);
    c->mode =
        fa_pool_is_checked(&c->direct.pool) ? FA_MODE_DIRECT : FA_MODE_THREADS;
    cache_tuning(c, opt);
    c->depot =
        fa_os_record_alloc((c->depot_max + 1) * sizeof(void *), sizeof(void *));
    err = c->depot == NULL ? ENOMEM : fa_registry_add(c, &entry_ops);
    if (err != 0) {
        fa_pool_destroy(&c->direct.pool);
        cache_free_record(c);
        errno = err;
        return NULL;
    }
    c->direct.cache = c;
    c->direct.toff = c->toff;
    c->direct.direct = true;
    c->magic = FA_CACHE_MAGIC;
    return c;
}

fa_cache *fa_cache_create(const fa_config *cfg)
{
    return fa_cache_create_opts(cfg, NULL);
}

static void cache_destroy(fa_cache *c, bool region)
{
    if (c == NULL || !fa_cache_ok(c)) {
        return;
    }
    void (*destroy)(fa_pool *) =
        region ? fa_pool_destroy_region : fa_pool_destroy;
    c->magic = 0;
    fa_registry_lock();
    while (c->entries != NULL) {
        fa_tentry *e = fa_list_entry(c->entries, fa_tentry, reg_link);
        /* A pool that a fork froze may be half-changed: its chunks stay. */
        if (!fa_entry_frozen_locked(e)) {
            destroy(&e->pool);
        }
        fa_entry_unbind_locked(e);
    }
    fa_registry_unlock();
    fa_registry_remove(c);
    fa_depot_drain(c);
    destroy(&c->direct.pool);
    cache_free_record(c);
}

void fa_cache_destroy(fa_cache *c)
{
    cache_destroy(c, false);
}

void fa_cache_destroy_region(fa_cache *c)
{
    cache_destroy(c, true);
}

/* ---- reserve, trim, walk ---- */

int fa_cache_reserve(fa_cache *c, size_t n)
{
    if (!fa_cache_ok(c)) {
        return EINVAL;
    }
    fa_tentry *e = c->mode == FA_MODE_THREADS ? bound_entry(c) : NULL;
    if (e != NULL) {
        return fa_pool_reserve(&e->pool, n);
    }
    pthread_mutex_lock(&c->lock);
    int err = fa_pool_reserve(&c->direct.pool, n);
    pthread_mutex_unlock(&c->lock);
    return err;
}

size_t fa_cache_trim(fa_cache *c)
{
    if (!fa_cache_ok(c)) {
        return 0;
    }
    size_t bytes = 0;
    fa_tentry *self = fa_tentry_at(c->toff);
    if (self->cache == c) {
        fa_outbox_send(self);
        fa_inbox_take(self);
        bytes += fa_pool_trim(&self->pool);
        fa_entry_publish(self);
    }
    /* The pools of exited threads: their inboxes may have filled since. */
    fa_registry_lock();
    for (fa_list_node *n = c->entries; n != NULL; n = n->next) {
        fa_tentry *e = fa_list_entry(n, fa_tentry, reg_link);
        if (fa_entry_idle_locked(e)) {
            fa_inbox_take(e);
            bytes += fa_pool_trim(&e->pool);
            fa_entry_publish(e);
        }
    }
    fa_registry_unlock();
    bytes += fa_depot_drain(c);
    pthread_mutex_lock(&c->lock);
    bytes += fa_pool_trim(&c->direct.pool);
    pthread_mutex_unlock(&c->lock);
    return bytes;
}

/* Calls fn on every entry of c that no fork froze (registry lock held). */
static void each_entry_locked(fa_cache *c, void (*fn)(fa_tentry *e))
{
    for (fa_list_node *n = c->entries; n != NULL; n = n->next) {
        fa_tentry *e = fa_list_entry(n, fa_tentry, reg_link);
        if (!fa_entry_frozen_locked(e)) {
            fn(e);
        }
    }
}

static void collect(fa_tentry *e)
{
    fa_inbox_take(e);
    fa_entry_publish(e);
}

void fa_cache_walk(fa_cache *c, void (*fn)(void *obj, void *arg), void *arg)
{
    if (!fa_cache_ok(c)) {
        return;
    }
    fa_registry_lock();
    pthread_mutex_lock(&c->lock);
    /* Every object on its way back reaches its pool first: every outbox
     * goes, then every inbox comes in. */
    each_entry_locked(c, fa_outbox_send);
    each_entry_locked(c, collect);
    fa_inbox_take(&c->direct);
    for (fa_list_node *n = c->entries; n != NULL; n = n->next) {
        fa_tentry *e = fa_list_entry(n, fa_tentry, reg_link);
        if (!fa_entry_frozen_locked(e)) {
            fa_pool_walk(&e->pool, fn, arg);
        }
    }
    fa_pool_walk(&c->direct.pool, fn, arg);
    pthread_mutex_unlock(&c->lock);
    fa_registry_unlock();
}
