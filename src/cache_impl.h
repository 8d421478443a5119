/*
 * cache_impl.h - the cache's types, registry interface and inline fast paths.
 * docs/design.md, "The cache".
 */
#ifndef FIXALLOC_CACHE_IMPL_H
#define FIXALLOC_CACHE_IMPL_H

#include "pool_impl.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>

#define FA_CACHE_MAGIC UINT32_C(0x68636166) /* "fach" */

/*
 * An entry: one thread's share of one cache, in that thread's table. The
 * thread allocates from its own pool and frees its own objects into it
 * with the pool's fast paths; an object of another thread's pool goes out
 * in a batch to that pool's inbox. Every chunk belongs to exactly one
 * entry's pool (or to the cache's direct entry, or to the depot), and its
 * header points at that pool, so `fa_entry_of_pool(chunk's pool)` is its
 * owner from any thread.
 *
 * Counting, for the entry's pool:
 *   pool live = objects allocated from it and not back in it
 *             = (live in the program) + (in some thread's outbox, or in
 *               this inbox, on their way back),
 * so the cache's live objects are the sum of its pools' live less the
 * objects in flight: sent - taken, summed over the entries.
 */
typedef struct fa_tentry {
    /* the owner (or, for a table no thread owns, the registry lock) */
    fa_pool pool;           /* first: the fast paths use the entry as it */
    struct fa_cache *cache; /* the cache bound; NULL: unbound, all zero */
    size_t toff;            /* the cache's entry offset, for fa_free */
    bool direct;            /* the cache's direct entry (not in a table) */
    fa_pool *out_to;        /* where the outbox goes; NULL: empty */
    void *out_head;         /* remote frees: a chain of carriers (cache.c,
                             * "remote frees"), first and last */
    void *out_tail;
    uint32_t out_n;         /* objects in the outbox */
    int32_t sweep_in;       /* slow paths left before the next sweep:
                             * below 0, sweep (one decrement and a sign
                             * test a slow path) */
    size_t low_empty;       /* fewest empty chunks the pool had in this
                             * decay window */
    uint64_t window_start;  /* when this decay window began, ns */
    uint32_t window_sweeps; /* sweeps in it */
    uint64_t last_sweep;    /* when the owner last swept it, ns */
    uint64_t sent;          /* objects this thread freed into others' pools */
    uint64_t taken;         /* objects taken from the inbox into the pool */
    /* the registry lock */
    fa_list_node reg_link; /* on the cache's list of bound entries */
    /* written by the owner at its slow paths, read by fa_cache_stats */
    _Atomic uint64_t pub_allocs, pub_live, pub_sent, pub_taken;
    /* any thread: objects freed by other threads into this pool, a
     * stack of batches linked through first words */
    alignas(64) _Atomic(void *) inbox;
} fa_tentry;

/* Guesses a table keeps for fa_free (a power of two). */
#define FA_GUESSES 64

/* Caches that may exist at once: each has an index into every table. */
#define FA_CACHE_SLOTS FA_CACHE_MAX

/* Byte size of one entry in a table: whole cache lines. */
#define FA_TENTRY_SIZE ((sizeof(fa_tentry) + 63) / 64 * 64)

/*
 * A thread's table: a header, then FA_CACHE_SLOTS entries of
 * FA_TENTRY_SIZE bytes, mapped from the OS on the thread's first slow path
 * (untouched pages cost nothing) and never unmapped: when its thread
 * exits, the table waits for the next new thread, which takes it over with
 * every pool in it. Chunk headers point into tables, so a table must
 * outlive every object of its pools. Threads without a table point at a
 * static all-zero table, whose entries miss on every call and are never
 * written.
 */
typedef struct fa_ttab {
    fa_list_node link; /* every table (registry lock) */
    bool idle;         /* its thread exited; on the idle list */
    bool frozen;       /* fork child: its thread vanished mid-call */
    fa_list_node idle_link;
    /* fa_free's guesses (fa_cache_guess): entry offsets past the first
     * entry, by a key the heap takes from the pointer's address. Written
     * only by the table's thread; a quarter page in, away from the page
     * offsets of both the entries and a chunk's first slots. */
    alignas(1024) uint32_t guess[FA_GUESSES];
    /* Entries start half a page in: a chunk's first slot, the one a hot
     * alloc-free pair uses, lies 64 bytes into a page, and a pool's fast
     * fields at the same page offset would make each load of them wait
     * on the store to the object's link (4 KiB aliasing; design.md,
     * "The cache", has the figures). */
    alignas(2048) char entries[FA_CACHE_SLOTS * FA_TENTRY_SIZE];
} fa_ttab;

