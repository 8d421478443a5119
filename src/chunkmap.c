/*
 * chunkmap.c - the chunk map: which FA_CHUNK_MIN units start a pool chunk.
 * docs/design.md, "The chunk map".
 */
#include "pool_impl.h"

_Static_assert(FA_CHUNK_MIN == (size_t)1 << FA_CMAP_UNIT_SHIFT,
               "the chunk map counts the smallest chunks");

/* The leaves: one for each 4 GiB of a 48-bit address space, allocated on
 * first use and never freed (they stay reachable). */
FA_HIDDEN _Atomic(fa_cmap_byte *) fa_chunkmap[FA_CMAP_TOP];

static fa_cmap_byte *leaf_for(uintptr_t addr)
{
    size_t top = (size_t)(addr >> FA_CMAP_LEAF_SHIFT);
    if (top >= FA_CMAP_TOP) {
        return NULL;
    }
    fa_cmap_byte *leaf =
        atomic_load_explicit(&fa_chunkmap[top], memory_order_acquire);
    if (leaf != NULL) {
        return leaf;
    }
    fa_cmap_byte *fresh =
        fa_os_record_alloc(FA_CMAP_LEAF_UNITS * sizeof *fresh, 64);
    if (fresh == NULL) {
        return NULL;
    }
    if (atomic_compare_exchange_strong(&fa_chunkmap[top], &leaf, fresh)) {
        return fresh;
    }
    fa_os_record_free(fresh); /* another thread's leaf won; leaf holds it */
    return leaf;
}

bool fa_chunkmap_add(const void *chunk)
{
    fa_cmap_byte *leaf = leaf_for((uintptr_t)chunk);
    if (leaf == NULL) {
        return false;
    }
    atomic_store(&leaf[fa_cmap_unit((uintptr_t)chunk)], 1);
    return true;
}

void fa_chunkmap_remove(const void *chunk)
{
    uintptr_t a = (uintptr_t)chunk;
    if ((a >> FA_CMAP_LEAF_SHIFT) >= FA_CMAP_TOP) {
        return;
    }
    fa_cmap_byte *leaf = atomic_load_explicit(
        &fa_chunkmap[a >> FA_CMAP_LEAF_SHIFT], memory_order_acquire);
    if (leaf != NULL) {
        atomic_store(&leaf[fa_cmap_unit(a)], 0);
    }
}
