/*
 * impl_jemalloc.c - adapter: jemalloc, linked as the process's malloc;
 * trimmed by purging every arena (mallctl "arena.<all>.purge").
 */
#include <jemalloc/jemalloc.h>
#include <stdio.h>

static void jemalloc_trim(void *state)
{
    (void)state;
    char name[64];
    snprintf(name, sizeof name, "arena.%u.purge", (unsigned)MALLCTL_ARENAS_ALL);
    mallctl(name, NULL, NULL, NULL, 0);
}

static const char *jemalloc_version(void)
{
    const char *v = "?";
    size_t len = sizeof v;
    mallctl("version", (void *)&v, &len, NULL, 0);
    return v;
}

#define TRIM jemalloc_trim
#define TRIM_CALL "arena purge"
#define TRIM_NONE NULL
#define VERSION jemalloc_version

#include "impl_malloc.h"

MALLOC_IMPL(jemalloc, "jemalloc");
