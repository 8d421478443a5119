/*
 * heap.c - fa_heap and the fa_malloc family: objects of any size, one
 * fa_cache per size class, large blocks straight from the page source
 * (docs/design.md, "The heap").
 *
 * ---------------------------------------------------------------------
 * Theory
 * ---------------------------------------------------------------------
 *
 * 1. Layers. A heap is FA_SIZE_CLASSES caches (sizeclass.c has the
 *    table), created with the heap, and a list of large blocks:
 *
 *      request <= FA_SMALL_MAX   class cache: the thread's magazines,
 *                                then the depot and pool (cache.c)
 *      request >  FA_SMALL_MAX   a block of its own from the page source,
 *                                with a header, on the heap's list
 *
 * 2. Free without the size. Every class pool of every heap uses chunks of
 *    FA_HEAP_CHUNK bytes aligned to their size, and a large block starts
 *    on such a boundary with its object less than FA_HEAP_CHUNK past its
 *    start. So `p & ~(FA_HEAP_CHUNK - 1)` is the header of whatever holds
 *    p, and the magic at its start says which kind: FA_CHUNK_MAGIC (a
 *    pool chunk: chunk->pool is embedded in its fa_cache, whose thread
 *    entry takes the object) or FA_LARGE_MAGIC (a large block). No
 *    lookup, no lock: fa_free is the cache's free fast path behind one
 *    mask and one compare.
 *
 * 3. The fast paths are the cache's, inlined (the same five lines as
 *    cache.c's alloc_one and free_one), with the class found by one load
 *    from a table indexed by the request's 8-byte granule. The heap
 *    keeps each class cache's entry offset (toff) in a small array so
 *    that an allocation reads the heap, the table, and the thread's
 *    entry: no load of the cache itself. A miss calls fa_cache_alloc or
 *    fa_cache_free, which take the slow paths.
 *
 * 4. Ownership. A class pool's `arg` is its heap (the pools have no
 *    callbacks), so an object's heap is chunk->pool->arg; a large block's
 *    header names its heap. fa_realloc and fa_heap_of use it.
 *
 * 5. Accounting and regions. The class pools map their chunks through a
 *    wrapper of the heap's source (heap_map, heap_unmap) that counts the
 *    heap's bytes with atomics and enforces max_bytes across all classes;
 *    large blocks are counted the same way. fa_heap_destroy destroys the
 *    caches (every chunk goes back) and unmaps every large block: the
 *    bytes held return to zero whatever was still live.
 *
 * 6. Checked mode. A checked heap's caches are checked (every call reaches
 *    the pool, which sees double frees and foreign, interior and
 *    overwritten objects). Since fa_free reads a header before it knows
 *    the heap, every heap chunk and large block is also recorded in an
 *    address map (one bit per FA_HEAP_CHUNK of address space, two levels,
 *    lock-free); while any checked heap exists, fa_free and its kin
 *    consult it first, so a pointer that no heap holds is reported
 *    without reading memory it does not own.
 *
 * ---------------------------------------------------------------------
 * Locks
 * ---------------------------------------------------------------------
 *
 *   large_lock, one for all heaps: every heap's list of large blocks and
 *   its large counters. Held for a few stores only, never while another
 *   lock of the library is taken or the source is called, so it has no
 *   place in the cache's lock order; fork takes and releases it.
 *   The source wrapper runs under a class cache's depot lock and takes
 *   no lock (atomics only). The default heap is published with a
 *   compare-and-swap, without a lock.
 */
#include "sizeclass.h"
#include "cache_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FA_HEAP_MAGIC UINT32_C(0x70616568)              /* "heap" */
#define FA_LARGE_MAGIC UINT64_C(0x656772616c616631)     /* "1falarge" */
#define FA_HEAP_CHUNK_MASK (~(uintptr_t)(FA_HEAP_CHUNK - 1))
/* Bytes before a large object by default: its header. */
#define FA_LARGE_HEADER ((size_t)64)
/* The default alignment of objects of 16 bytes or more. */
#define FA_HEAP_ALIGN ((size_t)16)

_Static_assert((FA_HEAP_CHUNK & (FA_HEAP_CHUNK - 1)) == 0 &&
                   FA_HEAP_CHUNK >= FA_CHUNK_MIN &&
                   FA_HEAP_CHUNK - FA_CHUNK_HEADER >= FA_SMALL_MAX,
               "heap chunks are powers of two that hold the largest class");
_Static_assert(FA_HEAP_ALIGN_MAX < FA_HEAP_CHUNK,
               "a large object must start in its block's first chunk");

/*
 * The header of a large block, at its start (where a chunk has its
 * header; `magic` is where a chunk's magic is). The object starts
 * `offset` bytes in: FA_LARGE_HEADER, or its alignment when larger.
 *   usable = map_size - offset >= size
 */
