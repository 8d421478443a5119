/*
 * sizeclass.h - the size-class maps and their O(1) lookups.
 * docs/design.md, "Size classes".
 */
#ifndef FIXALLOC_SIZECLASS_H
#define FIXALLOC_SIZECLASS_H

#include "internal.h"

/* Requests are looked up in granules of 8 bytes: request n is granule
 * (n + 7) / 8, so 0..FA_SMALL_MAX take FA_GRANULES entries. */
#define FA_GRANULE_SHIFT 3
#define FA_GRANULES ((FA_SMALL_MAX >> FA_GRANULE_SHIFT) + 1)
/* Alignments that a class can give: 1 << 0 to 1 << FA_CLASS_ALIGN_LOG_MAX
 * (FA_SMALL_MAX: the largest class is a power of two). */
#define FA_CLASS_ALIGN_LOG_MAX 15

/* The slot size of every class, ascending. */
extern const uint32_t fa_class_size[FA_SIZE_CLASSES];
/* Granule -> the smallest class whose slot holds it. */
extern uint8_t fa_class_of_granule[FA_GRANULES];
/* [log2 a][c] -> the smallest class at or above c whose slots are aligned
 * to a, or FA_SIZE_CLASSES when none is. */
extern uint8_t fa_class_aligned[FA_CLASS_ALIGN_LOG_MAX + 1][FA_SIZE_CLASSES];

/* Fills the two maps; idempotent and thread-safe (pthread_once). Every
 * heap is created after it ran, so the maps are read without a check. */
void fa_size_classes_init(void);

/* The class of a request of n <= FA_SMALL_MAX bytes: one load. */
static inline size_t fa_class_of(size_t n)
{
    return fa_class_of_granule[(n + 7) >> FA_GRANULE_SHIFT];
}

/* The alignment of a class's slots: chunks are aligned to FA_HEAP_CHUNK
 * and slots end at the chunk's end, so a slot's address is a multiple of
 * the largest power of two that divides the slot size. */
static inline size_t fa_class_align(size_t cls)
{
    size_t s = fa_class_size[cls];
    return s & (~s + 1);
}

#endif /* FIXALLOC_SIZECLASS_H */
