/*
 * fixalloc.h - allocation of fixed-size objects: the whole public API.
 *
 * A pool (fa_pool) hands out objects of one size. It takes memory from a
 * page source (the OS by default) in large chunks, carves each chunk into
 * equal slots and keeps freed slots on intrusive free lists: a free slot's
 * first word is the link, so an object carries no header. docs/design.md is
 * the theory of operation.
 *
 * Thread safety: an fa_pool is not synchronized. The caller serializes all
 * calls on one pool (one thread, or a lock), exactly as the Go runtime does
 * with its fixalloc. Different pools are independent.
 *
 * Free slots: the first word (sizeof(void *) bytes) of a free slot holds
 * the free-list link, so it is overwritten when an object is freed, and
 * also while a slot waits to be handed out for the first time (after
 * `first` ran). The allocator clears it when it hands the object out: an
 * object's first word always reads as zero at allocation. Every other byte
 * of a freed object keeps its value (checked mode poisons it; FA_ZERO
 * clears it).
 */
#ifndef FIXALLOC_H
#define FIXALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(FIXALLOC_BUILD) && defined(__GNUC__)
#define FA_API __attribute__((visibility("default")))
#else
#define FA_API
#endif

#define FIXALLOC_VERSION_MAJOR 0
#define FIXALLOC_VERSION_MINOR 1
#define FIXALLOC_VERSION_PATCH 0

/* ---------------------------------------------------------------------
 * Limits
 * ------------------------------------------------------------------- */

/* The largest alignment a pool accepts (also the smallest chunk size). */
#define FA_ALIGN_MAX ((size_t)4096)
/* The smallest and largest chunk sizes. Chunks are powers of two. */
#define FA_CHUNK_MIN ((size_t)4096)
#define FA_CHUNK_MAX ((size_t)1 << 30)
/* Bytes at the start of every chunk taken by its header. A pool whose
 * source can discard pages follows it with a map of one bit per page (per
 * chunk_size / 1024 bytes in chunks above 4 MiB of 4 KiB pages: at most
 * 128 bytes), and a checked pool with a bit per slot; fa_pool_stats'
 * slots_per_chunk counts what is left. */
#define FA_CHUNK_HEADER ((size_t)64)

/* ---------------------------------------------------------------------
 * Page sources: where a pool gets its chunks
 * ------------------------------------------------------------------- */

/*
 * A page source hands out and takes back big aligned blocks of memory.
 *
 * map(ctx, size, align, zeroed) returns `size` bytes aligned to `align`
 * (both powers of two, align <= size), or NULL when it has none; it sets
 * *zeroed to true when the block is known to read as zeros (fresh pages from
 * the OS), which spares the pool from clearing it again.
 * unmap(ctx, mem, size) takes back a block that map returned, whole.
 * discard(ctx, mem, size), optional, gives back the memory of whole pages
 * inside a block the pool keeps (fa_pool_trim calls it on page runs of a
 * chunk that hold no live object); the range stays the pool's, and what it
 * reads afterwards does not matter. NULL: pages inside a chunk are never
 * given back, only whole chunks. The OS source's discard is
 * madvise(MADV_DONTNEED).
 *
 * A pool copies the fa_source at init; `ctx` must outlive the pool. A source
 * is called only from within calls on the pools that use it: a source shared
 * by pools used from several threads must lock itself.
 */
typedef struct fa_source {
    void *(*map)(void *ctx, size_t size, size_t align, bool *zeroed);
    void (*unmap)(void *ctx, void *mem, size_t size);
    void *ctx;
    void (*discard)(void *ctx, void *mem, size_t size); /* may be NULL */
} fa_source;

/* The operating system: mmap and munmap. Used when a config names no source. */
FA_API const fa_source *fa_os_source(void);

/*
 * A caller's buffer as a page source: no OS call is ever made, for embedded
 * and real-time use. Blocks are cut from the buffer at the alignment asked
 * for; a block given back is kept on a list inside the buffer and handed out
 * again to a request of the same size. Not synchronized.
 */
typedef struct fa_static_source {
    fa_source source; /* pass &s.source as fa_config.source */
    /* private: */
    char *next; /* the uncut part of the buffer: [next, end) */
    char *end;
    void *returned; /* blocks given back, linked through their first words */
    bool zeroed;    /* the uncut part reads as zeros */
} fa_static_source;

/* Flag for fa_static_source_init: the buffer reads as zeros (static storage).
 */
#define FA_STATIC_ZEROED 1u

/* Returns 0, or EINVAL when buf is NULL or flags has unknown bits. */
FA_API int fa_static_source_init(fa_static_source *s, void *buf, size_t len,
                                 unsigned flags);

