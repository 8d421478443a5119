/*
 * heap_source.c - the heap's counted source. docs/design.md, "The counted
 * source".
 */
#include "heap_impl.h"

/* A block from the heap's source, counted and recorded; NULL when the cap,
 * the source or the address map refuses. */
void *fa_heap_source_map(fa_heap *h, size_t size, size_t align, bool *zeroed)
{
    if (!fa_bytes_reserve(&h->held, h->max_bytes, size)) {
        return NULL;
    }
    void *mem = h->inner.map(h->inner.ctx, size, align, zeroed);
    if (mem != NULL && ((uintptr_t)mem & ~FA_HEAP_CHUNK_MASK) != 0) {
        fa_heap_report(FA_ERR_CORRUPT, h, mem,
                       "the page source returned a misaligned block");
        h->inner.unmap(h->inner.ctx, mem, size);
        mem = NULL;
    } else if (mem != NULL && !fa_addrmap_add(mem)) {
        h->inner.unmap(h->inner.ctx, mem, size);
        mem = NULL;
    }
    if (mem == NULL) {
        atomic_fetch_sub(&h->held, size);
    }
    return mem;
}

void fa_heap_source_unmap(fa_heap *h, void *mem, size_t size)
{
    FA_ASSERT(atomic_load_explicit(&h->held, memory_order_relaxed) >= size);
    fa_addrmap_remove(mem);
    h->inner.unmap(h->inner.ctx, mem, size);
    atomic_fetch_sub(&h->held, size);
}

/* The class pools' source: called under a class cache's depot lock, so
 * it takes no lock. */
static void *wrap_map(void *ctx, size_t size, size_t align, bool *zeroed)
{
    fa_heap *h = ctx;
    void *mem = fa_heap_source_map(h, size, align, zeroed);
    if (mem != NULL) {
        atomic_fetch_add(&h->chunk_bytes, size);
    }
    return mem;
}

static void wrap_unmap(void *ctx, void *mem, size_t size)
{
    fa_heap *h = ctx;
    atomic_fetch_sub(&h->chunk_bytes, size);
    fa_heap_source_unmap(h, mem, size);
}

/* Pages discarded stay mapped, and so stay counted in `held`. */
static void wrap_discard(void *ctx, void *mem, size_t size)
{
    fa_heap *h = ctx;
    h->inner.discard(h->inner.ctx, mem, size);
}

fa_source fa_heap_counted_source(fa_heap *h)
{
    return (fa_source){wrap_map, wrap_unmap, h,
                       h->inner.discard != NULL ? wrap_discard : NULL};
}
