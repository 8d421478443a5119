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

static void large_track_resize(const fa_heap *h, void *obj, size_t old,
                               size_t n)
{
#if FA_HAVE_VALGRIND
    if (h->tracked) {
        VALGRIND_RESIZEINPLACE_BLOCK(obj, old, n, 0);
    }
#endif
    (void)h, (void)obj, (void)old, (void)n;
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

/* ---- free blocks kept for reuse (the large lock) ----
 *
 * A free large block is kept, up to the bounds in heap_impl.h, rather than
 * unmapped: programs grow vectors and hash tables and free I/O buffers all
 * the time, and a map and unmap each cost a system call and page faults.
 * A request takes the smallest kept block that holds it and is at most
 * half again as big; a kept block unused for FA_LARGE_KEEP_MS goes back. */

static void kept_remove_locked(fa_heap *h, size_t i)
{
    h->kept_bytes -= h->kept[i].block->map_size;
    h->kept[i] = h->kept[--h->nkept];
}

/* The smallest kept block of at least `map` bytes and at most 1.5 times
 * that, taken out; NULL when none fits. */
static fa_large *kept_take_locked(fa_heap *h, size_t map)
{
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < h->nkept; i++) {
        size_t size = h->kept[i].block->map_size;
        if (size >= map && size - map <= map / 2 &&
            (best == SIZE_MAX || size < h->kept[best].block->map_size)) {
            best = i;
        }
    }
    if (best == SIZE_MAX) {
        return NULL;
    }
    fa_large *b = h->kept[best].block;
    kept_remove_locked(h, best);
    h->large_reuses++;
    return b;
}

/* The oldest kept block, taken out (for room). */
static fa_large *kept_oldest_locked(fa_heap *h)
{
    size_t old = 0;
    for (size_t i = 1; i < h->nkept; i++) {
        if (h->kept[i].since < h->kept[old].since) {
            old = i;
        }
    }
    fa_large *b = h->kept[old].block;
    kept_remove_locked(h, old);
    return b;
}

/* Unmaps the kept blocks unused since before `until` (every one for
 * UINT64_MAX); the bytes. */
static size_t kept_release_locked(fa_heap *h, uint64_t until)
{
    size_t bytes = 0;
    for (size_t i = 0; i < h->nkept;) {
        if (h->kept[i].since < until) {
            fa_large *b = h->kept[i].block;
            size_t size = b->map_size;
            kept_remove_locked(h, i);
            fa_heap_source_unmap(h, b, size);
            bytes += size;
        } else {
            i++;
        }
    }
    return bytes;
}

/* Keeps free block b when the bounds allow, making room by unmapping the
 * oldest; false when b is not to be kept. */
static bool kept_put_locked(fa_heap *h, fa_large *b, uint64_t now)
{
    size_t size = b->map_size;
    if (size > FA_LARGE_KEEP_MAX) {
        return false;
    }
    while (h->nkept == FA_LARGE_KEEP_SLOTS ||
           h->kept_bytes + size > FA_LARGE_KEEP_BYTES) {
        fa_large *old = kept_oldest_locked(h);
        fa_heap_source_unmap(h, old, old->map_size);
    }
    b->magic = FA_LARGE_KEPT_MAGIC;
    h->kept[h->nkept++] = (struct fa_large_kept){b, now};
    h->kept_bytes += size;
    return true;
}

/* The usable bytes of an object of n bytes `offset` bytes into its block
 * (fa_large): up to the first page boundary at or past its end, which is
 * the block's end unless the block is larger (a power of two from a
 * caller's source, or a kept block reused for less). */
static size_t large_usable_for(size_t offset, size_t n)
{
    size_t page = fa_os_page_size();
    return ((offset + n + page - 1) & ~(page - 1)) - offset;
}

/* Bytes from b's start that may not read as zeros. */
static size_t large_dirty(const fa_large *b)
{
    return b->dirty == UINT32_MAX ? b->map_size
                                  : (size_t)b->dirty * FA_LARGE_DIRTY_UNIT;
}

/* Records that b's bytes below `bytes`, and those it had, may not read as
 * zeros. */
static void large_add_dirty(fa_large *b, size_t old, size_t bytes)
{
    bytes = bytes > old ? bytes : old;
    size_t units = (bytes + FA_LARGE_DIRTY_UNIT - 1) / FA_LARGE_DIRTY_UNIT;
    b->dirty = units < UINT32_MAX ? (uint32_t)units : UINT32_MAX;
}