/* Bytes mapped for one table: the next power of two. */
#define FA_TTAB_MAP ((size_t)1 << 20)
_Static_assert(sizeof(fa_ttab) <= FA_TTAB_MAP, "a thread table must fit");

/* How a cache serves its calls (chosen at create from the pool's mode). */
enum fa_cache_mode {
    FA_MODE_THREADS, /* a pool per thread, remote frees in batches */
    FA_MODE_DIRECT   /* one pool under the cache's lock: checked mode, so
                      * that every free meets the checks at once */
};

struct fa_cache {
    /* read-only after create; toff is all the fast paths read */
    size_t toff;       /* byte offset of this cache's entry in a table */
    uint32_t magic;    /* FA_CACHE_MAGIC */
    uint32_t id;       /* index in every thread's table */
    uint8_t mode;      /* enum fa_cache_mode */
    uint32_t carry;    /* pointers a carrier of a batch holds */
    size_t keep_empty; /* empty chunks a thread's pool keeps */
    size_t depot_max;  /* empty chunks the depot keeps */
    size_t batch;      /* objects an outbox gathers before it goes */
    uint64_t decay_ns; /* how long an empty chunk stays unused before it
                        * leaves a thread's pool or the depot */
    size_t chunk_size;
    uintptr_t chunk_mask;        /* ~(chunk_size - 1) */
    size_t max_bytes;            /* 0: unlimited */
    fa_config cfg;               /* for every pool: source = &counted */
    fa_source inner;             /* the caller's source, or the OS */
    fa_source counted;           /* inner, serialised and counted */
    void *owner;                 /* the heap whose class this is, or NULL */
    _Atomic size_t held;         /* bytes from inner: chunks of every pool and
                                  * of the depot */
    _Atomic uint64_t given_back; /* bytes given back to inner, ever */

    /* the registry lock */
    fa_list_node *entries; /* entries of threads' tables bound to it */
    size_t nentries;

    /* the source lock: calls of inner (a caller's source need not be
     * thread-safe) */
    pthread_mutex_t source_lock;

    /* the cache lock: the depot, the direct entry, the totals */
    alignas(64) pthread_mutex_t lock;
    void **depot; /* depot_max empty chunks at most */
    size_t ndepot;
    size_t depot_low;      /* fewest chunks it held in this decay window */
    uint64_t depot_window; /* when that window began, ns */
    uint32_t depot_sweeps; /* sweeps of any thread in it */
    uint64_t depot_gets, depot_puts, released;
    uint64_t direct_calls; /* calls served by the direct entry */
    size_t peak_seen;      /* the most live objects (on their way back
                            * too) a stats call found */
    fa_tentry direct;      /* DIRECT mode's pool; in THREADS mode, the
                            * pool of threads that have exited */
};

/* ---- cache_thread.c: the registry of caches and per-thread tables ---- */

/* The calling thread's table (as char *, entries at + c->toff), or the
 * shared all-zero table. initial-exec: one load from the thread pointer,
 * no call, also in the shared library. */
extern FA_HIDDEN _Thread_local char *fa_tls_table
    __attribute__((tls_model("initial-exec")));

/* The table offset of the first entry: a toff that is always an entry's,
 * bound or all zero (a first guess before any cache is known). */
#define FA_TOFF_FIRST offsetof(fa_ttab, entries)

/* The calling thread's entry at table offset `toff` (a cache's toff). */
static inline fa_tentry *fa_tentry_at(size_t toff)
{
    return (fa_tentry *)(void *)(fa_tls_table + toff);
}

/*
 * Guesses of the calling thread's entry for an object, by a key below
 * FA_GUESSES that its caller derives from the object's address (the heap:
 * the chunk's number). A guess is only a guess: the entry's pool takes the
 * object on its fast path only if the object lies in its current chunk,
 * which proves it. The all-zero table's guesses name its first entry,
 * which is all zero and matches nothing, and are never written.
 */
static inline fa_tentry *fa_cache_guess(size_t key)
{
    const fa_ttab *t = (const fa_ttab *)(const void *)fa_tls_table;
    return fa_tentry_at(FA_TOFF_FIRST + t->guess[key]);
}

