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
                       : s->w == WL_PHASE ? phase_rss(run, (int)i, C_FULL)
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
                       "(for RSS: the leanest) other implementation, floors "
                       "aside. Below 1 fixalloc leads.\n\n");
                printf("| workload | size | fixalloc | value | best peer | "
                       "value | fixalloc ÷ best |\n");
                printf("| --- | --- | --- | ---: | --- | ---: | ---: |\n");
                header = true;
            }
            char sz[48], a[32], b[32], r[32];
            size_label(&run->opt, s->w, s->size, sz, sizeof sz);
            double v, q;
            if (s->w == WL_PHASE) {
                v = phase_rss(run, (int)i, C_FULL);
                q = v / bv;
                snprintf(a, sizeof a, "%.1f MiB peak", v / 1048576.0);
                snprintf(b, sizeof b, "%.1f MiB peak", bv / 1048576.0);
            } else if (s->w == WL_MIXED_RSS) {
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
        /* (4): RSS per object too; (7) at its sizes: RSS kept per live
         * object after trim. */
        for (int m = 0; s->w == WL_COLD && m < 2; m++) {
            if (m == 1 && !is_trim_size(&run->opt, s->size)) {
                continue;
            }
            int rb = -1;
            double rv = NAN;
            for (size_t i = 0; i < run->nrows; i++) {
                double v = cold_metric(run, WL_COLD, s->size, (int)i, m);
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
                double v = cold_metric(run, WL_COLD, s->size, (int)i, m);
                char r[32];
                fmt_ratio(r, sizeof r, v / rv);
                printf("| %s | %zu B | %s | %.2f B | %s | %.2f B | %s%s%s |\n",
                       m == 0 ? "(4) RSS per object"
                              : "(7) kept per live object after trim",
                       s->size, run->rows[i].name, v, run->rows[rb].name, rv,
                       v / rv <= 1 ? "**" : "", r, v / rv <= 1 ? "**" : "");
            }
        }
    }
    if (header) {
        printf("\n");
    }
}

/* Whether size is one of --size's. */
static bool is_run_size(const bench_run *run, size_t size)
{
    for (size_t z = 0; z < run->opt.nsizes; z++) {
        if (run->opt.sizes[z] == size) {
            return true;
        }
    }
    return false;
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

/* The verdict that fa_cache (row `cache`) is below each peer that ran
 * workload `wl` at s's size. */
static void peers_verdict(const bench_run *run, const series *s, int cache,
                          const char *wl)
{
    char peers[256];
    if (cache < 0 || !s->ran[cache]) {
        return;
    }
    bool ok = beats_peers(run, s, cache, peers, sizeof peers);
    if (peers[0] != '\0') {
        verdict(ok, "%s %zu B: fa_cache %s (target: below 1x each)", wl,
                s->size, peers);
    }
}

/* (7) at a trim size, not a target: what each fixalloc row's trim call
 * gave back, and the peer that gave back the most. */
static void trim_line(const bench_run *run, const series *s)
{
    char list[320] = "";
    int best = -1;
    double bv = 0;
    for (size_t i = 0; i < run->nrows; i++) {
        double freed = cold_median(s, i, C_FREED);
        double back = freed - cold_median(s, i, C_TRIMMED);
        if (!s->ran[i] || is_floor(run, (int)i)) {
            continue;
        }
        if (is_fixalloc(run, (int)i)) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s %.1f MiB (%.0f%%)",
                     l ? ", " : "", run->rows[i].name, back / 1048576.0,
                     freed > 0 && back > 0 ? 100 * back / freed : 0.0);
        } else if (best < 0 || back > bv) {
            best = (int)i;
            bv = back;
        }
    }
    if (list[0] != '\0' && best >= 0) {
        double freed = cold_median(s, (size_t)best, C_FREED);
        printf("- trim: (7) %zu B, given back by the trim call with 90%% of "
               "the objects freed: %s; the most of the peers: %s %.1f MiB "
               "(%.0f%%)\n",
               s->size, list, run->rows[best].name, bv / 1048576.0,
               freed > 0 && bv > 0 ? 100 * bv / freed : 0.0);
    }
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
            peers_verdict(run, s, cache, "(1)");
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
            /* At --size's sizes only: not at those (7) adds. */
            if (pool >= 0 && s->ran[pool] && is_run_size(run, s->size)) {
                double rss = cold_metric(run, WL_COLD, s->size, pool, 0);
                double slot = (double)s->cold[pool][0].slot;
                verdict(rss <= 1.01 * slot,
                        "(4) %zu B: fa_pool RSS %.2f "
                        "B/object = %.3fx its %.0f B slot (target <= 1.01x)",
                        s->size, rss, rss / slot, slot);
            }
            if (is_trim_size(&run->opt, s->size)) {
                trim_line(run, s);
            }
            break;
        case WL_PRODCON:
            if (!isnan(r = ratio(s, cache, run->ref.ring))) {
                verdict(r <= 2.0,
                        "(5) %zu B: fa_cache %.2fx the ring alone "
                        "(target <= 2x)",
                        s->size, r);
            }
            peers_verdict(run, s, cache, "(5)");
            break;
        case WL_PAIRS2:
            if (!isnan(r = ratio(s, cache, bare))) {
                verdict(r <= 1.5,
                        "(6) %zu B: fa_cache %.2fx private bare "
                        "lists (target <= 1.5x)",
                        s->size, r);
            }
            peers_verdict(run, s, cache, "(6)");
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
        case WL_PHASE:
            if (fam >= 0 && mim >= 0 && s->ran[fam] && s->ran[mim]) {
                double a = phase_rss(run, fam, C_FULL) / 1048576.0;
                double b = phase_rss(run, mim, C_FULL) / 1048576.0;
                verdict(a <= b,
                        "(11) %zu B then %zu B: fa_malloc peak RSS %.1f MiB, "
                        "mimalloc %.1f MiB: %.2fx (target <= 1x)",
                        run->opt.phase_a, run->opt.phase_b, a, b, a / b);
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
