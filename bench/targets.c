/*
 * targets.c - fixalloc against the best peer and against its targets.
 *
 * The best-peer table (each fixalloc row against the fastest, or leanest,
 * other implementation), the targets with their verdicts (met / NOT MET),
 * and the report of the --instructions run.
 */
#include "driver.h"

#include <math.h>
#include <stdarg.h>

/* For each series and each fixalloc row in it: the best peer. */
void print_best_peer(const bench_run *run)
{
    bool header = false;
    for (size_t k = 0; k < run->nseries; k++) {
        const series *s = &run->all[k];
        int best = -1;
        double bv = NAN;
        for (size_t i = 0; i < run->nrows; i++) {
            if (!s->ran[i] || is_fixalloc(run, (int)i) ||
                is_floor(run, (int)i)) {
                continue;
            }
            double v = s->w == WL_MIXED_RSS
                           ? cold_metric(run, s->w, s->size, (int)i, 2)
                           : med_ns(s, (int)i, NULL, NULL);
            if (best < 0 || v < bv) {
                best = (int)i;
                bv = v;
            }
        }
        if (best < 0) {
            continue;
        }
        for (size_t i = 0; i < run->nrows; i++) {
            if (!s->ran[i] || !is_fixalloc(run, (int)i) ||
                (run->rows[i].caps & BENCH_HOT_ONLY)) {
                continue;
            }
            if (!header) {
                printf("## fixalloc against the best peer\n\n");
                printf("Per workload: each fixalloc row against the fastest "
                       "(for (10): the leanest) other implementation, floors "
                       "aside. Below 1 fixalloc leads.\n\n");
                printf("| workload | size | fixalloc | value | best peer | "
                       "value | fixalloc ÷ best |\n");
                printf("| --- | --- | --- | ---: | --- | ---: | ---: |\n");
                header = true;
            }
            char sz[32], a[32], b[32], r[32];
            if (is_mixed(s->w)) {
                snprintf(sz, sizeof sz, "%s", dist_name(s->size));
            } else {
                snprintf(sz, sizeof sz, "%zu B", s->size);
            }
            double v, q;
            if (s->w == WL_MIXED_RSS) {
                v = cold_metric(run, s->w, s->size, (int)i, 2);
                q = v / bv;
                snprintf(a, sizeof a, "%.3f B/B", v);
                snprintf(b, sizeof b, "%.3f B/B", bv);
            } else {
                v = med_ns(s, (int)i, NULL, NULL);
                q = s->rounds > 1 || !is_cold(s->w) ? ratio(s, (int)i, best)
                                                    : v / bv;
                fmt_ns(a, sizeof a, v);
                fmt_ns(b, sizeof b, bv);
                strcat(a, " ns");
                strcat(b, " ns");
            }
            fmt_ratio(r, sizeof r, q);
            printf("| %s | %s | %s | %s | %s | %s | %s%s%s |\n", wl_title(s->w),
                   sz, run->rows[i].name, a, run->rows[best].name, b,
                   q <= 1 ? "**" : "", r, q <= 1 ? "**" : "");
        }
        if (s->w == WL_COLD) {
            /* RSS per object too. */
            int rb = -1;
            double rv = NAN;
            for (size_t i = 0; i < run->nrows; i++) {
                double v = cold_metric(run, WL_COLD, s->size, (int)i, 0);
                if (s->ran[i] && !is_fixalloc(run, (int)i) &&
                    !is_floor(run, (int)i) && (rb < 0 || v < rv)) {
                    rb = (int)i;
                    rv = v;
                }
            }
            for (size_t i = 0; rb >= 0 && i < run->nrows; i++) {
                if (!s->ran[i] || !is_fixalloc(run, (int)i)) {
                    continue;
                }
                double v = cold_metric(run, WL_COLD, s->size, (int)i, 0);
                char r[32];
                fmt_ratio(r, sizeof r, v / rv);
                printf("| (4) RSS per object | %zu B | %s | %.2f B | %s | "
                       "%.2f B | %s%s%s |\n",
                       s->size, run->rows[i].name, v, run->rows[rb].name, rv,
                       v / rv <= 1 ? "**" : "", r, v / rv <= 1 ? "**" : "");
            }
        }
    }
    if (header) {
        printf("\n");
    }
}