/*
 * What the registry asks of the cache layer when a thread leaves or the
 * process forks. The cache layer hands these to fa_registry_add, so the
 * registry calls no function of cache.c by name (no call circle).
 */
typedef struct fa_entry_ops {
    /* Thread exit: sends the entry's outbox, takes its inbox and gives
     * its empty chunks back (registry lock held). */
    void (*retire)(struct fa_cache *c, fa_tentry *e);
    /* Fork: c's locks (registry lock held, ascending ids). */
    void (*lock)(struct fa_cache *c);
    void (*unlock)(struct fa_cache *c);
} fa_entry_ops;

/* Gives c an id and its table offset; 0, or EAGAIN when FA_CACHE_SLOTS
 * caches exist. `ops` (static storage) is the same for every cache. */
int fa_registry_add(struct fa_cache *c, const fa_entry_ops *ops);
/* Frees c's id; every entry must be unbound already. */
void fa_registry_remove(struct fa_cache *c);
/* The calling thread's entry at c's offset, bound or not; NULL when the
 * thread is exiting or its table cannot be had. */
fa_tentry *fa_thread_entry(const struct fa_cache *c);
/* Calls fn(e, arg) on every bound entry of the calling thread's table
 * (registry lock held meanwhile); nothing for a thread without a table. */
void fa_thread_each_entry(void (*fn)(fa_tentry *e, void *arg), void *arg);
/* Links a freshly set-up entry onto c's list of bound entries. */
void fa_registry_bind(struct fa_cache *c, fa_tentry *e);
void fa_registry_lock(void);
void fa_registry_unlock(void);
/* Zeroes an entry and unlinks it from its cache (registry lock held). */
void fa_entry_unbind_locked(fa_tentry *e);
/* Whether the entry may be touched by a thread other than its owner's:
 * its table's thread exited (and no fork froze it). Registry lock held. */
bool fa_entry_idle_locked(const fa_tentry *e);
/* Whether the entry's table was frozen by a fork: never touched again. */
bool fa_entry_frozen_locked(const fa_tentry *e);

/* A decay window closes when it lasted the decay time and saw this many
 * sweeps (64 x 64 slow paths of the pool): time alone would count a pause
 * of the program between two bursts as disuse, and the first sweep after
 * it would give back what the next burst is about to use. */
#define FA_WINDOW_SWEEPS 64

/* ---- cache_depot.c: the depot of empty chunks (the cache lock inside) ---- */

/* Gives p's empty chunks beyond `keep` to the depot, or, past its bound,
 * back to the source. The caller owns p's entry. */
void fa_depot_shed(struct fa_cache *c, fa_pool *p, size_t keep);
/* A chunk from the depot for a pool that would map one; false when the
 * depot has none. */
bool fa_depot_take(struct fa_cache *c, fa_pool *p);
/* For a heap's class: an empty chunk of another class of the same heap, from
 * the calling thread's pool of that class or its depot, into e's pool. */
void fa_depot_take_sibling(struct fa_cache *c, fa_tentry *e);
/* Ends the depot's decay window when it is due: the chunks it held unused
 * all the window go back to the source. Any thread's sweep calls it. */
void fa_depot_decay(struct fa_cache *c, uint64_t now);
/* Gives every depot chunk back to the source; the bytes. */
size_t fa_depot_drain(struct fa_cache *c);

/* ---- shared by cache.c and cache_stats.c ---- */

/* Whether c is a live cache: FA_HANDLE_OK for caches. */
static inline bool fa_cache_ok(const struct fa_cache *c)
{
    return FA_HANDLE_OK(c, FA_CACHE_MAGIC, FA_OBJ_CACHE);
}

/* The entry whose pool is p: every pool of a cache is an entry's. */
static inline fa_tentry *fa_entry_of_pool(const fa_pool *p)
{
    return (fa_tentry *)(void *)(uintptr_t)p;
}

/* Makes the entry's counters visible to fa_cache_stats in other threads
 * (the owner, at its slow paths). */
static inline void fa_entry_publish(fa_tentry *e)
{
    const fa_pool *p = &e->pool;
    const memory_order rel = memory_order_relaxed;
    atomic_store_explicit(&e->pub_allocs, fa_pool_allocs(p), rel);
    atomic_store_explicit(&e->pub_live, fa_pool_live(p), rel);
    atomic_store_explicit(&e->pub_sent, e->sent, rel);
    atomic_store_explicit(&e->pub_taken, e->taken, rel);
}

