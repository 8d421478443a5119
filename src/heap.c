/*
 * heap.c - fa_heap: lifecycle, default heap, trim, stats, check.
 * docs/design.md, "The heap".
 */
#include "heap_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

_Atomic(fa_heap *) fa_default_heap;

static pthread_once_t module_once = PTHREAD_ONCE_INIT;
static int module_err;

/* ---- module setup, fork ---- */

static void module_init(void)
{
    fa_size_classes_init();
    module_err = fa_os_atfork(fa_large_fork_prepare, fa_large_fork_release,
                              fa_large_fork_release);
}

int fa_heap_module_ready(void)
{
    pthread_once(&module_once, module_init);
    return module_err;
}

/* ---- create, destroy ---- */

/* Bytes of one class pool's name: the heap's, '/', five digits, NUL. */
static size_t name_stride(const fa_heap *h)
{
    return strlen(h->name) + 8;
}

/* The class pools' names, "<heap>/<slot size>", in one block. */
static int name_classes(fa_heap *h)
{
    size_t each = name_stride(h);
    h->names = fa_os_record_alloc(FA_SIZE_CLASSES * each, 1);
    if (h->names == NULL) {
        return ENOMEM;
    }
    for (size_t i = 0; i < FA_SIZE_CLASSES; i++) {
        snprintf(h->names + i * each, each, "%s/%" PRIu32, h->name,
                 fa_class_size[i]);
    }
    return 0;
}

static void destroy_caches(fa_heap *h)
{
    for (size_t i = 0; i < FA_SIZE_CLASSES; i++) {
        fa_cache_destroy_region(h->cache[i]);
        h->cache[i] = NULL;
    }
}

/* One cache per class, all on FA_HEAP_CHUNK chunks through the wrapper;
 * 0, or the errno of the first refusal (EAGAIN: out of cache ids). */
static int create_caches(fa_heap *h)
{
    size_t each = name_stride(h);
    for (size_t i = 0; i < FA_SIZE_CLASSES; i++) {
        fa_config cfg = {
            .size = fa_class_size[i],
            .align = fa_class_size[i] % 16 != 0 ? 8 : 16, /* slot = size */
            .chunk_size = FA_HEAP_CHUNK,
            .flags = h->flags,
            .source = &h->wrap,
            .name = h->names + i * each,
        };
        fa_cache *c = fa_cache_create(&cfg);
        if (c == NULL) {
            int err = errno;
            destroy_caches(h);
            return err;
        }
        fa_cache_set_owner(c, h);
        h->cache[i] = c;
        h->toff[i] = (uint32_t)fa_cache_toff(c);
    }
    return 0;
}

static bool heap_config_ok(const fa_heap_config *cfg, const fa_source *src)
{
    unsigned known = FA_ZERO | FA_CHECKED | FA_HARDENED;
    return (cfg->flags & ~known) == 0 && src->map != NULL && src->unmap != NULL;
}

static fa_heap *heap_new(const fa_heap_config *cfg)
{
    static const fa_heap_config defaults;
    cfg = cfg != NULL ? cfg : &defaults;
    const fa_source *src = cfg->source != NULL ? cfg->source : fa_os_source();
    int err = fa_heap_module_ready();
    if (err == 0 && !heap_config_ok(cfg, src)) {
        err = EINVAL;
    }
    fa_heap *h = NULL;
    if (err == 0) {
        /* Own cache lines: the fast paths read toff from any thread. */
        h = fa_os_record_alloc(sizeof *h, 64);
        err = h == NULL ? ENOMEM : 0;
    }
    if (err == 0) {
        h->flags = cfg->flags;
        h->max_bytes = cfg->max_bytes;
        h->name = cfg->name != NULL ? cfg->name : "heap";
        h->inner = *src;
        h->os_source = src->map == fa_os_source()->map;
        h->wrap = fa_heap_counted_source(h);
        err = name_classes(h);
    }
    if (err == 0) {
        err = create_caches(h);
    }
    if (err != 0) {
        if (h != NULL) {
            fa_os_record_free(h->names);
            fa_os_record_free(h);
        }
        errno = err;
        return NULL;
    }
    h->checked = fa_cache_is_checked(h->cache[0]);
    h->tracked = fa_cache_is_tracked(h->cache[0]);
    h->flags |= h->checked ? FA_CHECKED : 0;
    h->magic = FA_HEAP_MAGIC;
    return h;
}

fa_heap *fa_heap_create(const fa_heap_config *cfg)
{
    return heap_new(cfg);
}