/* ---------------------------------------------------------------------
 * Configuration
 * ------------------------------------------------------------------- */

/* Every object handed out reads as zeros. Memory fresh from a source that
 * says it is zeroed is not cleared again. Cannot be combined with `first`. */
#define FA_ZERO 0x1u
/* Checked mode: detects double frees, foreign and interior pointers, writes
 * to freed objects (freed slots are poisoned and verified on reuse),
 * corrupted free-list links, and objects still live at destroy; each is
 * reported through the error handler. The environment variable
 * FIXALLOC_CHECK=1 (set to anything but empty or 0) turns it on for every
 * pool, cache and heap created afterwards. Costs a
 * bitmap of one bit per slot, and time on every call. */
#define FA_CHECKED 0x2u
/* Hardened mode: free-list links are stored encoded with a per-pool secret
 * and their own address (as glibc's safe-linking does) and verified when
 * followed, so an overwrite of a freed object cannot steer the allocator to
 * an address of the attacker's choosing. */
#define FA_HARDENED 0x4u

/* One config struct: zero-initialised fields mean defaults. */
typedef struct fa_config {
    /* Object size in bytes (required, > 0). The slot is max(size, one
     * pointer) rounded up to the alignment, or to a pointer's alignment
     * when that is larger (the free-list link must be aligned). */
    size_t size;
    /* A power of two up to FA_ALIGN_MAX; 0 means 16 for sizes >= 16 and 8
     * below. */
    size_t align;
    /* A power of two from FA_CHUNK_MIN to FA_CHUNK_MAX holding at least one
     * slot after the header; 0 means the smallest power of two of at least
     * 64 KiB that holds 32 slots (capped at FA_CHUNK_MAX); a cache
     * may pick a bigger one (fa_cache_create). */
    size_t chunk_size;
    /* Most bytes the pool may hold from its source; 0 means unlimited. A
     * limit below one chunk is refused. */
    size_t max_bytes;
    /* FA_ZERO and friends; unknown bits are refused. */
    unsigned flags;
    /* Called once per slot, when the slot is first carved from its chunk,
     * never on reuse. */
    void (*first)(void *arg, void *obj);
    /* Called on each slot that was ever carved when its chunk goes back to
     * the source (trim, destroy). */
    void (*release)(void *arg, void *obj);
    void *arg;
    /* NULL means the OS (fa_os_source()). */
    const fa_source *source;
    /* For stats and error messages; NULL means "unnamed". Not copied: it
     * must outlive the pool. */
    const char *name;
} fa_config;

/* ---------------------------------------------------------------------
 * Statistics
 * ------------------------------------------------------------------- */

typedef struct fa_stats {
    const char *name;
    size_t object_size; /* as configured */
    size_t slot_size;   /* bytes one object takes in a chunk */
    size_t chunk_size;
    size_t slots_per_chunk;
    size_t chunks;          /* chunks held now */
    size_t bytes_held;      /* bytes held from the source now */
    size_t live;            /* objects allocated and not freed */
    size_t peak_live;       /* most objects live at once */
    uint64_t allocs;        /* successful allocations, ever */
    uint64_t frees;         /* frees, ever */
    uint64_t bytes_trimmed; /* bytes given back to the source by trim */
} fa_stats;

/* Writes a readable multi-line dump of *s to f. */
FA_API void fa_stats_print(const fa_stats *s, FILE *f);

/* ---------------------------------------------------------------------
 * Errors: detected misuse goes through one handler
 * ------------------------------------------------------------------- */

typedef enum fa_error_kind {
    FA_ERR_FOREIGN = 1, /* a pointer that no chunk of this pool (or no heap)
                         * holds; fa_free_sized: a size the object cannot
                         * have */
    FA_ERR_INTERIOR,    /* a pointer into the middle of a slot or of a large
                         * object */
    FA_ERR_DOUBLE_FREE, /* an object freed twice */
    FA_ERR_WRITE_AFTER_FREE, /* a freed object was written to */
    FA_ERR_CORRUPT,          /* a broken free list, or a broken invariant of a
                              * pool, cache or heap; a misaligned block from a
                              * page source */
    FA_ERR_LEAK,             /* objects still live at destroy */
    FA_ERR_BAD_POOL          /* a pool, cache or heap handle that is not set up,
                              * or destroyed; fa_heap_destroy of the default
                              * heap */
} fa_error_kind;

typedef struct fa_error {
    fa_error_kind kind;
    const char *pool;   /* the name of the pool, cache or heap concerned;
                         * "unnamed" when it has none or is not known */
    const void *addr;   /* the address concerned */
    const char *detail; /* one line saying what happened */
    const char *object; /* what `pool` names: "pool", "cache" or "heap" */
} fa_error;