static void verdict(bool met, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void verdict(bool met, const char *fmt, ...)
{
    va_list ap;
    printf("- %s: ", met ? "met" : "NOT MET");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

/* "fa_cache 0.41x mimalloc, 0.60x tcmalloc, 0.52x jemalloc" for series s;
 * returns whether every ratio is below 1 (false when none ran). */
static bool beats_peers(const bench_run *run, const series *s, int fa,
                        char *out, size_t cap)
{
    static const char *const peers[] = {"mimalloc", "tcmalloc", "jemalloc"};
    bool all_below = true, any = false;
    out[0] = '\0';
    for (int k = 0; k < 3; k++) {
        int p = row_of(run, peers[k]);
        double q = ratio(s, fa, p);
        if (isnan(q)) {
            continue;
        }
        size_t l = strlen(out);
        snprintf(out + l, cap - l, "%s%.2fx %s", any ? ", " : "", q, peers[k]);
        any = true;
        all_below = all_below && q < 1;
    }
    return any && all_below;
}

void print_targets(const bench_run *run)
{
    printf("## Targets (measured, not asserted)\n\n");
    int bare = run->ref.bare, pool = run->ref.pool, cache = run->ref.cache,
        fam = run->ref.fam;
    int glibc = row_of(run, "glibc"), mim = row_of(run, "mimalloc");
    for (size_t k = 0; k < WL_COUNT * run->nseries; k++) {
        /* By workload, then in the order the series ran. */
        const series *s = &run->all[k % run->nseries];
        if (s->w != (int)(k / run->nseries) + 1) {
            continue;
        }
        double r;
        char peers[256];
        switch (s->w) {
        case WL_HOT:
            if (!isnan(r = ratio(s, pool, bare))) {
                verdict(r <= 1.25,
                        "(1) %zu B: fa_pool %.2fx the bare list "
                        "(target <= 1.25x)",
                        s->size, r);
            }
            if (!isnan(r = ratio(s, glibc, pool))) {
                verdict(r >= 4.0,
                        "(1) %zu B: fa_pool %.2fx faster than glibc "
                        "malloc (target >= 4x)",
                        s->size, r);
            }
            for (size_t z = 0; z < run->opt.nsizes; z++) {
                if (run->opt.sizes[z] == s->size && pool >= 0 && bare >= 0 &&
                    run->rows[pool].instr[z] >= 0 &&
                    run->rows[bare].instr[z] >= 0) {
                    double d =
                        run->rows[pool].instr[z] - run->rows[bare].instr[z];
                    verdict(d <= 8,
                            "(1) %zu B: fa_pool %+.1f instructions "
                            "per pair against the bare list (target <= +8)",
                            s->size, d);
                }
            }
            if (!isnan(r = ratio(s, cache, bare))) {
                verdict(r <= 2.0,
                        "(1) %zu B: fa_cache %.2fx the bare list "
                        "(target <= 2x)",
                        s->size, r);
            }
            if (cache >= 0 && s->ran[cache]) {
                bool ok = beats_peers(run, s, cache, peers, sizeof peers);
                if (peers[0] != '\0') {
                    verdict(ok,
                            "(1) %zu B: fa_cache %s (target: below 1x "
                            "each)",
                            s->size, peers);
                }
            }
            for (size_t i = 0; i < run->nrows; i++) {
                if ((run->rows[i].caps & BENCH_HOT_ONLY) &&
                    !isnan(r = ratio(s, (int)i, pool))) {
                    printf("- cost: (1) %zu B: %s %.2fx the default fa_pool "
                           "(%+.2f ns per pair)\n",
                           s->size, run->rows[i].name, r,
                           med_ns(s, (int)i, NULL, NULL) -
                               med_ns(s, pool, NULL, NULL));
                }
            }
            break;
        case WL_SHUFFLE:
            if ((s->size == 64 || s->size == 256) &&
                !isnan(r = ratio(s, pool, bare))) {
                verdict(r <= 0.6,
                        "(3) %zu B: fa_pool %.2fx the bare list "
                        "(target <= 0.6x)",
                        s->size, r);
            }
            break;
        case WL_COLD:
            if (pool >= 0 && s->ran[pool]) {
                double rss = cold_metric(run, WL_COLD, s->size, pool, 0);
                double slot = (double)s->cold[pool][0].slot;
                verdict(rss <= 1.01 * slot,
                        "(4) %zu B: fa_pool RSS %.2f "
                        "B/object = %.3fx its %.0f B slot (target <= 1.01x)",
                        s->size, rss, rss / slot, slot);
            }
            break;
        case WL_PRODCON:
            if (!isnan(r = ratio(s, cache, run->ref.ring))) {
                verdict(r <= 2.0,
                        "(5) %zu B: fa_cache %.2fx the ring alone "
                        "(target <= 2x)",
                        s->size, r);
            }
            if (cache >= 0 && s->ran[cache]) {
                bool ok = beats_peers(run, s, cache, peers, sizeof peers);
                if (peers[0] != '\0') {
                    verdict(ok,
                            "(5) %zu B: fa_cache %s (target: below 1x "
                            "each)",
                            s->size, peers);
                }
            }
            break;
        case WL_PAIRS2:
            if (!isnan(r = ratio(s, cache, bare))) {
                verdict(r <= 1.5,
                        "(6) %zu B: fa_cache %.2fx private bare "
                        "lists (target <= 1.5x)",
                        s->size, r);
            }
            if (cache >= 0 && s->ran[cache]) {
                bool ok = beats_peers(run, s, cache, peers, sizeof peers);
                if (peers[0] != '\0') {
                    verdict(ok,
                            "(6) %zu B: fa_cache %s (target: below 1x "
                            "each)",
                            s->size, peers);
                }
            }
            break;
        case WL_MIXED:
        case WL_LARSON:
            if (!isnan(r = ratio(s, fam, mim))) {
                verdict(r <= 1.0,
                        "%s %s: fa_malloc %.2fx mimalloc's time "
                        "(target <= 1x)",
                        wl_title(s->w), dist_name(s->size), r);
            }
            break;
        case WL_MIXED_RSS:
            if (fam >= 0 && mim >= 0 && s->ran[fam] && s->ran[mim]) {
                double a = cold_metric(run, s->w, s->size, fam, 2);
                double b = cold_metric(run, s->w, s->size, mim, 2);
                verdict(a <= b,
                        "(10) %s: fa_malloc RSS %.3f B per byte "
                        "requested, mimalloc %.3f: %.2fx (target <= 1x)",
                        dist_name(s->size), a, b, a / b);
            }
            break;
        default: break;
        }
    }
    if (fam < 0) {
        printf("- fa_malloc: not built (include/fixalloc.h does not declare "
               "it yet): its targets are not evaluated\n");
    }
    printf("\n");
}

void print_instructions_only(const bench_run *run)
{
    const bench_options *o = &run->opt;
    printf("| implementation | size B | instructions/pair | minus bare list "
           "|\n| --- | ---: | ---: | ---: |\n");
    for (size_t z = 0; z < o->nsizes; z++) {
        for (size_t i = 0; i < run->nrows; i++) {
            if (run->rows[i].instr[z] < 0) {
                continue;
            }
            double b =
                run->ref.bare >= 0 ? run->rows[run->ref.bare].instr[z] : -1;
            char d[32] = "-";
            if (b >= 0) {
                snprintf(d, sizeof d, "%+.1f", run->rows[i].instr[z] - b);
            }
            printf("| %s | %zu | %.1f | %s |\n", run->rows[i].name, o->sizes[z],
                   run->rows[i].instr[z], d);
        }
    }
    printf("\n");
    for (size_t z = 0; z < o->nsizes; z++) {
        if (run->ref.pool >= 0 && run->ref.bare >= 0 &&
            run->rows[run->ref.pool].instr[z] >= 0 &&
            run->rows[run->ref.bare].instr[z] >= 0) {
            double d = run->rows[run->ref.pool].instr[z] -
                       run->rows[run->ref.bare].instr[z];
            verdict(d <= 8,
                    "(1) %zu B: fa_pool %+.1f instructions per pair "
                    "against the bare list (target <= +8)",
                    o->sizes[z], d);
        }
    }
}