void fa_heap_destroy(fa_heap *h)
{
    if (h == NULL || !fa_heap_ok(h)) {
        return;
    }
    if (h == atomic_load(&fa_default_heap)) {
        fa_heap_report(FA_ERR_BAD_POOL, h, h,
                       "the default heap cannot be "
                       "destroyed");
        return;
    }
    h->magic = 0;
    destroy_caches(h);
    fa_large_release_all(h);
    fa_os_record_free(h->names);
    fa_os_record_free(h);
}

/* The default heap, created on first use. Threads that race to create it
 * each build one; the first published wins and the others are destroyed,
 * so no lock is held across the cache registry (and none needs care at
 * fork). NULL with errno ENOMEM when it cannot be created. */
fa_heap *fa_default_heap_create(void)
{
    fa_heap_config cfg = {.name = "default"};
    fa_heap *mine = heap_new(&cfg);
    if (mine == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    fa_heap *cur = NULL;
    if (!atomic_compare_exchange_strong_explicit(&fa_default_heap, &cur, mine,
                                                 memory_order_acq_rel,
                                                 memory_order_acquire)) {
        fa_heap_destroy(mine);
        return cur;
    }
    return mine;
}

fa_heap *fa_heap_default(void)
{
    return fa_default_heap_get();
}

/* ---- trim, stats, check ---- */

size_t fa_heap_trim(fa_heap *h)
{
    if (!fa_heap_ok(h)) {
        return 0;
    }
    size_t bytes = fa_large_trim(h);
    for (size_t i = 0; i < FA_SIZE_CLASSES; i++) {
        bytes += fa_cache_trim(h->cache[i]);
    }
    return bytes;
}

int fa_heap_class_stats(fa_heap *h, size_t cls, fa_cache_counters *out)
{
    if (cls >= FA_SIZE_CLASSES || !fa_heap_ok(h)) {
        return EINVAL;
    }
    fa_cache_stats(h->cache[cls], out);
    return 0;
}

void fa_heap_stats(fa_heap *h, fa_heap_counters *out)
{
    memset(out, 0, sizeof *out);
    if (!fa_heap_ok(h)) {
        return;
    }
    out->name = h->name;
    out->classes = FA_SIZE_CLASSES;
    for (size_t i = 0; i < FA_SIZE_CLASSES; i++) {
        fa_cache_counters c;
        fa_cache_stats(h->cache[i], &c);
        size_t slot = fa_class_size[i];
        out->small_live += c.live;
        out->live_bytes += c.live * slot;
        out->cached += c.in_flight;
        out->cached_bytes += c.in_flight * slot;
        out->allocs += c.allocs;
        out->frees += c.frees;
    }
    out->chunk_bytes = atomic_load(&h->chunk_bytes);
    fa_large_stats(h, out);
    out->allocs += out->large_allocs;
    out->frees += out->large_frees;
    out->live = out->small_live + out->large_live;
    out->bytes_held = atomic_load(&h->held);
    out->max_bytes = h->max_bytes;
}

void fa_heap_stats_print(const fa_heap_counters *s, FILE *f)
{
    fprintf(
        f,
        "fixalloc heap '%s'\n"
        "  live objects     %zu (%zu small, %zu large), %zu B usable\n"
        "  allocs / frees   %" PRIu64 " / %" PRIu64 " (large %" PRIu64
        " / %" PRIu64 ")\n"
        "  on their way     %zu (%zu B) freed by other threads, not yet back\n"
        "  bytes held       %zu (%zu B in chunks, %zu B in large "
        "blocks; cap %zu)\n"
        "  large kept       %zu free blocks (%zu B) for reuse, %" PRIu64
        " reuses\n",
        s->name ? s->name : "unnamed", s->live, s->small_live, s->large_live,
        s->live_bytes, s->allocs, s->frees, s->large_allocs, s->large_frees,
        s->cached, s->cached_bytes, s->bytes_held, s->chunk_bytes,
        s->large_bytes, s->max_bytes, s->large_kept, s->large_kept_bytes,
        s->large_reuses);
}

bool fa_heap_check(fa_heap *h)
{
    if (!fa_heap_ok(h)) {
        return false;
    }
    bool ok = true;
    for (size_t i = 0; ok && i < FA_SIZE_CLASSES; i++) {
        ok = fa_cache_check(h->cache[i]);
    }
    size_t large_bytes = 0;
    ok = ok && fa_large_check(h, &large_bytes);
    size_t chunks = 0;
    for (size_t i = 0; ok && i < FA_SIZE_CLASSES; i++) {
        chunks += fa_cache_bytes_held(h->cache[i]);
    }
    size_t chunk_bytes = atomic_load(&h->chunk_bytes);
    if (ok && (chunks != chunk_bytes ||
               atomic_load(&h->held) != chunk_bytes + large_bytes)) {
        fa_heap_report(FA_ERR_CORRUPT, h, h, "the bytes held are miscounted");
        ok = false;
    }
    return ok;
}
