/*
 * pool_chunks.c - empty chunks moved between pools. docs/design.md, "Cache
 * layers".
 */
#include "pool_impl.h"

void *fa_pool_chunk_detach(fa_pool *p)
{
    if (p->empty == NULL && p->cur != NULL && fa_chunk_live(p, p->cur) == 0) {
        fa_pool_retire(p);
    }
    fa_chunk *c = fa_chunk_first(p->empty);
    if (c == NULL) {
        return NULL;
    }
    fa_chunk_unlist(p, c);
    p->nchunks--;
    return c;
}

void fa_pool_chunk_attach(fa_pool *p, void *chunk)
{
    fa_chunk *c = chunk;
    FA_ASSERT(c->magic == FA_CHUNK_MAGIC && c->nlive == 0 && c->npurged == 0);
    c->pool = p;
    p->nchunks++;
    fa_chunk_push(p, c, FA_LIST_EMPTY);
}

void fa_pool_chunk_adopt(fa_pool *p, void *chunk)
{
    fa_chunk *c = chunk;
    FA_ASSERT(c->magic == FA_CHUNK_MAGIC && c->nlive == 0 && p->first == NULL &&
              p->release == NULL && !p->checked);
    c->pool = p;
    c->free = NULL;
    c->carve = fa_chunk_base(p, c);
    fa_chunk_set_hwm(c, c->carve);
    c->zeroed = false;
    fa_chunk_unpurge(p, c);
    if (!fa_debug_chunk_new(p, c)) {
        /* Only checked pools can fail here, and they adopt nothing. */
        fa_pool_chunk_release(p, c);
        return;
    }
    p->nchunks++;
    fa_chunk_push(p, c, FA_LIST_EMPTY);
}

/* Changes none of p's counts or lists: the depot gives its chunks back
 * through the direct entry's pool without the cache lock that guards it. */
void fa_pool_chunk_release(fa_pool *p, void *chunk)
{
    fa_chunk_give_back(p, chunk);
}