/* Called on detected misuse. The default prints
 *   fixalloc: <kind> in <object> '<name>' at <addr>: <detail>
 * to stderr and aborts (<object> is `object`, <name> is `pool`). A handler
 * that returns makes the offending call do nothing (a bad free is
 * ignored). The handler may be called with a lock of the library held (a
 * cache's lock, when its pool finds the misuse; the heaps' large-block
 * lock in fa_heap_check): one that returns must not call the cache or heap
 * that reported, and should call no cache or heap at all. */
typedef void (*fa_error_handler)(const fa_error *err);

/* Installs a handler (NULL restores the default); returns the previous one. */
FA_API fa_error_handler fa_set_error_handler(fa_error_handler h);

/* The short name of an error kind, as printed ("double free", ...). */
FA_API const char *fa_error_kind_name(fa_error_kind kind);

/* ---------------------------------------------------------------------
 * The pool
 * ------------------------------------------------------------------- */

struct fa_chunk;
struct fa_list_node;

/*
 * A complete type so that it can be embedded in a caller's struct or put in
 * static storage. Its fields are private: use the functions.
 */
typedef struct fa_pool {
    /* private, fast-path state, one cache line: */
    void *fast_free;     /* free list of the current chunk */
    ptrdiff_t avail;     /* allocations the fast path may make */
    uintptr_t fast_base; /* the current chunk's address */
    uintptr_t fast_span; /* chunk_size when the current chunk takes fast
                          * frees, else 0 */
    uintptr_t chunk_low; /* chunk_size - 1 */
    uint64_t allocs;
    /* private, geometry and callbacks: */
    uint32_t magic;
    unsigned flags;
    bool guarded;        /* checked, hardened or tracked: no fast paths */
    bool checked;        /* FA_CHECKED, or FIXALLOC_CHECK in the environment */
    bool tracked;        /* memory annotated for Valgrind or ASan */
    bool hardened_fast;  /* FA_HARDENED alone: a short guarded path */
    bool careful;        /* guarded or FA_ZERO: no fast free */
    uint8_t purge_shift; /* log2 of a trim unit inside a chunk; 0: none */
    uintptr_t link_key;  /* FA_HARDENED: the secret links are encoded with */
    void *registry;      /* checked mode: the set of this pool's chunks */
    size_t size, slot, chunk_size, nslots, first_offset;
    uint64_t slot_divisor; /* for exact division by slot size */
    size_t max_bytes;
    void (*first)(void *arg, void *obj);
    void (*release)(void *arg, void *obj);
    void *arg;
    fa_source source;
    const char *name;
    /* private, chunks: */
    struct fa_chunk *cur;
    struct fa_list_node *partial, *empty, *full; /* chunk lists */
    size_t fast_gap;     /* length of fast_free - avail */
    size_t headroom_gap; /* peak - live - avail */
    size_t nchunks;
    size_t nempty;      /* chunks on the empty list */
    size_t streak;      /* slow frees in a row, each near the one
                         * freed into its chunk before it */
    size_t others_live; /* live objects in chunks other than `cur` */
    size_t peak;
    uint64_t bytes_trimmed;
} fa_pool;

/* Returns 0, or EINVAL for a refused config: size 0; align not a power of
 * two or above FA_ALIGN_MAX; chunk_size not a power of two, outside
 * [FA_CHUNK_MIN, FA_CHUNK_MAX] or too small for one slot; an object too
 * large for the largest chunk; max_bytes below one chunk; unknown flags;
 * FA_ZERO with `first`; a source without map or unmap. ENOMEM when checked
 * mode cannot allocate its set of chunks. */
FA_API int fa_pool_init(fa_pool *p, const fa_config *cfg);

/* Returns an object, or NULL with errno ENOMEM when the source fails or
 * max_bytes is reached; the pool stays usable. Also NULL after a report:
 * errno EFAULT for a corrupted free-list link (checked, hardened or tracked
 * pools), EINVAL for a pool that is not initialised. */
FA_API void *fa_pool_alloc(fa_pool *p);

/* Gives an object back. NULL is a no-op. */
FA_API void fa_pool_free(fa_pool *p, void *obj);

/* Allocates up to n objects into out; returns how many (fewer than n only
 * when out of memory, with errno ENOMEM). */
FA_API size_t fa_pool_alloc_bulk(fa_pool *p, void **out, size_t n);

/* Frees n objects (NULL entries are skipped). */
FA_API void fa_pool_free_bulk(fa_pool *p, void *const *objs, size_t n);

