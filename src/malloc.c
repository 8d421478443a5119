/*
 * malloc.c - the fa_malloc family over heaps.
 * docs/design.md, "The malloc family".
 */
#include "heap_impl.h"

#include <errno.h>
#include <string.h>

/* ---- finding an object's header ---- */

enum obj_kind { OBJ_NONE, OBJ_SMALL, OBJ_LARGE, OBJ_BAD };

/* What holds p: its chunk (small) or block (large) at *hdr. A pointer
 * that no heap holds (the address map, asked before the header is read),
 * or that is not an object's start in a large block, is reported
 * (OBJ_BAD); NULL is OBJ_NONE. The checks on a small object are its
 * pool's, on free. */
static enum obj_kind classify(const void *p, void **hdr)
{
    if (p == NULL) {
        return OBJ_NONE;
    }
    uintptr_t unit = (uintptr_t)p & FA_HEAP_CHUNK_MASK;
    *hdr = (void *)unit;
    if (!fa_addrmap_has(unit)) { /* nothing at unit is read before this */
        fa_heap_report(FA_ERR_FOREIGN, NULL, p,
                       "no heap holds it (freed "
                       "already, or never a heap's)");
        return OBJ_BAD;
    }
    if (fa_is_chunk_header(*hdr)) {
        return OBJ_SMALL;
    }
    if (((const fa_large *)*hdr)->magic == FA_LARGE_MAGIC) {
        const fa_large *b = *hdr;
        if ((const char *)p == (const char *)b + b->offset) {
            return OBJ_LARGE;
        }
        fa_heap_report(FA_ERR_INTERIOR, b->heap, p,
                       "it points inside a large "
                       "object");
        return OBJ_BAD;
    }
    fa_heap_report(FA_ERR_FOREIGN, NULL, p, "no heap holds it");
    return OBJ_BAD;
}

/* The class cache of the pool chunk whose header is at hdr. */
static inline fa_cache *cache_of_chunk(const void *hdr)
{
    return fa_cache_of_pool(fa_pool_of_header(hdr));
}

/* The heap of a pool chunk: its class cache's owner. */
static fa_heap *heap_of_chunk(const void *hdr)
{
    return fa_cache_owner(cache_of_chunk(hdr));
}

/* The slot size of a pool chunk's objects. */
static size_t slot_of_chunk(const void *hdr)
{
    return fa_pool_slot_size(fa_pool_of_header(hdr));
}

/* ---- allocation ---- */

static __attribute__((noinline)) void *class_miss(fa_heap *h, size_t cls)
{
    if (!fa_heap_ok(h)) {
        errno = EINVAL;
        return NULL;
    }
    return fa_cache_alloc(h->cache[cls]);
}

/* The fast path: the cache's, on the class cache's entry offset. */
static inline void *class_alloc(fa_heap *h, size_t cls)
{
    void *obj;
    if (FA_LIKELY(fa_cache_pop_fast(h->toff[cls], &obj))) {
        return obj;
    }
    return class_miss(h, cls);
}

static __attribute__((noinline)) void *large_malloc(fa_heap *h, size_t n)
{
    return fa_large_alloc(h, n, FA_HEAP_ALIGN, false);
}

static inline void *heap_alloc(fa_heap *h, size_t n)
{
    if (FA_LIKELY(n <= FA_SMALL_MAX)) {
        return class_alloc(h, fa_class_of(n));
    }
    return large_malloc(h, n);
}

/* A NULL heap handle, reported: NULL with errno EINVAL. (fa_malloc never
 * has one: its heap is the default one.) */
static FA_COLD void *null_heap(void)
{
    fa_bad_handle(NULL, FA_OBJ_HEAP);
    errno = EINVAL;
    return NULL;
}

void *fa_heap_malloc(fa_heap *h, size_t n)
{
    if (FA_UNLIKELY(h == NULL)) {
        return null_heap();
    }
    return heap_alloc(h, n);
}

/* The first fa_malloc of the process creates the default heap. */
static FA_COLD void *malloc_first(size_t n)
{
    fa_heap *h = fa_default_heap_create();
    return h != NULL ? heap_alloc(h, n) : NULL;
}

void *fa_malloc(size_t n)
{
    fa_heap *h = atomic_load_explicit(&fa_default_heap, memory_order_acquire);
    if (FA_UNLIKELY(h == NULL)) {
        return malloc_first(n);
    }
    return heap_alloc(h, n);
}

