/*
 * tables.c - the markdown tables of the measurements.
 *
 * The at-a-glance tables (one object size; objects of any size), the
 * tables of the timed workloads, (4)/(7) cold objects and trim, (7) at
 * its own sizes, (10) RSS per byte and (11) the phase shift, with the
 * notes on floors and on rows a workload does not apply to.
 */
#include "driver.h"

#include <math.h>

/* Prints one at-a-glance row; values[] lower is better; bold the best of
 * the rows that are neither floors nor absent. */
typedef struct glance_col {
    const char *title;
    double v[MAX_ROWS];
    int best;
} glance_col;

static void glance_table(const bench_run *run, glance_col *cols, int ncols,
                         bool mixed)
{
    for (int c = 0; c < ncols; c++) {
        cols[c].best = -1;
        for (size_t i = 0; i < run->nrows; i++) {
            double v = cols[c].v[i];
            if (!isnan(v) && !is_floor(run, (int)i) &&
                (cols[c].best < 0 || v < cols[c].v[cols[c].best])) {
                cols[c].best = (int)i;
            }
        }
    }
    printf("| implementation |");
    for (int c = 0; c < ncols; c++) {
        printf(" %s |", cols[c].title);
    }
    printf("\n| --- |");
    for (int c = 0; c < ncols; c++) {
        printf(" ---: |");
    }
    printf("\n");
    for (size_t i = 0; i < run->nrows; i++) {
        bool any = false;
        for (int c = 0; c < ncols; c++) {
            any = any || !isnan(cols[c].v[i]);
        }
        if (!any || (mixed && !(run->rows[i].caps & BENCH_VAR))) {
            continue;
        }
        printf("| %s%s%s |", is_fixalloc(run, (int)i) ? "**" : "",
               run->rows[i].name, is_fixalloc(run, (int)i) ? "**" : "");
        for (int c = 0; c < ncols; c++) {
            char b[32];
            fmt_ns(b, sizeof b, cols[c].v[i]);
            bool best = cols[c].best == (int)i;
            printf(" %s%s%s |", best ? "**" : "", b, best ? "**" : "");
        }
        printf("\n");
    }
}

static size_t glance_size(const bench_run *run)
{
    const bench_options *o = &run->opt;
    for (size_t z = 0; z < o->nsizes; z++) {
        if (o->sizes[z] == 64) {
            return 64;
        }
    }
    return o->sizes[0];
}

