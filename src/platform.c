/*
 * platform.c - the platform contract for Linux and POSIX, glibc or musl.
 * docs/design.md, "The platform".
 */
#include "platform.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* ---- pages ---- */

static void *map_exact(size_t size)
{
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return mem == MAP_FAILED ? NULL : mem;
}

/*
 * The kernel tends to place a new mapping right below the previous one, so
 * a mapping of exactly `size` bytes is usually aligned already when the
 * last one was; only when it is not do we map `size + align` and cut the
 * excess off both ends.
 */
void *fa_os_map(size_t size, size_t align)
{
    char *mem = map_exact(size);
    if (mem == NULL || ((uintptr_t)mem & (align - 1)) == 0) {
        return mem;
    }
    munmap(mem, size);
    if (size + align < size) {
        return NULL;
    }
    mem = map_exact(size + align);
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

void fa_os_unmap(void *mem, size_t size)
{
    int saved = errno;
    munmap(mem, size);
    errno = saved;
}

void fa_os_discard(void *mem, size_t size)
{
    int saved = errno;
    madvise(mem, size, MADV_DONTNEED);
    errno = saved;
}

bool fa_os_remap_in_place(void *mem, size_t old_size, size_t new_size)
{
    int saved = errno;
    bool ok = mremap(mem, old_size, new_size, 0) != MAP_FAILED;
    errno = saved;
    return ok;
}

bool fa_os_remap_move(void *mem, size_t old_size, size_t new_size, void *dst)
{
    int saved = errno;
    bool ok = mremap(mem, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED,
                     dst) != MAP_FAILED;
    errno = saved;
    return ok;
}

size_t fa_os_page_size(void)
{
    static size_t cached;
    size_t ps = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (ps == 0) {
        long v = sysconf(_SC_PAGESIZE);
        ps = v > 0 && (v & (v - 1)) == 0 ? (size_t)v : 4096;
        __atomic_store_n(&cached, ps, __ATOMIC_RELAXED);
    }
    return ps;
}

/* ---- time ---- */

uint64_t fa_os_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- randomness ---- */

uintptr_t fa_os_random_word(void)
{
    uintptr_t w = 0;
    if (getrandom(&w, sizeof w, GRND_NONBLOCK) != (ssize_t)sizeof w) {
        /* No entropy yet (early boot): the clock and ASLR, mixed. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        w = ((uintptr_t)&w ^ (uintptr_t)ts.tv_nsec) *
            (uintptr_t)0x9e3779b97f4a7c15u;
    }
    return w | 1; /* never zero: zero means "not hardened" */
}

/* ---- environment ---- */

bool fa_os_memcheck_preloaded(void)
{
    const char *v = getenv("LD_PRELOAD");
    return v != NULL && strstr(v, "vgpreload_memcheck") != NULL;
}

bool fa_os_env_flag(const char *name, bool unset)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0') {
        return unset;
    }
    return strcmp(v, "0") != 0;
}

/* ---- threads and fork ---- */

int fa_os_atfork(void (*prepare)(void), void (*parent)(void),
                 void (*child)(void))
{
    return pthread_atfork(prepare, parent, child);
}

int fa_os_key_create(fa_thread_key *k, void (*destructor)(void *))
{
    return pthread_key_create(&k->key, destructor);
}

int fa_os_key_set(fa_thread_key *k, void *value)
{
    return pthread_setspecific(k->key, value);
}

void fa_os_lock_init(pthread_mutex_t *m)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
#ifdef PTHREAD_MUTEX_ADAPTIVE_NP
    /* Spin a little before sleeping: depot visits are short. */
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
    pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
}

/* ---- records ----
 *
 * The library's own records never come from malloc, which the library may
 * itself be (the drop-in override). Records of up to REC_SMALL_MAX bytes,
 * with a REC_PREFIX-byte prefix naming their class, are power-of-two
 * blocks cut from REC_ARENA-byte mappings and kept on a free list per
 * class when freed (their number is bounded by the caches and heaps that
 * exist at once); larger ones are mapped alone. Every block starts on a
 * 64-byte boundary, so a record is aligned to 64.
 */
#define REC_PREFIX ((size_t)64)
#define REC_MIN_SHIFT 7 /* 128 bytes: the prefix and 64 */
#define REC_SMALL_SHIFT 16
#define REC_SMALL_MAX (((size_t)1 << REC_SMALL_SHIFT) - REC_PREFIX)
#define REC_ARENA ((size_t)1 << 20)

typedef struct rec_prefix {
    size_t shift;    /* the block is 1 << shift bytes; 0: mapped alone */
    size_t map_size; /* bytes mapped, for a record mapped alone */
} rec_prefix;

static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static void *rec_lists[REC_SMALL_SHIFT + 1]; /* free blocks by class */
static char *rec_next, *rec_end;             /* the arena being cut */

static size_t rec_shift(size_t bytes)
{
    size_t shift = REC_MIN_SHIFT;
    while (((size_t)1 << shift) < bytes) {
        shift++;
    }
    return shift;
}

/* A block of 1 << shift bytes; NULL when the OS refuses. */
static void *rec_block(size_t shift)
{
    size_t size = (size_t)1 << shift;
    pthread_mutex_lock(&rec_lock);
    void *b = rec_lists[shift];
    if (b != NULL) {
        rec_lists[shift] = *(void **)b;
    } else {
        if ((size_t)(rec_end - rec_next) < size) {
            char *arena = fa_os_map(REC_ARENA, 64);
            rec_next = arena;
            rec_end = arena != NULL ? arena + REC_ARENA : NULL;
        }
        if (rec_next != NULL) {
            b = rec_next;
            rec_next += size;
        }
    }
    pthread_mutex_unlock(&rec_lock);
    return b;
}

void *fa_os_record_alloc(size_t size, size_t align)
{
    (void)align; /* at most 64, which every record has */
    rec_prefix *r;
    if (size > REC_SMALL_MAX) {
        size_t page = fa_os_page_size();
        size_t map = (size + REC_PREFIX + page - 1) & ~(page - 1);
        r = map > size ? fa_os_map(map, 64) : NULL;
        if (r != NULL) {
            r->shift = 0;
            r->map_size = map;
        }
    } else {
        size_t shift = rec_shift(size + REC_PREFIX);
        r = rec_block(shift);
        if (r != NULL) {
            memset(r, 0, (size_t)1 << shift);
            r->shift = shift;
        }
    }
    return r != NULL ? (char *)r + REC_PREFIX : NULL;
}

void fa_os_record_free(void *p)
{
    if (p == NULL) {
        return;
    }
    rec_prefix *r = (rec_prefix *)(void *)((char *)p - REC_PREFIX);
    size_t shift = r->shift; /* read before the link overwrites it */
    if (shift == 0) {
        fa_os_unmap(r, r->map_size);
        return;
    }
    pthread_mutex_lock(&rec_lock);
    *(void **)(void *)r = rec_lists[shift];
    rec_lists[shift] = r;
    pthread_mutex_unlock(&rec_lock);
}
