/*
 * debug.c - checked mode and the tracking hooks of pools.
 * docs/design.md, "Checked and hardened modes".
 */
#include "pool_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FA_POISON 0xdf

/* How many live objects a leak report names. */
#define LEAKS_NAMED 4

bool fa_env_checked(void)
{
    return fa_os_env_flag("FIXALLOC_CHECK", false);
}

bool fa_env_tracking(void)
{
    return fa_os_env_flag("FIXALLOC_TRACK", true);
}

bool fa_env_memcheck(void)
{
    return fa_os_memcheck_preloaded();
}

/* ---- the set of a checked pool's chunks: open addressing ---- */

typedef struct chunk_set {
    size_t cap;  /* a power of two */
    size_t used; /* live entries */
    size_t dead; /* tombstones */
    uintptr_t slots[];
} chunk_set;

#define SET_EMPTY ((uintptr_t)0)
#define SET_DEAD ((uintptr_t)1)

static size_t set_hash(uintptr_t key, size_t cap)
{
    return (size_t)((key >> 12) * UINT64_C(0x9e3779b97f4a7c15) >> 7) &
           (cap - 1);
}

static bool set_has(const chunk_set *s, uintptr_t key)
{
    for (size_t i = set_hash(key, s->cap);; i = (i + 1) & (s->cap - 1)) {
        if (s->slots[i] == key) {
            return true;
        }
        if (s->slots[i] == SET_EMPTY) {
            return false;
        }
    }
}

static void set_put(chunk_set *s, uintptr_t key)
{
    size_t i = set_hash(key, s->cap);
    while (s->slots[i] != SET_EMPTY && s->slots[i] != SET_DEAD) {
        i = (i + 1) & (s->cap - 1);
    }
    s->dead -= s->slots[i] == SET_DEAD;
    s->slots[i] = key;
    s->used++;
}

static chunk_set *set_new(size_t cap)
{
    chunk_set *s = fa_os_record_alloc(sizeof *s + cap * sizeof s->slots[0],
                                      sizeof(uintptr_t));
    if (s != NULL) {
        s->cap = cap;
    }
    return s;
}

/* Keeps the table at most half full, tombstones included. */
static bool set_make_room(fa_pool *p)
{
    chunk_set *s = p->registry;
    if ((s->used + s->dead + 1) * 2 <= s->cap) {
        return true;
    }
    size_t cap = (s->used + 1) * 4 > s->cap ? s->cap * 2 : s->cap;
    chunk_set *t = set_new(cap);
    if (t == NULL) {
        return false;
    }
    for (size_t i = 0; i < s->cap; i++) {
        if (s->slots[i] != SET_EMPTY && s->slots[i] != SET_DEAD) {
            set_put(t, s->slots[i]);
        }
    }
    fa_os_record_free(s);
    p->registry = t;
    return true;
}

static void set_remove(chunk_set *s, uintptr_t key)
{
    for (size_t i = set_hash(key, s->cap);; i = (i + 1) & (s->cap - 1)) {
        if (s->slots[i] == key) {
            s->slots[i] = SET_DEAD;
            s->used--;
            s->dead++;
            return;
        }
        if (s->slots[i] == SET_EMPTY) {
            return;
        }
    }
}

/* ---- pool and chunk lifetime ---- */

int fa_debug_init(fa_pool *p)
{
    if (p->checked) {
        p->registry = set_new(16);
        if (p->registry == NULL) {
            return ENOMEM;
        }
    }
    fa_track_pool_create(p->tracked, p);
    return 0;
}

static void collect_leak(void *obj, void *arg)
{
    void **named = arg;
    for (size_t i = 0; i < LEAKS_NAMED; i++) {
        if (named[i] == NULL) {
            named[i] = obj;
            return;
        }
    }
}

/* Reports the objects still live, naming the first few. */
static void report_leaks(fa_pool *p, size_t live)
{
    void *named[LEAKS_NAMED] = {NULL};
    fa_pool_walk(p, collect_leak, named);
    char detail[200];
    int len = snprintf(detail, sizeof detail,
                       "%zu objects still live at "
                       "destroy, the first at",
                       live);
    for (size_t i = 0; i < LEAKS_NAMED && named[i] != NULL && len > 0 &&
                       (size_t)len < sizeof detail;
         i++) {
        len += snprintf(detail + len, sizeof detail - (size_t)len, " %p",
                        named[i]);
    }
    fa_report_pool(FA_ERR_LEAK, p, named[0], detail);
}

void fa_debug_leaks(fa_pool *p)
{
    size_t live = fa_pool_live(p);
    if (p->checked && live > 0) {
        report_leaks(p, live);
    }
}

void fa_debug_destroy(fa_pool *p)
{
    fa_os_record_free(p->registry);
    p->registry = NULL;
    fa_track_pool_destroy(p->tracked, p);
}

/* The bitmap of live slots, right after the chunk header and purge map. */
static uint64_t *live_bits(const fa_pool *p, const fa_chunk *c)
{
    return (uint64_t *)(void *)((char *)c + FA_CHUNK_HEADER +
                                fa_purge_words(p) * 8);
}

