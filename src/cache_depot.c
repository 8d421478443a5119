/*
 * cache_depot.c - a cache's depot of empty chunks. docs/design.md, "The cache".
 */
#include "cache_impl.h"

static bool depot_put_locked(fa_cache *c, void *chunk)
{
    if (c->ndepot >= c->depot_max) {
        return false;
    }
    c->depot[c->ndepot++] = chunk;
    c->depot_puts++;
    return true;
}

static void *depot_get_locked(fa_cache *c)
{
    if (c->ndepot == 0) {
        return NULL;
    }
    c->depot_gets++;
    void *chunk = c->depot[--c->ndepot];
    if (c->ndepot < c->depot_low) {
        c->depot_low = c->ndepot;
    }
    return chunk;
}

/* depot_get_locked under the cache lock. */
static void *depot_get(fa_cache *c)
{
    pthread_mutex_lock(&c->lock);
    void *chunk = depot_get_locked(c);
    pthread_mutex_unlock(&c->lock);
    return chunk;
}

void fa_depot_shed(fa_cache *c, fa_pool *p, size_t keep)
{
    while (fa_pool_empty_chunks(p) > keep ||
           (keep == 0 && fa_pool_live(p) == 0 && fa_pool_chunk_count(p) > 0)) {
        void *chunk = fa_pool_chunk_detach(p);
        if (chunk == NULL) {
            return;
        }
        pthread_mutex_lock(&c->lock);
        bool kept = depot_put_locked(c, chunk);
        c->released += !kept;
        pthread_mutex_unlock(&c->lock);
        if (!kept) {
            fa_pool_chunk_release(p, chunk);
        }
    }
}

bool fa_depot_take(fa_cache *c, fa_pool *p)
{
    void *chunk = depot_get(c);
    if (chunk != NULL) {
        fa_pool_chunk_attach(p, chunk);
    }
    return chunk != NULL;
}

/* Looking for an empty chunk of another class of the same heap in the
 * calling thread's pools. */
typedef struct sibling_search {
    const fa_cache *c;
    fa_tentry *to;
    bool found;
} sibling_search;

static void take_from_sibling(fa_tentry *e, void *arg)
{
    sibling_search *s = arg;
    fa_cache *other = e->cache;
    if (s->found || other == s->c || other->owner != s->c->owner ||
        other->chunk_size != s->c->chunk_size) {
        return;
    }
    /* The sibling's own empty chunks, else its depot's. */
    void *chunk = fa_pool_empty_chunks(&e->pool) > 0
                      ? fa_pool_chunk_detach(&e->pool)
                      : depot_get(other);
    if (chunk != NULL) {
        /* The bytes move with the chunk (under the registry lock, which
         * fork takes: a child finds them counted once). */
        fa_cache *from = e->cache, *to = s->to->cache;
        atomic_fetch_sub_explicit(&from->held, from->chunk_size,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&to->held, to->chunk_size,
                                  memory_order_relaxed);
        fa_pool_chunk_adopt(&s->to->pool, chunk);
        s->found = true;
    }
}

/* A heap's classes share their chunk size and have no callbacks: a pool
 * that would map a chunk takes an empty one from the thread's pool of
 * another class first (a program that moves from one size to another
 * reuses the memory at once, rather than after the decay). */
void fa_depot_take_sibling(fa_cache *c, fa_tentry *e)
{
    sibling_search s = {c, e, false};
    fa_thread_each_entry(take_from_sibling, &s);
}

/* Decay of the depot: the chunks it held unused for a whole window (its
 * low-water mark) go back to the source. Any thread's sweep may end a
 * window. */
void fa_depot_decay(fa_cache *c, uint64_t now)
{
    void *out[16];
    size_t n = 0;
    pthread_mutex_lock(&c->lock);
    if (++c->depot_sweeps >= FA_WINDOW_SWEEPS &&
        now - c->depot_window >= c->decay_ns) {
        /* depot_low <= ndepot: gets lower the mark, puts raise ndepot. */
        size_t idle = c->depot_low < 16 ? c->depot_low : 16;
        for (; n < idle; n++) {
            out[n] = c->depot[--c->ndepot];
        }
        c->released += n;
        c->depot_low = c->ndepot;
        c->depot_window = now;
        c->depot_sweeps = 0;
    }
    pthread_mutex_unlock(&c->lock);
    for (size_t i = 0; i < n; i++) {
        fa_pool_chunk_release(&c->direct.pool, out[i]);
    }
}

size_t fa_depot_drain(fa_cache *c)
{
    size_t bytes = 0;
    void *chunk;
    while ((chunk = depot_get(c)) != NULL) {
        fa_pool_chunk_release(&c->direct.pool, chunk);
        bytes += c->chunk_size;
    }
    return bytes;
}