/* Makes sure the next n allocations make no source call. Returns 0 or
 * ENOMEM (chunks obtained before the failure are kept). */
FA_API int fa_pool_reserve(fa_pool *p, size_t n);

/* Gives every chunk whose slots are all free back to the source, running
 * `release` on each of its slots that was ever carved; then, when the
 * source can discard pages and the pool has neither `first` nor `release`,
 * gives back the pages inside chunks that still hold live objects where no
 * live object lies (docs/design.md, "Purged pages"). Returns the bytes given
 * back. */
FA_API size_t fa_pool_trim(fa_pool *p);

/* Calls fn(obj, arg) once for each live object. fn must not allocate from
 * or free to the pool. */
FA_API void fa_pool_walk(fa_pool *p, void (*fn)(void *obj, void *arg),
                         void *arg);

/* Fills *out with the pool's counters. */
FA_API void fa_pool_stats(const fa_pool *p, fa_stats *out);

/* Verifies every chunk, free list and counter of the pool. Returns true
 * when all hold; otherwise reports the first broken one through the error
 * handler (FA_ERR_CORRUPT) and returns false. O(slots held). */
FA_API bool fa_pool_check(const fa_pool *p);

/* Gives every chunk back to the source (running `release` as trim does).
 * Objects still live are gone. The pool may be initialised again. */
FA_API void fa_pool_destroy(fa_pool *p);

/* ---------------------------------------------------------------------
 * The cache
 * ------------------------------------------------------------------- */

/*
 * A thread-safe cache of objects of one size: a pool per thread (after
 * mimalloc's thread-owned pages and Bonwick's depot). Each thread that uses
 * the cache allocates from chunks of its own, with the pool's fast paths:
 * no lock and no atomic instruction, and, since each chunk keeps its own
 * free list and is reset when it empties, allocations walk memory in
 * address order after frees in any order. An object may be freed by any
 * thread: a thread frees its own objects into its own pool, and gathers
 * another thread's objects in a small batch per destination that reaches
 * the owner's inbox with one compare-and-swap; the owner takes its inbox
 * in one exchange when its pool runs dry.
 *
 * Thread safety: alloc, free, their bulk forms, reserve, trim and stats may
 * be called from any number of threads at once. walk, check and destroy
 * may be called only while no other thread uses the cache.
 *
 * Cached memory is bounded and given back. Each pool tracks the fewest
 * empty chunks it had over a decay window, which closes after `decay_ms`
 * (default 50) and 4096 slow paths of the pool: the chunks that stayed
 * empty the whole window, beyond `thread_empty_chunks` (default 1), go to
 * the cache's depot. The depot keeps `depot_bytes` of empty chunks
 * (default 4 MiB, at least 4 chunks) for any thread, decays the same way,
 * and gives the rest back to the source; a pool takes the depot's chunks
 * before it maps one. At most `remote_batch` objects (default 64) wait in
 * a thread's outbox, and a thread sends it and takes its inbox at least
 * every 64 of its slow paths. When a thread exits, its outbox goes, its
 * inbox comes in, its empty chunks leave, and its pool, with the objects
 * other threads still hold, waits for the next new thread, which takes it
 * over; fa_cache_trim also takes such pools' inboxes and trims them. A
 * thread that stops calling the cache keeps its chunks until it exits or
 * trims. `max_bytes` caps the chunks of all the cache's pools and its
 * depot together; an allocation that meets it fails with ENOMEM after its
 * own inbox and the depot were used.
 *
 * Modes: FA_ZERO, hardened and tracked (Valgrind or ASan) caches work the
 * same way, each object passing through its pool's slow path. A checked
 * cache (FA_CHECKED, or FIXALLOC_CHECK=1) has one pool under a lock: every
 * call reaches it, so every misuse is detected at once. In the other modes
 * the fast paths check nothing: a foreign pointer or a double free is
 * detected only when the object's free leaves the fast path.
 *
 * Fork: a child process of fork() can use every cache. The pools of the
 * parent's other threads that were running may have been halfway through
 * a change: in the child they are frozen, never used again; their chunks
 * stay mapped and their objects counted live (fa_cache_stats counts them
 * in `frozen_pools`).
 *
 * Callbacks: `first` and `release` run in the thread whose pool carves or
 * gives back the chunk, a page source under the cache's source lock, and
 * the error handler where the misuse is found, possibly with the
 * library's registry lock or the cache's lock held. They must not call the
 * cache, and should call no cache or heap at all (docs/design.md, "Locks
 * and their order").
 */
typedef struct fa_cache fa_cache;

/* Caches that may exist at once. */
#define FA_CACHE_MAX 1024

