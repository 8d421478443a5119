/*
 * cache_stats.c - fa_cache_stats, its printout, and fa_cache_check.
 * docs/design.md, "Cache stats, walk and check".
 */
#include "cache_impl.h"

#include <inttypes.h>
#include <string.h>

/* ---- stats ---- */

/* Adds one entry's counters: the caller's own exactly, another thread's
 * as of its last depot visit. */
static void stats_add_entry(fa_cache_counters *s, const fa_tentry *e, bool own)
{
    if (own) {
        size_t held = (e->prev != NULL ? e->prev->n : 0) +
                      (e->base != NULL ? (size_t)(e->top - e->base)
                                       : (e->loaded ? e->loaded->n : 0));
        s->allocs += e->allocs;
        s->frees += fa_entry_frees(e, held);
        s->alloc_depot += e->alloc_miss;
        s->free_depot += e->free_miss;
        s->in_threads += held;
    } else {
        s->allocs += e->pub_allocs;
        s->frees += e->pub_frees;
        s->alloc_depot += e->pub_alloc_miss;
        s->free_depot += e->pub_free_miss;
        s->in_threads += e->pub_held;
    }
}

void fa_cache_stats(fa_cache *c, fa_cache_counters *out)
{
    memset(out, 0, sizeof *out);
    if (!fa_cache_ok(c)) {
        return;
    }
    const fa_tentry *self = fa_thread_entry_peek(c);
    fa_registry_lock();
    pthread_mutex_lock(&c->lock);
    fa_pool_stats(&c->pool, &out->pool);
    out->allocs = c->dead_allocs;
    out->frees = c->dead_frees;
    out->alloc_depot = c->dead_alloc_miss;
    out->free_depot = c->dead_free_miss;
    for (const fa_list_node *n = c->entries; n != NULL; n = n->next) {
        const fa_tentry *e = fa_list_entry(n, fa_tentry, reg_link);
        stats_add_entry(out, e, e == self);
    }
    out->threads = c->nentries;
    out->live = (size_t)(out->allocs - out->frees);
    out->in_depot = c->full_rounds;
    out->depot_full = c->nfull;
    out->depot_empty = c->nempty;
    out->magazines = c->nmags;
    out->magazine_rounds = c->rounds;
    out->magazine_rounds_max = c->rounds_max;
    out->depot_max = c->depot_max;
    out->full_gets = c->full_gets;
    out->full_puts = c->full_puts;
    out->empty_gets = c->empty_gets;
    out->empty_puts = c->empty_puts;
    out->pool_fills = c->pool_fills;
    out->pool_flushes = c->pool_flushes;
    out->depot_visits = c->visits;
    out->depot_contended = c->contended;
    out->resizes = c->resizes;
    pthread_mutex_unlock(&c->lock);
    fa_registry_unlock();
}

static double percent(uint64_t part, uint64_t whole)
{
    return whole != 0 ? 100.0 * (double)part / (double)whole : 0.0;
}

void fa_cache_stats_print(const fa_cache_counters *s, FILE *f)
{
    fprintf(f,
            "fixalloc cache '%s'\n"
            "  live objects     %zu\n"
            "  allocs / frees   %" PRIu64 " / %" PRIu64 "\n"
            "  magazine hits    %.2f%% of allocs, %.2f%% of frees\n"
            "  cached objects   %zu in %zu threads, %zu in the depot\n"
            "  magazines        %zu of %zu rounds (max %zu); depot %zu full, "
            "%zu empty (max %zu)\n"
            "  depot traffic    %" PRIu64 " visits (%" PRIu64 " waited), "
            "full %" PRIu64 " out / %" PRIu64 " in, empty %" PRIu64
            " out / %" PRIu64 " in\n"
            "  pool traffic     %" PRIu64 " rounds filled, %" PRIu64
            " flushed; %" PRIu64 " resizes\n",
            s->pool.name ? s->pool.name : "unnamed", s->live, s->allocs,
            s->frees, 100.0 - percent(s->alloc_depot, s->allocs),
            100.0 - percent(s->free_depot, s->frees), s->in_threads, s->threads,
            s->in_depot, s->magazines, s->magazine_rounds,
            s->magazine_rounds_max, s->depot_full, s->depot_empty, s->depot_max,
            s->depot_visits, s->depot_contended, s->full_gets, s->full_puts,
            s->empty_gets, s->empty_puts, s->pool_fills, s->pool_flushes,
            s->resizes);
    fa_stats_print(&s->pool, f);
}

/* ---- check ---- */

static bool broken(const fa_cache *c, const void *addr, const char *what)
{
    fa_report(FA_ERR_CORRUPT, FA_OBJ_CACHE, fa_pool_name(&c->pool), addr, what);
    return false;
}

/* Every one of the n rounds is a slot start in one of the pool's chunks. */
static bool rounds_ok(const fa_cache *c, const fa_mag *m, size_t n)
{
    if (n > m->cap) {
        return broken(c, m, "a magazine holds more rounds than it can");
    }
    for (size_t i = 0; i < n; i++) {
        if (!fa_pool_holds_slot(&c->pool, m->rounds[i])) {
            return broken(c, m->rounds[i],
                          "a magazine holds a round that "
                          "is not the pool's");
        }
    }
    return true;
}

static bool depot_ok_locked(const fa_cache *c)
{
    size_t n = 0, rounds = 0;
    for (const fa_mag *m = c->full; m != NULL; m = m->next, n++) {
        if (m->n == 0) {
            return broken(c, m, "an empty magazine on the full list");
        }
        if (!rounds_ok(c, m, m->n)) {
            return false;
        }
        rounds += m->n;
    }
    if (n != c->nfull || rounds != c->full_rounds) {
        return broken(c, c, "the depot's full list is miscounted");
    }
    n = 0;
    for (const fa_mag *m = c->empty; m != NULL; m = m->next, n++) {
        if (m->n != 0) {
            return broken(c, m, "a magazine with rounds on the empty list");
        }
    }
    if (n != c->nempty) {
        return broken(c, c, "the depot's empty list is miscounted");
    }
    n = 0;
    for (const fa_list_node *a = c->all; a != NULL; a = a->next) {
        n++;
    }
    return n == c->nmags || broken(c, c, "the magazine list is miscounted");
}

/* A thread's magazines: rounds of the pool; previous empty or full. */
static bool entry_ok(const fa_cache *c, const fa_tentry *e)
{
    const fa_mag *m = e->loaded;
    if (m != NULL) {
        size_t n = e->base != NULL ? (size_t)(e->top - e->base) : m->n;
        if (!rounds_ok(c, m, n)) {
            return false;
        }
    } else if (e->prev != NULL || e->base != NULL) {
        return broken(c, e,
                      "a thread has a previous magazine but no loaded one");
    }
    m = e->prev;
    if (m != NULL && m->n != 0 && m->n != m->cap) {
        return broken(c, m, "a thread's previous magazine is partial");
    }
    return m == NULL || rounds_ok(c, m, m->n);
}

bool fa_cache_check(fa_cache *c)
{
    if (!fa_cache_ok(c)) {
        return false;
    }
    fa_registry_lock();
    pthread_mutex_lock(&c->lock);
    bool ok = depot_ok_locked(c);
    for (const fa_list_node *n = c->entries; ok && n != NULL; n = n->next) {
        ok = entry_ok(c, fa_list_entry(n, fa_tentry, reg_link));
    }
    ok = ok && fa_pool_check(&c->pool);
    pthread_mutex_unlock(&c->lock);
    fa_registry_unlock();
    return ok;
}
