/*
 * pool_free.c - fa_pool's free: the fast path, the always-on checks, and
 * frees into other chunks. docs/design.md, "Pool free, step by step".
 */
#include "pool_impl.h"

#include <string.h>

/* Reports the first check of the chunk map or free_is_valid obj fails. */
static FA_COLD bool free_invalid(fa_pool *p, fa_chunk *c, void *obj)
{
    char *base = fa_chunk_base(p, c);
    if (!fa_chunkmap_has(c) || c->magic != FA_CHUNK_MAGIC || c->pool != p) {
        fa_report_pool(FA_ERR_FOREIGN, p, obj,
                       "no chunk of this pool holds it");
    } else if ((char *)obj < base) {
        fa_report_pool(FA_ERR_FOREIGN, p, obj, "it points into a chunk header");
    } else if (!fa_slot_aligned(p, (size_t)((char *)obj - base))) {
        fa_report_pool(FA_ERR_INTERIOR, p, obj, "it points inside a slot");
    } else {
        fa_report_pool(FA_ERR_DOUBLE_FREE, p, obj, "the slot is not allocated");
    }
    return false;
}

/* The checks that cost nothing measurable, on every free that leaves the
 * fast path: the chunk is this pool's, the pointer is a slot's start, and
 * the slot is carved and not the head of its chunk's free list. */
static inline bool free_ok(const fa_pool *p, const fa_chunk *c, const void *obj)
{
    char *base = fa_chunk_base(p, c);
    return c->magic == FA_CHUNK_MAGIC && c->pool == p &&
           (const char *)obj >= base &&
           fa_slot_aligned(p, (size_t)((const char *)obj - base)) &&
           (const char *)obj < c->carve && obj != fa_chunk_free_list(p, c);
}

/* free_ok, with a report when it fails. */
static inline bool free_is_valid(fa_pool *p, fa_chunk *c, void *obj)
{
    return FA_LIKELY(free_ok(p, c, obj)) || free_invalid(p, c, obj);
}

/* Pushes a freed slot onto a list: encoded and annotated when guarded. */
static inline void link_push(fa_pool *p, void **head, void *obj)
{
    if (FA_UNLIKELY(p->guarded)) {
        fa_link_set(p, obj, *head);
    } else {
        *(void **)obj = *head;
    }
    *head = obj;
}

/* Counts a free onto the cached list: one more on the list, one more of
 * headroom (guarded pools keep avail at zero). */
static void count_free_cached(fa_pool *p)
{
    if (p->guarded) {
        p->fast_gap++;
        p->headroom_gap++;
    } else {
        p->avail++;
    }
}

/* Counts a free into another chunk: one more of headroom, the cached list
 * unchanged; avail = min(list, headroom) grows only while headroom is the
 * smaller. */
static inline void count_free_other(fa_pool *p, bool guarded)
{
    p->others_live--;
    /* Headroom is the smaller only near the peak (never in a pool that
     * does not track it, a cache's). */
    if (FA_UNLIKELY(p->headroom_gap == 0) && p->fast_gap > 0 && !guarded) {
        p->avail++;
        p->fast_gap--;
    } else {
        p->headroom_gap++;
    }
}

/* Slow frees in a row, each within FA_STREAK_REACH slots of the one freed
 * into its chunk before it, that make its chunk the current chunk. */
#define FA_STREAK 8
#define FA_STREAK_REACH 8

/* Makes c, not the current chunk, the current one. */
static FA_COLD void switch_current(fa_pool *p, fa_chunk *c)
{
    if (p->cur != NULL) {
        fa_pool_retire(p);
    }
    fa_chunk_make_current(p, c);
}

/* Slow frees that walk through one chunk (a batch given back in LIFO
 * order, a run of objects another thread freed in the order they were
 * handed out) make it the current chunk, so the next ones take the fast
 * path and the next allocations reuse the objects just freed, which are
 * in cache. A free continues a walk when it lands near the object freed
 * into its chunk before it (`head`, the head of the chunk's list, which
 * the free reads anyway): frees scattered over the chunks never do, nor
 * frees scattered over one chunk (with few chunks, a heap's 1 MiB ones,
 * random frees often land in one chunk eight times in a row, and moving
 * the current chunk then only trades one list in random order for
 * another). Walks through two chunks at once take turns being current. */
