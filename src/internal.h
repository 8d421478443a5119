/*
 * internal.h - branch hints, FA_ASSERT, fa_report, FA_HANDLE_OK.
 * docs/design.md, "Conventions".
 */
#ifndef FIXALLOC_INTERNAL_H
#define FIXALLOC_INTERNAL_H

#include "fixalloc.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FA_LIKELY(x) __builtin_expect(!!(x), 1)
#define FA_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define FA_COLD __attribute__((cold, noinline))
/* For variables shared between the library's files: -fvisibility=hidden
 * does not reach extern declarations, and without this a shared build
 * would load them through the GOT on the fast paths. */
#define FA_HIDDEN __attribute__((visibility("hidden")))

/*
 * FA_ASSERT(cond) states an invariant where the code relies on it. Debug
 * builds (FIXALLOC_DEBUG, on in CMake's Debug type) check it and abort with
 * the condition, file and line; other builds compile it to nothing but
 * still type-check it.
 */
#ifdef FIXALLOC_DEBUG
#define FA_ASSERT(cond)                                                        \
    ((cond) ? (void)0 : fa_assert_failed(#cond, __FILE__, __LINE__))
#else
#define FA_ASSERT(cond) ((void)sizeof(!(cond)))
#endif
__attribute__((noreturn, cold)) void fa_assert_failed(const char *cond,
                                                      const char *file,
                                                      int line);

/* What a report is about: the object its name belongs to. */
typedef enum fa_object { FA_OBJ_POOL, FA_OBJ_CACHE, FA_OBJ_HEAP } fa_object;

/* Reports misuse through the error handler (error.c): object `what` named
 * `name` (NULL: "unnamed"), the address concerned and one line of detail.
 * Returns if the installed handler returns. */
FA_COLD void fa_report(fa_error_kind kind, fa_object what, const char *name,
                       const void *addr, const char *detail);

/* Reports a handle that is NULL, never set up or destroyed; returns false,
 * so that FA_HANDLE_OK reads as a condition. */
FA_COLD bool fa_bad_handle(const void *h, fa_object what);

/*
 * The one validation of a handle at a public entry point: true when `h`
 * is not NULL and carries its type's magic (set last at create, cleared
 * first at destroy), else a FA_ERR_BAD_POOL report and false.
 * FA_HANDLE_OK_DEREF is the same check in a slow path that an inline fast
 * path reached after dereferencing `h` already, so NULL cannot get there.
 */
#define FA_HANDLE_OK(h, want, what)                                            \
    (FA_LIKELY((h) != NULL && (h)->magic == (want)) ||                         \
     fa_bad_handle((h), (what)))
#define FA_HANDLE_OK_DEREF(h, want, what)                                      \
    (FA_LIKELY((h)->magic == (want)) || fa_bad_handle((h), (what)))

/* Adds `size` to a byte count shared by threads unless that would pass
 * `max` (0: no cap); false, with the count unchanged, when it would. */
static inline bool fa_bytes_reserve(_Atomic size_t *held, size_t max,
                                    size_t size)
{
    size_t cur = atomic_load_explicit(held, memory_order_relaxed);
    do {
        if (max != 0 && (size > max || cur > max - size)) {
            return false;
        }
    } while (!atomic_compare_exchange_weak_explicit(
        held, &cur, cur + size, memory_order_relaxed, memory_order_relaxed));
    return true;
}

#endif /* FIXALLOC_INTERNAL_H */
