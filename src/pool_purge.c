/*
 * pool_purge.c - the pages inside a chunk given back and taken up again.
 * docs/design.md, "Purged pages".
 */
#include "pool_impl.h"

#include <string.h>

/* Slot index ranges below, [lo, hi), count from the chunk's base. */

/* The slots overlapping units [ua, ub) of c, clipped to the carved ones. */
static void units_to_slots(const fa_pool *p, const fa_chunk *c, unsigned ua,
                           unsigned ub, size_t *lo, size_t *hi)
{
    size_t carved = fa_slot_index(p, (size_t)(c->carve - fa_chunk_base(p, c)));
    size_t start = ((size_t)ua << p->purge_shift) - p->first_offset;
    size_t end = ((size_t)ub << p->purge_shift) - p->first_offset;
    *lo = fa_slot_index(p, start);
    *hi = fa_slot_index(p, end + p->slot - 1);
    *hi = *hi < carved ? *hi : carved;
}

static unsigned units_per_chunk(const fa_pool *p)
{
    return (unsigned)(p->chunk_size >> p->purge_shift);
}

/* The next run of units set in map at or after unit *u, as [*ua, *ub);
 * false when none is left. */
static bool next_run(const fa_pool *p, const uint64_t *map, unsigned *u,
                     unsigned *ua, unsigned *ub)
{
    unsigned n = units_per_chunk(p);
    while (*u < n && !fa_unit_set(map, *u)) {
        (*u)++;
    }
    if (*u >= n) {
        return false;
    }
    *ua = *u;
    while (*u < n && fa_unit_set(map, *u)) {
        (*u)++;
    }
    *ub = *u;
    return true;
}

/* Calls fn on every slot held aside by the units set in map, once each. */
static void for_each_held(
    const fa_pool *p, const fa_chunk *c, const uint64_t *map,
    void (*fn)(fa_pool *, const fa_chunk *, size_t, void *), void *arg)
{
    unsigned u = 0, ua, ub;
    size_t next = 0;
    while (next_run(p, map, &u, &ua, &ub)) {
        size_t lo, hi;
        units_to_slots(p, c, ua, ub, &lo, &hi);
        for (size_t i = lo > next ? lo : next; i < hi; i++) {
            fn((fa_pool *)p, c, i, arg);
        }
        next = hi > next ? hi : next;
    }
}

static void count_one(fa_pool *p, const fa_chunk *c, size_t i, void *arg)
{
    (void)p, (void)c, (void)i;
    (*(size_t *)arg)++;
}

size_t fa_chunk_held_slow(const fa_pool *p, const fa_chunk *c)
{
    size_t n = 0;
    for_each_held(p, c, fa_chunk_purge_map(c), count_one, &n);
    return n;
}

/* ---- taking the held slots up again ---- */

typedef struct restore_args {
    void **head;
    size_t n;
} restore_args;

/* A held slot read whatever the discard left: it is made a free slot
 * again, as a freed one would be (zeroed, poisoned, annotated). */
static void restore_one(fa_pool *p, const fa_chunk *c, size_t i, void *arg)
{
    restore_args *r = arg;
    char *obj = fa_chunk_base(p, c) + i * p->slot;
    if (p->flags & FA_ZERO) {
        fa_track_open(p->tracked, obj, p->slot);
        memset(obj, 0, p->size);
        fa_track_close(p->tracked, obj, p->slot);
    }
    fa_debug_poison(p, obj, 1);
    fa_link_set(p, obj, *r->head);
    *r->head = obj;
    r->n++;
}

size_t fa_chunk_restore(fa_pool *p, fa_chunk *c, void **head)
{
    restore_args r = {head, 0};
    for_each_held(p, c, fa_chunk_purge_map(c), restore_one, &r);
    fa_chunk_unpurge(p, c);
    return r.n;
}

/* ---- purging one chunk ---- */

/* Counts slot i as free in every unit it overlaps. */
static void count_units(fa_pool *p, const fa_chunk *c, size_t i, void *arg)
{
    (void)c;
    uint32_t *nfree = arg;
    size_t start = p->first_offset + i * p->slot;
    size_t last = (start + p->slot - 1) >> p->purge_shift;
    for (size_t u = start >> p->purge_shift; u <= last; u++) {
        nfree[u]++;
    }
}

/* Sets in mask (cleared first) the units of c, not purged yet, every slot
 * of which is free or held, and returns how many: units before the base
 * hold header or map bytes and never qualify. */
