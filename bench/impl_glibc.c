/*
 * impl_glibc.c - adapter: the C library's malloc and free; trimmed with
 * malloc_trim(0).
 */
#include <gnu/libc-version.h>
#include <malloc.h>

static void glibc_trim(void *state)
{
    (void)state;
    malloc_trim(0);
}

#define TRIM glibc_trim
#define TRIM_CALL "malloc_trim(0)"
#define TRIM_NONE NULL
#define VERSION gnu_get_libc_version

#include "impl_malloc.h"

MALLOC_IMPL(glibc, "glibc malloc");
