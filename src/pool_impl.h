/*
 * pool_impl.h - the chunk layout and the pool's inline interface upwards.
 * docs/design.md, "The chunk".
 */
#ifndef FIXALLOC_POOL_IMPL_H
#define FIXALLOC_POOL_IMPL_H

#include "internal.h"
#include "list.h"
#include "platform.h"
#include "track.h"

#include <string.h>

/* Written into every chunk header and every initialised pool. */
#define FA_CHUNK_MAGIC UINT32_C(0x6b6e6863) /* "chnk" */
#define FA_POOL_MAGIC UINT32_C(0x6c6f6f70)  /* "pool" */

/* Which of the pool's lists a chunk is on. */
enum fa_chunk_list {
    FA_LIST_CURRENT, /* the chunk allocations come from; on no list */
    FA_LIST_PARTIAL, /* some slots live, some free or uncarved */
    FA_LIST_FULL,    /* every slot carved and live */
    FA_LIST_EMPTY    /* no slot live; reset to carving in address order,
                      * or, in a plain pool, its list kept (pool.c,
                      * keeps_list) */
};

/*
 * The header at the start of every chunk. A chunk is `chunk_size` bytes
 * aligned to `chunk_size`, so the chunk of any object is `obj & chunk_mask`.
 * Its slots fill [base, base + nslots * slot) with base = chunk +
 * first_offset, ending exactly at the chunk's end: the bytes between the
 * header and `base` (less than one slot) are the only waste.
 *
 * Invariants (fa_pool_check verifies them):
 *   base <= carve <= hwm <= base + nslots * slot, all on slot boundaries;
 *   slots in [base, carve) are carved: carved = nlive + length(free list);
 *   slots in [carve, hwm) were carved before and reset; `first` ran on every
 *   slot below hwm and never on one above it;
 *   slots at or above hwm are untouched since the source handed them out and
 *   read as zeros when `zeroed` is set.
 * While a chunk is the pool's current chunk, its free list head lives in
 * pool->fast_free and its live count is derived (see pool.c); the `free`
 * and `nlive` fields here are stale until the chunk is retired.
 */
typedef struct fa_chunk {
    uint32_t magic;    /* FA_CHUNK_MAGIC */
    uint8_t list;      /* enum fa_chunk_list */
    bool zeroed;       /* slots at or above hwm read as zeros */
    fa_pool *pool;     /* the owner */
    fa_list_node link; /* on the owner's list (enum fa_chunk_list) */
    void *free;        /* free slots, linked through first words */
    char *carve;       /* next slot to carve */
    uint32_t hwm;      /* high-water mark of carving, ever: bytes from the
                        * chunk's start (FA_CHUNK_MAX fits) */
    uint32_t nlive;    /* live objects */
    uint32_t npurged;  /* trim units discarded: bits set in the purge map */
} fa_chunk;

_Static_assert(sizeof(fa_chunk) <= FA_CHUNK_HEADER,
               "the chunk header must fit in FA_CHUNK_HEADER bytes");

/* The least default chunk (pool_init.c; a cache's grows from it). */
#define FA_CHUNK_DEFAULT ((size_t)64 * 1024)

/* The chunk that embeds list node n. */
static inline fa_chunk *fa_chunk_of_node(const fa_list_node *n)
{
    return fa_list_entry(n, fa_chunk, link);
}

static inline fa_chunk *fa_chunk_of(const fa_pool *p, const void *obj)
{
    return (fa_chunk *)((uintptr_t)obj & ~p->chunk_low);
}

static inline char *fa_chunk_base(const fa_pool *p, const fa_chunk *c)
{
    return (char *)c + p->first_offset;
}

static inline char *fa_chunk_end(const fa_pool *p, const fa_chunk *c)
{
    return (char *)c + p->chunk_size;
}

static inline char *fa_chunk_hwm(const fa_chunk *c)
{
    return (char *)c + c->hwm;
}