typedef struct fa_large {
    uint64_t magic;               /* FA_LARGE_MAGIC */
    struct fa_heap *heap;         /* the owner */
    struct fa_large *next, *prev; /* the owner's list, under large_lock */
    size_t map_size;              /* bytes from the source */
    size_t offset;                /* from the block to the object */
    size_t size;                  /* bytes requested (fa_free_sized) */
} fa_large;

_Static_assert(sizeof(fa_large) <= FA_LARGE_HEADER,
               "the large header must fit before the object");

/*
 * A heap. Its bytes from the source, while no call is under way:
 *   held = chunk_bytes + large_bytes,
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
    fa_source inner;                /* the caller's source, or the OS */
    fa_source wrap;                 /* inner, counted: the class pools' */
    size_t max_bytes;               /* 0: unlimited */
    const char *name;
    char *names;                    /* the class pools' names, one block */
    /* atomic */
    _Atomic size_t held;            /* bytes from the source: chunks and
                                     * large blocks (the max_bytes cap) */
    _Atomic size_t chunk_bytes;     /* of them, the class pools' chunks */
    /* large_lock */
    fa_large *large;
    size_t nlarge;
    size_t large_bytes;             /* bytes mapped for large blocks */
    size_t large_usable;            /* their usable bytes */
    uint64_t large_allocs, large_frees;
};

static pthread_mutex_t large_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(fa_heap *) default_heap;
/* True once a checked heap was created: fa_free consults the address map. */
static atomic_bool heap_checking;
static size_t page_size;

static pthread_once_t module_once = PTHREAD_ONCE_INIT;
static int module_err;

/* ---- errors ---- */

/* Reports misuse in the name of a heap (or of no heap: NULL). */
static FA_COLD void heap_report(fa_error_kind kind, const fa_heap *h,
                                const void *addr, const char *detail)
{
    fa_pool named;
    memset(&named, 0, sizeof named);
    named.name = h != NULL ? h->name : "heap";
    fa_report(kind, &named, addr, detail);
}

static FA_COLD void bad_heap(const fa_heap *h)
{
    fa_report(FA_ERR_BAD_POOL, NULL, h, "the heap is not created, or "
                                        "destroyed");
}

static bool heap_ok(const fa_heap *h)
{
    if (FA_UNLIKELY(h == NULL || h->magic != FA_HEAP_MAGIC)) {
        bad_heap(h);
        return false;
    }
    return true;
}

/* ---- the address map: which FA_HEAP_CHUNK units hold a heap's header ---- */

/* Two levels over 48-bit addresses: a leaf of bits for each 4 GiB,
 * allocated on first use and never freed (it stays reachable). */
#define AMAP_LEAF_SHIFT 32
#define AMAP_TOP ((size_t)1 << (48 - AMAP_LEAF_SHIFT))
#define AMAP_UNIT_SHIFT 18
#define AMAP_LEAF_WORDS (((size_t)1 << (AMAP_LEAF_SHIFT - AMAP_UNIT_SHIFT)) / 64)

_Static_assert(FA_HEAP_CHUNK == (size_t)1 << AMAP_UNIT_SHIFT,
               "the address map counts heap chunks");

typedef _Atomic uint64_t amap_word;
static _Atomic(amap_word *) amap[AMAP_TOP];

static amap_word *amap_leaf(uintptr_t addr, bool create)
{
    size_t top = (size_t)(addr >> AMAP_LEAF_SHIFT);
    if (top >= AMAP_TOP) {
        return NULL;
    }
    amap_word *leaf = atomic_load_explicit(&amap[top], memory_order_acquire);
    if (leaf == NULL && create) {
        amap_word *fresh = calloc(AMAP_LEAF_WORDS, sizeof *fresh);
        if (fresh == NULL) {
            return NULL;
        }
        if (atomic_compare_exchange_strong(&amap[top], &leaf, fresh)) {
            leaf = fresh;
        } else {
            free(fresh); /* another thread's leaf won; leaf holds it */
        }
    }
    return leaf;
}

static size_t amap_unit(uintptr_t addr)
{
    return (size_t)(addr >> AMAP_UNIT_SHIFT) & (AMAP_LEAF_WORDS * 64 - 1);
}

/* Records that a block starts at mem; false when out of memory. */
static bool amap_add(const void *mem)
{
    amap_word *leaf = amap_leaf((uintptr_t)mem, true);
    if (leaf == NULL) {
        return false;
    }
    size_t u = amap_unit((uintptr_t)mem);
    atomic_fetch_or(&leaf[u / 64], UINT64_C(1) << (u % 64));
    return true;
}

static void amap_remove(const void *mem)
{
    amap_word *leaf = amap_leaf((uintptr_t)mem, false);
    if (leaf != NULL) {
        size_t u = amap_unit((uintptr_t)mem);
        atomic_fetch_and(&leaf[u / 64], ~(UINT64_C(1) << (u % 64)));
    }
}

