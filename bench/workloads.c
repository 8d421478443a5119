/*
 * workloads.c - the workloads' names and properties, and who runs them.
 *
 * Titles as the tables print them, which workloads are cold (a fresh
 * process per run) or of mixed sizes, the sizes and object counts of the
 * cold runs, which rows each workload applies to
 * (by the capabilities a worker reports), and the rows each is measured
 * against: its floor and fixalloc's row.
 */
#include "driver.h"

bool is_cold(int w)
{
    return w == WL_COLD || w == WL_MIXED_RSS || w == WL_PHASE;
}

bool is_mixed(int w)
{
    return w >= WL_MIXED;
}

/* Whether row r takes part in workload w, by its capabilities. */
bool applicable(const row *r, int w)
{
    unsigned c = r->caps;
    if (c & BENCH_RING) {
        return w == WL_PRODCON;
    }
    if (c & BENCH_HOT_ONLY) {
        return w == WL_HOT;
    }
    switch (w) {
    case WL_PRODCON: return (c & BENCH_FIXED) && (c & BENCH_REMOTE);
    case WL_MIXED:
    case WL_MIXED_RSS:
    case WL_PHASE: return (c & BENCH_VAR) != 0;
    case WL_LARSON: return (c & BENCH_VAR) && (c & BENCH_REMOTE);
    default: return (c & BENCH_FIXED) != 0;
    }
}

/* fixalloc's own rows (fa_pool, fa_cache, fa_malloc and variants). */
bool is_fixalloc(const bench_run *run, int i)
{
    return strncmp(run->rows[i].id, "fa_", 3) == 0;
}

/* The floors: the bare list and the ring alone. */
bool is_floor(const bench_run *run, int i)
{
    return i == run->ref.bare || i == run->ref.ring;
}

const char *wl_title(int w)
{
    switch (w) {
    case WL_HOT: return "(1) hot alloc+free";
    case WL_LIFO: return "(2) 100k batch, LIFO free";
    case WL_SHUFFLE: return "(3) 100k batch, shuffled free";
    case WL_COLD: return "(4) cold objects";
    case WL_PRODCON: return "(5) producer/consumer";
    case WL_PAIRS2: return "(6) two threads, own pairs";
    case WL_TRIM: return "(7) trim";
    case WL_MIXED: return "(8) random sizes";
    case WL_LARSON: return "(9) larson, 2 threads";
    case WL_MIXED_RSS: return "(10) RSS per byte";
    case WL_PHASE: return "(11) phase-shift RSS";
    default: return "?";
    }
}

/* Whether (7) has its own table at this size (--trim-size). */
bool is_trim_size(const bench_options *o, size_t size)
{
    for (size_t t = 0; t < o->ntrim_sizes; t++) {
        if (o->trim_sizes[t] == size) {
            return true;
        }
    }
    return false;
}

/* Objects of a (4)/(7) run at this size: --cold-objects, fewer when they
 * would add up to more than cold_bytes. */
size_t cold_objects(const bench_options *o, size_t size)
{
    size_t n = o->cold_bytes / size;
    return n < o->cold_n ? n : o->cold_n;
}

/* The size column of series (w, size): "64 B", a distribution, or (11)'s
 * "64 B then 256 B". */
void size_label(const bench_options *o, int w, size_t size, char *b, size_t cap)
{
    if (w == WL_PHASE) {
        snprintf(b, cap, "%zu B then %zu B", o->phase_a, o->phase_b);
    } else if (is_mixed(w)) {
        snprintf(b, cap, "%s", dist_name(size));
    } else {
        snprintf(b, cap, "%zu B", size);
    }
}

const char *dist_name(size_t d)
{
    return d == BENCH_UNIFORM ? "16-1024 uniform" : "16-1024 skewed";
}

/* The floor of workload w and fixalloc's row for it. */
int floor_row(const bench_run *run, int w)
{
    switch (w) {
    case WL_HOT:
    case WL_LIFO:
    case WL_SHUFFLE:
    case WL_COLD:
    case WL_PAIRS2: return run->ref.bare;
    case WL_PRODCON: return run->ref.ring;
    default: return -1;
    }
}

int fixalloc_row(const bench_run *run, int w)
{
    if (w == WL_PRODCON || w == WL_PAIRS2) {
        return run->ref.cache;
    }
    if (is_mixed(w)) {
        return run->ref.fam;
    }
    return run->ref.pool;
}