static inline void fa_chunk_set_hwm(fa_chunk *c, const char *hwm)
{
    c->hwm = (uint32_t)(hwm - (const char *)c);
}

/* Slot index of `offset` bytes past base, by multiplying with the
 * precomputed reciprocal (exact for offsets below 2^32: FA_CHUNK_MAX). */
__extension__ typedef unsigned __int128 fa_u128;

static inline size_t fa_slot_index(const fa_pool *p, size_t offset)
{
    return (size_t)(((fa_u128)p->slot_divisor * offset) >> 64);
}

/* True when `offset` is a multiple of the slot size (same reciprocal). */
static inline bool fa_slot_aligned(const fa_pool *p, size_t offset)
{
    return p->slot_divisor * (uint64_t)offset < p->slot_divisor;
}

/* Whether ptr is the start of a carved slot of c (one unsigned compare
 * covers both ends of [base, carve)). */
static inline bool fa_carved_slot(const fa_pool *p, const fa_chunk *c,
                                  const void *ptr)
{
    const char *base = fa_chunk_base(p, c);
    size_t off = (size_t)((const char *)ptr - base);
    return off < (size_t)(c->carve - base) && fa_slot_aligned(p, off);
}

/*
 * The fast paths keep two counts folded into one (pool.c explains why):
 *   fast_len = length of the cached free list (fast_free),
 *   headroom = peak - live,
 *   avail = min(fast_len, headroom), the allocations the fast path may make,
 * with fast_gap = fast_len - avail and headroom_gap = headroom - avail. A
 * fast alloc takes one from both counts and a fast free adds one to both,
 * so only `avail` changes on the fast paths and the gaps stay put.
 */
static inline size_t fa_fast_len(const fa_pool *p)
{
    return (size_t)p->avail + p->fast_gap;
}

static inline size_t fa_headroom(const fa_pool *p)
{
    return (size_t)p->avail + p->headroom_gap;
}

/* Live objects in the pool. */
static inline size_t fa_pool_live(const fa_pool *p)
{
    return p->peak - fa_headroom(p);
}

/* Live objects in chunk c, wherever its count is kept. */
static inline size_t fa_chunk_live(const fa_pool *p, const fa_chunk *c)
{
    return c == p->cur ? fa_pool_live(p) - p->others_live : c->nlive;
}

/* The head of chunk c's free list, wherever it is kept. */
static inline void *fa_chunk_free_list(const fa_pool *p, const fa_chunk *c)
{
    return c == p->cur ? p->fast_free : c->free;
}

/*
 * ---- the chunk map (chunkmap.c) ----
 * One byte per FA_CHUNK_MIN unit of a 48-bit address space, 1 exactly
 * while a chunk of some pool starts there (set in chunk_new before any of
 * its objects is handed out, cleared in chunk_release before it goes back
 * to the source). A set byte means the 64 bytes of a chunk header are
 * mapped at that address, so a slow free reads a would-be header only
 * after its byte is seen. Two levels: a leaf for each 4 GiB. Bytes rather
 * than bits: the lookup is three instructions shorter, and each byte
 * belongs to one chunk, so it is stored, not changed with a
 * read-modify-write.
 */
#define FA_CMAP_UNIT_SHIFT 12
#define FA_CMAP_LEAF_SHIFT 32
#define FA_CMAP_TOP ((size_t)1 << (48 - FA_CMAP_LEAF_SHIFT))
#define FA_CMAP_LEAF_UNITS                                                     \
    ((size_t)1 << (FA_CMAP_LEAF_SHIFT - FA_CMAP_UNIT_SHIFT))

typedef _Atomic uint8_t fa_cmap_byte;
extern FA_HIDDEN _Atomic(fa_cmap_byte *) fa_chunkmap[FA_CMAP_TOP];

/* Records that a chunk starts at `chunk`; false when out of memory. */
bool fa_chunkmap_add(const void *chunk);
void fa_chunkmap_remove(const void *chunk);

