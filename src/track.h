/*
 * track.h - Valgrind and ASan annotations of pool memory.
 * docs/design.md, "Tracking".
 */
#ifndef FIXALLOC_TRACK_H
#define FIXALLOC_TRACK_H

#include <stdbool.h>
#include <stddef.h>

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define FA_HAVE_VALGRIND 1
#endif
#endif
#ifndef FA_HAVE_VALGRIND
#define FA_HAVE_VALGRIND 0
#endif

#if defined(__SANITIZE_ADDRESS__)
#define FA_HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FA_HAVE_ASAN 1
#endif
#endif
#ifndef FA_HAVE_ASAN
#define FA_HAVE_ASAN 0
#endif

#if FA_HAVE_ASAN
#include <sanitizer/asan_interface.h>
#endif

/* Whether pools created now should track their memory: under Valgrind's
 * memcheck (`memcheck`: not under cachegrind or callgrind, which would
 * only see the guarded slow paths cost 5-10 times the fast ones) or ASan,
 * unless FIXALLOC_TRACK=0 in the environment (debug.c) turns it off,
 * which lets the fast paths themselves run under those tools. */
static inline bool fa_track_wanted(bool allowed, bool memcheck)
{
#if FA_HAVE_VALGRIND
    if (allowed && RUNNING_ON_VALGRIND) {
        return memcheck;
    }
#endif
    (void)memcheck;
    return allowed && FA_HAVE_ASAN;
}

/* Each helper takes `on`, the pool's tracking switch, first. */

static inline void fa_track_pool_create(bool on, const void *pool)
{
#if FA_HAVE_VALGRIND
    if (on) {
        VALGRIND_CREATE_MEMPOOL(pool, 0, 0);
    }
#endif
    (void)on, (void)pool;
}

static inline void fa_track_pool_destroy(bool on, const void *pool)
{
#if FA_HAVE_VALGRIND
    if (on) {
        VALGRIND_DESTROY_MEMPOOL(pool);
    }
#endif
    (void)on, (void)pool;
}

/* Closes memory that only the library may touch (a new chunk's slots). */
static inline void fa_track_close(bool on, void *mem, size_t len)
{
#if FA_HAVE_VALGRIND
    if (on) {
        VALGRIND_MAKE_MEM_NOACCESS(mem, len);
    }
#endif
#if FA_HAVE_ASAN
    if (on) {
        ASAN_POISON_MEMORY_REGION(mem, len);
    }
#endif
    (void)on, (void)mem, (void)len;
}

/* Opens memory for the library's own use (before first/release callbacks,
 * before a chunk goes back to its source). Its contents count as defined. */
static inline void fa_track_open(bool on, void *mem, size_t len)
{
#if FA_HAVE_VALGRIND
    if (on) {
        VALGRIND_MAKE_MEM_DEFINED(mem, len);
    }
#endif
#if FA_HAVE_ASAN
    if (on) {
        ASAN_UNPOISON_MEMORY_REGION(mem, len);
    }
#endif
    (void)on, (void)mem, (void)len;
}

/* An object handed out: `len` bytes become the caller's; `defined` says
 * whether their contents are meaningful (zeroed) or not. */
static inline void fa_track_alloc(bool on, const void *pool, void *obj,
                                  size_t len, bool defined)
{
#if FA_HAVE_VALGRIND
    if (on) {
        VALGRIND_MEMPOOL_ALLOC(pool, obj, len);
        if (defined) {
            VALGRIND_MAKE_MEM_DEFINED(obj, len);
        }
    }
#endif
#if FA_HAVE_ASAN
    if (on) {
        ASAN_UNPOISON_MEMORY_REGION(obj, len);
    }
#endif
    (void)on, (void)pool, (void)obj, (void)len, (void)defined;
}

/* An object given back: its `slot` bytes become inaccessible. */
static inline void fa_track_free(bool on, const void *pool, void *obj,
                                 size_t slot)
{
#if FA_HAVE_VALGRIND
    if (on) {
        VALGRIND_MEMPOOL_FREE(pool, obj);
        VALGRIND_MAKE_MEM_NOACCESS(obj, slot);
    }
#endif
#if FA_HAVE_ASAN
    if (on) {
        ASAN_POISON_MEMORY_REGION(obj, slot);
    }
#endif
    (void)on, (void)pool, (void)obj, (void)slot;
}

#endif /* FIXALLOC_TRACK_H */
