/*
 * pool.c - fa_pool: chunks carved into objects of one size, and allocation.
 * docs/design.md, "The pool".
 */
#include "pool_impl.h"

#include <errno.h>
#include <string.h>

/* One carve batch in fast mode links at least FA_CARVE_BYTES of slots (a
 * page: a pool used lightly touches no more) and at most FA_CARVE_MAX
 * (carve_bytes). */
#define FA_CARVE_BYTES ((size_t)4096)
#define FA_CARVE_MAX ((size_t)16384)

/* ---- the folded counts ---- */

static void set_counts(fa_pool *p, size_t fast_len, size_t headroom)
{
    size_t avail = fast_len < headroom ? fast_len : headroom;
    if (p->guarded) {
        avail = 0; /* every allocation takes the slow path */
    }
    p->avail = (ptrdiff_t)avail;
    p->fast_gap = fast_len - avail;
    p->headroom_gap = headroom - avail;
}

/* ---- chunk lists ---- */

static fa_list_node **list_head(fa_pool *p, enum fa_chunk_list which)
{
    switch (which) {
    case FA_LIST_PARTIAL: return &p->partial;
    case FA_LIST_FULL: return &p->full;
    case FA_LIST_EMPTY: return &p->empty;
    case FA_LIST_CURRENT: break;
    }
    return NULL;
}

void fa_chunk_push(fa_pool *p, fa_chunk *c, enum fa_chunk_list which)
{
    FA_ASSERT(which != FA_LIST_CURRENT);
    c->list = (uint8_t)which;
    p->nempty += which == FA_LIST_EMPTY;
    fa_list_push(list_head(p, which), &c->link);
}

void fa_chunk_unlist(fa_pool *p, fa_chunk *c)
{
    FA_ASSERT(c->list != FA_LIST_CURRENT);
    p->nempty -= c->list == FA_LIST_EMPTY;
    fa_list_remove(list_head(p, (enum fa_chunk_list)c->list), &c->link);
}

/* ---- chunks from and back to the source ---- */

fa_chunk *fa_chunk_new(fa_pool *p)
{
    if (p->max_bytes != 0 && p->max_bytes / p->chunk_size < p->nchunks + 1) {
        return NULL;
    }
    bool zeroed = false;
    fa_chunk *c =
        p->source.map(p->source.ctx, p->chunk_size, p->chunk_size, &zeroed);
    if (c == NULL) {
        return NULL;
    }
    if (((uintptr_t)c & p->chunk_low) != 0) {
        fa_report_pool(FA_ERR_CORRUPT, p, c,
                       "the page source returned a misaligned block");
        p->source.unmap(p->source.ctx, c, p->chunk_size); /* not kept */
        return NULL;
    }
    c->magic = FA_CHUNK_MAGIC;
    c->pool = p;
    c->link.next = c->link.prev = NULL;
    c->free = NULL;
    c->carve = fa_chunk_base(p, c);
    fa_chunk_set_hwm(c, c->carve);
    c->nlive = 0;
    c->zeroed = zeroed;
    fa_chunk_unpurge(p, c);
    if (!fa_chunkmap_add(c) || !fa_debug_chunk_new(p, c)) {
        fa_chunkmap_remove(c); /* no other chunk starts here: harmless */
        p->source.unmap(p->source.ctx, c, p->chunk_size);
        return NULL;
    }
    p->nchunks++;
    return c;
}

/* Runs `release` on every slot ever carved and gives the chunk back to
 * p's source; p's counts do not change. */
void fa_chunk_give_back(fa_pool *p, fa_chunk *c)
{
    fa_debug_chunk_release(p, c);
    if (p->release != NULL) {
        for (char *s = fa_chunk_base(p, c); s < fa_chunk_hwm(c); s += p->slot) {
            p->release(p->arg, s);
        }
    }
    c->magic = 0;
    fa_chunkmap_remove(c);
    p->source.unmap(p->source.ctx, c, p->chunk_size);
}

void fa_chunk_release(fa_pool *p, fa_chunk *c)
{
    fa_chunk_give_back(p, c);
    p->nchunks--;
}