static inline size_t fa_cmap_unit(uintptr_t addr)
{
    return (size_t)(addr >> FA_CMAP_UNIT_SHIFT) & (FA_CMAP_LEAF_UNITS - 1);
}

/* Whether a chunk of some pool starts at `addr`. Reads only the map. */
static inline bool fa_chunkmap_has(const void *addr)
{
    uintptr_t a = (uintptr_t)addr;
    if (FA_UNLIKELY((a >> FA_CMAP_LEAF_SHIFT) >= FA_CMAP_TOP)) {
        return false;
    }
    const fa_cmap_byte *leaf = atomic_load_explicit(
        &fa_chunkmap[a >> FA_CMAP_LEAF_SHIFT], memory_order_acquire);
    return leaf != NULL && atomic_load_explicit(&leaf[fa_cmap_unit(a)],
                                                memory_order_relaxed) != 0;
}

/* ---- free-list links ---- */

/* The mix of a pool whose link_key is not 0 (hardened). */
static inline uintptr_t fa_link_key_mix(const fa_pool *p, const void *slot)
{
    return p->link_key ^ ((uintptr_t)slot >> 12);
}

/* What a link is encoded with: nothing, or in hardened mode the pool's
 * secret and the link's own address (its random upper bits). */
static inline uintptr_t fa_link_mix(const fa_pool *p, const void *slot)
{
    return p->link_key == 0 ? 0 : fa_link_key_mix(p, slot);
}

/* Reads the link in a free slot. The fast paths, used only by pools without
 * encoding or tracking, read links directly. */
static inline void *fa_link_get(const fa_pool *p, void *slot)
{
    uintptr_t v;
    fa_track_open(p->tracked, slot, sizeof v);
    memcpy(&v, slot, sizeof v);
    fa_track_close(p->tracked, slot, sizeof v);
    return (void *)(v ^ fa_link_mix(p, slot));
}

static inline void fa_link_set(const fa_pool *p, void *slot, void *next)
{
    uintptr_t v = (uintptr_t)next ^ fa_link_mix(p, slot);
    fa_track_open(p->tracked, slot, sizeof v);
    memcpy(slot, &v, sizeof v);
    fa_track_close(p->tracked, slot, sizeof v);
}

/* Clears the link word of a slot being handed out. */
static inline void fa_link_clear(const fa_pool *p, void *slot)
{
    fa_track_open(p->tracked, slot, sizeof(void *));
    memset(slot, 0, sizeof(void *));
    fa_track_close(p->tracked, slot, sizeof(void *));
}

/* ---- chunk bookkeeping shared by the pool's files (pool.c) ---- */

/* The first chunk of a list, or NULL. */
static inline fa_chunk *fa_chunk_first(const fa_list_node *head)
{
    return head != NULL ? fa_chunk_of_node(head) : NULL;
}

/* A new chunk from the source, on no list; NULL when the source or
 * max_bytes refuses. */
fa_chunk *fa_chunk_new(fa_pool *p);
/* Runs `release` on every slot ever carved and gives the chunk back to
 * p's source; p's counts and lists do not change. */
void fa_chunk_give_back(fa_pool *p, fa_chunk *c);
/* Runs `release` on every slot ever carved, gives the chunk back and
 * counts it out of p. */
void fa_chunk_release(fa_pool *p, fa_chunk *c);
void fa_chunk_push(fa_pool *p, fa_chunk *c, enum fa_chunk_list which);
void fa_chunk_unlist(fa_pool *p, fa_chunk *c);
/* Stops allocating from the current chunk and files it by its state. */
void fa_pool_retire(fa_pool *p);
/* Puts a chunk that is not current on the list its state calls for; one
 * with no live object is reset to carving in address order (unless it
 * keeps its list: pool.c, keeps_list). */
void fa_chunk_file(fa_pool *p, fa_chunk *c);
/* Makes c, on a list, the current chunk of p, which has none. */
void fa_chunk_make_current(fa_pool *p, fa_chunk *c);