/* Clears obj's bytes from `from` to `to` (offsets in the object) below
 * `dirty` bytes from its block's start at `offset`: the rest reads as
 * zeros already. */
static void large_clear(char *obj, size_t offset, size_t dirty, size_t from,
                        size_t to)
{
    size_t end = dirty > offset ? dirty - offset : 0;
    end = end < to ? end : to;
    if (end > from) {
        memset(obj + from, 0, end - from);
    }
}

static uint64_t keep_horizon(uint64_t now)
{
    uint64_t keep = (uint64_t)FA_LARGE_KEEP_MS * 1000000u;
    return now > keep ? now - keep : 0;
}

void *fa_large_alloc(fa_heap *h, size_t n, size_t align, bool zero)
{
    if (!fa_heap_ok(h)) {
        errno = EINVAL;
        return NULL;
    }
    size_t offset = align > FA_LARGE_HEADER ? align : FA_LARGE_HEADER;
    size_t map = n <= SIZE_MAX - offset ? large_map_size(h, offset + n) : 0;
    size_t dirty = 0;
    pthread_mutex_lock(&large_lock);
    fa_large *b = map != 0 ? kept_take_locked(h, map) : NULL;
    if (b != NULL) {
        map = b->map_size;
        dirty = large_dirty(b);
    } else if (map != 0) {
        bool fresh = false;
        b = fa_heap_source_map(h, map, FA_HEAP_CHUNK, &fresh);
        dirty = fresh ? FA_LARGE_HEADER : map;
    }
    if (b == NULL) {
        pthread_mutex_unlock(&large_lock);
        errno = ENOMEM;
        return NULL;
    }
    size_t usable = large_usable_for(offset, n);
    *b = (fa_large){.magic = FA_LARGE_MAGIC,
                    .heap = h,
                    .map_size = map,
                    .size = n,
                    .usable = usable,
                    .offset = (uint32_t)offset};
    large_add_dirty(b, dirty, offset + usable);
    fa_list_push(&h->large, &b->link);
    h->nlarge++;
    h->large_bytes += map;
    h->large_usable += usable;
    h->large_allocs++;
    pthread_mutex_unlock(&large_lock);
    char *obj = (char *)b + offset;
    bool clear = zero || (h->flags & FA_ZERO);
    /* Open to the caller (under Valgrind) before it is cleared: a kept
     * block was closed when it was freed. */
    large_track_alloc(h, obj, usable, clear || dirty <= offset);
    if (clear) {
        large_clear(obj, offset, dirty, 0, usable);
    }
    return obj;
}

static void large_unlink_locked(fa_heap *h, fa_large *b)
{
    fa_list_remove(&h->large, &b->link);
    h->nlarge--;
    h->large_bytes -= b->map_size;
    h->large_usable -= b->usable;
    h->large_frees++;
}

void fa_large_free(fa_large *b, void *obj)
{
    FA_ASSERT(b->magic == FA_LARGE_MAGIC &&
              (char *)obj == (char *)b + b->offset);
    fa_heap *h = b->heap;
    large_track_free(h, obj);
    uint64_t now = fa_os_now_ns();
    pthread_mutex_lock(&large_lock);
    large_unlink_locked(h, b);
    kept_release_locked(h, keep_horizon(now));
    if (!kept_put_locked(h, b, now)) {
        fa_heap_source_unmap(h, b, b->map_size);
    }
    pthread_mutex_unlock(&large_lock);
}

size_t fa_large_trim(fa_heap *h)
{
    pthread_mutex_lock(&large_lock);
    size_t bytes = kept_release_locked(h, UINT64_MAX);
    pthread_mutex_unlock(&large_lock);
    return bytes;
}

/* Moves b's pages to a new mapping of `map` bytes aligned as blocks are,
 * without copying; the block there, or NULL (b untouched). Large lock
 * held, `map - b->map_size` bytes counted already. */