/* ---- the current chunk ---- */

/* Slots up to this size share or fill a cache line each: a list in
 * address order is read line after line, which hardware prefetchers
 * stream. A larger slot puts every link on a line of its own, and
 * following the list waits on each (docs/design.md, "Why per-chunk
 * lists, and the reset"). */
#define FA_KEEP_LIST_SLOT_MAX 64

/* Whether an empty chunk keeps its free list rather than being reset: in
 * a plain pool (raw links, so the chunk can move to another pool) of
 * small slots, when the list starts at the first slot. Frees in LIFO
 * order leave the list in address order, which carving again would only
 * write anew; a list that frees in random order left starts there one
 * time in nslots. */
static bool keeps_list(const fa_pool *p, const fa_chunk *c)
{
    return !p->careful && p->slot <= FA_KEEP_LIST_SLOT_MAX && c->npurged == 0 &&
           c->free == fa_chunk_base(p, c);
}

/* Puts a chunk that is not current on the list its state calls for; a
 * chunk with no live object is reset to carving in address order (unless
 * it keeps its list). */
void fa_chunk_file(fa_pool *p, fa_chunk *c)
{
    if (c->nlive == 0) {
        if (!keeps_list(p, c)) {
            c->free = NULL;
            c->carve = fa_chunk_base(p, c);
        }
        if (c->npurged != 0) { /* discarded units: carved as if fresh */
            fa_chunk_set_hwm(c, c->carve);
            c->zeroed = false;
            fa_chunk_unpurge(p, c);
        }
        fa_chunk_push(p, c, FA_LIST_EMPTY);
    } else if (c->free == NULL && c->carve == fa_chunk_end(p, c) &&
               c->npurged == 0) {
        fa_chunk_push(p, c, FA_LIST_FULL);
    } else {
        fa_chunk_push(p, c, FA_LIST_PARTIAL);
    }
}

/* Stops allocating from the current chunk: its cached free list and live
 * count go back into its header. */
void fa_pool_retire(fa_pool *p)
{
    fa_chunk *c = p->cur;
    FA_ASSERT(c != NULL && fa_pool_live(p) >= p->others_live);
    c->nlive = (uint32_t)(fa_pool_live(p) - p->others_live);
    p->others_live += c->nlive;
    c->free = p->fast_free;
    p->fast_free = NULL;
    set_counts(p, 0, fa_headroom(p));
    p->cur = NULL;
    p->fast_span = 0;
    fa_chunk_file(p, c);
}

void fa_chunk_make_current(fa_pool *p, fa_chunk *c)
{
    FA_ASSERT(p->cur == NULL && c->nlive <= p->others_live);
    fa_chunk_unlist(p, c);
    p->others_live -= c->nlive;
    c->list = FA_LIST_CURRENT;
    p->cur = c;
    size_t carved = fa_slot_index(p, (size_t)(c->carve - fa_chunk_base(p, c)));
    p->fast_free = c->free;
    c->free = NULL;
    /* FA_ZERO pools clear objects as they are freed, and guarded ones
     * check every free: neither has a fast free. */
    p->fast_base = (uintptr_t)c;
    p->fast_span = !p->careful ? p->chunk_size : 0;
    set_counts(p, carved - c->nlive - fa_chunk_held(p, c), fa_headroom(p));
}

static bool chunk_has_room(const fa_pool *p, const fa_chunk *c)
{
    return fa_chunk_free_list(p, c) != NULL || c->carve < fa_chunk_end(p, c) ||
           c->npurged != 0;
}

/* The current chunk c, with its held slots on the cached list when they
 * are all it has left. */
static fa_chunk *take_held(fa_pool *p, fa_chunk *c)
{
    if (p->fast_free == NULL && c->carve == fa_chunk_end(p, c)) {
        size_t n = fa_chunk_restore(p, c, &p->fast_free);
        set_counts(p, fa_fast_len(p) + n, fa_headroom(p));
    }
    return c;
}

/* Returns a current chunk with a free or uncarved slot, moving on to a
 * partial chunk, then an empty one, then a new one; NULL when out of
 * memory. Partial chunks go first so that empty ones stay trimmable. */
