/*
 * source.c - page sources: the OS and a caller's buffer.
 * docs/design.md, "Page sources".
 */
#include "internal.h"
#include "platform.h"

#include <errno.h>
#include <string.h>

/* ---- the OS ---- */

static void *os_map(void *ctx, size_t size, size_t align, bool *zeroed)
{
    (void)ctx;
    *zeroed = true;
    return fa_os_map(size, align);
}

static void os_unmap(void *ctx, void *mem, size_t size)
{
    (void)ctx;
    fa_os_unmap(mem, size);
}

static void os_discard(void *ctx, void *mem, size_t size)
{
    (void)ctx;
    fa_os_discard(mem, size);
}

static const fa_source os_source = {os_map, os_unmap, NULL, os_discard};

const fa_source *fa_os_source(void)
{
    return &os_source;
}

/* ---- a caller's static buffer ---- */

/* A block given back to a static source, kept inside the block itself. */
typedef struct returned_block {
    struct returned_block *next;
    size_t size;
} returned_block;

/* Hands out a block given back earlier with the same size and a fitting
 * alignment, unlinking it. */
static void *static_reuse(fa_static_source *s, size_t size, size_t align)
{
    for (returned_block **link = (returned_block **)&s->returned; *link;
         link = &(*link)->next) {
        returned_block *b = *link;
        if (b->size == size && ((uintptr_t)b & (align - 1)) == 0) {
            *link = b->next;
            return b;
        }
    }
    return NULL;
}

static void *static_map(void *ctx, size_t size, size_t align, bool *zeroed)
{
    fa_static_source *s = ctx;
    void *block = static_reuse(s, size, align);
    if (block != NULL) {
        *zeroed = false;
        return block;
    }
    uintptr_t start =
        ((uintptr_t)s->next + align - 1) & ~(uintptr_t)(align - 1);
    if (start < (uintptr_t)s->next || start > (uintptr_t)s->end ||
        (uintptr_t)s->end - start < size) {
        return NULL;
    }
    s->next = (char *)start + size;
    *zeroed = s->zeroed;
    return (void *)start;
}

static void static_unmap(void *ctx, void *mem, size_t size)
{
    fa_static_source *s = ctx;
    returned_block *b = mem;
    b->size = size;
    b->next = s->returned;
    s->returned = b;
}

int fa_static_source_init(fa_static_source *s, void *buf, size_t len,
                          unsigned flags)
{
    if (s == NULL || buf == NULL || (flags & ~FA_STATIC_ZEROED) != 0) {
        return EINVAL;
    }
    memset(s, 0, sizeof *s);
    s->source.map = static_map;
    s->source.unmap = static_unmap;
    s->source.ctx = s;
    s->next = buf;
    s->end = (char *)buf + len;
    s->zeroed = (flags & FA_STATIC_ZEROED) != 0;
    return 0;
}
