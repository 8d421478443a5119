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
 * Freed objects: the first word (sizeof(void *) bytes) of an object is
 * overwritten when it is freed. The rest of a freed object's bytes are kept
 * as they were, unless FA_ZERO is set, in which case every object handed out
 * reads as zeros.
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
/* Bytes at the start of every chunk taken by its header. */
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
 *
 * A pool copies the fa_source at init; `ctx` must outlive the pool. A source
 * is called only from within calls on the pools that use it: a source shared
 * by pools used from several threads must lock itself.
 */
typedef struct fa_source {
    void *(*map)(void *ctx, size_t size, size_t align, bool *zeroed);
    void (*unmap)(void *ctx, void *mem, size_t size);
    void *ctx;
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
    char *next;       /* the uncut part of the buffer: [next, end) */
    char *end;
    void *returned;   /* blocks given back, linked through their first words */
    bool zeroed;      /* the uncut part reads as zeros */
} fa_static_source;

/* Flag for fa_static_source_init: the buffer reads as zeros (static storage). */
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
 * FIXALLOC_CHECK=1 turns it on for every pool created afterwards. Costs a
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
     * pointer) rounded up to the alignment. */
    size_t size;
    /* A power of two up to FA_ALIGN_MAX; 0 means 16 for sizes >= 16 and 8
     * below. */
    size_t align;
    /* A power of two from FA_CHUNK_MIN to FA_CHUNK_MAX holding at least one
     * slot after the header; 0 means the smallest power of two of at least
     * 64 KiB that holds 32 slots (capped at FA_CHUNK_MAX). */
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
    size_t object_size;    /* as configured */
    size_t slot_size;      /* bytes one object takes in a chunk */
    size_t chunk_size;
    size_t slots_per_chunk;
    size_t chunks;         /* chunks held now */
    size_t bytes_held;     /* bytes held from the source now */
    size_t live;           /* objects allocated and not freed */
    size_t peak_live;      /* most objects live at once */
    uint64_t allocs;       /* successful allocations, ever */
    uint64_t frees;        /* frees, ever */
    uint64_t bytes_trimmed; /* bytes given back to the source by trim */
} fa_stats;

/* Writes a readable multi-line dump of *s to f. */
FA_API void fa_stats_print(const fa_stats *s, FILE *f);

/* ---------------------------------------------------------------------
 * Errors: detected misuse goes through one handler
 * ------------------------------------------------------------------- */

typedef enum fa_error_kind {
    FA_ERR_FOREIGN = 1,  /* a pointer that no chunk of this pool holds */
    FA_ERR_INTERIOR,     /* a pointer into the middle of a slot */
    FA_ERR_DOUBLE_FREE,  /* an object freed twice */
    FA_ERR_WRITE_AFTER_FREE, /* a freed object was written to */
    FA_ERR_CORRUPT,      /* a broken free list or pool invariant */
    FA_ERR_LEAK,         /* objects still live at destroy */
    FA_ERR_BAD_POOL      /* a pool that is not initialised, or destroyed */
} fa_error_kind;

typedef struct fa_error {
    fa_error_kind kind;
    const char *pool;    /* the pool's name */
    const void *addr;    /* the address concerned */
    const char *detail;  /* one line saying what happened */
} fa_error;

/* Called on detected misuse. The default prints
 *   fixalloc: <kind> in pool '<name>' at <addr>: <detail>
 * to stderr and aborts. A handler that returns makes the offending call do
 * nothing (a bad free is ignored). */
typedef void (*fa_error_handler)(const fa_error *err);

/* Installs a handler (NULL restores the default); returns the previous one. */
FA_API fa_error_handler fa_set_error_handler(fa_error_handler h);

/* The short name of an error kind, as printed ("double free", ...). */
FA_API const char *fa_error_kind_name(fa_error_kind kind);

/* ---------------------------------------------------------------------
 * The pool
 * ------------------------------------------------------------------- */

struct fa_chunk;

/*
 * A complete type so that it can be embedded in a caller's struct or put in
 * static storage. Its fields are private: use the functions.
 */
typedef struct fa_pool {
    /* private, fast-path state, one cache line: */
    void *fast_free;       /* free list of the current chunk (fast mode) */
    ptrdiff_t avail;       /* allocations the fast path may make */
    uintptr_t fast_chunk;  /* the current chunk's address, or 1 for none */
    uintptr_t chunk_mask;  /* ~(chunk_size - 1) */
    uint64_t allocs;
    /* private, geometry and callbacks: */
    uint32_t magic;
    unsigned flags;
    bool fast_mode;        /* no per-object work: the fast paths are on */
    bool checked;          /* FA_CHECKED, or FIXALLOC_CHECK in the environment */
    bool tracked;          /* memory annotated for Valgrind or ASan */
    uintptr_t link_key;    /* FA_HARDENED: the secret links are encoded with */
    void *registry;        /* checked mode: the set of this pool's chunks */
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
    struct fa_chunk *partial, *empty, *full;
    size_t fast_gap;       /* length of fast_free - avail */
    size_t headroom_gap;   /* peak - live - avail */
    size_t nchunks;
    size_t others_live;    /* live objects in chunks other than `cur` */
    size_t peak;
    uint64_t bytes_trimmed;
} fa_pool;

/* Returns 0, or EINVAL for a refused config: size 0; align not a power of
 * two or above FA_ALIGN_MAX; chunk_size not a power of two, outside
 * [FA_CHUNK_MIN, FA_CHUNK_MAX] or too small for one slot; an object too
 * large for the largest chunk; max_bytes below one chunk; unknown flags;
 * FA_ZERO with `first`; a source without map or unmap. */
FA_API int fa_pool_init(fa_pool *p, const fa_config *cfg);

/* Returns an object, or NULL with errno ENOMEM when the source fails or
 * max_bytes is reached; the pool stays usable. */
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
 * `release` on each of its slots that was ever carved; returns the bytes
 * given back. */
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

#ifdef __cplusplus
}
#endif

#endif /* FIXALLOC_H */