void print_glance(const bench_run *run)
{
    size_t z = glance_size(run);
    glance_col cols[8];
    memset(cols, 0, sizeof cols);
    int nc = 0;
    static const int tw[] = {WL_HOT, WL_LIFO, WL_SHUFFLE, WL_PRODCON,
                             WL_PAIRS2};
    static const char *const tt[] = {"(1) hot pair ns", "(2) LIFO ns",
                                     "(3) shuffled ns", "(5) prod/cons ns",
                                     "(6) 2 threads ns"};
    for (int k = 0; k < 5; k++) {
        if (find_series(run, tw[k], z) == NULL) {
            continue;
        }
        cols[nc].title = tt[k];
        for (size_t i = 0; i < run->nrows; i++) {
            cols[nc].v[i] = series_med(run, tw[k], z, (int)i);
        }
        nc++;
    }
    if (find_series(run, WL_COLD, z) != NULL) {
        cols[nc].title = "(4) cold ns";
        for (size_t i = 0; i < run->nrows; i++) {
            cols[nc].v[i] = series_med(run, WL_COLD, z, (int)i);
        }
        nc++;
        cols[nc].title = "(4) RSS B/object";
        for (size_t i = 0; i < run->nrows; i++) {
            cols[nc].v[i] = cold_metric(run, WL_COLD, z, (int)i, 0);
        }
        nc++;
        cols[nc].title = "(7) RSS B/live object after trim";
        for (size_t i = 0; i < run->nrows; i++) {
            cols[nc].v[i] = cold_metric(run, WL_COLD, z, (int)i, 1);
        }
        nc++;
    }
    if (nc > 0) {
        printf("## At a glance: %zu-byte objects\n\n", z);
        printf("Lower is better everywhere; the best of each column (floors "
               "aside) in bold.\n\n");
        glance_table(run, cols, nc, false);
        printf("\n");
    }
    nc = 0;
    memset(cols, 0, sizeof cols);
    char titles[5][48];
    for (size_t d = 0; d < 2; d++) {
        if (find_series(run, WL_MIXED, d) != NULL) {
            snprintf(titles[d], sizeof titles[d], "(8) %s ns", dist_name(d));
            cols[nc].title = titles[d];
            for (size_t i = 0; i < run->nrows; i++) {
                cols[nc].v[i] = series_med(run, WL_MIXED, d, (int)i);
            }
            nc++;
        }
    }
    if (find_series(run, WL_LARSON, BENCH_UNIFORM) != NULL) {
        cols[nc].title = "(9) larson ns";
        for (size_t i = 0; i < run->nrows; i++) {
            cols[nc].v[i] = series_med(run, WL_LARSON, BENCH_UNIFORM, (int)i);
        }
        nc++;
    }
    for (size_t d = 0; d < 2; d++) {
        if (find_series(run, WL_MIXED_RSS, d) != NULL) {
            snprintf(titles[2 + d], sizeof titles[2 + d], "(10) %s RSS B/B",
                     d == BENCH_UNIFORM ? "uniform" : "skewed");
            cols[nc].title = titles[2 + d];
            for (size_t i = 0; i < run->nrows; i++) {
                cols[nc].v[i] = cold_metric(run, WL_MIXED_RSS, d, (int)i, 2);
            }
            nc++;
        }
    }
    if (find_series(run, WL_PHASE, run->opt.phase_a) != NULL) {
        snprintf(titles[4], sizeof titles[4], "(11) %zu->%zu B peak MiB",
                 run->opt.phase_a, run->opt.phase_b);
        cols[nc].title = titles[4];
        for (size_t i = 0; i < run->nrows; i++) {
            cols[nc].v[i] = phase_rss(run, (int)i, C_FULL) / 1048576.0;
        }
        nc++;
    }
    if (nc > 0) {
        printf("## At a glance: objects of any size (the malloc layer)\n\n");
        glance_table(run, cols, nc, true);
        printf("\n");
    }
}

/* The rows of the timed workloads w1 to w2 (cold ones aside). */
void print_timed_table(const bench_run *run, int w1, int w2, const char *title)
{
    bool header = false;
    for (size_t k = 0; k < run->nseries; k++) {
        const series *s = &run->all[k];
        if (s->w < w1 || s->w > w2 || is_cold(s->w)) {
            continue;
        }
        int fl = floor_row(run, s->w), fa = fixalloc_row(run, s->w);
        if (!header) {
            printf("## %s\n\n", title);
            if (is_mixed(s->w)) {
                printf("| workload | sizes | implementation | ns/pair | "
                       "min-max | ÷ fa_malloc |\n");
                printf("| --- | --- | --- | ---: | ---: | ---: |\n");
            } else if (s->w == WL_PRODCON || s->w == WL_PAIRS2) {
                printf("| workload | size B | implementation | ns/pair | "
                       "min-max | ÷ floor | ÷ fa_cache |\n");
                printf("| --- | ---: | --- | ---: | ---: | ---: | ---: |\n");
            } else {
                printf("| workload | size B | implementation | ns/pair | "
                       "min-max | ÷ bare list | ÷ fa_pool | instr/pair |\n");
                printf("| --- | ---: | --- | ---: | ---: | ---: | ---: | "
                       "---: |\n");
            }
            header = true;
        }
        for (size_t i = 0; i < run->nrows; i++) {
            if (!s->ran[i]) {
                continue;
            }
            double lo, hi, med = med_ns(s, (int)i, &lo, &hi);
            char m[32], l[32], h[32], rf[32], rx[32];
            fmt_ns(m, sizeof m, med);
            fmt_ns(l, sizeof l, lo);
            fmt_ns(h, sizeof h, hi);
            fmt_ratio(rf, sizeof rf, ratio(s, (int)i, fl));
            fmt_ratio(rx, sizeof rx, ratio(s, (int)i, fa));
            if (is_mixed(s->w)) {
                printf("| %s | %s | %s | %s | %s-%s | %s |\n", wl_title(s->w),
                       dist_name(s->size), run->rows[i].name, m, l, h, rx);
            } else if (s->w == WL_PRODCON || s->w == WL_PAIRS2) {
                printf("| %s | %zu | %s | %s | %s-%s | %s | %s |\n",
                       wl_title(s->w), s->size, run->rows[i].name, m, l, h, rf,
                       rx);
            } else {
                char in[32] = "-";
                for (size_t z = 0; z < run->opt.nsizes; z++) {
                    if (s->w == WL_HOT && run->opt.sizes[z] == s->size &&
                        run->rows[i].instr[z] >= 0) {
                        snprintf(in, sizeof in, "%.1f", run->rows[i].instr[z]);
                    }
                }
                printf("| %s | %zu | %s | %s | %s-%s | %s | %s | %s |\n",
                       wl_title(s->w), s->size, run->rows[i].name, m, l, h, rf,
                       rx, in);
            }
        }
    }
    if (header) {
        printf("\n");
    }
}

