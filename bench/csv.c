/*
 * csv.c - every number of the run in a CSV file (--csv).
 *
 * One line per (workload, size, implementation, metric): median, min, max,
 * the ratios to the floor and to fixalloc, and the rounds.
 */
#include "driver.h"

#include <errno.h>
#include <math.h>

static void csv_line(const bench_run *run, FILE *f, int w, const series *s,
                     int i, const char *metric, const char *unit, double med,
                     double lo, double hi, double rf, double rx, int rounds)
{
    char sz[32];
    if (s->w == WL_PHASE) {
        snprintf(sz, sizeof sz, "%zu>%zu", run->opt.phase_a, run->opt.phase_b);
    } else if (is_mixed(s->w)) {
        snprintf(sz, sizeof sz, "%s",
                 s->size == BENCH_UNIFORM ? "uniform" : "skewed");
    } else {
        snprintf(sz, sizeof sz, "%zu", s->size);
    }
    fprintf(f, "%d,\"%s\",%s,%s,\"%s\",%s,%s,%.4f,%.4f,%.4f,", w, wl_title(w),
            sz, run->rows[i].id, run->rows[i].name, metric, unit, med, lo, hi);
    if (isnan(rf)) {
        fprintf(f, ",");
    } else {
        fprintf(f, "%.4f,", rf);
    }
    if (isnan(rx)) {
        fprintf(f, ",");
    } else {
        fprintf(f, "%.4f,", rx);
    }
    fprintf(f, "%d\n", rounds);
}

/* (11): the RSS at the peak, after one phase and at the end, the bytes
 * of a phase; the peak's ratios to fa_malloc's (ratio_to_fixalloc) and to
 * mimalloc's (rss_peak_over_mimalloc). */
static void write_phase(const bench_run *run, FILE *f, const series *s, int i)
{
    int w = s->w, n = s->rounds, mim = row_of(run, "mimalloc");
    double peak = phase_rss(run, i, C_FULL);
    double v = phase_rss(run, run->ref.fam, C_FULL);
    csv_line(run, f, w, s, i, "rss_peak", "bytes", peak, peak, peak, NAN,
             peak / v, n);
    v = phase_rss(run, i, C_TRIMMED);
    csv_line(run, f, w, s, i, "rss_one_phase", "bytes", v, v, v, NAN, NAN, n);
    v = phase_rss(run, i, C_FREED);
    csv_line(run, f, w, s, i, "rss_end_all_freed", "bytes", v, v, v, NAN, NAN,
             n);
    v = phase_rss(run, i, C_BYTES);
    csv_line(run, f, w, s, i, "bytes_per_phase", "bytes", v, v, v, NAN, NAN, n);
    v = peak / phase_rss(run, mim, C_FULL);
    csv_line(run, f, w, s, i, "rss_peak_over_mimalloc", "ratio", v, v, v, NAN,
             NAN, n);
}

void write_csv(const bench_run *run, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
        return;
    }
    fprintf(f, "workload,workload_name,size,impl,impl_name,metric,unit,median,"
               "min,max,ratio_to_floor,ratio_to_fixalloc,rounds\n");
    for (size_t k = 0; k < run->nseries; k++) {
        const series *s = &run->all[k];
        int fl = floor_row(run, s->w), fa = fixalloc_row(run, s->w);
        for (size_t i = 0; i < run->nrows; i++) {
            if (!s->ran[i]) {
                continue;
            }
            double lo, hi, med = med_ns(s, (int)i, &lo, &hi);
            int w = s->w, n = s->rounds;
            csv_line(run, f, w, s, (int)i,
                     is_cold(w) ? "ns_per_object" : "ns_per_pair", "ns", med,
                     lo, hi, ratio(s, (int)i, fl), ratio(s, (int)i, fa), n);
            if (w == WL_HOT) {
                for (size_t z = 0; z < run->opt.nsizes; z++) {
                    if (run->opt.sizes[z] == s->size &&
                        run->rows[i].instr[z] >= 0) {
                        double v = run->rows[i].instr[z];
                        csv_line(run, f, w, s, (int)i, "instructions_per_pair",
                                 "instructions", v, v, v, NAN, NAN, 1);
                    }
                }
            }
            if (w == WL_PHASE) {
                write_phase(run, f, s, (int)i);
                continue;
            }
            if (!is_cold(w)) {
                continue;
            }
            /* (7)'s numbers come from (4)'s runs. */
            int wt = w == WL_COLD ? WL_TRIM : w;
            int m0 = w == WL_COLD ? 0 : 2, m1 = w == WL_COLD ? 1 : 3;
            double v = cold_metric(run, w, s->size, (int)i, m0);
            csv_line(run, f, w, s, (int)i,
                     w == WL_COLD ? "rss_per_object" : "rss_per_byte", "bytes",
                     v, v, v, NAN, NAN, n);
            v = cold_metric(run, w, s->size, (int)i, m1);
            csv_line(run, f, wt, s, (int)i,
                     w == WL_COLD ? "rss_per_live_object_after_trim"
                                  : "rss_per_live_byte_after_trim",
                     "bytes", v, v, v, NAN, NAN, n);
            v = cold_median(s, i, C_FULL);
            csv_line(run, f, w, s, (int)i, "rss_all_live", "bytes", v, v, v,
                     NAN, NAN, n);
            v = cold_median(s, i, C_FREED);
            csv_line(run, f, wt, s, (int)i, "rss_after_free_90", "bytes", v, v,
                     v, NAN, NAN, n);
            v = cold_median(s, i, C_TRIMMED);
            csv_line(run, f, wt, s, (int)i, "rss_after_trim", "bytes", v, v, v,
                     NAN, NAN, n);
            v = cold_median(s, i, C_TRIM);
            csv_line(run, f, wt, s, (int)i, "trim_call_time", "ns", v, v, v,
                     NAN, NAN, n);
            v = cold_median(s, i, C_FREED) - cold_median(s, i, C_TRIMMED);
            csv_line(run, f, wt, s, (int)i, "rss_given_back_by_trim", "bytes",
                     v, v, v, NAN, NAN, n);
            if (w == WL_COLD) {
                v = (double)s->n;
                csv_line(run, f, w, s, (int)i, "objects", "objects", v, v, v,
                         NAN, NAN, n);
            }
        }
    }
    fclose(f);
}