static bool amap_has(uintptr_t unit)
{
    const amap_word *leaf = amap_leaf(unit, false);
    if (leaf == NULL) {
        return false;
    }
    size_t u = amap_unit(unit);
    return (atomic_load_explicit(&leaf[u / 64], memory_order_relaxed) >>
            (u % 64) & 1) != 0;
}

/* ---- the heap's bytes, and the source wrapper of its class pools ---- */

/* Counts `size` more bytes held, unless that would pass max_bytes. */
static bool held_add(fa_heap *h, size_t size)
{
    size_t cur = atomic_load_explicit(&h->held, memory_order_relaxed);
    do {
        if (h->max_bytes != 0 &&
            (size > h->max_bytes || cur > h->max_bytes - size)) {
            return false;
        }
    } while (!atomic_compare_exchange_weak(&h->held, &cur, cur + size));
    return true;
}

/* A block from the heap's source, counted and recorded; NULL when the cap,
 * the source or the address map refuses. */
static void *heap_source_map(fa_heap *h, size_t size, size_t align,
                             bool *zeroed)
{
    if (!held_add(h, size)) {
        return NULL;
    }
    void *mem = h->inner.map(h->inner.ctx, size, align, zeroed);
    if (mem != NULL && ((uintptr_t)mem & ~FA_HEAP_CHUNK_MASK) != 0) {
        heap_report(FA_ERR_CORRUPT, h, mem,
                    "the page source returned a misaligned block");
        h->inner.unmap(h->inner.ctx, mem, size);
        mem = NULL;
    } else if (mem != NULL && !amap_add(mem)) {
        h->inner.unmap(h->inner.ctx, mem, size);
        mem = NULL;
    }
    if (mem == NULL) {
        atomic_fetch_sub(&h->held, size);
    }
    return mem;
}

static void heap_source_unmap(fa_heap *h, void *mem, size_t size)
{
    amap_remove(mem);
    h->inner.unmap(h->inner.ctx, mem, size);
    atomic_fetch_sub(&h->held, size);
}

/* The class pools' source: called under a class cache's depot lock, so
 * it takes no lock. */
static void *wrap_map(void *ctx, size_t size, size_t align, bool *zeroed)
{
    fa_heap *h = ctx;
    void *mem = heap_source_map(h, size, align, zeroed);
    if (mem != NULL) {
        atomic_fetch_add(&h->chunk_bytes, size);
    }
    return mem;
}

static void wrap_unmap(void *ctx, void *mem, size_t size)
{
    fa_heap *h = ctx;
    atomic_fetch_sub(&h->chunk_bytes, size);
    heap_source_unmap(h, mem, size);
}

/* ---- module setup, fork ---- */

static void fork_prepare(void)
{
    pthread_mutex_lock(&large_lock);
}

static void fork_release(void)
{
    pthread_mutex_unlock(&large_lock);
}

static void module_init(void)
{
    fa_size_classes_init();
    long ps = sysconf(_SC_PAGESIZE);
    page_size = ps > 0 ? (size_t)ps : FA_ALIGN_MAX;
    module_err = pthread_atfork(fork_prepare, fork_release, fork_release);
}

static int module_ready(void)
{
    pthread_once(&module_once, module_init);
    return module_err;
}

/* ---- create, destroy ---- */

/* Bytes of one class pool's name: the heap's, '/', five digits, NUL. */
static size_t name_stride(const fa_heap *h)
{
    return strlen(h->name) + 8;
}

/* The class pools' names, "<heap>/<slot size>", in one block. */
static int name_classes(fa_heap *h)
{
    size_t each = name_stride(h);
    h->names = malloc(FA_SIZE_CLASSES * each);
    if (h->names == NULL) {
        return ENOMEM;
    }
    for (size_t i = 0; i < FA_SIZE_CLASSES; i++) {
        snprintf(h->names + i * each, each, "%s/%" PRIu32, h->name,
                 fa_class_size[i]);
    }
    return 0;
}

static void destroy_caches(fa_heap *h)
{
    for (size_t i = 0; i < FA_SIZE_CLASSES; i++) {
        fa_cache_destroy(h->cache[i]);
        h->cache[i] = NULL;
    }
}

/* One cache per class, all on FA_HEAP_CHUNK chunks through the wrapper;
 * 0, or the errno of the first refusal (EAGAIN: out of cache ids). */
static int create_caches(fa_heap *h)
{
    size_t each = name_stride(h);
    for (size_t i = 0; i < FA_SIZE_CLASSES; i++) {
        fa_config cfg = {
            .size = fa_class_size[i],
            .align = fa_class_size[i] % 16 != 0 ? 8 : 16, /* slot = size */
            .chunk_size = FA_HEAP_CHUNK,
            .flags = h->flags,
            .arg = h,
            .source = &h->wrap,
            .name = h->names + i * each,
        };
        fa_cache *c = fa_cache_create(&cfg);
        if (c == NULL) {
            int err = errno;
            destroy_caches(h);
            return err;
        }
        h->cache[i] = c;
        h->toff[i] = (uint32_t)c->toff;
    }
    return 0;
}

