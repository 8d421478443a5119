/*
 * cache_impl.h - the cache's types, registry interface and inline fast paths.
 * docs/design.md, "The cache".
 */
#ifndef FIXALLOC_CACHE_IMPL_H
#define FIXALLOC_CACHE_IMPL_H

#include "pool_impl.h"

#include <pthread.h>
#include <stdalign.h>

#define FA_CACHE_MAGIC UINT32_C(0x68636166) /* "fach" */

/*
 * A magazine: a LIFO stack of object pointers ("rounds"). While it is the
 * loaded magazine of a thread in fast mode, its round count lives in the
 * thread's entry (top - base) and `n` is stale.
 */
typedef struct fa_mag {
    struct fa_mag *next;   /* on a depot list (full or empty), a
                            * stack: singly linked */
    fa_list_node all_link; /* on the cache's list of every magazine */
    uint32_t n;            /* rounds held */
    uint32_t cap;          /* rounds it can hold */
    void *rounds[];
} fa_mag;

/*
 * A thread's entry for one cache: its two magazines and its counters.
 * Owned by one thread, which reads and writes it without a lock. Others
 * write it only when that thread cannot be using the cache (destroy and
 * walk, under the registry lock; the fork child, alone).
 *
 * Counting: every free pushes one round and every alloc pops one; the slow
 * paths move rounds in from the depot or pool and out to them, and count
 * the net in `mag_net`. So for the rounds held now,
 *     held = mag_net + frees - allocs,
 * and only `allocs` needs counting on the fast path: frees are derived.
 */
typedef struct fa_tentry {
    /* hot: the loaded magazine, fast mode only (all NULL otherwise, which
     * sends every call to the slow path) */
    void **top;      /* the next free round */
    void **base;     /* loaded->rounds; top == base: empty */
    void **limit;    /* base + loaded->cap; top == limit: full */
    uint64_t allocs; /* allocations through this entry */
    /* cold, owner only */
    fa_mag *loaded;      /* NULL only while prev is NULL too */
    fa_mag *prev;        /* NULL, empty or full: never partial */
    int64_t mag_net;     /* rounds moved in - moved out, slow paths */
    uint64_t alloc_miss; /* allocations that visited the depot */
    uint64_t free_miss;  /* frees that visited the depot */
    /* registry lock: binding */
    struct fa_cache *cache; /* the cache bound; NULL: unbound */
    fa_list_node reg_link;  /* on the cache's list of bound entries */
    /* depot lock: the counters as of the owner's last depot visit, read by
     * fa_cache_stats for threads other than the caller */
    uint64_t pub_allocs, pub_frees, pub_alloc_miss, pub_free_miss;
    size_t pub_held;
} fa_tentry;

/* Caches that may exist at once: each has an index into every thread's
 * table. */
#define FA_CACHE_SLOTS FA_CACHE_MAX

/* Byte size of one entry in a table: whole cache lines, so that the hot
 * words of an entry share one line. */
#define FA_TENTRY_SIZE ((sizeof(fa_tentry) + 63) / 64 * 64)

/*
 * A thread's table: a header, then FA_CACHE_SLOTS entries of
 * FA_TENTRY_SIZE bytes, mapped from the OS source on the thread's first
 * slow path (untouched pages cost nothing). Threads without one point at a
 * static all-zero table, whose entries send every call to the slow path.
 */
typedef struct fa_ttab {
    fa_list_node link; /* every table, under the registry lock */
    alignas(64) char entries[FA_CACHE_SLOTS * FA_TENTRY_SIZE];
} fa_ttab;

/* Bytes mapped for one table: the next power of two. */
#define FA_TTAB_MAP ((size_t)1 << 18)
_Static_assert(sizeof(fa_ttab) <= FA_TTAB_MAP, "a thread table must fit");

/* How a cache uses its magazines (chosen at create from the pool's mode). */
enum fa_cache_mode {
    FA_MODE_FAST,  /* fast paths on: a hit is a push or pop, inline */
    FA_MODE_SLOW,  /* magazines, but through the slow path: per-object work
                    * (FA_ZERO clears, tracking annotates) */
    FA_MODE_DIRECT /* no magazines: every call reaches the pool under the
                    * depot lock, so checked mode sees every free */
};

struct fa_cache {
    /* read-only after create; the first line is all the fast paths read */
    size_t toff;       /* byte offset of this cache's entry in a
                        * thread table */
    uint32_t magic;    /* FA_CACHE_MAGIC */
    uint32_t id;       /* index in every thread's table */
    uint8_t mode;      /* enum fa_cache_mode */
    bool adaptive;     /* magazine size grows with contention */
    bool depot_auto;   /* depot_max follows the magazine size */
    size_t rounds_max; /* largest magazine, in rounds */
    size_t depot_max;  /* most full (or empty) magazines kept */
    void *owner;       /* the heap whose class this is, or NULL */

    /* registry lock */
    fa_list_node *entries; /* threads bound to this cache (tentry) */
    size_t nentries;

    /* depot lock: the depot, the pool, the totals; own cache lines */
    alignas(64) pthread_mutex_t lock;
    fa_mag *full;  /* magazines holding rounds (full, or
                    * partly full from an exiting thread) */
    fa_mag *empty; /* magazines holding none */
    size_t nfull, nempty;
    size_t full_rounds; /* rounds in `full` */
    fa_list_node *all;  /* every magazine of the cache */
    size_t nmags;
    size_t rounds; /* size of new magazines */
    /* depot traffic and contention */
    uint64_t full_gets, full_puts, empty_gets, empty_puts;
    uint64_t pool_fills, pool_flushes;  /* rounds from and to the pool */
    uint64_t visits, contended;         /* depot lock acquisitions, and waits */
    uint64_t win_visits, win_contended; /* the current resize window */
    uint64_t resizes;
    /* totals of entries no longer bound, and of calls without an entry */
    uint64_t dead_allocs, dead_frees, dead_alloc_miss, dead_free_miss;
    fa_pool pool; /* behind the depot */
};