/* ---- purged pages (pool_purge.c) ---- */

/* A chunk has at most this many trim units, so its purge map (one bit a
 * unit, right after the header) is at most FA_PURGE_WORDS_MAX words. */
#define FA_PURGE_UNITS_MAX 1024
#define FA_PURGE_WORDS_MAX (FA_PURGE_UNITS_MAX / 64)

/* Words of the purge map of a chunk of `chunk` bytes cut into units of
 * 1 << shift bytes; 0 when shift is 0 (no purge). */
static inline size_t fa_purge_map_words(size_t chunk, unsigned shift)
{
    return shift == 0 ? 0 : ((chunk >> shift) + 63) / 64;
}

static inline size_t fa_purge_words(const fa_pool *p)
{
    return fa_purge_map_words(p->chunk_size, p->purge_shift);
}

/* Whether unit u is set in a purge map. */
static inline bool fa_unit_set(const uint64_t *map, size_t u)
{
    return (map[u / 64] >> (u % 64) & 1) != 0;
}

/* The purge map of c: bit u set when unit u was discarded. Units before
 * the base hold header or map bytes and are never set. */
static inline uint64_t *fa_chunk_purge_map(const fa_chunk *c)
{
    return (uint64_t *)(void *)((char *)c + FA_CHUNK_HEADER);
}

size_t fa_chunk_held_slow(const fa_pool *p, const fa_chunk *c);

/* Slots of c held aside because they overlap a discarded unit. */
static inline size_t fa_chunk_held(const fa_pool *p, const fa_chunk *c)
{
    return c->npurged == 0 ? 0 : fa_chunk_held_slow(p, c);
}

/* Whether slot i (counted from the base) overlaps a unit set in map. */
static inline bool fa_units_hold(const fa_pool *p, const uint64_t *map,
                                 size_t i)
{
    size_t start = p->first_offset + i * p->slot;
    size_t last = (start + p->slot - 1) >> p->purge_shift;
    for (size_t u = start >> p->purge_shift; u <= last; u++) {
        if (fa_unit_set(map, u)) {
            return true;
        }
    }
    return false;
}

/* Whether slot i of c is held aside. */
static inline bool fa_slot_held(const fa_pool *p, const fa_chunk *c, size_t i)
{
    return c->npurged != 0 && fa_units_hold(p, fa_chunk_purge_map(c), i);
}

/* The first unit that starts at or after the base: units before it hold
 * header or map bytes. */
static inline unsigned fa_purge_first_unit(const fa_pool *p)
{
    return (unsigned)((p->first_offset + ((size_t)1 << p->purge_shift) - 1) >>
                      p->purge_shift);
}

/* Clears c's purge map. */
static inline void fa_chunk_unpurge(const fa_pool *p, fa_chunk *c)
{
    memset(fa_chunk_purge_map(c), 0, fa_purge_words(p) * 8);
    c->npurged = 0;
}
/* Puts c's held slots on the list at *head as free slots and clears
 * c's purge map; returns how many. */
size_t fa_chunk_restore(fa_pool *p, fa_chunk *c, void **head);
/* Discards the units of p's partial chunks that hold no live object;
 * returns the bytes given back. */
size_t fa_pool_purge(fa_pool *p);
/* The pool's purge_shift: 0 when the source cannot discard, the pool has
 * `first` or `release`, or the chunk is one page. */
uint8_t fa_pool_purge_shift(const fa_config *cfg, const fa_source *src,
                            size_t chunk);

/* ---- checked mode and tracking (debug.c) ---- */

/* FIXALLOC_CHECK and FIXALLOC_TRACK, read when a pool is created. */
bool fa_env_checked(void);
bool fa_env_tracking(void);
bool fa_env_memcheck(void);
int fa_debug_init(fa_pool *p);
/* At destroy: reports objects still live (checked mode), while the chunks
 * are still there; then, after they are gone, frees what init took. */
