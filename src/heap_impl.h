/*
 * heap_impl.h - the heap's types and the calls between its files.
 * docs/design.md, "The heap".
 */
#ifndef FIXALLOC_HEAP_IMPL_H
#define FIXALLOC_HEAP_IMPL_H

#include "cache_impl.h"
#include "sizeclass.h"

#include <stdatomic.h>

#define FA_HEAP_MAGIC UINT32_C(0x70616568)          /* "heap" */
#define FA_LARGE_MAGIC UINT64_C(0x656772616c616631) /* "1falarge" */
/* A large block kept for reuse: not an object, so a free of it is
 * reported. */
#define FA_LARGE_KEPT_MAGIC UINT64_C(0x7470656b616c6166) /* "falakept" */
/* Free large blocks a heap keeps for reuse: at most this many, of at most
 * FA_LARGE_KEEP_BYTES together, none above FA_LARGE_KEEP_MAX, and none
 * unused for longer than FA_LARGE_KEEP_MS. */
#define FA_LARGE_KEEP_SLOTS 32
#define FA_LARGE_KEEP_BYTES ((size_t)64 << 20)
#define FA_LARGE_KEEP_MAX ((size_t)32 << 20)
#define FA_LARGE_KEEP_MS 1000
#define FA_HEAP_CHUNK_MASK (~(uintptr_t)(FA_HEAP_CHUNK - 1))
#define FA_HEAP_CHUNK_SHIFT 20
/* Bytes before a large object by default: its header. */
#define FA_LARGE_HEADER ((size_t)64)
/* The default alignment of objects of 16 bytes or more. */
#define FA_HEAP_ALIGN ((size_t)16)

_Static_assert((FA_HEAP_CHUNK & (FA_HEAP_CHUNK - 1)) == 0 &&
                   FA_HEAP_CHUNK >= FA_CHUNK_MIN &&
                   FA_HEAP_CHUNK - FA_CHUNK_HEADER >= FA_SMALL_MAX,
               "heap chunks are powers of two that hold the largest class");
_Static_assert(FA_HEAP_CHUNK == (size_t)1 << FA_HEAP_CHUNK_SHIFT,
               "FA_HEAP_CHUNK_SHIFT is its log2");
_Static_assert(FA_HEAP_ALIGN_MAX < FA_HEAP_CHUNK,
               "a large object must start in its block's first chunk");

/*
 * The header of a large block, at its start (where a chunk has its
 * header; `magic` is where a chunk's magic is). The object starts
 * `offset` bytes in: FA_LARGE_HEADER, or its alignment when larger.
 *   size <= usable <= map_size - offset
 * usable ends at the first page boundary at or past the object's end:
 * the block's end for a fresh block from the OS, short of it in a power
 * of two from a caller's source or a kept block reused for less. No
 * caller may write past it, so the rest reads as the source gave it:
 * `dirty` says how far from the block's start any object written in it
 * reached (FA_ZERO heaps and calloc clear no more than that of a reused
 * block).
 */
typedef struct fa_large {
    uint64_t magic;       /* FA_LARGE_MAGIC */
    struct fa_heap *heap; /* the owner */
    fa_list_node link;    /* on the owner's list, under the large lock */
    size_t map_size;      /* bytes from the source */
    size_t size;          /* bytes requested (fa_free_sized) */
    size_t usable;        /* the object's bytes */
    uint32_t offset;      /* from the block to the object */
    uint32_t dirty;       /* FA_LARGE_DIRTY_UNITs from the block's start
                           * that may not read as zeros; UINT32_MAX:
                           * all */
} fa_large;

#define FA_LARGE_DIRTY_UNIT ((size_t)4096)

_Static_assert(FA_HEAP_ALIGN_MAX <= UINT32_MAX,
               "a large object's offset fits its header's field");
_Static_assert(sizeof(fa_large) <= FA_LARGE_HEADER,
               "the large header must fit before the object");

/*
 * A heap. Its bytes from the source, while no call is under way:
 *   held = chunk_bytes + large_bytes + kept_bytes,
 *   chunk_bytes = FA_HEAP_CHUNK * (chunks of all class pools),
 *   large_bytes = the map_size of every block on `large`
 * (fa_heap_check verifies them).
 */
