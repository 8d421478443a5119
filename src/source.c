/*
 * source.c - page sources: where pools get their chunks (docs/design.md,
 * "Page sources").
 *
 * Every OS call of the library is in this file. A source hands out blocks
 * of a power-of-two size aligned to a power of two; the pools never ask for
 * anything else.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

/* ---- the OS: mmap and munmap ---- */

static void *os_map_exact(size_t size)
{
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return mem == MAP_FAILED ? NULL : mem;
}

/*
 * Maps `size` bytes aligned to `align`. The kernel tends to place a new
 * mapping right below the previous one, so a mapping of exactly `size`
 * bytes is usually aligned already when the last one was; only when it is
 * not do we map `size + align` and cut the excess off both ends.
 */
static void *os_map(void *ctx, size_t size, size_t align, bool *zeroed)
{
    (void)ctx;
    *zeroed = true;
    char *mem = os_map_exact(size);
    if (mem == NULL || ((uintptr_t)mem & (align - 1)) == 0) {
        return mem;
    }
    munmap(mem, size);
    if (size + align < size) {
        return NULL;
    }
    mem = os_map_exact(size + align);
    if (mem == NULL) {
        return NULL;
    }
    char *aligned = (char *)(((uintptr_t)mem + align - 1) & ~(align - 1));
    size_t head = (size_t)(aligned - mem);
    if (head > 0) {
        munmap(mem, head);
    }
    if (align - head > 0) {
        munmap(aligned + size, align - head);
    }
    return aligned;
}

/* Gives the block back, keeping errno as the caller left it. */
static void os_unmap(void *ctx, void *mem, size_t size)
{
    (void)ctx;
    int saved = errno;
    munmap(mem, size);
    errno = saved;
}

static const fa_source os_source = {os_map, os_unmap, NULL};

const fa_source *fa_os_source(void)
{
    return &os_source;
}

/* ---- randomness for hardened pools ---- */

uintptr_t fa_random_word(void)
{
    uintptr_t w = 0;
    if (getrandom(&w, sizeof w, GRND_NONBLOCK) != (ssize_t)sizeof w) {
        /* No entropy yet (early boot): the clock and ASLR, mixed. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        w = ((uintptr_t)&w ^ (uintptr_t)ts.tv_nsec) * (uintptr_t)0x9e3779b97f4a7c15u;
    }
    return w | 1; /* never zero: zero means "not hardened" */
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
    uintptr_t start = ((uintptr_t)s->next + align - 1) & ~(uintptr_t)(align - 1);
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