void fa_debug_leaks(fa_pool *p);
void fa_debug_destroy(fa_pool *p);
/* Registers a new chunk; false when out of memory. */
bool fa_debug_chunk_new(fa_pool *p, fa_chunk *c);
void fa_debug_chunk_release(fa_pool *p, fa_chunk *c);
/* Whether c is one of p's chunks (always true unless checked). */
bool fa_debug_owns(const fa_pool *p, const fa_chunk *c);
/* Poisons n freshly carved slots from `first_slot` on (checked mode). */
void fa_debug_poison(fa_pool *p, char *first_slot, size_t n);
/* Whether a slot of c is live (checked mode; false otherwise). */
bool fa_debug_is_live(const fa_pool *p, const fa_chunk *c, const void *slot);
/* An object handed out; `reused` when it was freed before (its contents
 * are the kept bytes of a freed object) rather than fresh. */
void fa_debug_alloc(fa_pool *p, fa_chunk *c, void *obj, bool reused);
/* An object given back; false (after a report) for a double free. */
bool fa_debug_free(fa_pool *p, fa_chunk *c, void *obj);

/* Reports misuse in pool p's name. */
static inline void fa_report_pool(fa_error_kind kind, const fa_pool *p,
                                  const void *addr, const char *detail)
{
    fa_report(kind, FA_OBJ_POOL, p != NULL ? p->name : NULL, addr, detail);
}

/* ---- the pool's interface to the layers above it ---- */

/* Whether `hdr` (an address masked to a chunk boundary) holds a chunk
 * header: the heap tells its class chunks from its large blocks by this.
 * Reads the header's first word: the caller knows `hdr` is mapped. */
static inline bool fa_is_chunk_header(const void *hdr)
{
    return ((const fa_chunk *)hdr)->magic == FA_CHUNK_MAGIC;
}

/* The pool that owns the chunk whose header is at `hdr`. */
static inline fa_pool *fa_pool_of_header(const void *hdr)
{
    FA_ASSERT(fa_is_chunk_header(hdr));
    return ((const fa_chunk *)hdr)->pool;
}

/* fa_pool_init with the checked and tracked modes of `like` rather than
 * of the environment now: pools that pass chunks between them (a cache's
 * per-thread pools) must agree on both, whenever each was set up. */
int fa_pool_init_like(fa_pool *p, const fa_config *cfg, const fa_pool *like);

/* The pool's configuration, as fa_pool_init settled it. */
static inline unsigned fa_pool_flags(const fa_pool *p)
{
    return p->flags;
}

static inline bool fa_pool_is_checked(const fa_pool *p)
{
    return p->checked;
}

static inline bool fa_pool_is_tracked(const fa_pool *p)
{
    return p->tracked;
}

/* Bytes asked for, and bytes a slot takes (at least the size). */
static inline size_t fa_pool_object_size(const fa_pool *p)
{
    return p->size;
}

static inline size_t fa_pool_slot_size(const fa_pool *p)
{
    return p->slot;
}

/* The pool's name ("unnamed" when none was given). */
static inline const char *fa_pool_name(const fa_pool *p)
{
    return p->name;
}

/* Bytes of one chunk. */
static inline size_t fa_pool_chunk_size(const fa_pool *p)
{
    return p->chunk_size;
}

/* Chunks the pool holds from its source. */
static inline size_t fa_pool_chunk_count(const fa_pool *p)
{
    return p->nchunks;
}

/* Allocations ever (fa_pool_stats's, without the rest of its record). */
static inline uint64_t fa_pool_allocs(const fa_pool *p)
{
    return p->allocs;
}

/*
 * The fast paths for a pool reached through an entry that may be an
 * all-zero fa_pool (the cache's per-thread pools): a miss writes nothing,
 * so the caller then takes the public call, whose slow path handles it.
 * fa_pool_try_alloc tests avail before it counts, where fa_pool_alloc's own
 * fast path folds the test into the decrement (pool.c, "the folded
 * counts").
 */