void *fa_heap_calloc(fa_heap *h, size_t k, size_t n)
{
    if (FA_UNLIKELY(h == NULL)) {
        return null_heap();
    }
    size_t total;
    if (__builtin_mul_overflow(k, n, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (total > FA_SMALL_MAX) {
        return fa_large_alloc(h, total, FA_HEAP_ALIGN, true);
    }
    void *p = class_alloc(h, fa_class_of(total));
    if (p != NULL && !(h->flags & FA_ZERO)) {
        memset(p, 0, total);
    }
    return p;
}

void *fa_calloc(size_t k, size_t n)
{
    fa_heap *h = fa_default_heap_get();
    return h != NULL ? fa_heap_calloc(h, k, n) : NULL;
}

static bool is_pow2(size_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

static unsigned log2_of(size_t pow2)
{
    return (unsigned)__builtin_ctzll((unsigned long long)pow2);
}

void *fa_heap_aligned_alloc(fa_heap *h, size_t align, size_t n)
{
    if (FA_UNLIKELY(h == NULL)) {
        return null_heap();
    }
    if (!is_pow2(align) || align > FA_HEAP_ALIGN_MAX) {
        errno = EINVAL;
        return NULL;
    }
    if (n <= FA_SMALL_MAX && align <= FA_SMALL_MAX) {
        size_t cls = fa_class_aligned[log2_of(align)][fa_class_of(n)];
        if (cls < FA_SIZE_CLASSES) {
            return class_alloc(h, cls);
        }
    }
    return fa_large_alloc(h, n, align, false);
}

void *fa_aligned_alloc(size_t align, size_t n)
{
    fa_heap *h = fa_default_heap_get();
    return h != NULL ? fa_heap_aligned_alloc(h, align, n) : NULL;
}

int fa_posix_memalign(void **out, size_t align, size_t n)
{
    if (align % sizeof(void *) != 0 || !is_pow2(align) ||
        align > FA_HEAP_ALIGN_MAX) {
        return EINVAL;
    }
    int saved = errno;
    void *p = fa_aligned_alloc(align, n);
    int err = p != NULL ? 0 : errno == EINVAL ? EINVAL : ENOMEM;
    errno = saved;
    if (p != NULL) {
        *out = p;
    }
    return err;
}

/* ---- free ---- */

static __attribute__((noinline)) void free_slow(void *p)
{
    void *hdr;
    switch (classify(p, &hdr)) {
    case OBJ_SMALL: fa_cache_free(cache_of_chunk(hdr), p); break;
    case OBJ_LARGE: fa_large_free(hdr, p); break;
    case OBJ_NONE:
    case OBJ_BAD: break;
    }
}

/* fa_free past its guess: an object of another chunk, class or thread,
 * a large block. The address map is asked before anything at the
 * would-be header is read (NULL's, 0, starts no block). */
bool fa_free_unguessed(void *p, fa_pool *guess)
{
    uintptr_t unit = (uintptr_t)p & FA_HEAP_CHUNK_MASK;
    if (FA_UNLIKELY(!fa_addrmap_has(unit))) {
        return false;
    }
    if (FA_LIKELY(fa_is_chunk_header((const void *)unit))) {
        fa_cache_free_keyed(fa_pool_of_header((const void *)unit), p,
                            (void *)unit, fa_free_key(p), guess);
        return true;
    }
    free_slow(p);
    return true;
}

/* fa_free past its guess, and NULL and pointers no heap holds (free_slow
 * lets NULL go and reports the rest). */
static __attribute__((noinline)) void free_miss(void *p, fa_pool *guess)
{
    if (FA_UNLIKELY(!fa_free_unguessed(p, guess))) {
        free_slow(p);
    }
}

/* The fast path: a guess that reads nothing at p (fa_free_guess); a
 * match proves the guess, so a stale one costs only the miss. */
void fa_free(void *p)
{
    fa_pool *guess = fa_free_guess(p);
    if (FA_LIKELY(fa_pool_try_free(guess, p))) {
        return;
    }
    free_miss(p, guess);
}

/* Whether n can be the size an object was allocated or last reallocated
 * with. Large: the size recorded in its block. Small: a request of its
 * class, or one that fa_realloc kept it in place for (it fits, and its
 * own class is more than half the object's). */
static bool size_matches(enum obj_kind kind, const void *hdr, size_t n)
{
    if (kind == OBJ_LARGE) {
        return ((const fa_large *)hdr)->size == n;
    }
    size_t slot = slot_of_chunk(hdr);
    return n <= slot && fa_class_size[fa_class_of(n)] > slot / 2;
}

void fa_free_sized(void *p, size_t n)
{
    void *hdr;
    enum obj_kind kind = classify(p, &hdr);
    if (kind != OBJ_SMALL && kind != OBJ_LARGE) {
        return;
    }
    fa_heap *h =
        kind == OBJ_LARGE ? ((fa_large *)hdr)->heap : heap_of_chunk(hdr);
    if (h->checked && !size_matches(kind, hdr, n)) {
        fa_heap_report(FA_ERR_FOREIGN, h, p,
                       "fa_free_sized: the size is not "
                       "the one the object was allocated with");
        return;
    }
    if (kind == OBJ_LARGE) {
        fa_large_free(hdr, p);
    } else {
        fa_cache_free(cache_of_chunk(hdr), p);
    }
}

/* ---- sizes, owners, realloc ---- */

/* Whether small object p (chunk header hdr) is live: always, unless its
 * heap is checked and knows it is not (reported as a double free: it was
 * freed already). */
static bool small_live(const void *hdr, const void *p)
{
    const fa_pool *pool = fa_pool_of_header(hdr);
    if (!fa_pool_is_checked(pool) || fa_pool_slot_live(pool, p)) {
        return true;
    }
    fa_heap_report(FA_ERR_DOUBLE_FREE, heap_of_chunk(hdr), p,
                   "realloc of an object that is not allocated");
    return false;
}

static size_t usable_of(enum obj_kind kind, const void *hdr)
{
    if (kind == OBJ_LARGE) {
        return fa_large_usable(hdr);
    }
    return kind == OBJ_SMALL ? slot_of_chunk(hdr) : 0;
}

size_t fa_usable_size(const void *p)
{
    void *hdr;
    enum obj_kind kind = classify(p, &hdr);
    return usable_of(kind, hdr);
}

fa_heap *fa_heap_of(const void *p)
{
    void *hdr;
    switch (classify(p, &hdr)) {
    case OBJ_SMALL: return heap_of_chunk(hdr);
    case OBJ_LARGE: return ((fa_large *)hdr)->heap;
    case OBJ_NONE:
    case OBJ_BAD: break;
    }
    return NULL;
}

size_t fa_good_size(size_t n)
{
    if (fa_heap_module_ready() != 0) {
        return 0;
    }
    if (n <= FA_SMALL_MAX) {
        return fa_class_size[fa_class_of(n)];
    }
    size_t page = fa_os_page_size();
    if (n > SIZE_MAX - FA_LARGE_HEADER - page) {
        return 0;
    }
    return ((n + FA_LARGE_HEADER + page - 1) & ~(page - 1)) - FA_LARGE_HEADER;
}

/* The alignment fa_malloc(n) gives: 16, or 8 for the classes that are not
 * multiples of 16. */
static size_t natural_align(size_t n)
{
    return n <= FA_SMALL_MAX && fa_class_size[fa_class_of(n)] % 16 != 0
               ? 8
               : FA_HEAP_ALIGN;
}

/* Whether object p of `usable` bytes is kept for a request of n bytes: n
 * fits, a fresh object would not take less than half as much, and p is
 * aligned as fa_malloc(n) would be. */
static bool keep_in_place(const void *p, size_t usable, size_t n)
{
    size_t fresh = fa_good_size(n);
    return n <= usable && (fresh == 0 || usable / 2 < fresh) &&
           (uintptr_t)p % natural_align(n) == 0;
}

static void *realloc_in(fa_heap *h, void *p, size_t n)
{
    if (p == NULL) {
        return fa_heap_malloc(h, n);
    }
    void *hdr;
    enum obj_kind kind = classify(p, &hdr);
    if (kind != OBJ_SMALL && kind != OBJ_LARGE) {
        errno = EINVAL;
        return NULL;
    }
    if (kind == OBJ_SMALL && !small_live(hdr, p)) {
        errno = EINVAL;
        return NULL;
    }
    size_t usable = usable_of(kind, hdr);
    if (kind == OBJ_LARGE && n > usable && ((fa_large *)hdr)->heap == h) {
        void *q = fa_large_grow(hdr, n); /* nothing copied */
        if (q != NULL) {
            return q;
        }
    }
    if (keep_in_place(p, usable, n)) {
        if (kind == OBJ_LARGE) {
            ((fa_large *)hdr)->size = n;
        }
        return p;
    }
    void *q = fa_heap_malloc(h, n);
    if (q != NULL) {
        memcpy(q, p, n < usable ? n : usable);
        fa_free(p);
    }
    return q;
}

void *fa_heap_realloc(fa_heap *h, void *p, size_t n)
{
    if (FA_UNLIKELY(h == NULL)) {
        return null_heap();
    }
    return realloc_in(h, p, n);
}

void *fa_realloc(void *p, size_t n)
{
    fa_heap *h = p != NULL ? fa_heap_of(p) : fa_default_heap_get();
    if (h == NULL) {
        if (p != NULL) {
            errno = EINVAL; /* reported by fa_heap_of */
        }
        return NULL;
    }
    return realloc_in(h, p, n);
}