static inline void follow_frees(fa_pool *p, fa_chunk *c, const void *obj,
                                const void *head)
{
    uintptr_t reach = FA_STREAK_REACH * p->slot;
    bool near = (uintptr_t)obj - (uintptr_t)head + reach <= 2 * reach;
    if (!near) {
        p->streak = 0;
    } else if (++p->streak >= FA_STREAK) {
        p->streak = 0;
        switch_current(p, c);
    }
}

/* A chunk that stopped being full or became empty: onto its new list.
 * A current chunk that emptied meanwhile (through fast frees, which count
 * nothing per chunk) is retired too, and so reset like any other emptied
 * chunk, rather than handing its list out in the order it was freed. */
static FA_COLD void refile(fa_pool *p, fa_chunk *c, void *obj, void *head)
{
    fa_chunk_unlist(p, c);
    fa_chunk_file(p, c);
    if (p->cur != NULL && fa_chunk_live(p, p->cur) == 0) {
        fa_pool_retire(p);
    }
    follow_frees(p, c, obj, head);
}

/* A free into a chunk other than the current one, after the free's
 * checks: onto the chunk's own list; the chunk changes lists when it stops
 * being full or becomes empty (and is then reset). `guarded` is
 * p->guarded, passed as a constant where the caller knows it (the stores
 * through obj and c could alias p, so the compiler reads a field again
 * after them). Every call out is the last thing it does, so the plain
 * path needs no stack frame. */
static inline void free_to_other(fa_pool *p, fa_chunk *c, void *obj,
                                 bool guarded)
{
    void *head = c->free;
    if (FA_UNLIKELY(guarded)) {
        fa_link_set(p, obj, head);
    } else {
        *(void **)obj = head;
    }
    c->free = obj;
    count_free_other(p, guarded);
    if (FA_UNLIKELY(--c->nlive == 0 || c->list == FA_LIST_FULL)) {
        refile(p, c, obj, head);
        return;
    }
    follow_frees(p, c, obj, head);
}

/* Guarded pools: every check and annotation, then the free. */
static void free_guarded(fa_pool *p, fa_chunk *c, void *obj)
{
    if (p->checked && !fa_debug_owns(p, c)) {
        fa_report_pool(FA_ERR_FOREIGN, p, obj,
                       "no chunk of this pool holds it");
        return;
    }
    if (!free_is_valid(p, c, obj) ||
        ((p->checked || p->tracked) && !fa_debug_free(p, c, obj))) {
        return;
    }
    if (c == p->cur) {
        link_push(p, &p->fast_free, obj);
        count_free_cached(p);
    } else {
        free_to_other(p, c, obj, p->guarded);
    }
}

/* Hardened pools: pushes an object of the current chunk that free_ok
 * accepts; false otherwise, and free_careful then verifies and reports. */
static inline bool push_hardened(fa_pool *p, fa_chunk *c, void *obj)
{
    /* The current chunk is p's: only free_ok's slot tests are left. */
    if (c != p->cur || !fa_carved_slot(p, c, obj) || obj == p->fast_free) {
        return false;
    }
    /* Never tracked, and link_key is not 0: the link is written directly. */
    *(uintptr_t *)obj = (uintptr_t)p->fast_free ^ fa_link_key_mix(p, obj);
    p->fast_free = obj;
    p->fast_gap++; /* count_free_cached, for a guarded pool */
    p->headroom_gap++;
    return true;
}

/* Careful pools (guarded ones, and FA_ZERO ones, which clear each object
 * as it is freed), for an object in c, one of p's chunks: a hardened
 * pool's short path first, then every check. */
static FA_COLD void free_careful(fa_pool *p, fa_chunk *c, void *obj)
{
    if (p->hardened_fast && push_hardened(p, c, obj)) {
        return;
    }
    if (p->guarded) {
        free_guarded(p, c, obj);
        return;
    }
    if (!free_is_valid(p, c, obj)) {
        return;
    }
    memset(obj, 0, p->size);
    if (c == p->cur) {
        link_push(p, &p->fast_free, obj);
        count_free_cached(p);
    } else {
        free_to_other(p, c, obj, false);
    }
}

/* Whether c is one of p's chunks. A chunk the map shows has its header
 * (magic and all), and nothing at c is read before the map shows it. */
