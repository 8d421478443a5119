/*
 * fuzz_support.c - the fuzz targets' page source and stamps
 * (fuzz_support.h).
 */
#include "fuzz_support.h"

#include <pthread.h>
#include <string.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_ASAN 1
#endif
#ifdef FUZZ_ASAN
#include <sanitizer/asan_interface.h>
#else
#define ASAN_POISON_MEMORY_REGION(mem, len) ((void)(mem), (void)(len))
#define ASAN_UNPOISON_MEMORY_REGION(mem, len) ((void)(mem), (void)(len))
#endif

/* ---- the page source ---- */

#define KEEP_BLOCKS 1024
#define KEEP_BYTES ((size_t)64 << 20)
/* Larger blocks go back to the OS. A heap's large blocks of up to four
 * chunks are kept too: an FA_ZERO heap clears only the usable part of a
 * block the source gives dirty, which costs less than a munmap and the
 * faults after it (keeping them raised fuzz_heap's rate by a quarter). */
#define KEEP_BLOCK_MAX (4 * FA_HEAP_CHUNK)

typedef struct kept_block {
    void *mem;
    size_t size;
} kept_block;

static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;
static kept_block kept[KEEP_BLOCKS];
static size_t nkept, kept_bytes;

/* Not instrumented: the scan of the kept blocks is the harness's, and its
 * comparisons would feed libFuzzer features of no use (and time). */
NO_COVERAGE static void *keep_map(void *ctx, size_t size, size_t align,
                                  bool *zeroed)
{
    (void)ctx;
    pthread_mutex_lock(&kept_lock);
    for (size_t i = nkept; i-- > 0;) {
        void *mem = kept[i].mem;
        if (kept[i].size == size && ((uintptr_t)mem & (align - 1)) == 0) {
            kept[i] = kept[--nkept];
            kept_bytes -= size;
            pthread_mutex_unlock(&kept_lock);
            ASAN_UNPOISON_MEMORY_REGION(mem, size);
            *zeroed = false;
            return mem;
        }
    }
    pthread_mutex_unlock(&kept_lock);
    const fa_source *os = fa_os_source();
    return os->map(os->ctx, size, align, zeroed);
}

NO_COVERAGE static void keep_unmap(void *ctx, void *mem, size_t size)
{
    (void)ctx;
    pthread_mutex_lock(&kept_lock);
    if (nkept < KEEP_BLOCKS && size <= KEEP_BLOCK_MAX &&
        size <= KEEP_BYTES - kept_bytes) {
        kept[nkept++] = (kept_block){mem, size};
        kept_bytes += size;
        ASAN_POISON_MEMORY_REGION(mem, size);
        pthread_mutex_unlock(&kept_lock);
        return;
    }
    pthread_mutex_unlock(&kept_lock);
    const fa_source *os = fa_os_source();
    os->unmap(os->ctx, mem, size);
}

/* Pages given back inside a block the pool keeps: what they read
 * afterwards does not matter, so they are scribbled on (a pool that trusted
 * them is caught), at no system call. Beneath ASan's poison, which is the
 * library's to set: the stores are not checked, and volatile, so that they
 * do not become a memset that ASan would check. */
#define NO_ASAN __attribute__((no_sanitize("address", "coverage")))

NO_ASAN static void keep_discard(void *ctx, void *mem, size_t size)
{
    (void)ctx;
    volatile uint64_t *w = mem;
    for (size_t i = 0; i < size / 8; i++) {
        w[i] = UINT64_C(0xa5a5a5a5a5a5a5a5);
    }
}

static const fa_source keep_source = {keep_map, keep_unmap, NULL, keep_discard};

const fa_source *fuzz_source(void)
{
    return &keep_source;
}

/* ---- stamps ---- */

NO_COVERAGE static unsigned char byte_at(uint32_t id, size_t i)
{
    return (unsigned char)(fuzz_word(id, i / 8) >> (i % 8 * 8));
}

NO_COVERAGE void fuzz_stamp(unsigned char *p, size_t from, size_t to,
                            uint32_t id)
{
    size_t i = from;
    for (; i < to && i % 8 != 0; i++) {
        p[i] = byte_at(id, i);
    }
    for (; i + 8 <= to; i += 8) {
        uint64_t w = fuzz_word(id, i / 8);
        memcpy(p + i, &w, 8);
    }
    for (; i < to; i++) {
        p[i] = byte_at(id, i);
    }
}

NO_COVERAGE bool fuzz_stamped(const unsigned char *p, size_t from, size_t to,
                              uint32_t id)
{
    uint64_t diff = 0;
    size_t i = from;
    for (; i < to && i % 8 != 0; i++) {
        diff |= p[i] ^ byte_at(id, i);
    }
    for (; i + 8 <= to; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        diff |= w ^ fuzz_word(id, i / 8);
    }
    for (; i < to; i++) {
        diff |= p[i] ^ byte_at(id, i);
    }
    return diff == 0;
}

NO_COVERAGE bool fuzz_zero(const unsigned char *p, size_t from, size_t to)
{
    uint64_t any = 0;
    size_t i = from;
    for (; i < to && i % 8 != 0; i++) {
        any |= p[i];
    }
    for (; i + 8 <= to; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        any |= w;
    }
    for (; i < to; i++) {
        any |= p[i];
    }
    return any == 0;
}

/* ---- sets of pointers ---- */

/* A slot given up by fuzz_set_take: lookups go on past it. */
static char taken_mark;
#define TAKEN ((void *)&taken_mark)

NO_COVERAGE static size_t set_hash(const fuzz_set *s, const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p * UINT64_C(0x9e3779b97f4a7c15);
    return (size_t)(x >> (64 - s->bits));
}

NO_COVERAGE void fuzz_set_init(fuzz_set *s, void **slots, unsigned bits)
{
    s->slot = slots;
    s->bits = bits;
    memset(slots, 0, sizeof *slots << bits);
}

NO_COVERAGE void fuzz_set_add(fuzz_set *s, void *p)
{
    size_t mask = ((size_t)1 << s->bits) - 1;
    size_t i = set_hash(s, p);
    while (s->slot[i] != NULL) {
        i = (i + 1) & mask;
    }
    s->slot[i] = p;
}

NO_COVERAGE bool fuzz_set_take(fuzz_set *s, void *p)
{
    size_t mask = ((size_t)1 << s->bits) - 1;
    for (size_t i = set_hash(s, p); s->slot[i] != NULL; i = (i + 1) & mask) {
        if (s->slot[i] == p) {
            s->slot[i] = TAKEN;
            return true;
        }
    }
    return false;
}

NO_COVERAGE void fuzz_walk_see(void *obj, void *arg)
{
    fuzz_walk *w = arg;
    w->seen++;
    w->stray |= !fuzz_set_take(&w->live, obj);
}
