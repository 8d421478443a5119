/*
 * impl_tcmalloc.c - adapter: tcmalloc (gperftools' libtcmalloc_minimal),
 * linked as the process's malloc; trimmed with
 * MallocExtension::ReleaseFreeMemory.
 */
#include <gperftools/malloc_extension_c.h>
#include <gperftools/tcmalloc.h>

static void tcmalloc_trim(void *state)
{
    (void)state;
    MallocExtension_ReleaseFreeMemory();
}

static const char *tcmalloc_version(void)
{
    int major, minor;
    const char *patch;
    const char *v = tc_version(&major, &minor, &patch);
    return v != NULL ? v : "?";
}

#define TRIM tcmalloc_trim
#define TRIM_CALL "ReleaseFreeMemory"
#define TRIM_NONE NULL
#define VERSION tcmalloc_version

#include "impl_malloc.h"

MALLOC_IMPL(tcmalloc, "tcmalloc");
