/*
 * bare_list.h - the single-thread floor: one pre-mapped region, bump carving
 * and an intrusive LIFO free list, nothing else (no stats, no checks).
 */
#ifndef FIXALLOC_BENCH_BARE_LIST_H
#define FIXALLOC_BENCH_BARE_LIST_H

#include <stddef.h>

typedef struct bare_list {
    void *free; /* freed slots, linked through their first words */
    char *next; /* the uncarved part of the region: [next, end) */
    char *end;
    size_t slot; /* bytes per object */
    char *base;  /* the region, as mapped */
    size_t len;
} bare_list;

/* Maps a region for max_live objects of `size` bytes (rounded up to 16, or
 * to 8 below 16); returns NULL when the mapping fails. */
bare_list *bare_list_create(size_t size, size_t max_live);
void bare_list_destroy(bare_list *b);

/* The hot path, out of line on purpose (noinline, and in its own translation
 * unit): the benchmark calls every implementation the same way. `state` is a
 * bare_list. bare_alloc returns NULL only when the region is used up. */
void *bare_alloc(void *state);
void bare_free(void *state, void *obj);

#endif /* FIXALLOC_BENCH_BARE_LIST_H */
