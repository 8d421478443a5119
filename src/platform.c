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

/* ---- records ---- */

void *fa_os_record_alloc(size_t size, size_t align)
{
    if (align < sizeof(void *)) {
        align = sizeof(void *);
    }
    size_t bytes = (size + align - 1) / align * align;
    void *p = aligned_alloc(align, bytes);
    if (p != NULL) {
        memset(p, 0, bytes);
    }
    return p;
}

void fa_os_record_free(void *p)
{
    free(p);
}