/* Tuning of fa_cache_create_opts; zero fields mean defaults. */
typedef struct fa_cache_options {
    /* Empty chunks a thread's pool keeps for itself however long they
     * stay unused; 0 means 1. */
    size_t thread_empty_chunks;
    /* Bytes of empty chunks the depot keeps for any thread; 0 means
     * 4 MiB, and at least 4 chunks. */
    size_t depot_bytes;
    /* Objects of another thread's pool a thread gathers before it hands
     * them over; 0 means 64. At most 65536. */
    size_t remote_batch;
    /* Milliseconds an empty chunk beyond thread_empty_chunks stays unused
     * in a thread's pool, or in the depot, before it moves on (to the
     * depot, or back to the source); 0 means 50. */
    size_t decay_ms;
} fa_cache_options;

/* A cache's counters, merged over its pools on request. Counts of other
 * threads still running are as of their last slow path; those of the
 * calling thread and of threads that have exited are exact. */
typedef struct fa_cache_counters {
    fa_stats pool;          /* every pool of the cache and its depot,
                             * summed: chunks and bytes held; `live`
                             * counts objects on their way back too, and
                             * `peak_live` is the most `live` any stats
                             * call of the cache found (a cache counts
                             * no peak on its fast paths) */
    size_t live;            /* allocated from the cache and not freed */
    uint64_t allocs, frees; /* ever */
    uint64_t remote_frees;  /* frees into another thread's pool */
    size_t in_flight;       /* of them, objects not yet back in it */
    size_t threads;         /* running threads with a pool of the cache */
    size_t idle_pools;      /* pools of exited threads, for the next one */
    size_t frozen_pools;    /* pools a fork froze (in a child) */
    size_t depot_chunks;    /* empty chunks in the depot now */
    size_t depot_max;       /* at most */
    uint64_t depot_gets, depot_puts;
    uint64_t chunks_released;   /* empty chunks given back to the source
                                 * past the depot's bound */
    uint64_t direct_calls;      /* calls served under the cache's lock:
                                 * checked caches, and exiting threads */
    size_t thread_empty_chunks; /* the tuning in force */
    size_t remote_batch;
    size_t decay_ms;
} fa_cache_counters;

/* Returns a new cache, or NULL with errno EINVAL for a config that
 * fa_pool_init refuses (or remote_batch above 65536), ENOMEM, or
 * EAGAIN when FA_CACHE_MAX caches exist (the first cache may also fail with
 * the error of setting up the thread-exit key or the fork handlers). The config
 * is used as by fa_pool_init (`name` is not copied), but for `chunk_size`
 * 0 with pages from the OS: then a chunk holds at least 4096 objects, up
 * to 1 MiB (objects above 16 KiB, and caches whose max_bytes is under
 * eight such chunks, keep the pool's default), so that the objects a
 * thread has on their way back from other threads usually lie in its
 * current chunk. opt may be NULL. */
FA_API fa_cache *fa_cache_create(const fa_config *cfg);
FA_API fa_cache *fa_cache_create_opts(const fa_config *cfg,
                                      const fa_cache_options *opt);

/* Returns an object, or NULL with errno ENOMEM (see max_bytes above).
 * A NULL cache handle is reported (FA_ERR_BAD_POOL) by this and every
 * other call that takes one but fa_cache_destroy (a no-op): here NULL with
 * errno EINVAL, from the others 0, EINVAL or false. */
FA_API void *fa_cache_alloc(fa_cache *c);

/* Gives an object back; any thread may free any object of the cache.
 * NULL is a no-op. As with the pool, the object's first word is
 * overwritten when it is freed. */
FA_API void fa_cache_free(fa_cache *c, void *obj);

/* Allocates up to n objects into out; returns how many (fewer only when
 * out of memory, with errno ENOMEM). */
FA_API size_t fa_cache_alloc_bulk(fa_cache *c, void **out, size_t n);

/* Frees n objects (NULL entries are skipped). */
FA_API void fa_cache_free_bulk(fa_cache *c, void *const *objs, size_t n);

/* Makes sure the calling thread's pool can hand out n more objects without
 * a source call. Returns 0, ENOMEM, or EINVAL for a bad cache. */
FA_API int fa_cache_reserve(fa_cache *c, size_t n);

/* Sends the calling thread's outbox, takes its inbox and trims its pool;
 * takes the inboxes of exited threads' pools and trims them; gives the
 * depot's chunks back. Returns the bytes given back to the source. Other
 * running threads' pools are untouched. */
FA_API size_t fa_cache_trim(fa_cache *c);

/* Calls fn(obj, arg) once for each live object. Only while no other
 * thread uses the cache: every outbox and inbox is emptied into its pool
 * first. fn must not call the cache. */