static fa_chunk *ensure_current(fa_pool *p)
{
    fa_chunk *c = p->cur;
    if (c != NULL && chunk_has_room(p, c)) {
        return take_held(p, c);
    }
    if (c != NULL) {
        fa_pool_retire(p);
    }
    c = fa_chunk_first(p->partial != NULL ? p->partial : p->empty);
    if (c == NULL) {
        c = fa_chunk_new(p);
        if (c == NULL) {
            return NULL;
        }
        fa_chunk_push(p, c, FA_LIST_EMPTY);
    }
    fa_chunk_make_current(p, c);
    return take_held(p, c);
}

/* ---- carving ---- */

/* Prepares slots carved for the first time: cleared for FA_ZERO when the
 * source did not hand them out zeroed, constructed by `first`, and, in
 * checked mode, poisoned like freed slots. */
static void carve_fresh(fa_pool *p, fa_chunk *c, char *fresh, char *stop)
{
    if ((p->flags & FA_ZERO) && !p->guarded && !c->zeroed) {
        memset(fresh, 0, (size_t)(stop - fresh));
    }
    for (char *s = fresh; p->first != NULL && s < stop; s += p->slot) {
        fa_track_open(p->tracked, s, p->slot);
        p->first(p->arg, s);
        fa_track_close(p->tracked, s, p->slot);
    }
    if (p->checked) {
        fa_debug_poison(p, fresh, (size_t)(stop - fresh) / p->slot);
    }
}

/* Bytes the next carve batch of c links: as many as the chunk carved so
 * far, or as many as lie below its high-water mark (touched already), from
 * FA_CARVE_BYTES to FA_CARVE_MAX. A chunk used lightly touches a page at a
 * time; one used heavily takes a slow path for every FA_CARVE_MAX bytes,
 * each with the same fixed cost (the cache's slow path above it too). */
static size_t carve_bytes(const fa_pool *p, const fa_chunk *c)
{
    size_t done = (size_t)(c->carve - fa_chunk_base(p, c));
    size_t touched = (size_t)(fa_chunk_hwm(c) - c->carve);
    size_t b = done > touched ? done : touched;
    return b < FA_CARVE_BYTES ? FA_CARVE_BYTES
           : b > FA_CARVE_MAX ? FA_CARVE_MAX
                              : b;
}

/* Links the slots of [start, stop) each to the next, in ascending address
 * order, as the allocations will go (hardware prefetchers follow ascending
 * streams best); returns the last slot, whose link is the caller's. Four
 * links a turn: a carve writes a link for nearly every object a pool
 * hands out after a reset, and the loop's own instructions were more than
 * its stores. */
static char *link_ascending(char *start, const char *stop, size_t slot)
{
    char *s = start;
    const char *last = stop - slot;
    size_t run = 4 * slot;
    while ((size_t)(last - s) >= run) {
        char *a = s + slot;
        char *b = a + slot;
        char *c = b + slot;
        char *d = c + slot;
        *(void **)(void *)s = a;
        *(void **)(void *)a = b;
        *(void **)(void *)b = c;
        *(void **)(void *)c = d;
        s = d;
    }
    for (; s < last; s += slot) {
        *(void **)(void *)s = s + slot;
    }
    return s;
}

/* Carves a batch of the current chunk's slots (carve_bytes) onto the
 * (empty) cached free list, lowest address first (pools that are not
 * guarded only: their links are plain pointers). `first` runs before the
 * links are written, since a link overwrites an object's first word. */
static void carve_batch(fa_pool *p, fa_chunk *c)
{
    size_t left = (size_t)(fa_chunk_end(p, c) - c->carve) / p->slot;
    size_t n = carve_bytes(p, c) / p->slot;
    n = n == 0 ? 1 : (n > left ? left : n);
    char *start = c->carve;
    char *stop = start + n * p->slot;
    char *hwm = fa_chunk_hwm(c);
    if (stop > hwm) {
        carve_fresh(p, c, hwm > start ? hwm : start, stop);
        fa_chunk_set_hwm(c, stop);
    }
    char *last = link_ascending(start, stop, p->slot);
    *(void **)(void *)last = p->fast_free;
    p->fast_free = start;
    c->carve = stop;
    set_counts(p, fa_fast_len(p) + n, fa_headroom(p));
}

