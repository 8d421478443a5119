/*
 * bare_list.c - the bare intrusive free list the benchmark measures against.
 */
#include "bare_list.h"

#include <stdlib.h>
#include <sys/mman.h>

#define BARE_NOINLINE __attribute__((noinline))

bare_list *bare_list_create(size_t size, size_t max_live)
{
    size_t align = size < 16 ? 8 : 16;
    size_t slot = (size + align - 1) & ~(align - 1);
    size_t page = 4096;
    size_t len = (slot * (max_live ? max_live : 1) + page - 1) & ~(page - 1);
    bare_list *b = malloc(sizeof *b);
    if (b == NULL) {
        return NULL;
    }
    void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) {
        free(b);
        return NULL;
    }
    b->free = NULL;
    b->base = mem;
    b->next = mem;
    b->end = b->base + len;
    b->slot = slot;
    b->len = len;
    return b;
}

void bare_list_destroy(bare_list *b)
{
    munmap(b->base, b->len);
    free(b);
}

BARE_NOINLINE void *bare_alloc(void *state)
{
    bare_list *b = state;
    void *p = b->free;
    if (p != NULL) {
        b->free = *(void **)p;
        return p;
    }
    if ((size_t)(b->end - b->next) < b->slot) {
        return NULL;
    }
    p = b->next;
    b->next += b->slot;
    return p;
}

BARE_NOINLINE void bare_free(void *state, void *obj)
{
    bare_list *b = state;
    *(void **)obj = b->free;
    b->free = obj;
}
