/*
 * pool_init.c - fa_pool_init: a config checked, the geometry chosen.
 * docs/design.md, "The chunk".
 */
#include "pool_impl.h"

#include <errno.h>
#include <string.h>

/* The default chunk holds at least this many slots (and is at least
 * FA_CHUNK_DEFAULT bytes). */
#define FA_MIN_SLOTS ((size_t)32)

static bool is_pow2(size_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

static size_t round_up(size_t x, size_t align)
{
    return (x + align - 1) & ~(align - 1);
}

static size_t default_chunk_size(size_t slot)
{
    size_t want = FA_CHUNK_HEADER + FA_MIN_SLOTS * slot;
    size_t chunk = FA_CHUNK_DEFAULT;
    while (chunk < want && chunk < FA_CHUNK_MAX) {
        chunk <<= 1;
    }
    return chunk;
}

/* Slots per chunk: as many as fit after the header, `map` bytes of purge
 * map and, in checked mode, a bitmap of one bit per slot. */
static size_t slots_per_chunk(size_t chunk, size_t slot, size_t map,
                              bool checked)
{
    size_t head = FA_CHUNK_HEADER + map;
    size_t n = chunk > head ? (chunk - head) / slot : 0;
    while (checked && n > 0 && head + (n + 63) / 64 * 8 + n * slot > chunk) {
        n--;
    }
    return n;
}

typedef struct geometry {
    size_t slot, chunk, nslots;
    uint8_t purge_shift; /* log2 of the trim unit; 0: no purge */
} geometry;

/* The slot and chunk sizes a config asks for: 0, or EINVAL. */
static int config_geometry(const fa_config *cfg, geometry *g)
{
    size_t align = cfg->align != 0 ? cfg->align : (cfg->size >= 16 ? 16 : 8);
    if (cfg->size == 0 || cfg->size > FA_CHUNK_MAX || !is_pow2(align) ||
        align > FA_ALIGN_MAX) {
        return EINVAL;
    }
    if (align < _Alignof(void *)) {
        align = _Alignof(void *); /* the free-list link must be aligned */
    }
    size_t size = cfg->size < sizeof(void *) ? sizeof(void *) : cfg->size;
    g->slot = round_up(size, align);
    g->chunk =
        cfg->chunk_size != 0 ? cfg->chunk_size : default_chunk_size(g->slot);
    if (!is_pow2(g->chunk) || g->chunk < FA_CHUNK_MIN ||
        g->chunk > FA_CHUNK_MAX || g->chunk - FA_CHUNK_HEADER < g->slot) {
        return EINVAL;
    }
    return 0;
}

/* Sets g's trim unit and slots per chunk: a chunk keeps a purge map when
 * it still holds a slot with it. 0, or EINVAL when no slot fits. */
static int chunk_layout(const fa_config *cfg, const fa_source *src,
                        bool checked, geometry *g)
{
    g->purge_shift = fa_pool_purge_shift(cfg, src, g->chunk);
    size_t words = fa_purge_map_words(g->chunk, g->purge_shift);
    g->nslots = slots_per_chunk(g->chunk, g->slot, words * 8, checked);
    if (g->nslots == 0 && words != 0) {
        g->purge_shift = 0;
        g->nslots = slots_per_chunk(g->chunk, g->slot, 0, checked);
    }
    return g->nslots == 0 ? EINVAL : 0;
}

/* The refusals that are not about geometry. */
static bool config_valid(const fa_config *cfg, const fa_source *src,
                         size_t chunk)
{
    return (cfg->flags & ~(unsigned)(FA_ZERO | FA_CHECKED | FA_HARDENED)) ==
               0 &&
           !((cfg->flags & FA_ZERO) && cfg->first != NULL) &&
           (cfg->max_bytes == 0 || cfg->max_bytes >= chunk) &&
           src->map != NULL && src->unmap != NULL;
}

/* Sets p up for cfg; `checked` and `tracked` are decided by the caller. */
static int pool_setup(fa_pool *p, const fa_config *cfg, bool checked,
                      bool tracked)
{
    const fa_source *src = cfg->source != NULL ? cfg->source : fa_os_source();
    geometry g;
    if (config_geometry(cfg, &g) != 0 || !config_valid(cfg, src, g.chunk) ||
        chunk_layout(cfg, src, checked, &g) != 0) {
        return EINVAL;
    }
    memset(p, 0, sizeof *p); /* fast_span 0: no fast free */
    p->chunk_low = g.chunk - 1;
    p->flags = cfg->flags | (checked ? FA_CHECKED : 0);
    p->checked = checked;
    p->tracked = tracked;
    p->link_key = (cfg->flags & FA_HARDENED) ? fa_os_random_word() : 0;
    p->guarded = (p->flags & (FA_CHECKED | FA_HARDENED)) || p->tracked;
    /* Hardened only (no checks, annotations or zeroing to run): the
     * guarded paths' own short paths serve the current chunk. */
    p->careful = p->guarded || (p->flags & FA_ZERO);
    p->hardened_fast =
        p->link_key != 0 && !checked && !p->tracked && !(p->flags & FA_ZERO);
    p->size = cfg->size;
    p->slot = g.slot;
    p->chunk_size = g.chunk;
    p->nslots = g.nslots;
    p->first_offset = g.chunk - g.nslots * g.slot;
    p->slot_divisor = UINT64_MAX / g.slot + 1;
    p->purge_shift = g.purge_shift;
    p->max_bytes = cfg->max_bytes;
    p->first = cfg->first;
    p->release = cfg->release;
    p->arg = cfg->arg;
    p->source = *src;
    p->name = cfg->name != NULL ? cfg->name : "unnamed";
    int err = fa_debug_init(p);
    if (err != 0) {
        memset(p, 0, sizeof *p);
        return err;
    }
    p->magic = FA_POOL_MAGIC;
    return 0;
}

int fa_pool_init(fa_pool *p, const fa_config *cfg)
{
    if (p == NULL || cfg == NULL) {
        return EINVAL;
    }
    return pool_setup(p, cfg, (cfg->flags & FA_CHECKED) || fa_env_checked(),
                      fa_track_wanted(fa_env_tracking(), fa_env_memcheck()));
}

int fa_pool_init_like(fa_pool *p, const fa_config *cfg, const fa_pool *like)
{
    return pool_setup(p, cfg, like->checked, like->tracked);
}