/* ---- allocation ---- */

/* Counts one allocation; `from_list` when it took an object off the
 * cached list. */
static void count_alloc(fa_pool *p, bool from_list)
{
    size_t headroom = fa_headroom(p);
    if (headroom != 0) {
        headroom--;
    } else {
        p->peak++;
    }
    set_counts(p, fa_fast_len(p) - (from_list ? 1 : 0), headroom);
    p->allocs++;
}

/* Makes sure the cached list is not empty: carving, or moving on to
 * another chunk. False when out of memory. */
static bool refill(fa_pool *p)
{
    fa_chunk *c = ensure_current(p);
    if (c == NULL) {
        return false;
    }
    if (p->fast_free == NULL) {
        carve_batch(p, c);
    }
    return true;
}

/* Whether `next`, read from a free slot of c, can be a link of c's list:
 * NULL, or the start of a carved slot of c. */
static bool link_ok(const fa_pool *p, const fa_chunk *c, const char *next)
{
    char *base = fa_chunk_base(p, c);
    return next == NULL || (next >= base && next < c->carve &&
                            fa_slot_aligned(p, (size_t)(next - base)) &&
                            !(p->checked && fa_debug_is_live(p, c, next)));
}

/* Guarded pools: pops the cached list, verifying the link it follows.
 * NULL with errno EFAULT (after a report) when the link is corrupted. */
static void *pop_guarded(fa_pool *p)
{
    void *obj = p->fast_free;
    void *next = fa_link_get(p, obj);
    /* A link zeroed by a write after free would end the list early:
     * the list's length is known (fast_len), so the early end is seen. */
    if (!link_ok(p, p->cur, next) || (next == NULL && fa_fast_len(p) > 1)) {
        fa_report_pool(FA_ERR_CORRUPT, p, obj,
                       "the free-list link in this free "
                       "object was overwritten");
        errno = EFAULT;
        return NULL;
    }
    p->fast_free = next;
    fa_link_clear(p, obj);
    return obj;
}

/* Guarded pools: carves one slot straight to the caller, so that every
 * object on the cached list was freed before and every carved one is
 * known to be fresh, which tracking needs (the contents of a freed object
 * are defined, those of a fresh one are not). */
static void *carve_one(fa_pool *p, fa_chunk *c, bool *reused)
{
    char *obj = c->carve;
    c->carve += p->slot;
    *reused = obj < fa_chunk_hwm(c);
    if (!*reused) {
        carve_fresh(p, c, obj, c->carve);
        fa_chunk_set_hwm(c, c->carve);
    }
    fa_link_clear(p, obj);
    return obj;
}