static fa_large *large_move_locked(fa_heap *h, fa_large *b, size_t map)
{
    fa_large *to = fa_os_map(map, FA_HEAP_CHUNK);
    if (to == NULL) {
        return NULL;
    }
    if (!fa_addrmap_add(to)) {
        fa_os_unmap(to, map);
        return NULL;
    }
    fa_list_remove(&h->large, &b->link);
    if (!fa_os_remap_move(b, b->map_size, map, to)) {
        fa_list_push(&h->large, &b->link);
        fa_addrmap_remove(to);
        fa_os_unmap(to, map);
        return NULL;
    }
    fa_addrmap_remove(b);
    fa_list_push(&h->large, &to->link);
    return to;
}

/* fa_large_grow within b's block (n fits in it): the object stays, its
 * new bytes cleared on an FA_ZERO heap where another object wrote. */
static void *large_extend(fa_large *b, size_t n)
{
    fa_heap *h = b->heap;
    char *obj = (char *)b + b->offset;
    size_t old = b->usable;
    size_t usable = large_usable_for(b->offset, n);
    pthread_mutex_lock(&large_lock);
    size_t dirty = large_dirty(b);
    large_add_dirty(b, dirty, b->offset + usable);
    h->large_usable += usable - old;
    b->usable = usable;
    b->size = n;
    pthread_mutex_unlock(&large_lock);
    large_track_resize(h, obj, old, usable);
    if (h->flags & FA_ZERO) {
        large_clear(obj, b->offset, dirty, old, usable);
    }
    return obj;
}

void *fa_large_grow(fa_large *b, size_t n)
{
    fa_heap *h = b->heap;
    if (n <= b->map_size - b->offset) {
        return large_extend(b, n);
    }
    /* Past the block: whole pages more from the OS, by mremap. */
    size_t map =
        n <= SIZE_MAX - b->offset ? large_map_size(h, b->offset + n) : 0;
    if (!h->os_source || map == 0) {
        return NULL;
    }
    size_t more = map - b->map_size;
    size_t usable = b->usable;
    void *obj = (char *)b + b->offset;
    fa_large *to = NULL;
    pthread_mutex_lock(&large_lock);
    if (fa_bytes_reserve(&h->held, h->max_bytes, more)) {
        to = fa_os_remap_in_place(b, b->map_size, map)
                 ? b
                 : large_move_locked(h, b, map);
        if (to != NULL) {
            to->map_size = map;
            to->size = n;
            to->usable = map - to->offset;
            large_add_dirty(to, large_dirty(to), map);
            h->large_bytes += more;
            h->large_usable += to->usable - usable;
        } else {
            atomic_fetch_sub(&h->held, more);
        }
    }
    pthread_mutex_unlock(&large_lock);
    if (to == NULL) {
        return NULL;
    }
    void *moved = (char *)to + to->offset;
    if (moved == obj) {
        large_track_resize(h, obj, usable, to->usable);
    } else {
        large_track_free(h, obj);
        large_track_alloc(h, moved, to->usable, true);
    }
    return moved;
}

void fa_large_release_all(fa_heap *h)
{
    pthread_mutex_lock(&large_lock);
    kept_release_locked(h, UINT64_MAX);
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
    out->large_kept = h->nkept;
    out->large_kept_bytes = h->kept_bytes;
    out->large_reuses = h->large_reuses;
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
            (l->next != NULL && l->next->prev != l) || b->size > b->usable ||
            b->offset + b->usable > b->map_size) {
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

static bool kept_ok_locked(const fa_heap *h)
{
    size_t bytes = 0;
    for (size_t i = 0; i < h->nkept; i++) {
        const fa_large *b = h->kept[i].block;
        if (b->magic != FA_LARGE_KEPT_MAGIC || b->heap != h) {
            fa_heap_report(FA_ERR_CORRUPT, h, b,
                           "a kept large block's header is broken");
            return false;
        }
        bytes += b->map_size;
    }
    if (h->nkept > FA_LARGE_KEEP_SLOTS || bytes != h->kept_bytes) {
        fa_heap_report(FA_ERR_CORRUPT, h, h,
                       "the kept large blocks are miscounted");
        return false;
    }
    return true;
}

bool fa_large_check(const fa_heap *h, size_t *bytes)
{
    pthread_mutex_lock(&large_lock);
    bool ok = large_list_ok_locked(h) && kept_ok_locked(h);
    *bytes = h->large_bytes + h->kept_bytes;
    pthread_mutex_unlock(&large_lock);
    return ok;
}