bool fa_debug_chunk_new(fa_pool *p, fa_chunk *c)
{
    if (p->checked) {
        if (!set_make_room(p)) {
            return false;
        }
        set_put(p->registry, (uintptr_t)c);
        memset(live_bits(p, c), 0, (p->nslots + 63) / 64 * 8);
    }
    fa_track_close(p->tracked, fa_chunk_base(p, c), p->nslots * p->slot);
    return true;
}

void fa_debug_chunk_release(fa_pool *p, fa_chunk *c)
{
    if (p->checked) {
        set_remove(p->registry, (uintptr_t)c);
    }
    fa_track_open(p->tracked, c, p->chunk_size);
}

bool fa_debug_owns(const fa_pool *p, const fa_chunk *c)
{
    return !p->checked || set_has(p->registry, (uintptr_t)c);
}

/* ---- objects ---- */

static size_t slot_number(const fa_pool *p, const fa_chunk *c, const void *obj)
{
    return fa_slot_index(p, (size_t)((const char *)obj - fa_chunk_base(p, c)));
}

/* Checked pools poison every slot that is not live, from its carving on,
 * except pools with a constructor: their objects keep what `first` built
 * across free and reuse, so poison would destroy it. */
static bool poisons(const fa_pool *p)
{
    return p->checked && p->first == NULL;
}

static void poison_slot(fa_pool *p, void *obj)
{
    fa_track_open(p->tracked, obj, p->slot);
    memset((char *)obj + sizeof(void *), FA_POISON, p->slot - sizeof(void *));
    fa_track_close(p->tracked, obj, p->slot);
}

void fa_debug_poison(fa_pool *p, char *first_slot, size_t n)
{
    for (size_t i = 0; poisons(p) && i < n; i++) {
        poison_slot(p, first_slot + i * p->slot);
    }
}

/* The offset of the first byte in [from, to) of b that is not FA_POISON,
 * or `to`: a word at a time (slots are whole words), then the byte. */
static size_t first_unpoisoned(const unsigned char *b, size_t from, size_t to)
{
    const uint64_t poison = UINT64_C(0x0101010101010101) * FA_POISON;
    size_t i = from;
    for (; i + sizeof(uint64_t) <= to; i += sizeof(uint64_t)) {
        uint64_t w;
        memcpy(&w, b + i, sizeof w);
        if (w != poison) {
            break;
        }
    }
    while (i < to && b[i] == FA_POISON) {
        i++;
    }
    return i;
}

/* Verifies that a slot coming back from the free list kept its poison. */
static void verify_poison(fa_pool *p, void *obj)
{
    const unsigned char *b = obj;
    fa_track_open(p->tracked, obj, p->slot);
    size_t i = first_unpoisoned(b, sizeof(void *), p->slot);
    if (i < p->slot) {
        char detail[120];
        snprintf(detail, sizeof detail,
                 "byte %zu of the object changed "
                 "while it was free (0x%02x, expected 0x%02x)",
                 i, b[i], FA_POISON);
        fa_report_pool(FA_ERR_WRITE_AFTER_FREE, p, obj, detail);
    }
    fa_track_close(p->tracked, obj, p->slot);
}

bool fa_debug_is_live(const fa_pool *p, const fa_chunk *c, const void *slot)
{
    if (!p->checked) {
        return false;
    }
    const uint64_t *bits = live_bits(p, c);
    size_t i = slot_number(p, c, slot);
    return (bits[i / 64] >> (i % 64) & 1) != 0;
}

void fa_debug_alloc(fa_pool *p, fa_chunk *c, void *obj, bool reused)
{
    if (poisons(p)) {
        verify_poison(p, obj);
    }
    if (p->checked) {
        size_t i = slot_number(p, c, obj);
        live_bits(p, c)[i / 64] |= UINT64_C(1) << (i % 64);
    }
    /* The kept bytes of a freed object and what `first` built are
     * meaningful; a fresh object's bytes are not, but for its first word,
     * which the allocator cleared. */
    fa_track_alloc(p->tracked, p, obj, p->size, reused || p->first != NULL);
    fa_track_open(p->tracked, obj,
                  p->size < sizeof(void *) ? p->size : sizeof(void *));
}

bool fa_debug_free(fa_pool *p, fa_chunk *c, void *obj)
{
    if (p->checked) {
        size_t i = slot_number(p, c, obj);
        uint64_t bit = UINT64_C(1) << (i % 64);
        if ((live_bits(p, c)[i / 64] & bit) == 0) {
            fa_report_pool(FA_ERR_DOUBLE_FREE, p, obj,
                           "the object is already free");
            return false;
        }
        live_bits(p, c)[i / 64] &= ~bit;
    }
    if (poisons(p)) {
        poison_slot(p, obj);
    }
    fa_track_free(p->tracked, p, obj, p->slot);
    return true;
}

bool fa_pool_slot_live(const fa_pool *p, const void *obj)
{
    return fa_pool_holds_slot(p, obj) &&
           fa_debug_is_live(p, fa_chunk_of(p, obj), obj);
}