struct fa_heap {
    /* read-only after create; toff is all the fast paths read */
    uint32_t toff[FA_SIZE_CLASSES]; /* each class cache's entry offset in a
                                     * thread's table */
    uint32_t magic;                 /* FA_HEAP_MAGIC */
    unsigned flags;                 /* as configured, with FA_CHECKED when the
                                     * caches are checked */
    bool checked;                   /* the caches are checked */
    bool tracked;                   /* the caches annotate for Valgrind/ASan */
    bool os_source;                 /* large blocks are page multiples */
    fa_cache *cache[FA_SIZE_CLASSES];
    fa_source inner;  /* the caller's source, or the OS */
    fa_source wrap;   /* inner, counted: the class pools' */
    size_t max_bytes; /* 0: unlimited */
    const char *name;
    char *names; /* the class pools' names, one block */
    /* atomic */
    _Atomic size_t held;        /* bytes from the source: chunks and
                                 * large blocks (the max_bytes cap) */
    _Atomic size_t chunk_bytes; /* of them, the class pools' chunks */
    /* the large lock (heap_large.c) */
    fa_list_node *large; /* every large block (fa_large) */
    size_t nlarge;
    size_t large_bytes;  /* bytes mapped for large blocks */
    size_t large_usable; /* their usable bytes */
    uint64_t large_allocs, large_frees;
    struct fa_large_kept {
        struct fa_large *block; /* map_size bytes, header FA_LARGE_KEPT_MAGIC */
        uint64_t since;         /* freed when, ns */
    } kept[FA_LARGE_KEEP_SLOTS]; /* free blocks for reuse, unordered */
    size_t nkept;
    size_t kept_bytes; /* their bytes (counted in `held`) */
    uint64_t large_reuses;
};

/* ---- malloc.c ---- */

/* fa_free's key for object p's guess: its chunk's number, modulo. */
static inline size_t fa_free_key(const void *p)
{
    return ((uintptr_t)p >> FA_HEAP_CHUNK_SHIFT) & (FA_GUESSES - 1);
}

/* fa_free's guess for p: the calling thread's pool that last took a free
 * of an object of p's chunk number (modulo), or the all-zero table's first
 * entry's pool, which takes nothing. The fast path is the guess's
 * fa_pool_try_free: it takes p when p lies in the pool's current chunk,
 * which proves the guess, and reads nothing at p. */
static inline fa_pool *fa_free_guess(const void *p)
{
    return &fa_cache_guess(fa_free_key(p))->pool;
}

/* fa_free past a guess that did not take p: false, with nothing done and
 * nothing reported, when the address map shows no heap's block at p's
 * chunk unit (NULL, another allocator's pointer). */
bool fa_free_unguessed(void *p, fa_pool *guess);

/* ---- heap.c ---- */

/* The default heap once created (published with release order). */
extern FA_HIDDEN _Atomic(fa_heap *) fa_default_heap;

/* Sets up what every heap needs (size classes, fork handlers); 0 or an
 * errno value. Idempotent and thread-safe. */
int fa_heap_module_ready(void);
/* Creates the default heap on first use; NULL with errno ENOMEM. */
FA_COLD fa_heap *fa_default_heap_create(void);

/* The default heap, created on first use (NULL with errno ENOMEM). */
static inline fa_heap *fa_default_heap_get(void)
{
    fa_heap *h = atomic_load_explicit(&fa_default_heap, memory_order_acquire);
    return FA_LIKELY(h != NULL) ? h : fa_default_heap_create();
}

/* Reports misuse in heap h's name (h NULL: no heap is known). */
static inline void fa_heap_report(fa_error_kind kind, const fa_heap *h,
                                  const void *addr, const char *detail)
{
    fa_report(kind, FA_OBJ_HEAP, h != NULL ? h->name : NULL, addr, detail);
}

/* FA_HANDLE_OK for heaps. */
static inline bool fa_heap_ok(const fa_heap *h)
{
    return FA_HANDLE_OK(h, FA_HEAP_MAGIC, FA_OBJ_HEAP);
}

