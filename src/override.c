/*
 * override.c - libfixalloc-malloc: malloc and its family on the default heap.
 * docs/design.md, "The override".
 */
#include "heap_impl.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FA_OVERRIDE __attribute__((visibility("default")))

/*
 * Bootstrap. The first call creates the default heap, and creating it may
 * call malloc (pthread_atfork, for one, allocates its handler list): such
 * a call from inside the creation is served from a static buffer, never
 * given back (free ignores it). So is every call while the heap cannot
 * be had.
 */
#define BOOT_BYTES ((size_t)256 * 1024)
static _Alignas(64) char boot_buf[BOOT_BYTES];
static atomic_size_t boot_used;
static _Thread_local bool tls_creating;
static atomic_bool heap_ready;

static void *boot_alloc(size_t n, size_t align)
{
    size_t used = atomic_load_explicit(&boot_used, memory_order_relaxed);
    size_t start, end;
    do {
        start = (used + align - 1) & ~(align - 1);
        end = start + n;
        if (n > BOOT_BYTES || end > BOOT_BYTES) {
            errno = ENOMEM;
            return NULL;
        }
    } while (!atomic_compare_exchange_weak(&boot_used, &used, end));
    return boot_buf + start; /* zero: the buffer is never reused */
}

static bool is_boot(const void *p)
{
    return (const char *)p >= boot_buf &&
           (const char *)p < boot_buf + BOOT_BYTES;
}

static void print_options(void);

/* Creates the default heap; false while it cannot be had. */
static FA_COLD bool heap_start(void)
{
    if (tls_creating) {
        return false;
    }
    tls_creating = true;
    fa_heap *h = fa_heap_default();
    tls_creating = false;
    if (h == NULL) {
        return false;
    }
    atomic_store_explicit(&heap_ready, true, memory_order_release);
    if (fa_os_env_flag("FIXALLOC_VERBOSE", false)) {
        print_options();
    }
    return true;
}

static inline bool ready(void)
{
    return FA_LIKELY(atomic_load_explicit(&heap_ready, memory_order_acquire)) ||
           heap_start();
}

/*
 * Pointers the library did not hand out reach free and realloc too: the
 * bootstrap buffer's, and blocks of the dynamic loader's own allocator from
 * before the library was loaded. The address map tells them apart without
 * reading memory the pointer may not own: a heap's chunks and large blocks
 * are all recorded there.
 */
static inline bool ours(const void *p)
{
    return fa_addrmap_has((uintptr_t)p & FA_HEAP_CHUNK_MASK);
}

static atomic_size_t foreign_frees;

/* ---- the C entry points ---- */

FA_OVERRIDE void *malloc(size_t n)
{
    if (!ready()) {
        return boot_alloc(n, 16);
    }
    return fa_malloc(n);
}

FA_OVERRIDE void free(void *p)
{
    fa_pool *guess = fa_free_guess(p);
    if (FA_LIKELY(fa_pool_try_free(guess, p))) {
        return;
    }
    if (FA_LIKELY(fa_free_unguessed(p, guess))) {
        return;
    }
    if (p != NULL && !is_boot(p)) {
        atomic_fetch_add_explicit(&foreign_frees, 1, memory_order_relaxed);
    }
}

FA_OVERRIDE void *calloc(size_t k, size_t n)
{
    if (!ready()) {
        size_t total;
        if (__builtin_mul_overflow(k, n, &total)) {
            errno = ENOMEM;
            return NULL;
        }
        return boot_alloc(total, 16);
    }
    return fa_calloc(k, n);
}

/* A pointer of ours moves as fa_realloc moves it; any other keeps what can
 * be known of it: the bootstrap buffer to its end, a foreign block to the
 * end of its page (its size is not known). */
static void *realloc_foreign(void *p, size_t n)
{
    void *q = malloc(n);
    if (q == NULL) {
        return NULL;
    }
    size_t have;
    if (is_boot(p)) {
        have = (size_t)(boot_buf + BOOT_BYTES - (char *)p);
    } else {
        size_t page = fa_os_page_size();
        have = page - ((uintptr_t)p & (page - 1));
        atomic_fetch_add_explicit(&foreign_frees, 1, memory_order_relaxed);
    }
    memcpy(q, p, n < have ? n : have);
    return q;
}

FA_OVERRIDE void *realloc(void *p, size_t n)
{
    if (p == NULL) {
        return malloc(n);
    }
    if (!ours(p)) {
        return realloc_foreign(p, n);
    }
    if (n == 0) {
        fa_free(p); /* glibc's realloc(p, 0) frees p */
        return NULL;
    }
    return fa_realloc(p, n);
}

