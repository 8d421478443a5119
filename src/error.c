/*
 * error.c - the one reporting path for detected misuse.
 *
 * Every check in the library ends in fa_report(), which formats one fixed,
 * greppable line and hands it to the installed handler (docs/design.md,
 * "Errors").
 */
#include "internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static void default_handler(const fa_error *err)
{
    fprintf(stderr, "fixalloc: %s in pool '%s' at %p: %s\n",
            fa_error_kind_name(err->kind), err->pool, err->addr, err->detail);
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

void fa_report(fa_error_kind kind, const fa_pool *p, const void *addr,
               const char *detail)
{
    fa_error err = {
        .kind = kind,
        .pool = (p && p->name) ? p->name : "unnamed",
        .addr = addr,
        .detail = detail,
    };
    atomic_load(&handler)(&err);
}