FA_API void fa_cache_walk(fa_cache *c, void (*fn)(void *obj, void *arg),
                          void *arg);

/* Fills *out with the cache's counters, merged over its pools. */
FA_API void fa_cache_stats(fa_cache *c, fa_cache_counters *out);

/* Writes a readable dump of *s (the pools' sum too) to f. */
FA_API void fa_cache_stats_print(const fa_cache_counters *s, FILE *f);

/* Verifies every pool (fa_pool_check), every outbox and inbox (each
 * object is a pool's of this cache) and the depot. Only while no other
 * thread uses the cache. Reports the first broken invariant
 * (FA_ERR_CORRUPT) and returns false, or returns true. */
FA_API bool fa_cache_check(fa_cache *c);

/* Gives every chunk of every pool, the depot's too, back to the source.
 * Only while no other thread uses the cache; objects still live are gone.
 * NULL is a no-op. */
FA_API void fa_cache_destroy(fa_cache *c);

/* ---------------------------------------------------------------------
 * The heap
 * ------------------------------------------------------------------- */

/*
 * A heap hands out objects of any size, as malloc does. A request of up to
 * FA_SMALL_MAX bytes is rounded up to one of FA_SIZE_CLASSES size classes,
 * each served by an fa_cache of the heap (a pool per thread, with a
 * depot of empty chunks): an allocation, or a free of an object the
 * thread's own pool holds, takes no lock. A larger request gets a block of its
 * own from the heap's page source, with a header. Rounding up wastes at most
 * 12.5% of a request above 128 bytes, less than 16 bytes of a smaller one
 * and less than 8 of one up to 64 bytes (docs/design.md, "The heap", has
 * the table and its measured waste).
 *
 * Free without the size: every chunk of every heap is FA_HEAP_CHUNK bytes
 * aligned to its size, and every large block starts on such a boundary,
 * so fa_free finds what holds an object with one mask and reads its
 * header. fa_free, fa_free_sized, fa_realloc and fa_usable_size take an
 * object of any heap.
 *
 * Alignment: objects are aligned to 16 bytes, except requests of at most
 * 8, 17-24, 33-40 and 49-56 bytes, aligned to 8 (no C type of those sizes
 * needs more: a type aligned to 16 has a size that is a multiple of 16).
 * In libfixalloc-malloc, which replaces malloc, only requests of at most 8
 * are: C++ compilers assume 16 of operator new, as glibc gives.
 * fa_aligned_alloc takes any power of two up to FA_HEAP_ALIGN_MAX.
 *
 * Thread safety: allocation and free on any heap from any number of
 * threads; an object may be freed by any thread. fa_heap_destroy and
 * fa_heap_check only while no other thread uses the heap. The default
 * heap, which fa_malloc and friends use, is created on first use and
 * lives as long as the process.
 *
 * A heap is a region: fa_heap_destroy gives back everything it holds at
 * once, objects still live included.
 *
 * Limits: each heap takes FA_SIZE_CLASSES of the FA_CACHE_MAX cache ids, so
 * at most FA_CACHE_MAX / FA_SIZE_CLASSES heaps (16, the default heap
 * included) exist at once, fewer when other caches exist. Free memory
 * kept: each class is a cache, with its bounds (a thread's pool keeps one
 * empty chunk, the class's depot 4 MiB of empty chunks); fa_heap_trim
 * trims the calling thread's pools, the pools of exited threads and the
 * depots, and gives their free chunks back to the source.
 *
 * Modes: a checked heap (FA_CHECKED, or FIXALLOC_CHECK=1 in the
 * environment when it is created, the default heap included) has checked
 * caches: every call takes its class's lock, and fa_free reports double
 * frees, pointers that no heap holds, interior pointers and writes to
 * freed objects; fa_free_sized reports a size that is not the object's.
 * Without it, fa_free_sized, fa_realloc and fa_usable_size still report
 * a pointer that no heap holds (the heaps' address map is asked before its
 * memory is read), and so does fa_free past its fast path, which reads the
 * would-be header's magic first: a pointer whose FA_HEAP_CHUNK-aligned
 * address is not readable is undefined there, as with free. FA_HARDENED and
 * FA_ZERO apply to every class. Under Valgrind or ASan the class objects
 * are annotated at the granularity of their slot; under Valgrind large
 * objects are client blocks of their usable size.
 *
 * Page sources: the class pools of a heap call its source from several
 * threads at once (one class lock each): a caller's source must lock
 * itself. A large block asks the OS source for whole pages aligned to
 * FA_HEAP_CHUNK, and a caller's source for a power of two of at least
 * FA_HEAP_CHUNK bytes.
 */