FA_OVERRIDE void *reallocarray(void *p, size_t k, size_t n)
{
    size_t total;
    if (__builtin_mul_overflow(k, n, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, total);
}

static void *aligned(size_t align, size_t n)
{
    if (!ready()) {
        return boot_alloc(n, align < 16 ? 16 : align);
    }
    return fa_aligned_alloc(align < sizeof(void *) ? sizeof(void *) : align, n);
}

FA_OVERRIDE void *aligned_alloc(size_t align, size_t n)
{
    return aligned(align, n);
}

FA_OVERRIDE void *memalign(size_t align, size_t n)
{
    return aligned(align, n);
}

FA_OVERRIDE int posix_memalign(void **out, size_t align, size_t n)
{
    if (align % sizeof(void *) != 0 || (align & (align - 1)) != 0) {
        return EINVAL;
    }
    int saved = errno;
    void *p = aligned(align, n);
    int err = p != NULL ? 0 : errno == EINVAL ? EINVAL : ENOMEM;
    errno = saved;
    if (p != NULL) {
        *out = p;
    }
    return err;
}

FA_OVERRIDE void *valloc(size_t n)
{
    return aligned(fa_os_page_size(), n);
}

FA_OVERRIDE void *pvalloc(size_t n)
{
    size_t page = fa_os_page_size();
    if (n > SIZE_MAX - page) {
        errno = ENOMEM;
        return NULL;
    }
    return aligned(page, (n + page - 1) & ~(page - 1));
}

FA_OVERRIDE size_t malloc_usable_size(void *p)
{
    return p != NULL && ours(p) ? fa_usable_size(p) : 0;
}

/* glibc's own names, which some programs and libraries call directly. */
void *__libc_malloc(size_t n);
void __libc_free(void *p);
void *__libc_calloc(size_t k, size_t n);
void *__libc_realloc(void *p, size_t n);
void *__libc_memalign(size_t align, size_t n);
void *__libc_valloc(size_t n);
void *__libc_pvalloc(size_t n);
FA_OVERRIDE void *__libc_malloc(size_t n)
{
    return malloc(n);
}

FA_OVERRIDE void __libc_free(void *p)
{
    free(p);
}

FA_OVERRIDE void *__libc_calloc(size_t k, size_t n)
{
    return calloc(k, n);
}

FA_OVERRIDE void *__libc_realloc(void *p, size_t n)
{
    return realloc(p, n);
}

FA_OVERRIDE void *__libc_memalign(size_t align, size_t n)
{
    return aligned(align, n);
}

FA_OVERRIDE void *__libc_valloc(size_t n)
{
    return valloc(n);
}

FA_OVERRIDE void *__libc_pvalloc(size_t n)
{
    return pvalloc(n);
}

/* glibc's malloc extras: trim gives back what the default heap can. */
FA_OVERRIDE int malloc_trim(size_t pad)
{
    (void)pad;
    return ready() && fa_heap_trim(fa_heap_default()) > 0;
}

FA_OVERRIDE int mallopt(int param, int value)
{
    (void)param, (void)value;
    return 0; /* no parameter is taken */
}

/* ---- statistics and options ---- */

static void print_stats(FILE *f)
{
    fa_heap_counters s;
    fa_heap_stats(fa_heap_default(), &s);
    fa_heap_stats_print(&s, f);
    fprintf(f, "  foreign frees    %zu (pointers fixalloc did not hand out)\n",
            atomic_load(&foreign_frees));
}

FA_OVERRIDE void malloc_stats(void)
{
    if (ready()) {
        print_stats(stderr);
    }
}

static void print_options(void)
{
    fprintf(stderr,
            "fixalloc: malloc override on; FIXALLOC_CHECK=%d "
            "FIXALLOC_TRACK=%d FIXALLOC_STATS=%d\n",
            fa_os_env_flag("FIXALLOC_CHECK", false),
            fa_os_env_flag("FIXALLOC_TRACK", true),
            fa_os_env_flag("FIXALLOC_STATS", false));
}

/* FIXALLOC_STATS=1: the default heap's counters at exit. */
__attribute__((destructor)) static void stats_at_exit(void)
{
    if (atomic_load(&heap_ready) && fa_os_env_flag("FIXALLOC_STATS", false)) {
        print_stats(stderr);
    }
}
