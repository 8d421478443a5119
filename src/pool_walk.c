/*
 * pool_walk.c - fa_pool_walk, fa_pool_check and fa_pool_holds_slot.
 * docs/design.md, "Walk and check".
 */
#include "pool_impl.h"

#include <string.h>

#define WINDOW_SLOTS ((size_t)32768)

typedef struct window {
    uint64_t bits[WINDOW_SLOTS / 64];
} window;

static void mark_free(const fa_pool *p, const fa_chunk *c, window *w, size_t lo,
                      size_t hi)
{
    char *base = fa_chunk_base(p, c);
    memset(w->bits, 0, sizeof w->bits);
    for (void *f = fa_chunk_free_list(p, c); f != NULL; f = fa_link_get(p, f)) {
        size_t i = fa_slot_index(p, (size_t)((char *)f - base));
        if (i >= lo && i < hi) {
            w->bits[(i - lo) / 64] |= UINT64_C(1) << ((i - lo) % 64);
        }
    }
}

static void walk_chunk(const fa_pool *p, const fa_chunk *c,
                       void (*fn)(void *obj, void *arg), void *arg)
{
    if (fa_chunk_live(p, c) == 0) {
        return;
    }
    char *base = fa_chunk_base(p, c);
    size_t carved = fa_slot_index(p, (size_t)(c->carve - base));
    window w;
    for (size_t lo = 0; lo < carved; lo += WINDOW_SLOTS) {
        size_t hi = carved - lo > WINDOW_SLOTS ? lo + WINDOW_SLOTS : carved;
        mark_free(p, c, &w, lo, hi);
        for (size_t i = lo; i < hi; i++) {
            if ((w.bits[(i - lo) / 64] >> ((i - lo) % 64) & 1) == 0 &&
                !fa_slot_held(p, c, i)) {
                fn(base + i * p->slot, arg);
            }
        }
    }
}

void fa_pool_walk(fa_pool *p, void (*fn)(void *obj, void *arg), void *arg)
{
    if (!FA_HANDLE_OK(p, FA_POOL_MAGIC, FA_OBJ_POOL)) {
        return;
    }
    if (p->cur != NULL) {
        walk_chunk(p, p->cur, fn, arg);
    }
    const fa_list_node *lists[] = {p->partial, p->full};
    for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++) {
        for (const fa_list_node *n = lists[l]; n != NULL; n = n->next) {
            walk_chunk(p, fa_chunk_of_node(n), fn, arg);
        }
    }
}

/* ---- fa_pool_check ---- */

static bool broken(const fa_pool *p, const void *addr, const char *what)
{
    fa_report_pool(FA_ERR_CORRUPT, p, addr, what);
    return false;
}

/* Follows c's free list: every link a carved slot's start, and no more
 * links than carved slots (a cycle would exceed that). */
static bool free_list_ok(const fa_pool *p, const fa_chunk *c, size_t *count)
{
    char *base = fa_chunk_base(p, c);
    size_t carved = fa_slot_index(p, (size_t)(c->carve - base));
    size_t n = 0;
    for (char *f = fa_chunk_free_list(p, c); f != NULL; f = fa_link_get(p, f)) {
        if (f < base || f >= c->carve ||
            !fa_slot_aligned(p, (size_t)(f - base))) {
            return broken(p, f,
                          "a free-list link points outside the "
                          "carved slots of its chunk");
        }
        if (++n > carved) {
            return broken(p, c, "a free list is longer than its chunk");
        }
    }
    *count = n;
    return true;
}

static bool chunk_state_ok(const fa_pool *p, const fa_chunk *c, size_t live,
                           size_t nfree)
{
    char *base = fa_chunk_base(p, c);
    bool carved_all = c->carve == fa_chunk_end(p, c);
    switch ((enum fa_chunk_list)c->list) {
    case FA_LIST_CURRENT:
        return c == p->cur || broken(p, c, "a second current chunk");
    case FA_LIST_EMPTY:
        return (live == 0 && c->npurged == 0 &&
                (c->carve == base || (!p->careful && nfree > 0))) ||
               broken(p, c, "an empty chunk is not reset");
    case FA_LIST_FULL:
        return (nfree == 0 && carved_all && c->npurged == 0) ||
               broken(p, c, "a full chunk has room");
    case FA_LIST_PARTIAL:
        return (live > 0 && (nfree > 0 || !carved_all || c->npurged != 0)) ||
               broken(p, c, "a partial chunk is full or empty");
    }
    return broken(p, c, "a chunk is on no known list");
}

