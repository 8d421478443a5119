/*
 * cache_source.c - the cache's counted source. docs/design.md, "Cache bounds".
 */
#include "cache_impl.h"

/* The caller's source, serialised by the source lock and counted against
 * max_bytes. */
static void *counted_map(void *ctx, size_t size, size_t align, bool *zeroed)
{
    fa_cache *c = ctx;
    /* The count changes under the lock too, so that the fork handler,
     * which takes it, never sees a chunk counted but not mapped. */
    pthread_mutex_lock(&c->source_lock);
    void *mem = NULL;
    if (fa_bytes_reserve(&c->held, c->max_bytes, size)) {
        mem = c->inner.map(c->inner.ctx, size, align, zeroed);
        if (mem == NULL) {
            atomic_fetch_sub_explicit(&c->held, size, memory_order_relaxed);
        }
    }
    pthread_mutex_unlock(&c->source_lock);
    return mem;
}

static void counted_unmap(void *ctx, void *mem, size_t size)
{
    fa_cache *c = ctx;
    pthread_mutex_lock(&c->source_lock);
    c->inner.unmap(c->inner.ctx, mem, size);
    atomic_fetch_sub_explicit(&c->held, size, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->given_back, size, memory_order_relaxed);
    pthread_mutex_unlock(&c->source_lock);
}

static void counted_discard(void *ctx, void *mem, size_t size)
{
    fa_cache *c = ctx;
    c->inner.discard(c->inner.ctx, mem, size);
}

fa_source fa_cache_counted_source(fa_cache *c)
{
    return (fa_source){counted_map, counted_unmap, c,
                       c->inner.discard != NULL ? counted_discard : NULL};
}