typedef struct fa_heap fa_heap;

/* Requests above this many bytes are large: a block of their own. */
#define FA_SMALL_MAX ((size_t)32768)
/* Size classes of every heap. */
#define FA_SIZE_CLASSES 64
/* The chunk size of every heap's class pools (all heaps share it). */
#define FA_HEAP_CHUNK ((size_t)1024 * 1024)
/* The largest alignment fa_aligned_alloc takes. */
#define FA_HEAP_ALIGN_MAX (FA_HEAP_CHUNK / 2)

/* One config struct: zero fields (or a NULL config) mean defaults. */
typedef struct fa_heap_config {
    /* FA_ZERO (every object reads as zeros), FA_CHECKED, FA_HARDENED;
     * other bits are refused. */
    unsigned flags;
    /* Most bytes the heap may hold from its source, chunks and large
     * blocks together; 0 means unlimited. Allocations past it fail with
     * ENOMEM. */
    size_t max_bytes;
    /* NULL means the OS (fa_os_source()). */
    const fa_source *source;
    /* For stats and error messages (class pools are "<name>/<slot>");
     * NULL means "heap". Not copied: it must outlive the heap. */
    const char *name;
} fa_heap_config;

/* A heap's counters, merged over its classes (each as fa_cache_stats
 * merges its threads: exact for the calling thread and for threads that
 * have exited, as of their last depot visit for others). */
typedef struct fa_heap_counters {
    const char *name;
    size_t classes; /* FA_SIZE_CLASSES */
    size_t live;    /* objects allocated and not freed */
    size_t small_live, large_live;
    size_t live_bytes; /* usable bytes of the live objects */
    size_t cached;     /* freed objects on their way back to the pool
                        * of the thread that allocated them */
    size_t cached_bytes;
    size_t bytes_held;      /* bytes held from the source now: chunk_bytes
                             * + large_bytes + large_kept_bytes */
    size_t chunk_bytes;     /* of them, in class chunks */
    size_t large_bytes;     /* of them, in live large blocks */
    size_t max_bytes;       /* the cap; 0 for none */
    uint64_t allocs, frees; /* ever, small and large */
    uint64_t large_allocs, large_frees;
    size_t large_kept; /* free large blocks kept for reuse */
    size_t large_kept_bytes;
    uint64_t large_reuses; /* large allocations that reused a kept block */
} fa_heap_counters;

/* Returns a new heap, or NULL with errno EINVAL (unknown flags, a source
 * without map or unmap), ENOMEM, or EAGAIN when the cache ids left are
 * fewer than FA_SIZE_CLASSES. cfg may be NULL. */
FA_API fa_heap *fa_heap_create(const fa_heap_config *cfg);

/* Gives back everything the heap holds: every chunk, every large block,
 * every thread's pool of its classes. Objects still live are gone. Only
 * while no other thread uses the heap; NULL is a no-op. The default heap
 * is refused (reported, FA_ERR_BAD_POOL). */
FA_API void fa_heap_destroy(fa_heap *h);

/* The default heap (created on first use); NULL with errno ENOMEM when it
 * cannot be created. */
FA_API fa_heap *fa_heap_default(void);

/* The heap holding an object of any heap; NULL for NULL (a pointer that
 * no heap holds is reported). */
FA_API fa_heap *fa_heap_of(const void *p);

/* As fa_malloc, fa_calloc, fa_realloc and fa_aligned_alloc, from heap h.
 * fa_heap_realloc keeps p (of any heap) in place when it may, and
 * otherwise moves it to h. A NULL h is reported (FA_ERR_BAD_POOL, object
 * "heap"): NULL with errno EINVAL. */
FA_API void *fa_heap_malloc(fa_heap *h, size_t n);
FA_API void *fa_heap_calloc(fa_heap *h, size_t count, size_t n);
FA_API void *fa_heap_realloc(fa_heap *h, void *p, size_t n);
FA_API void *fa_heap_aligned_alloc(fa_heap *h, size_t align, size_t n);

/* Trims every class (fa_cache_trim): the calling thread's pools, exited
 * threads' pools and the depots give their empty chunks back; returns the
 * bytes given back to the source. */
FA_API size_t fa_heap_trim(fa_heap *h);

/* Fills *out with the heap's counters. */
FA_API void fa_heap_stats(fa_heap *h, fa_heap_counters *out);

/* Fills *out with the counters of class cls (0 to FA_SIZE_CLASSES - 1);
 * returns 0, or EINVAL for a bad class or heap. */
FA_API int fa_heap_class_stats(fa_heap *h, size_t cls, fa_cache_counters *out);