/* Whether c's purge map counts npurged units, none before the base. */
static bool purge_map_ok(const fa_pool *p, const fa_chunk *c)
{
    if (p->purge_shift == 0) {
        return c->npurged == 0;
    }
    const uint64_t *map = fa_chunk_purge_map(c);
    unsigned n = 0;
    for (size_t w = 0; w < fa_purge_words(p); w++) {
        n += (unsigned)__builtin_popcountll(map[w]);
    }
    bool below_base = false;
    for (unsigned u = 0; u < fa_purge_first_unit(p); u++) {
        below_base |= fa_unit_set(map, u);
    }
    return n == c->npurged && !below_base;
}

static bool chunk_ok(const fa_pool *p, const fa_chunk *c, size_t *others)
{
    if (c->magic != FA_CHUNK_MAGIC || c->pool != p) {
        return broken(p, c, "a chunk header is overwritten");
    }
    char *base = fa_chunk_base(p, c);
    char *end = fa_chunk_end(p, c);
    char *hwm = fa_chunk_hwm(c);
    if (c->carve < base || c->carve > hwm || hwm > end ||
        !fa_slot_aligned(p, (size_t)(c->carve - base)) ||
        !fa_slot_aligned(p, (size_t)(hwm - base))) {
        return broken(p, c, "a chunk's carving marks are out of order");
    }
    size_t nfree;
    if (!free_list_ok(p, c, &nfree)) {
        return false;
    }
    if (!purge_map_ok(p, c)) {
        return broken(p, c, "a chunk's purge map is overwritten");
    }
    size_t live = fa_chunk_live(p, c);
    if (fa_slot_index(p, (size_t)(c->carve - base)) !=
        live + nfree + fa_chunk_held(p, c)) {
        return broken(p, c, "carved slots != live + free in a chunk");
    }
    if (c != p->cur) {
        *others += live;
    } else if (nfree != fa_fast_len(p)) {
        return broken(p, c, "the cached free list's length is miscounted");
    }
    return chunk_state_ok(p, c, live, nfree);
}

static bool list_ok(const fa_pool *p, const fa_list_node *head,
                    enum fa_chunk_list which, size_t *nchunks, size_t *others)
{
    const fa_list_node *prev = NULL;
    for (const fa_list_node *n = head; n != NULL; prev = n, n = n->next) {
        const fa_chunk *c = fa_chunk_of_node(n);
        if (++*nchunks > p->nchunks) {
            return broken(p, c,
                          "the chunk lists hold more chunks than "
                          "the pool counts");
        }
        if (n->prev != prev || c->list != which) {
            return broken(p, c, "a chunk list's links are broken");
        }
        if (!chunk_ok(p, c, others)) {
            return false;
        }
    }
    return true;
}

bool fa_pool_check(const fa_pool *p)
{
    if (!FA_HANDLE_OK(p, FA_POOL_MAGIC, FA_OBJ_POOL)) {
        return false;
    }
    bool folded =
        p->guarded ? p->avail == 0 : (p->fast_gap == 0 || p->headroom_gap == 0);
    if (fa_headroom(p) > p->peak || p->avail < 0 || !folded) {
        return broken(p, p, "the fast-path counts are broken");
    }
    size_t nchunks = 0, others = 0;
    if (p->cur != NULL) {
        nchunks = 1;
        if (!chunk_ok(p, p->cur, &others)) {
            return false;
        }
        if (p->cur->list != FA_LIST_CURRENT) {
            return broken(p, p->cur, "the current chunk is on a list");
        }
    }
    if (!list_ok(p, p->partial, FA_LIST_PARTIAL, &nchunks, &others) ||
        !list_ok(p, p->full, FA_LIST_FULL, &nchunks, &others) ||
        !list_ok(p, p->empty, FA_LIST_EMPTY, &nchunks, &others)) {
        return false;
    }
    if (nchunks != p->nchunks) {
        return broken(p, p, "the chunk lists miss chunks the pool counts");
    }
    if (others != p->others_live || others > fa_pool_live(p)) {
        return broken(p, p, "the live counts of the chunks do not add up");
    }
    if (p->cur == NULL && (p->fast_free != NULL || fa_fast_len(p) != 0)) {
        return broken(p, p, "a cached free list without a current chunk");
    }
    return true;
}

bool fa_pool_holds_slot(const fa_pool *p, const void *obj)
{
    const fa_chunk *c = fa_chunk_of(p, obj);
    const char *base = fa_chunk_base(p, c);
    return c->magic == FA_CHUNK_MAGIC && c->pool == p &&
           (const char *)obj >= base && (const char *)obj < c->carve &&
           fa_slot_aligned(p, (size_t)((const char *)obj - base));
}