static bool heap_config_ok(const fa_heap_config *cfg, const fa_source *src)
{
    unsigned known = FA_ZERO | FA_CHECKED | FA_HARDENED;
    return (cfg->flags & ~known) == 0 && src->map != NULL &&
           src->unmap != NULL;
}

static fa_heap *heap_new(const fa_heap_config *cfg)
{
    static const fa_heap_config defaults;
    cfg = cfg != NULL ? cfg : &defaults;
    const fa_source *src = cfg->source != NULL ? cfg->source : fa_os_source();
    int err = module_ready();
    if (err == 0 && !heap_config_ok(cfg, src)) {
        err = EINVAL;
    }
    fa_heap *h = NULL;
    if (err == 0) {
        /* Own cache lines: the fast paths read toff from any thread. */
        size_t bytes = (sizeof *h + 63) / 64 * 64;
        h = aligned_alloc(64, bytes);
        err = h == NULL ? ENOMEM : 0;
        if (h != NULL) {
            memset(h, 0, bytes);
        }
    }
    if (err == 0) {
        h->flags = cfg->flags;
        h->max_bytes = cfg->max_bytes;
        h->name = cfg->name != NULL ? cfg->name : "heap";
        h->inner = *src;
        h->os_source = src->map == fa_os_source()->map;
        h->wrap = (fa_source){wrap_map, wrap_unmap, h};
        err = name_classes(h);
    }
    if (err == 0) {
        err = create_caches(h);
    }
    if (err != 0) {
        if (h != NULL) {
            free(h->names);
            free(h);
        }
        errno = err;
        return NULL;
    }
    h->checked = h->cache[0]->pool.checked;
    h->tracked = h->cache[0]->pool.tracked;
    h->flags |= h->checked ? FA_CHECKED : 0;
    if (h->checked) {
        atomic_store(&heap_checking, true);
    }
    h->magic = FA_HEAP_MAGIC;
    return h;
}

fa_heap *fa_heap_create(const fa_heap_config *cfg)
{
    return heap_new(cfg);
}

static void large_release_all(fa_heap *h);

void fa_heap_destroy(fa_heap *h)
{
    if (h == NULL || !heap_ok(h)) {
        return;
    }
    if (h == atomic_load(&default_heap)) {
        heap_report(FA_ERR_BAD_POOL, h, h, "the default heap cannot be "
                                           "destroyed");
        return;
    }
    h->magic = 0;
    destroy_caches(h);
    large_release_all(h);
    free(h->names);
    free(h);
}

/* The default heap, created on first use. Threads that race to create it
 * each build one; the first published wins and the others are destroyed,
 * so no lock is held across the cache registry (and none needs care at
 * fork). NULL with errno ENOMEM when it cannot be created. */