static inline bool fa_pool_try_alloc(fa_pool *p, void **out)
{
    void **obj = p->fast_free;
    if (FA_LIKELY(obj != NULL)) {
        if (FA_LIKELY(--p->avail >= 0)) {
            p->fast_free = *obj;
            *obj = NULL;
            p->allocs++;
            *out = obj;
            return true;
        }
        p->avail = 0; /* it was 0: avail is never negative at rest */
    }
    return false;
}

/* `obj ^ fast_base` is below fast_span only for objects of the current
 * chunk (aligned to its size) of a pool with fast frees: never for NULL
 * (no chunk starts at 0), and for no object at all while fast_span is 0
 * (no current chunk, a careful pool, an all-zero pool or table entry). */
static inline bool fa_pool_try_free(fa_pool *p, void *obj)
{
    if (FA_LIKELY(((uintptr_t)obj ^ p->fast_base) < p->fast_span)) {
        *(void **)obj = p->fast_free;
        p->fast_free = obj;
        p->avail++;
        return true;
    }
    return false;
}

/* Whether p's next allocation that misses would map a new chunk: no
 * partial or empty chunk, and nothing left in the current one. */
static inline bool fa_pool_needs_chunk(const fa_pool *p)
{
    return p->partial == NULL && p->empty == NULL &&
           (p->cur == NULL ||
            (p->fast_free == NULL && p->cur->carve == fa_chunk_end(p, p->cur) &&
             p->cur->npurged == 0));
}

/* Lets p's live count grow without ever leaving the fast path to raise
 * its peak (which the pool then no longer knows): for the cache's
 * per-thread pools, whose peaks mean nothing alone. */
void fa_pool_untrack_peak(fa_pool *p);

/* fa_pool_destroy for a pool whose objects die with it by design (a
 * heap's, which is a region): no leak report in checked mode. */
void fa_pool_destroy_region(fa_pool *p);

/* fa_pool_free past its fast path, for a caller that tried
 * fa_pool_try_free already, with obj not NULL and its chunk, `chunk`, seen
 * in the chunk map with a header naming p: nothing is asked again. */
void fa_pool_free_owned(fa_pool *p, void *obj, void *chunk);

/* Empty chunks p holds, ready to hand to another pool. */
static inline size_t fa_pool_empty_chunks(const fa_pool *p)
{
    return p->nempty;
}

/*
 * Moving empty chunks between pools of one geometry and the same `first`
 * (a cache's per-thread pools): detach takes one empty chunk out of p
 * (retiring the current chunk first when it is the only one and holds no
 * object), NULL when p has none; attach makes a detached chunk an empty
 * chunk of p; release gives a detached chunk back to p's source, running
 * `release` on its slots, and changes nothing of p (the depot's chunks go
 * back through the direct entry's pool without its lock). The chunk keeps
 * its high-water mark, so `first` never runs twice on a slot.
 */
void *fa_pool_chunk_detach(fa_pool *p);
void fa_pool_chunk_attach(fa_pool *p, void *chunk);
void fa_pool_chunk_release(fa_pool *p, void *chunk);
/* As attach, for an empty chunk detached from a pool of another slot size
 * with the same chunk size: carved anew for p. Only for pools without
 * `first` and `release` and not checked (a heap's classes). */
void fa_pool_chunk_adopt(fa_pool *p, void *chunk);

/* Whether obj is the start of a carved slot of one of p's chunks, judged
 * from the chunk header (pool_walk.c; for checkers: reads the header). */
bool fa_pool_holds_slot(const fa_pool *p, const void *obj);
/* Whether obj is a live object of checked pool p (its live bit is set);
 * false for a pool that is not checked. */
bool fa_pool_slot_live(const fa_pool *p, const void *obj);

#endif /* FIXALLOC_POOL_IMPL_H */