/* ---- heap_source.c ---- */

/* A block from the heap's source, counted against max_bytes and recorded
 * in the address map; NULL when the cap, the source or the map refuses. */
void *fa_heap_source_map(fa_heap *h, size_t size, size_t align, bool *zeroed);
void fa_heap_source_unmap(fa_heap *h, void *mem, size_t size);
/* The source the class pools of h map their chunks through: the above,
 * with the class pools' bytes counted in h->chunk_bytes too. */
fa_source fa_heap_counted_source(fa_heap *h);

/* ---- heap_large.c ---- */

/* A large block for n bytes aligned to `align` (a power of two up to
 * FA_HEAP_ALIGN_MAX), its usable bytes reading as zeros when `zero` (or
 * the heap is FA_ZERO). NULL with errno ENOMEM (EINVAL for a bad heap). */
void *fa_large_alloc(fa_heap *h, size_t n, size_t align, bool zero);
void fa_large_free(fa_large *b, void *obj);
/* Unmaps every large block of h, and those it keeps (at destroy). */
void fa_large_release_all(fa_heap *h);
/* Unmaps the free blocks h keeps for reuse; the bytes given back. */
size_t fa_large_trim(fa_heap *h);
/* Grows large block b to hold n bytes without copying, where the source
 * allows (the OS: mremap in place, or moving its pages to a new aligned
 * mapping); the object's address then, or NULL when it cannot. */
void *fa_large_grow(fa_large *b, size_t n);
/* Adds h's large counters to *out (under the large lock). */
void fa_large_stats(const fa_heap *h, fa_heap_counters *out);
/* Verifies h's list of large blocks and those it keeps; their bytes in
 * *bytes. */
bool fa_large_check(const fa_heap *h, size_t *bytes);
/* Fork: the large lock, taken before and released after. */
void fa_large_fork_prepare(void);
void fa_large_fork_release(void);

static inline size_t fa_large_usable(const fa_large *b)
{
    return b->usable;
}

/* ---- addrmap.c ---- */

/* Records that a heap block starts at mem (FA_HEAP_CHUNK aligned); false
 * when out of memory. Lock-free. */
bool fa_addrmap_add(const void *mem);
void fa_addrmap_remove(const void *mem);

/* Two levels over 48-bit addresses: a leaf of bits for each 4 GiB,
 * allocated on first use and never freed (it stays reachable). */
#define FA_AMAP_LEAF_SHIFT 32
#define FA_AMAP_TOP ((size_t)1 << (48 - FA_AMAP_LEAF_SHIFT))
#define FA_AMAP_UNIT_SHIFT 20
#define FA_AMAP_LEAF_WORDS                                                     \
    (((size_t)1 << (FA_AMAP_LEAF_SHIFT - FA_AMAP_UNIT_SHIFT)) / 64)

typedef _Atomic uint64_t fa_amap_word;
extern FA_HIDDEN _Atomic(fa_amap_word *) fa_amap[FA_AMAP_TOP];

static inline size_t fa_amap_unit(uintptr_t addr)
{
    return (size_t)(addr >> FA_AMAP_UNIT_SHIFT) & (FA_AMAP_LEAF_WORDS * 64 - 1);
}

/* Whether a heap block starts at `unit` (an FA_HEAP_CHUNK boundary).
 * Reads only the map. */
static inline bool fa_addrmap_has(uintptr_t unit)
{
    if (FA_UNLIKELY((unit >> FA_AMAP_LEAF_SHIFT) >= FA_AMAP_TOP)) {
        return false;
    }
    const fa_amap_word *leaf = atomic_load_explicit(
        &fa_amap[unit >> FA_AMAP_LEAF_SHIFT], memory_order_acquire);
    size_t u = fa_amap_unit(unit);
    return leaf != NULL &&
           (atomic_load_explicit(&leaf[u / 64], memory_order_relaxed) >>
                (u % 64) &
            1) != 0;
}

#endif /* FIXALLOC_HEAP_IMPL_H */