void print_not_served(const bench_run *run, int w, const char *why)
{
    char list[512] = "";
    for (size_t i = 0; i < run->nrows; i++) {
        if (run->rows[i].up && !applicable(&run->rows[i], w) &&
            !(run->rows[i].caps & (BENCH_HOT_ONLY | BENCH_RING))) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s", l ? ", " : "",
                     run->rows[i].name);
        }
    }
    if (list[0] != '\0') {
        printf("Not in %s: %s (%s).\n", wl_title(w), list, why);
    }
}

void print_private(const bench_run *run)
{
    char list[512] = "";
    for (size_t i = 0; i < run->nrows; i++) {
        if (run->rows[i].up && applicable(&run->rows[i], WL_PAIRS2) &&
            !(run->rows[i].caps & BENCH_SHARED) && (int)i != run->ref.bare) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s", l ? ", " : "",
                     run->rows[i].name);
        }
    }
    printf("Floors: (5) the ring alone (no allocation); (6) a private bare "
           "list per thread.%s%s%s\n",
           list[0] ? " One per thread in (6), as they are not shared: " : "",
           list, list[0] ? "." : "");
}

void print_cold_table(const bench_run *run)
{
    bool header = false;
    for (size_t k = 0; k < run->nseries; k++) {
        const series *s = &run->all[k];
        if (s->w != WL_COLD) {
            continue;
        }
        if (!header) {
            printf("## Cold objects (4) and trim (7)\n\n");
            printf("%zu objects allocated and written in full (RSS read), "
                   "90%% freed in random order (RSS read), the "
                   "implementation's trim call (RSS read), the rest freed; "
                   "each run a fresh process. ns/object: the implementation's "
                   "init, allocation, write and free. Kept: RSS after the trim "
                   "per object still "
                   "live.",
                   run->opt.cold_n);
            for (size_t z = 0; z < run->opt.ncold_sizes; z++) {
                size_t sz = run->opt.cold_sizes[z];
                size_t n = cold_objects(&run->opt, sz);
                if (n < run->opt.cold_n) {
                    printf(" %zu B: %zu objects (at most %.2f GB).", sz, n,
                           (double)run->opt.cold_bytes / 1e9);
                }
            }
            printf("\n\n");
            printf("| size B | implementation | ns/object | RSS B/object | "
                   "÷ size | MB after freeing 90%% | trim call | ms | MB after "
                   "trim | kept B/live object |\n");
            printf("| ---: | --- | ---: | ---: | ---: | ---: | --- | ---: | "
                   "---: | ---: |\n");
            header = true;
        }
        for (size_t i = 0; i < run->nrows; i++) {
            if (!s->ran[i]) {
                continue;
            }
            double ns = med_ns(s, (int)i, NULL, NULL);
            double per = cold_metric(run, WL_COLD, s->size, (int)i, 0);
            double freed = cold_median(s, (size_t)(i), C_FREED) / 1048576.0;
            double trimmed = cold_median(s, (size_t)(i), C_TRIMMED) / 1048576.0;
            double tms = cold_median(s, (size_t)(i), C_TRIM) / 1e6;
            double kept = cold_metric(run, WL_COLD, s->size, (int)i, 1);
            char b[32];
            fmt_ns(b, sizeof b, ns);
            const char *call = strcmp(run->rows[i].trim_call, "-") != 0
                                   ? run->rows[i].trim_call
                                   : "none";
            printf("| %zu | %s | %s | %.2f | %.2f | %.0f | %s | %.1f | %.0f | "
                   "%.1f |\n",
                   s->size, run->rows[i].name, b, per, per / (double)s->size,
                   freed, call, tms, trimmed, kept);
        }
    }
    if (header) {
        printf("\n");
        for (size_t i = 0; i < run->nrows; i++) {
            if (run->rows[i].up && applicable(&run->rows[i], WL_COLD) &&
                strcmp(run->rows[i].trim_call, "-") == 0 &&
                strcmp(run->rows[i].trim_none, "-") != 0) {
                printf("No trim call: %s (%s).\n", run->rows[i].name,
                       run->rows[i].trim_none);
            }
        }
        printf("\n");
    }
}