/* ---- cache_thread.c: the registry of caches and per-thread tables ---- */

/*
 * What the registry asks of the cache layer when a thread leaves or the
 * process forks. The cache layer hands these to fa_registry_add, so the
 * registry calls no function of cache.c by name (no call circle).
 */
typedef struct fa_entry_ops {
    /* Thread exit: moves the entry's magazines and counters into c's
     * depot (registry lock held; takes c's depot lock). */
    void (*retire)(struct fa_cache *c, fa_tentry *e);
    /* Fork child: drops a vanished thread's entry, keeping its counters
     * (registry and depot locks held). */
    void (*abandon_locked)(struct fa_cache *c, fa_tentry *e);
    /* Fork: c's depot lock (registry lock held, ascending ids). */
    void (*lock)(struct fa_cache *c);
    void (*unlock)(struct fa_cache *c);
} fa_entry_ops;

/* The calling thread's table (as char *, entries at + c->toff), or the
 * shared all-zero table. initial-exec: one load from the thread pointer,
 * no call, also in the shared library. */
extern _Thread_local char *fa_tls_table
    __attribute__((tls_model("initial-exec")));

/* The calling thread's entry at table offset `toff` (a cache's toff). */
static inline fa_tentry *fa_tentry_at(size_t toff)
{
    return (fa_tentry *)(void *)(fa_tls_table + toff);
}

/* Gives c an id and its table offset; 0, or EAGAIN when FA_CACHE_SLOTS
 * caches exist. `ops` (static storage) is the same for every cache. */
int fa_registry_add(struct fa_cache *c, const fa_entry_ops *ops);
/* Unbinds every entry of c (their magazines are the cache's to free) and
 * frees its id. */
void fa_registry_remove(struct fa_cache *c);
/* The calling thread's entry for c, bound; NULL when the thread is exiting
 * or its table cannot be had (the caller then goes to the depot). */
fa_tentry *fa_thread_entry(struct fa_cache *c);
/* The calling thread's entry for c when it is bound, else NULL. */
fa_tentry *fa_thread_entry_peek(const struct fa_cache *c);
void fa_registry_lock(void);
void fa_registry_unlock(void);
/* Zeroes an entry's magazine state and unlinks it from its cache
 * (registry lock held). */
void fa_entry_unbind_locked(fa_tentry *e);

/* ---- shared by cache.c and cache_stats.c ---- */

/* Frees through an entry, from held = mag_net + frees - allocs. */
static inline uint64_t fa_entry_frees(const fa_tentry *e, size_t held)
{
    return (uint64_t)((int64_t)held - e->mag_net) + e->allocs;
}

/* Rounds in an unfolded entry's magazines. */
static inline size_t fa_entry_held(const fa_tentry *e)
{
    return (e->loaded != NULL ? e->loaded->n : 0) +
           (e->prev != NULL ? e->prev->n : 0);
}

/* Whether c is a live cache: FA_HANDLE_OK for caches. */
static inline bool fa_cache_ok(const struct fa_cache *c)
{
    return FA_HANDLE_OK(c, FA_CACHE_MAGIC, FA_OBJ_CACHE);
}

/* ---- the cache's interface to the heap ---- */

/*
 * The fast paths, on the calling thread's entry at table offset `toff`
 * (a cache's fa_cache_toff): pop a round of the loaded magazine, or push
 * one onto it. False is a miss: the caller goes to fa_cache_alloc or
 * fa_cache_free, whose slow paths handle it. Unbound entries, entries
 * without a loaded magazine and caches not in fast mode have top == base
 * == limit == NULL, so they always miss.
 */
static inline bool fa_cache_pop_fast(size_t toff, void **out)
{
    fa_tentry *e = fa_tentry_at(toff);
    void **top = e->top;
    if (FA_LIKELY(top != e->base)) {
        e->allocs++;
        e->top = top - 1;
        *out = top[-1];
        return true;
    }
    return false;
}

static inline bool fa_cache_push_fast(size_t toff, void *obj)
{
    fa_tentry *e = fa_tentry_at(toff);
    void **top = e->top;
    if (FA_LIKELY(top != e->limit)) {
        *top = obj;
        e->top = top + 1;
        return true;
    }
    return false;
}

/* The entry offset of cache c in every thread's table. */
static inline size_t fa_cache_toff(const struct fa_cache *c)
{
    return c->toff;
}

/* The cache whose pool is p (every cache embeds its pool). */
static inline struct fa_cache *fa_cache_of_pool(const fa_pool *p)
{
    return (struct fa_cache *)(void *)((char *)(uintptr_t)p -
                                       offsetof(struct fa_cache, pool));
}

/* The owner a heap gave its class cache (fa_cache_set_owner), or NULL. */
static inline void *fa_cache_owner(const struct fa_cache *c)
{
    return c->owner;
}

static inline void fa_cache_set_owner(struct fa_cache *c, void *owner)
{
    c->owner = owner;
}

/* The cache's pool, for the heap's checks and sizes. */
static inline const fa_pool *fa_cache_pool(const struct fa_cache *c)
{
    return &c->pool;
}

#endif /* FIXALLOC_CACHE_IMPL_H */
