/*
 * platform.h - the contract for every OS and C-runtime service used.
 * docs/design.md, "The platform".
 */
#ifndef FIXALLOC_PLATFORM_H
#define FIXALLOC_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

/* Pages: `size` bytes aligned to `align` (both powers of two), readable,
 * writable and zeroed; NULL when the OS refuses. Unmap keeps errno. */
void *fa_os_map(size_t size, size_t align);
void fa_os_unmap(void *mem, size_t size);
/* Gives back the pages of [mem, mem + size) (page-aligned), keeping the
 * range mapped: they read as zeros afterwards. */
void fa_os_discard(void *mem, size_t size);
/* Grows or shrinks a mapping where it is, without moving it; false when
 * the pages after it are taken (or the OS cannot). */
bool fa_os_remap_in_place(void *mem, size_t old_size, size_t new_size);
/* Moves a mapping's pages onto `dst` (a mapping of new_size bytes, which
 * it replaces), growing it to new_size without copying; false when the OS
 * cannot. */
bool fa_os_remap_move(void *mem, size_t old_size, size_t new_size, void *dst);
/* The OS page size, a power of two. */
size_t fa_os_page_size(void);

/* A monotonic clock, in nanoseconds (the caches' decay). */
uint64_t fa_os_now_ns(void);

/* A random word for hardened pools, never zero. */
uintptr_t fa_os_random_word(void);

/* Whether the process runs under Valgrind's memcheck (whose preload is in
 * LD_PRELOAD), as opposed to another tool such as cachegrind or callgrind,
 * which has no use for memory annotations. */
bool fa_os_memcheck_preloaded(void);

/* An environment switch: false or true when unset or empty, else whether
 * it is something other than "0". */
bool fa_os_env_flag(const char *name, bool unset);

/* Fork handlers, run as pthread_atfork runs them; 0 or an errno value. */
int fa_os_atfork(void (*prepare)(void), void (*parent)(void),
                 void (*child)(void));

/* A thread-exit hook: `destructor(value)` runs when a thread whose value
 * is set exits. One key per call; 0 or an errno value. */
typedef struct fa_thread_key {
    pthread_key_t key;
} fa_thread_key;
int fa_os_key_create(fa_thread_key *k, void (*destructor)(void *));
int fa_os_key_set(fa_thread_key *k, void *value);

/* A mutex that spins a little before it sleeps (the depot locks). */
void fa_os_lock_init(pthread_mutex_t *m);

/* The library's own records (caches, depot arrays, heap records, chunk sets):
 * zeroed, aligned to `align` (a power of two, at most 64); NULL when out
 * of memory. They come from the OS, never from malloc. */
void *fa_os_record_alloc(size_t size, size_t align);
void fa_os_record_free(void *p);

#endif /* FIXALLOC_PLATFORM_H */
