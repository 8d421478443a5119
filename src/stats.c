/*
 * stats.c - fa_pool_stats and its printout.
 * docs/design.md, "Pool stats".
 */
#include "pool_impl.h"

#include <inttypes.h>

void fa_pool_stats(const fa_pool *p, fa_stats *out)
{
    if (!FA_HANDLE_OK(p, FA_POOL_MAGIC, FA_OBJ_POOL)) {
        *out = (fa_stats){.name = "unnamed"};
        return;
    }
    size_t live = fa_pool_live(p);
    *out = (fa_stats){
        .name = p->name,
        .object_size = p->size,
        .slot_size = p->slot,
        .chunk_size = p->chunk_size,
        .slots_per_chunk = p->nslots,
        .chunks = p->nchunks,
        .bytes_held = p->nchunks * p->chunk_size,
        .live = live,
        .peak_live = p->peak,
        .allocs = p->allocs,
        .frees = p->allocs - live,
        .bytes_trimmed = p->bytes_trimmed,
    };
}

void fa_stats_print(const fa_stats *s, FILE *f)
{
    fprintf(f,
            "fixalloc pool '%s'\n"
            "  object size      %zu B (slot %zu B, %zu slots per %zu B chunk)\n"
            "  chunks held      %zu (%zu B from the source)\n"
            "  live objects     %zu (peak %zu)\n"
            "  allocs / frees   %" PRIu64 " / %" PRIu64 "\n"
            "  bytes trimmed    %" PRIu64 "\n",
            s->name ? s->name : "unnamed", s->object_size, s->slot_size,
            s->slots_per_chunk, s->chunk_size, s->chunks, s->bytes_held,
            s->live, s->peak_live, s->allocs, s->frees, s->bytes_trimmed);
}
