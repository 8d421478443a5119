/*
 * cache_stats.c - fa_cache_stats, its printout, and fa_cache_check.
 * docs/design.md, "Cache stats, walk and check".
 */
#include "cache_impl.h"

#include <inttypes.h>
#include <string.h>

/* ---- stats ---- */

/* Sums of the entries' published counters. */
typedef struct entry_sums {
    uint64_t allocs, live, sent, taken;
} entry_sums;

static void sums_add(entry_sums *s, const fa_tentry *e)
{
    const memory_order rel = memory_order_relaxed;
    s->allocs += atomic_load_explicit(&e->pub_allocs, rel);
    s->live += atomic_load_explicit(&e->pub_live, rel);
    s->sent += atomic_load_explicit(&e->pub_sent, rel);
    s->taken += atomic_load_explicit(&e->pub_taken, rel);
}

/* The entries bound to c, by the state of their table (registry lock). */
static void count_entries_locked(const fa_cache *c, fa_cache_counters *out,
                                 entry_sums *sums)
{
    for (const fa_list_node *n = c->entries; n != NULL; n = n->next) {
        const fa_tentry *e = fa_list_entry(n, fa_tentry, reg_link);
        sums_add(sums, e);
        if (fa_entry_frozen_locked(e)) {
            out->frozen_pools++;
        } else if (fa_entry_idle_locked(e)) {
            out->idle_pools++;
        } else {
            out->threads++;
        }
    }
}

void fa_cache_stats(fa_cache *c, fa_cache_counters *out)
{
    memset(out, 0, sizeof *out);
    if (!fa_cache_ok(c)) {
        return;
    }
    fa_tentry *self = fa_tentry_at(c->toff);
    if (self->cache == c) {
        fa_entry_publish(self); /* the caller's own counts are exact */
    }
    entry_sums sums = {0};
    fa_registry_lock();
    pthread_mutex_lock(&c->lock);
    fa_entry_publish(&c->direct);
    count_entries_locked(c, out, &sums);
    sums_add(&sums, &c->direct);
    fa_pool_stats(&c->direct.pool, &out->pool);
    out->depot_chunks = c->ndepot;
    out->depot_max = c->depot_max;
    out->depot_gets = c->depot_gets;
    out->depot_puts = c->depot_puts;
    out->chunks_released = c->released;
    out->direct_calls = c->direct_calls;
    /* A cache's pools count no peak (their fast paths fold the counts
     * without one): the most any stats call saw stands for it. */
    if (sums.live > c->peak_seen) {
        c->peak_seen = (size_t)sums.live;
    }
    out->pool.peak_live = c->peak_seen;
    pthread_mutex_unlock(&c->lock);
    fa_registry_unlock();
    size_t held = fa_cache_bytes_held(c);
    out->pool.chunks = held / c->chunk_size;
    out->pool.bytes_held = held;
    out->pool.live = (size_t)sums.live;
    out->pool.allocs = sums.allocs;
    out->pool.frees = sums.allocs - sums.live;
    out->pool.bytes_trimmed =
        atomic_load_explicit(&c->given_back, memory_order_relaxed);
    out->remote_frees = sums.sent;
    out->in_flight = (size_t)(sums.sent - sums.taken);
    out->live = (size_t)(sums.live - (sums.sent - sums.taken));
    out->allocs = sums.allocs;
    out->frees = sums.allocs - out->live;
    out->thread_empty_chunks = c->keep_empty;
    out->remote_batch = c->batch;
    out->decay_ms = (size_t)(c->decay_ns / 1000000u);
}

void fa_cache_stats_print(const fa_cache_counters *s, FILE *f)
{
    fprintf(f,
            "fixalloc cache '%s'\n"
            "  live objects     %zu\n"
            "  allocs / frees   %" PRIu64 " / %" PRIu64 "\n"
            "  remote frees     %" PRIu64 " (%zu on their way back, "
            "batches of %zu)\n"
            "  pools            %zu of running threads, %zu idle, %zu frozen\n"
            "  depot            %zu empty chunks (max %zu), %" PRIu64
            " out, %" PRIu64 " in, %" PRIu64 " given back past it\n"
            "  locked calls     %" PRIu64 "\n",
            s->pool.name ? s->pool.name : "unnamed", s->live, s->allocs,
            s->frees, s->remote_frees, s->in_flight, s->remote_batch,
            s->threads, s->idle_pools, s->frozen_pools, s->depot_chunks,
            s->depot_max, s->depot_gets, s->depot_puts, s->chunks_released,
            s->direct_calls);
    fa_stats_print(&s->pool, f);
}