static FA_COLD fa_heap *default_heap_create(void)
{
    fa_heap_config cfg = {.name = "default"};
    fa_heap *mine = heap_new(&cfg);
    if (mine == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    fa_heap *cur = NULL;
    if (!atomic_compare_exchange_strong_explicit(&default_heap, &cur, mine,
                                                 memory_order_acq_rel,
                                                 memory_order_acquire)) {
        fa_heap_destroy(mine);
        return cur;
    }
    return mine;
}

static inline fa_heap *default_get(void)
{
    fa_heap *h = atomic_load_explicit(&default_heap, memory_order_acquire);
    return FA_LIKELY(h != NULL) ? h : default_heap_create();
}

fa_heap *fa_heap_default(void)
{
    return default_get();
}

/* ---- large blocks ---- */

/* Bytes to map for `need` bytes: whole pages from the OS; from another
 * source a power of two of at least FA_HEAP_CHUNK, as its contract asks
 * (sizes and alignments powers of two, align <= size). 0 on overflow. */
static size_t large_map_size(const fa_heap *h, size_t need)
{
    if (h->os_source) {
        return need <= SIZE_MAX - page_size + 1
                   ? (need + page_size - 1) & ~(page_size - 1)
                   : 0;
    }
    size_t size = FA_HEAP_CHUNK;
    while (size < need) {
        if (size > SIZE_MAX / 2) {
            return 0;
        }
        size *= 2;
    }
    return size;
}

/* Under Valgrind a large object is a client block of its usable size (as
 * a class object is open to its slot size), so leaks and uses after free
 * are seen. */
static void large_track_alloc(const fa_heap *h, void *obj, size_t n,
                              bool zeroed)
{
#if FA_HAVE_VALGRIND
    if (h->tracked) {
        VALGRIND_MALLOCLIKE_BLOCK(obj, n, 0, zeroed);
    }
#endif
    (void)h, (void)obj, (void)n, (void)zeroed;
}

static void large_track_free(const fa_heap *h, void *obj)
{
#if FA_HAVE_VALGRIND
    if (h->tracked) {
        VALGRIND_FREELIKE_BLOCK(obj, 0);
    }
#endif
    (void)h, (void)obj;
}

/* A large block for n bytes aligned to `align` (a power of two up to
 * FA_HEAP_ALIGN_MAX). *zeroed tells whether the object reads as zeros.
 * NULL with errno ENOMEM. */
static void *large_alloc(fa_heap *h, size_t n, size_t align, bool *zeroed)
{
    if (!heap_ok(h)) {
        errno = EINVAL;
        return NULL;
    }
    size_t offset = align > FA_LARGE_HEADER ? align : FA_LARGE_HEADER;
    size_t map = n <= SIZE_MAX - offset ? large_map_size(h, offset + n) : 0;
    bool fresh = false;
    char *mem = map != 0 ? heap_source_map(h, map, FA_HEAP_CHUNK, &fresh)
                         : NULL;
    if (mem == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    fa_large *b = (fa_large *)(void *)mem;
    *b = (fa_large){.magic = FA_LARGE_MAGIC, .heap = h, .map_size = map,
                    .offset = offset, .size = n};
    pthread_mutex_lock(&large_lock);
    b->next = h->large;
    if (h->large != NULL) {
        h->large->prev = b;
    }
    h->large = b;
    h->nlarge++;
    h->large_bytes += map;
    h->large_usable += map - offset;
    h->large_allocs++;
    pthread_mutex_unlock(&large_lock);
    void *obj = mem + offset;
    if ((h->flags & FA_ZERO) && !fresh) {
        memset(obj, 0, map - offset);
        fresh = true;
    }
    large_track_alloc(h, obj, map - offset, fresh);
    *zeroed = fresh;
    return obj;
}

static void large_unlink_locked(fa_heap *h, fa_large *b)
{
    if (b->prev != NULL) {
        b->prev->next = b->next;
    } else {
        h->large = b->next;
    }
    if (b->next != NULL) {
        b->next->prev = b->prev;
    }
    h->nlarge--;
    h->large_bytes -= b->map_size;
    h->large_usable -= b->map_size - b->offset;
    h->large_frees++;
}

static void large_free(fa_large *b, void *obj)
{
    fa_heap *h = b->heap;
    pthread_mutex_lock(&large_lock);
    large_unlink_locked(h, b);
    pthread_mutex_unlock(&large_lock);
    large_track_free(h, obj);
    heap_source_unmap(h, b, b->map_size); /* after dropping the lock */
}

static void large_release_all(fa_heap *h)
{
    pthread_mutex_lock(&large_lock);
    fa_large *b = h->large;
    h->large = NULL;
    pthread_mutex_unlock(&large_lock);
    while (b != NULL) {
        fa_large *next = b->next;
        large_track_free(h, (char *)b + b->offset);
        heap_source_unmap(h, b, b->map_size);
        b = next;
    }
}

/* ---- finding an object's header ---- */

enum obj_kind { OBJ_NONE, OBJ_SMALL, OBJ_LARGE, OBJ_BAD };

/* What holds p: its chunk (small) or block (large) at *hdr. A pointer
 * that no heap holds, or that is not an object's start in a large block,
 * is reported (OBJ_BAD); NULL is OBJ_NONE. The checks on a small object
 * are its pool's, on free. */
static enum obj_kind classify(const void *p, void **hdr)
{
    if (p == NULL) {
        return OBJ_NONE;
    }
    uintptr_t unit = (uintptr_t)p & FA_HEAP_CHUNK_MASK;
    *hdr = (void *)unit;
    if (atomic_load_explicit(&heap_checking, memory_order_relaxed) &&
        !amap_has(unit)) {
        heap_report(FA_ERR_FOREIGN, NULL, p, "no heap holds it (freed "
                    "already, or never a heap's)");
        return OBJ_BAD;
    }
    uint64_t magic = *(const uint64_t *)*hdr;
    if (magic == FA_CHUNK_MAGIC) {
        return OBJ_SMALL;
    }
    if (magic == FA_LARGE_MAGIC) {
        const fa_large *b = *hdr;
        if ((const char *)p == (const char *)b + b->offset) {
            return OBJ_LARGE;
        }
        heap_report(FA_ERR_INTERIOR, b->heap, p, "it points inside a large "
                    "object");
        return OBJ_BAD;
    }
    heap_report(FA_ERR_FOREIGN, NULL, p, "no heap holds it");
    return OBJ_BAD;
}

/* The cache that a pool chunk's pool is embedded in. */
static inline fa_cache *cache_of_chunk(const fa_chunk *ch)
{
    return (fa_cache *)(void *)((char *)ch->pool -
                                offsetof(struct fa_cache, pool));
}

/* The heap of a pool chunk: its pool's arg. */
static fa_heap *heap_of_chunk(const fa_chunk *ch)
{
    return ch->pool->arg;
}

/* ---- allocation ---- */

static __attribute__((noinline)) void *class_miss(fa_heap *h, size_t cls)
{
    if (!heap_ok(h)) {
        errno = EINVAL;
        return NULL;
    }
    return fa_cache_alloc(h->cache[cls]);
}

/* The fast path: a round of the thread's loaded magazine for the class,
 * exactly as cache.c's alloc_one. */
static inline void *class_alloc(fa_heap *h, size_t cls)
{
    fa_tentry *e = fa_tentry_at(h->toff[cls]);
    void **top = e->top;
    if (FA_LIKELY(top != e->base)) {
        e->allocs++;
        e->top = top - 1;
        return top[-1];
    }
    return class_miss(h, cls);
}

static __attribute__((noinline)) void *large_malloc(fa_heap *h, size_t n)
{
    bool zeroed;
    return large_alloc(h, n, FA_HEAP_ALIGN, &zeroed);
}

static inline void *heap_alloc(fa_heap *h, size_t n)
{
    if (FA_LIKELY(n <= FA_SMALL_MAX)) {
        return class_alloc(h, fa_class_of(n));
    }
    return large_malloc(h, n);
}

void *fa_heap_malloc(fa_heap *h, size_t n)
{
    return heap_alloc(h, n);
}

/* The first fa_malloc of the process creates the default heap. */
static FA_COLD void *malloc_first(size_t n)
{
    fa_heap *h = default_heap_create();
    return h != NULL ? heap_alloc(h, n) : NULL;
}

void *fa_malloc(size_t n)
{
    fa_heap *h = atomic_load_explicit(&default_heap, memory_order_acquire);
    if (FA_UNLIKELY(h == NULL)) {
        return malloc_first(n);
    }
    return heap_alloc(h, n);
}

void *fa_heap_calloc(fa_heap *h, size_t k, size_t n)
{
    size_t total;
    if (__builtin_mul_overflow(k, n, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (total > FA_SMALL_MAX) {
        bool zeroed;
        void *p = large_alloc(h, total, FA_HEAP_ALIGN, &zeroed);
        if (p != NULL && !zeroed) {
            memset(p, 0, total);
        }
        return p;
    }
    void *p = class_alloc(h, fa_class_of(total));
    if (p != NULL && !(h->flags & FA_ZERO)) {
        memset(p, 0, total);
    }
    return p;
}

void *fa_calloc(size_t k, size_t n)
{
    fa_heap *h = default_get();
    return h != NULL ? fa_heap_calloc(h, k, n) : NULL;
}

static bool is_pow2(size_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

static unsigned log2_of(size_t pow2)
{
    return (unsigned)__builtin_ctzll((unsigned long long)pow2);
}

void *fa_heap_aligned_alloc(fa_heap *h, size_t align, size_t n)
{
    if (!is_pow2(align) || align > FA_HEAP_ALIGN_MAX) {
        errno = EINVAL;
        return NULL;
    }
    if (n <= FA_SMALL_MAX && align <= FA_SMALL_MAX) {
        size_t cls = fa_class_aligned[log2_of(align)][fa_class_of(n)];
        if (cls < FA_SIZE_CLASSES) {
            return class_alloc(h, cls);
        }
    }
    bool zeroed;
    return large_alloc(h, n, align, &zeroed);
}

void *fa_aligned_alloc(size_t align, size_t n)
{
    fa_heap *h = default_get();
    return h != NULL ? fa_heap_aligned_alloc(h, align, n) : NULL;
}

int fa_posix_memalign(void **out, size_t align, size_t n)
{
    if (align % sizeof(void *) != 0 || !is_pow2(align) ||
        align > FA_HEAP_ALIGN_MAX) {
        return EINVAL;
    }
    int saved = errno;
    void *p = fa_aligned_alloc(align, n);
    int err = p != NULL ? 0 : errno == EINVAL ? EINVAL : ENOMEM;
    errno = saved;
    if (p != NULL) {
        *out = p;
    }
    return err;
}

/* ---- free ---- */

static __attribute__((noinline)) void free_slow(void *p)
{
    void *hdr;
    switch (classify(p, &hdr)) {
    case OBJ_SMALL:
        fa_cache_free(cache_of_chunk(hdr), p);
        break;
    case OBJ_LARGE:
        large_free(hdr, p);
        break;
    case OBJ_NONE:
    case OBJ_BAD:
        break;
    }
}

/* The fast path: mask to the chunk, check its magic, push onto the
 * thread's loaded magazine of the chunk's cache, as cache.c's free_one.
 * NULL, large objects, checked mode and misses go to free_slow. */
void fa_free(void *p)
{
    const fa_chunk *ch = (const fa_chunk *)((uintptr_t)p & FA_HEAP_CHUNK_MASK);
    if (FA_LIKELY(p != NULL &&
                  !atomic_load_explicit(&heap_checking,
                                        memory_order_relaxed) &&
                  ch->magic == FA_CHUNK_MAGIC)) {
        fa_cache *c = cache_of_chunk(ch);
        fa_tentry *e = fa_tentry_at(c->toff);
        void **top = e->top;
        if (FA_LIKELY(top != e->limit)) {
            *top = p;
            e->top = top + 1;
            return;
        }
        fa_cache_free(c, p);
        return;
    }
    free_slow(p);
}

/* Whether n can be the size an object was allocated or last reallocated
 * with. Large: the size recorded in its block. Small: a request of its
 * class, or one that fa_realloc kept it in place for (it fits, and its
 * own class is more than half the object's). */
static bool size_matches(enum obj_kind kind, const void *hdr, size_t n)
{
    if (kind == OBJ_LARGE) {
        return ((const fa_large *)hdr)->size == n;
    }
    size_t slot = ((const fa_chunk *)hdr)->pool->slot;
    return n <= slot && fa_class_size[fa_class_of(n)] > slot / 2;
}

void fa_free_sized(void *p, size_t n)
{
    void *hdr;
    enum obj_kind kind = classify(p, &hdr);
    if (kind != OBJ_SMALL && kind != OBJ_LARGE) {
        return;
    }
    fa_heap *h = kind == OBJ_LARGE ? ((fa_large *)hdr)->heap
                                   : heap_of_chunk(hdr);
    if (h->checked && !size_matches(kind, hdr, n)) {
        heap_report(FA_ERR_FOREIGN, h, p, "fa_free_sized: the size is not "
                    "the one the object was allocated with");
        return;
    }
    if (kind == OBJ_LARGE) {
        large_free(hdr, p);
    } else {
        fa_cache_free(cache_of_chunk(hdr), p);
    }
}

/* ---- sizes, owners, realloc ---- */

static size_t usable_of(enum obj_kind kind, const void *hdr)
{
    if (kind == OBJ_LARGE) {
        const fa_large *b = hdr;
        return b->map_size - b->offset;
    }
    return kind == OBJ_SMALL ? ((const fa_chunk *)hdr)->pool->slot : 0;
}

size_t fa_usable_size(const void *p)
{
    void *hdr;
    enum obj_kind kind = classify(p, &hdr);
    return usable_of(kind, hdr);
}

fa_heap *fa_heap_of(const void *p)
{
    void *hdr;
    switch (classify(p, &hdr)) {
    case OBJ_SMALL: return heap_of_chunk(hdr);
    case OBJ_LARGE: return ((fa_large *)hdr)->heap;
    case OBJ_NONE:
    case OBJ_BAD: break;
    }
    return NULL;
}

size_t fa_good_size(size_t n)
{
    if (module_ready() != 0) {
        return 0;
    }
    if (n <= FA_SMALL_MAX) {
        return fa_class_size[fa_class_of(n)];
    }
    if (n > SIZE_MAX - FA_LARGE_HEADER - page_size) {
        return 0;
    }
    return ((n + FA_LARGE_HEADER + page_size - 1) & ~(page_size - 1)) -
           FA_LARGE_HEADER;
}

/* The alignment fa_malloc(n) gives: 16, or 8 for the classes that are not
 * multiples of 16. */
static size_t natural_align(size_t n)
{
    return n <= FA_SMALL_MAX && fa_class_size[fa_class_of(n)] % 16 != 0
               ? 8
               : FA_HEAP_ALIGN;
}

/* Whether object p of `usable` bytes is kept for a request of n bytes: n
 * fits, a fresh object would not take less than half as much, and p is
 * aligned as fa_malloc(n) would be. */
static bool keep_in_place(const void *p, size_t usable, size_t n)
{
    size_t fresh = fa_good_size(n);
    return n <= usable && (fresh == 0 || usable / 2 < fresh) &&
           (uintptr_t)p % natural_align(n) == 0;
}

static void *realloc_in(fa_heap *h, void *p, size_t n)
{
    if (p == NULL) {
        return fa_heap_malloc(h, n);
    }
    void *hdr;
    enum obj_kind kind = classify(p, &hdr);
    if (kind != OBJ_SMALL && kind != OBJ_LARGE) {
        errno = EINVAL;
        return NULL;
    }
    size_t usable = usable_of(kind, hdr);
    if (keep_in_place(p, usable, n)) {
        if (kind == OBJ_LARGE) {
            ((fa_large *)hdr)->size = n;
        }
        return p;
    }
    void *q = fa_heap_malloc(h, n);
    if (q != NULL) {
        memcpy(q, p, n < usable ? n : usable);
        fa_free(p);
    }
    return q;
}

void *fa_heap_realloc(fa_heap *h, void *p, size_t n)
{
    return realloc_in(h, p, n);
}

void *fa_realloc(void *p, size_t n)
{
    fa_heap *h = p != NULL ? fa_heap_of(p) : default_get();
    if (h == NULL) {
        if (p != NULL) {
            errno = EINVAL; /* reported by fa_heap_of */
        }
        return NULL;
    }
    return realloc_in(h, p, n);
}

/* ---- trim, stats, check ---- */

size_t fa_heap_trim(fa_heap *h)
{
    if (!heap_ok(h)) {
        return 0;
    }
    size_t bytes = 0;
    for (size_t i = 0; i < FA_SIZE_CLASSES; i++) {
        bytes += fa_cache_trim(h->cache[i]);
    }
    return bytes;
}

int fa_heap_class_stats(fa_heap *h, size_t cls, fa_cache_counters *out)
{
    if (cls >= FA_SIZE_CLASSES || !heap_ok(h)) {
        return EINVAL;
    }
    fa_cache_stats(h->cache[cls], out);
    return 0;
}

void fa_heap_stats(fa_heap *h, fa_heap_counters *out)
{
    memset(out, 0, sizeof *out);
    if (!heap_ok(h)) {
        return;
    }
    out->name = h->name;
    out->classes = FA_SIZE_CLASSES;
    for (size_t i = 0; i < FA_SIZE_CLASSES; i++) {
        fa_cache_counters c;
        fa_cache_stats(h->cache[i], &c);
        size_t slot = fa_class_size[i];
        out->small_live += c.live;
        out->live_bytes += c.live * slot;
        out->cached += c.in_threads + c.in_depot;
        out->cached_bytes += (c.in_threads + c.in_depot) * slot;
        out->allocs += c.allocs;
        out->frees += c.frees;
    }
    out->chunk_bytes = atomic_load(&h->chunk_bytes);
    pthread_mutex_lock(&large_lock);
    out->large_live = h->nlarge;
    out->large_bytes = h->large_bytes;
    out->live_bytes += h->large_usable;
    out->large_allocs = h->large_allocs;
    out->large_frees = h->large_frees;
    pthread_mutex_unlock(&large_lock);
    out->allocs += out->large_allocs;
    out->frees += out->large_frees;
    out->live = out->small_live + out->large_live;
    out->bytes_held = atomic_load(&h->held);
    out->max_bytes = h->max_bytes;
}

void fa_heap_stats_print(const fa_heap_counters *s, FILE *f)
{
    fprintf(f,
            "fixalloc heap '%s'\n"
            "  live objects     %zu (%zu small, %zu large), %zu B usable\n"
            "  allocs / frees   %" PRIu64 " / %" PRIu64 " (large %" PRIu64
            " / %" PRIu64 ")\n"
            "  cached objects   %zu (%zu B) in magazines\n"
            "  bytes held       %zu (%zu B in chunks, %zu B in large "
            "blocks; cap %zu)\n",
            s->name ? s->name : "unnamed", s->live, s->small_live,
            s->large_live, s->live_bytes, s->allocs, s->frees,
            s->large_allocs, s->large_frees, s->cached, s->cached_bytes,
            s->bytes_held, s->chunk_bytes, s->large_bytes, s->max_bytes);
}

static bool large_list_ok_locked(const fa_heap *h)
{
    size_t n = 0, bytes = 0;
    for (const fa_large *b = h->large; b != NULL; b = b->next, n++) {
        if (b->magic != FA_LARGE_MAGIC || b->heap != h ||
            (b->next != NULL && b->next->prev != b) ||
            b->offset + b->size > b->map_size) {
            heap_report(FA_ERR_CORRUPT, h, b, "a large block's header is "
                        "broken");
            return false;
        }
        bytes += b->map_size;
    }
    if (n != h->nlarge || bytes != h->large_bytes) {
        heap_report(FA_ERR_CORRUPT, h, h, "the large blocks are miscounted");
        return false;
    }
    return true;
}

bool fa_heap_check(fa_heap *h)
{
    if (!heap_ok(h)) {
        return false;
    }
    bool ok = true;
    for (size_t i = 0; ok && i < FA_SIZE_CLASSES; i++) {
        ok = fa_cache_check(h->cache[i]);
    }
    pthread_mutex_lock(&large_lock);
    ok = ok && large_list_ok_locked(h);
    size_t large_bytes = h->large_bytes;
    pthread_mutex_unlock(&large_lock);
    size_t chunks = 0;
    for (size_t i = 0; ok && i < FA_SIZE_CLASSES; i++) {
        chunks += h->cache[i]->pool.nchunks * FA_HEAP_CHUNK;
    }
    size_t chunk_bytes = atomic_load(&h->chunk_bytes);
    if (ok && (chunks != chunk_bytes ||
               atomic_load(&h->held) != chunk_bytes + large_bytes)) {
        heap_report(FA_ERR_CORRUPT, h, h, "the bytes held are miscounted");
        ok = false;
    }
    return ok;
}
