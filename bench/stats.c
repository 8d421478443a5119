/*
 * stats.c - the series of samples and the statistics taken from them.
 *
 * Medians, min-max, ratios taken inside each round, RSS per object and per
 * byte. Owns the run's series: new_series() adds one per (workload, size)
 * as the rounds run; everything printed reads them through the functions
 * here.
 */
#include "driver.h"

#include <math.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double median(const double *v, int n, double *lo, double *hi)
{
    double s[MAX_ROUNDS];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    if (lo != NULL) {
        *lo = s[0];
        *hi = s[n - 1];
    }
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

double med_ns(const series *s, int i, double *lo, double *hi)
{
    return median(s->ns[i], s->rounds, lo, hi);
}

/* The median over rounds of ns[a] / ns[b], each ratio taken in one round;
 * NAN when either did not run. */
double ratio(const series *s, int a, int b)
{
    double r[MAX_ROUNDS];
    if (a < 0 || b < 0 || !s->ran[a] || !s->ran[b]) {
        return NAN;
    }
    for (int k = 0; k < s->rounds; k++) {
        r[k] = s->ns[a][k] / s->ns[b][k];
    }
    return median(r, s->rounds, NULL, NULL);
}

static double cold_field(const cold_sample *c, int f)
{
    switch (f) {
    case C_ALLOC: return c->alloc_ns;
    case C_FREE: return c->free_ns;
    case C_TRIM: return c->trim_ns;
    case C_FULL: return c->rss_full;
    case C_FREED: return c->rss_freed;
    case C_TRIMMED: return c->rss_trimmed;
    default: return c->bytes;
    }
}

/* A median of one field (C_ALLOC...) of the cold samples of row i. */
double cold_median(const series *s, size_t i, int f)
{
    double v[MAX_ROUNDS];
    for (int k = 0; k < s->rounds; k++) {
        v[k] = cold_field(&s->cold[i][k], f);
    }
    return median(v, s->rounds, NULL, NULL);
}

series *new_series(bench_run *run, int w, size_t size)
{
    if (run->nseries == MAX_SERIES) {
        fprintf(stderr, "bench: too many series\n");
        exit(1);
    }
    series *s = &run->all[run->nseries++];
    memset(s, 0, sizeof *s);
    s->w = w;
    s->size = size;
    return s;
}

const series *find_series(const bench_run *run, int w, size_t size)
{
    for (size_t k = 0; k < run->nseries; k++) {
        if (run->all[k].w == w && run->all[k].size == size) {
            return &run->all[k];
        }
    }
    return NULL;
}

double series_med(const bench_run *run, int w, size_t size, int i)
{
    const series *s = find_series(run, w, size);
    if (s == NULL || i < 0 || !s->ran[i]) {
        return NAN;
    }
    return med_ns(s, i, NULL, NULL);
}

/* RSS bytes per object (4), per live object after trim (7), per byte
 * requested (10, full), per live byte after trim (10). */
double cold_metric(const bench_run *run, int w, size_t size, int i, int which)
{
    const series *s = find_series(run, w, size);
    if (s == NULL || i < 0 || !s->ran[i]) {
        return NAN;
    }
    double n = (double)s->n, live = (double)(s->n / 10);
    double bytes = cold_median(s, (size_t)(i), C_BYTES);
    switch (which) {
    case 0: return cold_median(s, (size_t)(i), C_FULL) / n;
    case 1: return cold_median(s, (size_t)(i), C_TRIMMED) / live;
    case 2: return cold_median(s, (size_t)(i), C_FULL) / bytes;
    default: return cold_median(s, (size_t)(i), C_TRIMMED) / (bytes / n * live);
    }
}

/* A median of field f (C_FULL: the peak, C_FREED: the end, C_TRIMMED: one
 * phase alone, C_BYTES: one phase's bytes) of row i's runs of (11). */
double phase_rss(const bench_run *run, int i, int f)
{
    const series *s = find_series(run, WL_PHASE, run->opt.phase_a);
    if (s == NULL || i < 0 || !s->ran[i]) {
        return NAN;
    }
    return cold_median(s, (size_t)i, f);
}