/* ---- check ---- */

static bool broken(const fa_cache *c, const void *addr, const char *what)
{
    fa_report(FA_ERR_CORRUPT, FA_OBJ_CACHE, c->cfg.name, addr, what);
    return false;
}

/* Whether obj is the start of a carved slot of a pool of c. */
static bool cache_holds(const fa_cache *c, const void *obj)
{
    const void *hdr = (const void *)((uintptr_t)obj & ~(c->chunk_size - 1));
    if (!fa_is_chunk_header(hdr)) {
        return false;
    }
    const fa_pool *p = fa_pool_of_header(hdr);
    return (p == &c->direct.pool || fa_entry_of_pool(p)->cache == c) &&
           fa_pool_holds_slot(p, obj);
}

/* A chain of carriers (cache.c, "remote frees"): every carrier and every
 * object it carries one of c, no more than `most` objects (a cycle would
 * exceed it); *n counts them. */
static bool list_ok(const fa_cache *c, const void *obj, size_t most, size_t *n)
{
    for (*n = 0; obj != NULL; obj = ((const fa_carrier *)obj)->next) {
        const fa_carrier *k = obj;
        size_t carried = c->carry > 0 ? k->n : 0;
        if (!cache_holds(c, k) || carried > c->carry) {
            return broken(c, k,
                          "an object on its way back is not the "
                          "cache's");
        }
        for (size_t i = 0; i < carried; i++) {
            if (!cache_holds(c, k->objs[i])) {
                return broken(c, k->objs[i],
                              "an object on its way back is not the "
                              "cache's");
            }
        }
        *n += carried + 1;
        if (*n > most) {
            return broken(c, k, "a list of freed objects does not end");
        }
    }
    return true;
}

/* An entry's pool, outbox and inbox; no list is longer than `most`. */
static bool entry_ok(const fa_cache *c, const fa_tentry *e, size_t most)
{
    if (e->toff != c->toff) {
        return broken(c, e, "a thread's entry is bound at another offset");
    }
    size_t n;
    if (!list_ok(c, e->out_head, c->batch, &n)) {
        return false;
    }
    if (n != e->out_n || (n > 0 && (e->out_to == NULL ||
                                    fa_entry_of_pool(e->out_to)->cache != c))) {
        return broken(c, e, "a thread's outbox is miscounted");
    }
    void *in = atomic_load_explicit(&e->inbox, memory_order_acquire);
    if (!list_ok(c, in, most, &n)) {
        return false;
    }
    return fa_pool_check(&e->pool);
}

bool fa_cache_check(fa_cache *c)
{
    if (!fa_cache_ok(c)) {
        return false;
    }
    fa_registry_lock();
    pthread_mutex_lock(&c->lock);
    bool ok = true;
    size_t n = 0;
    /* Every slot of every chunk of the cache, at most, is on one list. */
    size_t most =
        fa_cache_bytes_held(c) / fa_pool_slot_size(&c->direct.pool) + 1;
    for (const fa_list_node *l = c->entries; ok && l != NULL; l = l->next) {
        const fa_tentry *e = fa_list_entry(l, fa_tentry, reg_link);
        if (++n > c->nentries) {
            ok = broken(c, c, "the list of bound entries is miscounted");
        } else if (e->cache != c) {
            ok = broken(c, e,
                        "an entry on the list is bound to another "
                        "cache");
        } else if (!fa_entry_frozen_locked(e)) {
            ok = entry_ok(c, e, most);
        }
    }
    for (size_t i = 0; ok && i < c->ndepot; i++) {
        if (!fa_is_chunk_header(c->depot[i])) {
            ok = broken(c, c->depot[i], "a depot chunk's header is broken");
        }
    }
    ok = ok && fa_pool_check(&c->direct.pool);
    pthread_mutex_unlock(&c->lock);
    fa_registry_unlock();
    return ok;
}