/* ---- the cache's interface to the heap ---- */

/*
 * The allocation fast path, on the calling thread's entry at table offset
 * `toff` (a cache's fa_cache_toff): the pool's own, in its variant that
 * writes nothing on a miss, since the entry may be the shared all-zero
 * one. False is a miss: the caller goes to fa_cache_alloc, whose slow path
 * handles it. (The free's is fa_pool_try_free on the entry, after a NULL
 * test: an all-zero pool's last byte is 0.)
 */
static inline bool fa_cache_pop_fast(size_t toff, void **out)
{
    return fa_pool_try_alloc(&fa_tentry_at(toff)->pool, out);
}

/* The entry offset of cache c in every thread's table. */
static inline size_t fa_cache_toff(const struct fa_cache *c)
{
    return c->toff;
}

/* The cache that owns pool p (for the heap, which finds p in a chunk
 * header). */
static inline struct fa_cache *fa_cache_of_pool(const fa_pool *p)
{
    return fa_entry_of_pool(p)->cache;
}

/* fa_free of obj past its guess: obj, not NULL, lies in chunk `chunk`,
 * which the heap's address map shows and whose header names `to`, a pool
 * of a class cache; `guess` is the pool fa_cache_guess(key) named, whose
 * fast free did not take obj. When `to` is the guess, obj is the thread's
 * own, in another of its chunks (a guess names an entry of the calling
 * thread's table, and a chunk a bound entry's pool): the pool's slow free
 * at once. Otherwise the guess for `key` becomes the calling thread's
 * entry of that cache, and the free goes through the cache. */
void fa_cache_free_keyed(fa_pool *to, void *obj, void *chunk, size_t key,
                         const fa_pool *guess);

/* fa_cache_destroy for a heap's class cache: live objects die with it, as
 * with the heap, without a leak report. */
void fa_cache_destroy_region(struct fa_cache *c);

/* The owner a heap gave its class cache (fa_cache_set_owner), or NULL. */
static inline void *fa_cache_owner(const struct fa_cache *c)
{
    return c->owner;
}

static inline void fa_cache_set_owner(struct fa_cache *c, void *owner)
{
    c->owner = owner;
}

/* Whether the cache's pools are checked (every call under the lock). */
static inline bool fa_cache_is_checked(const struct fa_cache *c)
{
    return fa_pool_is_checked(&c->direct.pool);
}

static inline bool fa_cache_is_tracked(const struct fa_cache *c)
{
    return fa_pool_is_tracked(&c->direct.pool);
}

/* Bytes the cache holds from its source: chunks of every pool and of the
 * depot. */
static inline size_t fa_cache_bytes_held(const struct fa_cache *c)
{
    return atomic_load_explicit(&c->held, memory_order_relaxed);
}

/* The source every pool of c maps through (cache_source.c): c->inner,
 * serialised by the source lock, its bytes counted in `held` against
 * max_bytes; pages discarded stay mapped, so they stay counted. */
fa_source fa_cache_counted_source(fa_cache *c);

/*
 * A batch of remote frees (cache_remote.c) is a chain of carriers: objects of
 * the batch whose first words hold the next carrier, the number of pointers
 * they carry and those pointers, to the batch's other objects (`c->carry` of
 * them, as many as an object of the cache's size holds; none below 24
 * bytes, where each object is a carrier of nothing). So the thread that
 * frees writes into one object in carry + 1, and the owner reads those
 * only: the other objects' lines, last written by their owner and only
 * read since, are not pulled over to the freeing thread's cache and back.
 */
typedef struct fa_carrier {
    struct fa_carrier *next;
    size_t n;      /* present when the cache's carry > 0 */
    void *objs[1]; /* n of them */
} fa_carrier;

/* Sends obj, of c, alone to entry to's inbox (a freeing thread without
 * an entry of its own). */
void fa_inbox_push_one(const fa_cache *c, fa_tentry *to, void *obj);
/* Sends e's outbox to its pool's inbox (nothing when empty). */
void fa_outbox_send(fa_tentry *e);
/* Frees every object other threads sent to e's pool into it. The caller
 * owns e (or holds the registry lock for an idle entry). */
void fa_inbox_take(fa_tentry *e);

#endif /* FIXALLOC_CACHE_IMPL_H */