/* Guarded pools: one object with its checks, annotations and zeroing. */
static void *alloc_guarded(fa_pool *p)
{
    fa_chunk *c = ensure_current(p);
    if (c == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    bool from_list = p->fast_free != NULL;
    bool reused = true;
    void *obj = from_list ? pop_guarded(p) : carve_one(p, c, &reused);
    if (obj == NULL) {
        return NULL;
    }
    if (p->checked || p->tracked) {
        fa_debug_alloc(p, c, obj, reused);
    }
    if (p->flags & FA_ZERO) {
        memset(obj, 0, p->size);
    }
    count_alloc(p, from_list);
    return obj;
}

/* Hardened pools: pops the cached list when its link decodes to the start
 * of a carved slot of the current chunk, or to NULL at the list's end;
 * NULL otherwise, and alloc_guarded then verifies and reports. The counts
 * are a guarded pool's (avail stays 0): one off the list, one of headroom
 * or a new peak. */
static inline void *pop_hardened(fa_pool *p)
{
    void **obj = p->fast_free;
    if (obj == NULL) {
        return NULL;
    }
    /* Never tracked, and link_key is not 0: the link is read directly. */
    char *next = (char *)((uintptr_t)*obj ^ fa_link_key_mix(p, obj));
    /* pop_guarded's test (not checked, so no live bits): a carved slot of
     * the current chunk, or NULL ending a list of one object (avail is 0
     * here, so fast_gap is the list's length). */
    if (FA_UNLIKELY(next == NULL ? p->fast_gap > 1
                                 : !fa_carved_slot(p, p->cur, next))) {
        return NULL;
    }
    p->fast_free = next;
    *obj = NULL;
    p->fast_gap--;
    if (p->headroom_gap != 0) {
        p->headroom_gap--;
    } else {
        p->peak++;
    }
    p->allocs++;
    return obj;
}

static __attribute__((noinline)) void *alloc_slow(fa_pool *p)
{
    p->avail++; /* undo the fast path's decrement */
    if (!FA_HANDLE_OK_DEREF(p, FA_POOL_MAGIC, FA_OBJ_POOL)) {
        errno = EINVAL;
        return NULL;
    }
    if (p->guarded) {
        return alloc_guarded(p);
    }
    /* Here the cached list is empty, or live is at its peak (headroom 0):
     * count_alloc then raises the peak. */
    if (p->fast_free == NULL && !refill(p)) {
        errno = ENOMEM;
        return NULL;
    }
    void **obj = p->fast_free;
    p->fast_free = *obj;
    *obj = NULL;
    count_alloc(p, true);
    return obj;
}

/* Every allocation the fast path did not make: a hardened pool's short
 * path first, then the slow path. */
static __attribute__((noinline)) void *alloc_miss(fa_pool *p)
{
    /* A pool not initialised or destroyed is all zero: not hardened_fast. */
    if (p->hardened_fast) {
        void *obj = pop_hardened(p);
        if (obj != NULL) {
            p->avail++; /* undo the fast path's decrement */
            return obj;
        }
    }
    return alloc_slow(p);
}

/* The fast path: pop the cached list of the current chunk. avail > 0
 * means the list is not empty and live stays at or below its peak. The
 * link is cleared, so an object never shows a pointer into the pool, and
 * an FA_ZERO object (cleared when it was freed) reads as zeros. */
static inline void *alloc_one(fa_pool *p)
{
    void **obj = p->fast_free;
    if (FA_LIKELY(--p->avail >= 0)) {
        p->fast_free = *obj;
        *obj = NULL;
        p->allocs++;
        return obj;
    }
    return alloc_miss(p);
}

void *fa_pool_alloc(fa_pool *p)
{
    return alloc_one(p);
}

size_t fa_pool_alloc_bulk(fa_pool *p, void **out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = alloc_one(p);
        if (out[i] == NULL) {
            return i;
        }
    }
    return n;
}

/* ---- destroy ---- */

void fa_pool_untrack_peak(fa_pool *p)
{
    size_t live = fa_pool_live(p);
    p->peak = SIZE_MAX / 2 + live;
    set_counts(p, fa_fast_len(p), p->peak - live);
}

static void release_list(fa_pool *p, fa_list_node *n)
{
    while (n != NULL) {
        fa_list_node *next = n->next;
        fa_chunk_release(p, fa_chunk_of_node(n));
        n = next;
    }
}

static void pool_destroy(fa_pool *p, bool report_leaks)
{
    if (!FA_HANDLE_OK(p, FA_POOL_MAGIC, FA_OBJ_POOL)) {
        return;
    }
    if (report_leaks) {
        fa_debug_leaks(p);
    }
    /* Before any chunk goes back: a cache's entry may be destroyed by
     * another thread than its own, whose fa_free may still read it as a
     * guess (cache_impl.h, fa_cache_guess), and must not match an object
     * of a chunk mapped anew where the current one was. */
    p->fast_span = 0;
    if (p->cur != NULL) {
        fa_chunk_release(p, p->cur);
    }
    release_list(p, p->partial);
    release_list(p, p->full);
    release_list(p, p->empty);
    fa_debug_destroy(p);
    memset(p, 0, sizeof *p);
}

void fa_pool_destroy(fa_pool *p)
{
    pool_destroy(p, true);
}

void fa_pool_destroy_region(fa_pool *p)
{
    pool_destroy(p, false);
}
