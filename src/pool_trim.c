/*
 * pool_trim.c - fa_pool_reserve and fa_pool_trim: chunks taken ahead and
 * given back. docs/design.md, "Trim, reserve, destroy".
 */
#include "pool_impl.h"

#include <errno.h>

int fa_pool_reserve(fa_pool *p, size_t n)
{
    if (!FA_HANDLE_OK(p, FA_POOL_MAGIC, FA_OBJ_POOL)) {
        return EINVAL;
    }
    /* Every slot that is not live is free or uncarved, in some chunk. */
    size_t room = p->nchunks * p->nslots - fa_pool_live(p);
    while (room < n) {
        fa_chunk *c = fa_chunk_new(p);
        if (c == NULL) {
            return ENOMEM;
        }
        fa_chunk_push(p, c, FA_LIST_EMPTY);
        room += p->nslots;
    }
    return 0;
}

size_t fa_pool_trim(fa_pool *p)
{
    if (!FA_HANDLE_OK(p, FA_POOL_MAGIC, FA_OBJ_POOL)) {
        return 0;
    }
    size_t before = p->nchunks;
    /* Retired when empty (it goes), or when it has free slots in a pool
     * that purges (so that its pages can go too). */
    if (p->cur != NULL && (fa_chunk_live(p, p->cur) == 0 ||
                           (p->purge_shift != 0 && p->fast_free != NULL))) {
        fa_pool_retire(p);
    }
    fa_chunk *c;
    while ((c = fa_chunk_first(p->empty)) != NULL) {
        fa_chunk_unlist(p, c);
        fa_chunk_release(p, c);
    }
    size_t bytes = (before - p->nchunks) * p->chunk_size + fa_pool_purge(p);
    p->bytes_trimmed += bytes;
    return bytes;
}
