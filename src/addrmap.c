/*
 * addrmap.c - the address map: which FA_HEAP_CHUNK units start a heap block.
 * docs/design.md, "The address map".
 */
#include "heap_impl.h"

/* Two levels over 48-bit addresses: a leaf of bits for each 4 GiB,
 * allocated on first use and never freed (it stays reachable). */
#define AMAP_LEAF_SHIFT 32
#define AMAP_TOP ((size_t)1 << (48 - AMAP_LEAF_SHIFT))
#define AMAP_UNIT_SHIFT 18
#define AMAP_LEAF_WORDS                                                        \
    (((size_t)1 << (AMAP_LEAF_SHIFT - AMAP_UNIT_SHIFT)) / 64)

_Static_assert(FA_HEAP_CHUNK == (size_t)1 << AMAP_UNIT_SHIFT,
               "the address map counts heap chunks");

typedef _Atomic uint64_t amap_word;
static _Atomic(amap_word *) amap[AMAP_TOP];

static amap_word *amap_leaf(uintptr_t addr, bool create)
{
    size_t top = (size_t)(addr >> AMAP_LEAF_SHIFT);
    if (top >= AMAP_TOP) {
        return NULL;
    }
    amap_word *leaf = atomic_load_explicit(&amap[top], memory_order_acquire);
    if (leaf == NULL && create) {
        amap_word *fresh =
            fa_os_record_alloc(AMAP_LEAF_WORDS * sizeof *fresh, sizeof *fresh);
        if (fresh == NULL) {
            return NULL;
        }
        if (atomic_compare_exchange_strong(&amap[top], &leaf, fresh)) {
            leaf = fresh;
        } else {
            fa_os_record_free(
                fresh); /* another thread's leaf won; leaf holds it */
        }
    }
    return leaf;
}

static size_t amap_unit(uintptr_t addr)
{
    return (size_t)(addr >> AMAP_UNIT_SHIFT) & (AMAP_LEAF_WORDS * 64 - 1);
}

/* Records that a block starts at mem; false when out of memory. */
bool fa_addrmap_add(const void *mem)
{
    amap_word *leaf = amap_leaf((uintptr_t)mem, true);
    if (leaf == NULL) {
        return false;
    }
    size_t u = amap_unit((uintptr_t)mem);
    atomic_fetch_or(&leaf[u / 64], UINT64_C(1) << (u % 64));
    return true;
}

void fa_addrmap_remove(const void *mem)
{
    amap_word *leaf = amap_leaf((uintptr_t)mem, false);
    if (leaf != NULL) {
        size_t u = amap_unit((uintptr_t)mem);
        atomic_fetch_and(&leaf[u / 64], ~(UINT64_C(1) << (u % 64)));
    }
}

bool fa_addrmap_has(uintptr_t unit)
{
    const amap_word *leaf = amap_leaf(unit, false);
    if (leaf == NULL) {
        return false;
    }
    size_t u = amap_unit(unit);
    return (atomic_load_explicit(&leaf[u / 64], memory_order_relaxed) >>
                (u % 64) &
            1) != 0;
}