void print_mixed_rss_table(const bench_run *run)
{
    bool header = false;
    for (size_t k = 0; k < run->nseries; k++) {
        const series *s = &run->all[k];
        if (s->w != WL_MIXED_RSS) {
            continue;
        }
        if (!header) {
            printf("## (10) RSS per byte requested, random sizes\n\n");
            printf("%zu objects of random sizes, each written in full; then "
                   "90%% freed in random order and the trim call. A fresh "
                   "process each.\n\n",
                   s->n);
            printf("| sizes | implementation | MB requested | RSS B per byte "
                   "| after trim: RSS B per live byte | ns/object | "
                   "÷ fa_malloc (RSS) |\n");
            printf("| --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
            header = true;
        }
        for (size_t i = 0; i < run->nrows; i++) {
            if (!s->ran[i]) {
                continue;
            }
            double per = cold_metric(run, WL_MIXED_RSS, s->size, (int)i, 2);
            double kept = cold_metric(run, WL_MIXED_RSS, s->size, (int)i, 3);
            double ref =
                cold_metric(run, WL_MIXED_RSS, s->size, run->ref.fam, 2);
            char b[32], rx[32];
            fmt_ns(b, sizeof b, med_ns(s, (int)i, NULL, NULL));
            fmt_ratio(rx, sizeof rx, per / ref);
            printf("| %s | %s | %.0f | %.3f | %.3f | %s | %s |\n",
                   dist_name(s->size), run->rows[i].name,
                   cold_median(s, (size_t)(i), C_BYTES) / 1048576.0, per, kept,
                   b, rx);
        }
    }
    if (header) {
        printf("\n");
    }
}

/* (7) at its own sizes (--trim-size): what each trim call gives back. */
void print_trim_table(const bench_run *run)
{
    bool header = false;
    for (size_t k = 0; k < run->nseries; k++) {
        const series *s = &run->all[k];
        if (s->w != WL_COLD || !is_trim_size(&run->opt, s->size)) {
            continue;
        }
        if (!header) {
            printf("## Trim (7) at ");
            for (size_t t = 0; t < run->opt.ntrim_sizes; t++) {
                printf("%s%zu B",
                       t == 0                          ? ""
                       : t + 1 == run->opt.ntrim_sizes ? " and "
                                                       : ", ",
                       run->opt.trim_sizes[t]);
            }
            printf("\n\nFrom the runs of (4) above: RSS with 90%% of the "
                   "objects freed in random order, before and after the "
                   "implementation's trim call, and what the call gave back "
                   "to the OS. RSS in MiB above the baseline read before the "
                   "implementation's init. Kept: RSS after trim per live "
                   "object.\n\n");
            printf("| size B | implementation | objects | trim call | MiB all "
                   "live | MiB before trim | MiB after trim | MiB given back "
                   "| given back | ms | kept B/live object | kept ÷ size "
                   "|\n");
            printf("| ---: | --- | ---: | --- | ---: | ---: | ---: | ---: | "
                   "---: | ---: | ---: | ---: |\n");
            header = true;
        }
        for (size_t i = 0; i < run->nrows; i++) {
            if (!s->ran[i]) {
                continue;
            }
            double full = cold_median(s, i, C_FULL) / 1048576.0;
            double freed = cold_median(s, i, C_FREED) / 1048576.0;
            double trimmed = cold_median(s, i, C_TRIMMED) / 1048576.0;
            double tms = cold_median(s, i, C_TRIM) / 1e6;
            double kept = cold_metric(run, WL_COLD, s->size, (int)i, 1);
            double back = freed - trimmed;
            double pct = freed > 0 ? 100.0 * back / freed : 0.0;
            const char *call = strcmp(run->rows[i].trim_call, "-") != 0
                                   ? run->rows[i].trim_call
                                   : "none";
            printf("| %zu | %s%s%s | %zu | %s | %.0f | %.1f | %.1f | %.1f | "
                   "%.0f%% | %.1f | %.1f | %.2f |\n",
                   s->size, is_fixalloc(run, (int)i) ? "**" : "",
                   run->rows[i].name, is_fixalloc(run, (int)i) ? "**" : "",
                   s->n, call, full, freed, trimmed, back,
                   pct > -0.5 && pct < 0.5 ? 0.0 : pct, tms, kept,
                   kept / (double)s->size);
        }
    }
    if (header) {
        printf("\n");
    }
}

/* (11): the phase shift's peak and final RSS. */
void print_phase_table(const bench_run *run)
{
    const bench_options *o = &run->opt;
    const series *s = find_series(run, WL_PHASE, o->phase_a);
    if (s == NULL) {
        return;
    }
    int mim = row_of(run, "mimalloc");
    double mpeak = phase_rss(run, mim, C_FULL);
    printf("## (11) Phase shift: %zu-byte objects, then %zu-byte ones\n\n",
           o->phase_a, o->phase_b);
    printf("%zu cycles, in a fresh process: %.0f MiB of %zu-byte objects "
           "allocated and written in full (RSS read), all freed in random "
           "order; then as many bytes of %zu-byte objects, the same way. No "
           "trim call: what the allocator keeps is its own choice. RSS in MiB "
           "above the baseline read before the implementation's init. Peak: "
           "the highest RSS read after a phase's allocation; one phase: "
           "after the first; at the end: everything freed. ns/object: "
           "allocation, write and free, every phase.\n\n",
           o->phase_cycles, (double)o->phase_bytes / 1048576.0, o->phase_a,
           o->phase_b);
    printf("| implementation | MiB requested per phase | MiB one phase | "
           "MiB peak | peak ÷ one phase | MiB at the end | peak ÷ mimalloc "
           "| ns/object |\n");
    printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (size_t i = 0; i < run->nrows; i++) {
        if (!s->ran[i]) {
            continue;
        }
        double one = phase_rss(run, (int)i, C_TRIMMED) / 1048576.0;
        double peak = phase_rss(run, (int)i, C_FULL) / 1048576.0;
        double end = phase_rss(run, (int)i, C_FREED) / 1048576.0;
        double req = phase_rss(run, (int)i, C_BYTES) / 1048576.0;
        char b[32], rm[32];
        fmt_ns(b, sizeof b, med_ns(s, (int)i, NULL, NULL));
        fmt_ratio(rm, sizeof rm, peak * 1048576.0 / mpeak);
        printf("| %s%s%s | %.0f | %.1f | %.1f | %.2f | %.1f | %s | %s |\n",
               is_fixalloc(run, (int)i) ? "**" : "", run->rows[i].name,
               is_fixalloc(run, (int)i) ? "**" : "", req, one, peak, peak / one,
               end, rm, b);
    }
    printf("\n");
}
