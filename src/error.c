/*
 * error.c - the one reporting path for detected misuse.
 * docs/design.md, "Errors".
 */
#include "internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static void default_handler(const fa_error *err)
{
    fprintf(stderr, "fixalloc: %s in %s '%s' at %p: %s\n",
            fa_error_kind_name(err->kind), err->object, err->pool, err->addr,
            err->detail);
    fflush(stderr);
    abort();
}

static _Atomic(fa_error_handler) handler = default_handler;

fa_error_handler fa_set_error_handler(fa_error_handler h)
{
    return atomic_exchange(&handler, h ? h : default_handler);
}

const char *fa_error_kind_name(fa_error_kind kind)
{
    switch (kind) {
    case FA_ERR_FOREIGN: return "foreign pointer";
    case FA_ERR_INTERIOR: return "interior pointer";
    case FA_ERR_DOUBLE_FREE: return "double free";
    case FA_ERR_WRITE_AFTER_FREE: return "write after free";
    case FA_ERR_CORRUPT: return "corruption";
    case FA_ERR_LEAK: return "leak";
    case FA_ERR_BAD_POOL: return "bad pool";
    }
    return "unknown error";
}

static const char *object_name(fa_object what)
{
    switch (what) {
    case FA_OBJ_POOL: return "pool";
    case FA_OBJ_CACHE: return "cache";
    case FA_OBJ_HEAP: return "heap";
    }
    return "pool";
}

void fa_report(fa_error_kind kind, fa_object what, const char *name,
               const void *addr, const char *detail)
{
    fa_error err = {
        .kind = kind,
        .pool = name != NULL ? name : "unnamed",
        .addr = addr,
        .detail = detail,
        .object = object_name(what),
    };
    atomic_load (&handler)(&err);
}

bool fa_bad_handle(const void *h, fa_object what)
{
    static const char *const detail[] = {
        [FA_OBJ_POOL] = "the pool is not initialised",
        [FA_OBJ_CACHE] = "the cache is not created, or destroyed",
        [FA_OBJ_HEAP] = "the heap is not created, or destroyed",
    };
    fa_report(FA_ERR_BAD_POOL, what, NULL, h, detail[what]);
    return false;
}

void fa_assert_failed(const char *cond, const char *file, int line)
{
    fprintf(stderr, "fixalloc: assertion failed: %s (%s:%d)\n", cond, file,
            line);
    fflush(stderr);
    abort();
}