/* Writes a readable dump of *s to f. */
FA_API void fa_heap_stats_print(const fa_heap_counters *s, FILE *f);

/* Verifies every class cache (fa_cache_check), the large blocks and the
 * byte counts. Only while no other thread uses the heap. Reports the
 * first broken invariant (FA_ERR_CORRUPT) and returns false, or returns
 * true. */
FA_API bool fa_heap_check(fa_heap *h);

/* The class serving a request of n bytes (0 to FA_SIZE_CLASSES - 1), or
 * FA_SIZE_CLASSES when n > FA_SMALL_MAX. */
FA_API size_t fa_size_class(size_t n);
/* The slot size of class cls; 0 when cls >= FA_SIZE_CLASSES. */
FA_API size_t fa_size_class_size(size_t cls);
/* The usable size that fa_malloc(n) gives (fa_heap_malloc(h, n) too);
 * 0 when n is too large for any allocation. */
FA_API size_t fa_good_size(size_t n);

/* ---- the default heap: the malloc family ---- */

/* n bytes, aligned as above; NULL with errno ENOMEM. fa_malloc(0) returns
 * a unique object (of the smallest class). */
FA_API void *fa_malloc(size_t n);

/* count * n bytes of zeros; NULL with errno ENOMEM when the product
 * overflows or memory is out. */
FA_API void *fa_calloc(size_t count, size_t n);

/*
 * C's realloc, in p's own heap: NULL p is fa_malloc(n). The object stays
 * in place (p is returned) when n fits its usable size, a fresh object for
 * n would not take less than half of it, and p is aligned as fa_malloc(n)
 * would be; otherwise a new object gets the first min(n, usable) bytes
 * and p is freed. n == 0 asks for an
 * object of 0 bytes, as fa_malloc(0): the result must be freed, and p is
 * freed only when a new object is returned. A large block of the OS
 * source grows without a copy where it can (in place, or its pages moved
 * to a new address). On failure NULL with errno ENOMEM, and p is
 * untouched; NULL with errno EINVAL, after a report, for a p that no heap
 * holds.
 */
FA_API void *fa_realloc(void *p, size_t n);

/* n bytes aligned to align, a power of two up to FA_HEAP_ALIGN_MAX (n
 * need not be a multiple of it); NULL with errno EINVAL for another
 * alignment, ENOMEM when out of memory. */
FA_API void *fa_aligned_alloc(size_t align, size_t n);

/* POSIX posix_memalign: 0 and *out set, EINVAL when align is not a power
 * of two multiple of sizeof(void *) or is above FA_HEAP_ALIGN_MAX, ENOMEM
 * when out of memory (*out untouched). errno is kept. */
FA_API int fa_posix_memalign(void **out, size_t align, size_t n);

/* Frees an object of any heap; NULL is a no-op. */
FA_API void fa_free(void *p);

/* Frees an object that fa_malloc, fa_calloc or fa_realloc (or their heap
 * forms) returned for n bytes, as C23's free_sized. A checked heap reports
 * a size the object cannot have been given for (FA_ERR_FOREIGN) and keeps
 * the object: for a large object another size, for a small one a size
 * above its usable size or one whose class is not more than half of it
 * (fa_realloc keeps an object in place down to that). */
FA_API void fa_free_sized(void *p, size_t n);

/* The bytes usable at p (at least those asked for); 0 for NULL. */
FA_API size_t fa_usable_size(const void *p);

/* ---------------------------------------------------------------------
 * The drop-in malloc
 * ------------------------------------------------------------------- */

/*
 * libfixalloc-malloc.so (pkg-config fixalloc-malloc, CMake
 * fixalloc::malloc) is this library with malloc, free, calloc, realloc,
 * reallocarray, aligned_alloc, memalign, posix_memalign, valloc, pvalloc,
 * malloc_usable_size, malloc_trim, mallopt, malloc_stats, glibc's
 * __libc_* names for them, and C++ operator new and delete in every form,
 * all on the default heap. Link it, or run any program on it:
 *
 *     LD_PRELOAD=libfixalloc-malloc.so program
 *
 * Pointers it did not hand out (from the dynamic loader, before it was
 * loaded) are told apart and never followed: a free of one is counted and
 * ignored. Environment: FIXALLOC_CHECK=1 (every class checked),
 * FIXALLOC_TRACK=0, FIXALLOC_STATS=1 (the default heap's counters on
 * stderr at exit), FIXALLOC_VERBOSE=1 (the options in force, when the heap
 * starts). The same calls also stay available under their fa_ names.
 */

#ifdef __cplusplus
}
#endif

#endif /* FIXALLOC_H */