static unsigned purgeable(const fa_pool *p, const fa_chunk *c,
                          const uint32_t *nfree, uint64_t *mask)
{
    unsigned nunits = units_per_chunk(p);
    unsigned first = fa_purge_first_unit(p);
    const uint64_t *purged = fa_chunk_purge_map(c);
    unsigned n = 0;
    memset(mask, 0, fa_purge_words(p) * 8);
    for (unsigned u = first; u < nunits; u++) {
        size_t lo, hi;
        units_to_slots(p, c, u, u + 1, &lo, &hi);
        size_t want = fa_slot_index(p, (((size_t)u + 1) << p->purge_shift) -
                                           p->first_offset + p->slot - 1) -
                      lo;
        if (!fa_unit_set(purged, u) && hi - lo == want && nfree[u] == want) {
            mask[u / 64] |= UINT64_C(1) << (u % 64);
            n++;
        }
    }
    return n;
}

/* Takes the slots overlapping the units set in mask off c's free list. */
static void hold_slots(const fa_pool *p, fa_chunk *c, const uint64_t *mask)
{
    void *kept = NULL, *tail = NULL;
    for (char *f = c->free; f != NULL;) {
        char *next = fa_link_get(p, f);
        size_t i = fa_slot_index(p, (size_t)(f - fa_chunk_base(p, c)));
        if (!fa_units_hold(p, mask, i)) {
            if (tail == NULL) {
                kept = f;
            } else {
                fa_link_set(p, tail, f);
            }
            tail = f;
        }
        f = next;
    }
    if (tail != NULL) {
        fa_link_set(p, tail, NULL);
    }
    c->free = kept;
}

/* Discards the units of c (not the current chunk) that hold no live
 * object; returns the bytes given back. */
static size_t purge_chunk(fa_pool *p, fa_chunk *c)
{
    char *base = fa_chunk_base(p, c);
    size_t carved = fa_slot_index(p, (size_t)(c->carve - base));
    size_t nfree_all = carved - c->nlive - fa_chunk_held(p, c);
    if (nfree_all < ((size_t)1 << p->purge_shift) / p->slot) {
        return 0; /* too few free slots to empty a unit */
    }
    /* Following a long list through cold memory costs a miss a link:
     * reading the carved slots in address order first (which hardware
     * prefetchers stream) costs far less. */
    if (nfree_all >= carved / 8) {
        for (char *l = base; l < c->carve; l += 64) {
            __builtin_prefetch(l);
        }
    }
    uint32_t nfree[FA_PURGE_UNITS_MAX];
    memset(nfree, 0, units_per_chunk(p) * sizeof nfree[0]);
    for (char *f = c->free; f != NULL; f = fa_link_get(p, f)) {
        count_units(p, c, fa_slot_index(p, (size_t)(f - fa_chunk_base(p, c))),
                    nfree);
    }
    uint64_t *purged = fa_chunk_purge_map(c);
    for_each_held(p, c, purged, count_units, nfree);
    uint64_t mask[FA_PURGE_WORDS_MAX];
    unsigned n = purgeable(p, c, nfree, mask);
    if (n == 0) {
        return 0;
    }
    hold_slots(p, c, mask);
    unsigned u = 0, ua, ub;
    while (next_run(p, mask, &u, &ua, &ub)) {
        p->source.discard(p->source.ctx,
                          (char *)c + ((size_t)ua << p->purge_shift),
                          (size_t)(ub - ua) << p->purge_shift);
    }
    for (size_t w = 0; w < fa_purge_words(p); w++) {
        purged[w] |= mask[w];
    }
    c->npurged += n;
    return (size_t)n << p->purge_shift;
}

size_t fa_pool_purge(fa_pool *p)
{
    size_t bytes = 0;
    for (fa_list_node *n = p->partial; p->purge_shift != 0 && n != NULL;
         n = n->next) {
        fa_chunk *c = fa_chunk_of_node(n);
        if (c->free != NULL) {
            bytes += purge_chunk(p, c);
        }
    }
    return bytes;
}

uint8_t fa_pool_purge_shift(const fa_config *cfg, const fa_source *src,
                            size_t chunk)
{
    if (src->discard == NULL || cfg->first != NULL || cfg->release != NULL) {
        return 0;
    }
    size_t unit = fa_os_page_size();
    while (unit < chunk / FA_PURGE_UNITS_MAX) {
        unit *= 2;
    }
    return unit < chunk ? (uint8_t)__builtin_ctzll(unit) : 0;
}
