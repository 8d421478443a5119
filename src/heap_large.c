/*
 * heap_large.c - blocks above the largest size class, and the large lock.
 * docs/design.md, "Large blocks".
 */
#include "heap_impl.h"

#include <errno.h>
#include <string.h>

/* Held across a large block's whole allocation or free (the bytes counted,
 * the block mapped or unmapped, the list changed), so that the fork
 * handler, which takes it, never leaves a child a block counted but not
 * listed, or listed but not counted. (A reader-writer lock would let
 * allocations map at once, but glibc's cannot be unlocked in a fork child
 * by the thread that write-locked it in the parent.) */
static pthread_mutex_t large_lock = PTHREAD_MUTEX_INITIALIZER;

/* Bytes to map for `need` bytes: whole pages from the OS; from another
 * source a power of two of at least FA_HEAP_CHUNK, as its contract asks
 * (sizes and alignments powers of two, align <= size). 0 on overflow. */
static size_t large_map_size(const fa_heap *h, size_t need)
{
    if (h->os_source) {
        size_t page = fa_os_page_size();
        return need <= SIZE_MAX - page + 1 ? (need + page - 1) & ~(page - 1)
                                           : 0;
    }
    size_t size = FA_HEAP_CHUNK;
    while (size < need) {
        if (size > SIZE_MAX / 2) {
            return 0;
        }
        size *= 2;
    }
    return size;
}

/* Under Valgrind a large object is a client block of its usable size (as
 * a class object is open to its slot size), so leaks and uses after free
 * are seen. */
static void large_track_alloc(const fa_heap *h, void *obj, size_t n,
                              bool zeroed)
{
#if FA_HAVE_VALGRIND
    if (h->tracked) {
        VALGRIND_MALLOCLIKE_BLOCK(obj, n, 0, zeroed);
    }
#endif
    (void)h, (void)obj, (void)n, (void)zeroed;
}

static void large_track_free(const fa_heap *h, void *obj)
{
#if FA_HAVE_VALGRIND
    if (h->tracked) {
        VALGRIND_FREELIKE_BLOCK(obj, 0);
    }
#endif
    (void)h, (void)obj;
}

void *fa_large_alloc(fa_heap *h, size_t n, size_t align, bool *zeroed)
{
    if (!fa_heap_ok(h)) {
        errno = EINVAL;
        return NULL;
    }
    size_t offset = align > FA_LARGE_HEADER ? align : FA_LARGE_HEADER;
    size_t map = n <= SIZE_MAX - offset ? large_map_size(h, offset + n) : 0;
    bool fresh = false;
    pthread_mutex_lock(&large_lock);
    char *mem =
        map != 0 ? fa_heap_source_map(h, map, FA_HEAP_CHUNK, &fresh) : NULL;
    if (mem == NULL) {
        pthread_mutex_unlock(&large_lock);
        errno = ENOMEM;
        return NULL;
    }
    fa_large *b = (fa_large *)(void *)mem;
    *b = (fa_large){.magic = FA_LARGE_MAGIC,
                    .heap = h,
                    .map_size = map,
                    .offset = offset,
                    .size = n};
    fa_list_push(&h->large, &b->link);
    h->nlarge++;
    h->large_bytes += map;
    h->large_usable += map - offset;
    h->large_allocs++;
    pthread_mutex_unlock(&large_lock);
    void *obj = mem + offset;
    if ((h->flags & FA_ZERO) && !fresh) {
        memset(obj, 0, map - offset);
        fresh = true;
    }
    large_track_alloc(h, obj, map - offset, fresh);
    *zeroed = fresh;
    return obj;
}

static void large_unlink_locked(fa_heap *h, fa_large *b)
{
    fa_list_remove(&h->large, &b->link);
    h->nlarge--;
    h->large_bytes -= b->map_size;
    h->large_usable -= b->map_size - b->offset;
    h->large_frees++;
}

void fa_large_free(fa_large *b, void *obj)
{
    FA_ASSERT(b->magic == FA_LARGE_MAGIC &&
              (char *)obj == (char *)b + b->offset);
    fa_heap *h = b->heap;
    large_track_free(h, obj);
    pthread_mutex_lock(&large_lock);
    large_unlink_locked(h, b);
    fa_heap_source_unmap(h, b, b->map_size);
    pthread_mutex_unlock(&large_lock);
}

void fa_large_release_all(fa_heap *h)
{
    pthread_mutex_lock(&large_lock);
    fa_list_node *n = h->large;
    h->large = NULL;
    pthread_mutex_unlock(&large_lock);
    while (n != NULL) {
        fa_large *b = fa_list_entry(n, fa_large, link);
        n = n->next;
        large_track_free(h, (char *)b + b->offset);
        fa_heap_source_unmap(h, b, b->map_size);
    }
}

void fa_large_stats(const fa_heap *h, fa_heap_counters *out)
{
    pthread_mutex_lock(&large_lock);
    out->large_live = h->nlarge;
    out->large_bytes = h->large_bytes;
    out->live_bytes += h->large_usable;
    out->large_allocs = h->large_allocs;
    out->large_frees = h->large_frees;
    pthread_mutex_unlock(&large_lock);
}

void fa_large_fork_prepare(void)
{
    pthread_mutex_lock(&large_lock);
}

void fa_large_fork_release(void)
{
    pthread_mutex_unlock(&large_lock);
}

static bool large_list_ok_locked(const fa_heap *h)
{
    size_t n = 0, bytes = 0;
    for (const fa_list_node *l = h->large; l != NULL; l = l->next, n++) {
        const fa_large *b = fa_list_entry(l, fa_large, link);
        if (b->magic != FA_LARGE_MAGIC || b->heap != h ||
            (l->next != NULL && l->next->prev != l) ||
            b->offset + b->size > b->map_size) {
            fa_heap_report(FA_ERR_CORRUPT, h, b,
                           "a large block's header is "
                           "broken");
            return false;
        }
        bytes += b->map_size;
    }
    if (n != h->nlarge || bytes != h->large_bytes) {
        fa_heap_report(FA_ERR_CORRUPT, h, h, "the large blocks are miscounted");
        return false;
    }
    return true;
}

bool fa_large_check(const fa_heap *h, size_t *bytes)
{
    pthread_mutex_lock(&large_lock);
    bool ok = large_list_ok_locked(h);
    *bytes = h->large_bytes;
    pthread_mutex_unlock(&large_lock);
    return ok;
}