static inline bool is_pools_chunk(const fa_pool *p, const fa_chunk *c)
{
    return fa_chunkmap_has(c) && c->pool == p;
}

/* free_careful for an object whose chunk the map has not been asked about
 * (a hardened pool's short path, which tests c against the current chunk
 * before it reads c, came first). */
static FA_COLD void free_careful_unmapped(fa_pool *p, fa_chunk *c, void *obj)
{
    if (!is_pools_chunk(p, c)) {
        (void)free_invalid(p, c, obj);
        return;
    }
    free_careful(p, c, obj);
}

/* Whether obj, in c (a chunk of p other than the current one), is a slot
 * that can be freed: past the header, on a slot boundary, carved, and not
 * the head of c's free list. */
static inline bool free_other_ok(const fa_pool *p, const fa_chunk *c,
                                 const void *obj)
{
    return fa_carved_slot(p, c, obj) && obj != c->free;
}

/* A plain pool's free into c, one of its chunks other than the current
 * one (in a pool with fast frees, an object of the current chunk always
 * takes the fast path). */
static inline void free_plain(fa_pool *p, fa_chunk *c, void *obj)
{
    if (FA_UNLIKELY(!free_other_ok(p, c, obj))) {
        (void)free_invalid(p, c, obj);
        return;
    }
    free_to_other(p, c, obj, false);
}

/* Whether a free past the fast path is one to check: not of NULL (let
 * go), and into a live pool (a bad handle is reported). */
static bool is_free_to_check(fa_pool *p, const void *obj)
{
    if (obj == NULL) {
        return false;
    }
    if (FA_UNLIKELY(p->magic != FA_POOL_MAGIC)) {
        (void)fa_bad_handle(p, FA_OBJ_POOL);
        return false;
    }
    return true;
}

/* A free whose chunk the map does not show as one of p's: NULL (no chunk
 * starts at 0), a pool never set up or destroyed (its fields are zero or
 * stale, and no chunk names it), or a foreign pointer. */
static FA_COLD void free_unmapped(fa_pool *p, fa_chunk *c, void *obj)
{
    if (!is_free_to_check(p, obj)) {
        return;
    }
    (void)free_invalid(p, c, obj);
}

/* Every free the fast path did not take. Nothing at obj's would-be chunk
 * is read before the chunk map shows that a chunk starts there, and a
 * chunk the map shows names p only if p is a live pool (destroy gives
 * every chunk back first): NULL and a bad handle fail that test and are
 * told apart off the common path, which reads only p's fields, as the
 * fast path did. */
static __attribute__((noinline)) void free_miss(fa_pool *p, void *obj)
{
    fa_chunk *c = fa_chunk_of(p, obj);
    if (FA_UNLIKELY(p->careful)) {
        /* NULL and the handle first: a hardened pool's short path reads
         * the current chunk's header (and a pool without a current chunk
         * has cur == NULL, NULL's chunk). */
        if (!is_free_to_check(p, obj)) {
            return;
        }
        if (p->hardened_fast && push_hardened(p, c, obj)) {
            return;
        }
        free_careful_unmapped(p, c, obj);
        return;
    }
    if (FA_UNLIKELY(!is_pools_chunk(p, c))) {
        free_unmapped(p, c, obj);
        return;
    }
    free_plain(p, c, obj);
}

void fa_pool_free_owned(fa_pool *p, void *obj, void *chunk)
{
    fa_chunk *c = chunk;
    FA_ASSERT(c == fa_chunk_of(p, obj));
    if (FA_UNLIKELY(p->careful)) {
        free_careful(p, c, obj);
        return;
    }
    free_plain(p, c, obj);
}

/* The fast path (pool_impl.h): push onto the cached list when the object
 * is in the current chunk; NULL, every object of a careful pool and every
 * other chunk's object go to free_miss. */
static inline void free_one(fa_pool *p, void *obj)
{
    if (FA_LIKELY(fa_pool_try_free(p, obj))) {
        return;
    }
    free_miss(p, obj);
}

void fa_pool_free(fa_pool *p, void *obj)
{
    free_one(p, obj);
}

void fa_pool_free_bulk(fa_pool *p, void *const *objs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free_one(p, objs[i]);
    }
}
