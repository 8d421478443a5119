/*
 * addrmap.c - the address map: which FA_HEAP_CHUNK units start a heap block.
 * docs/design.md, "The address map".
 */
#include "heap_impl.h"

_Static_assert(FA_AMAP_UNIT_SHIFT == FA_HEAP_CHUNK_SHIFT,
               "the address map counts heap chunks");

_Atomic(fa_amap_word *) fa_amap[FA_AMAP_TOP];

static fa_amap_word *amap_leaf(uintptr_t addr, bool create)
{
    size_t top = (size_t)(addr >> FA_AMAP_LEAF_SHIFT);
    if (top >= FA_AMAP_TOP) {
        return NULL;
    }
    fa_amap_word *leaf =
        atomic_load_explicit(&fa_amap[top], memory_order_acquire);
    if (leaf == NULL && create) {
        fa_amap_word *fresh = fa_os_record_alloc(
            FA_AMAP_LEAF_WORDS * sizeof *fresh, sizeof *fresh);
        if (fresh == NULL) {
            return NULL;
        }
        if (atomic_compare_exchange_strong(&fa_amap[top], &leaf, fresh)) {
            leaf = fresh;
        } else {
            fa_os_record_free(
                fresh); /* another thread's leaf won; leaf holds it */
        }
    }
    return leaf;
}

/* Records that a block starts at mem; false when out of memory. */
bool fa_addrmap_add(const void *mem)
{
    fa_amap_word *leaf = amap_leaf((uintptr_t)mem, true);
    if (leaf == NULL) {
        return false;
    }
    size_t u = fa_amap_unit((uintptr_t)mem);
    atomic_fetch_or(&leaf[u / 64], UINT64_C(1) << (u % 64));
    return true;
}

void fa_addrmap_remove(const void *mem)
{
    fa_amap_word *leaf = amap_leaf((uintptr_t)mem, false);
    if (leaf != NULL) {
        size_t u = fa_amap_unit((uintptr_t)mem);
        atomic_fetch_and(&leaf[u / 64], ~(UINT64_C(1) << (u % 64)));
    }
}
