/*
 * driver.c - fixalloc_bench's main: the order of one benchmark run.
 *
 * fixalloc_bench runs every implementation's worker process in interleaved
 * rounds and prints the comparison.
 *
 * Each implementation is one worker process (worker.c), started once with
 * --serve and kept for the whole run. For each workload and size the driver
 * asks every worker to set up, then runs rounds: in round r it asks the
 * workers one after another, in an order rotated by r (A B C, B C A, ...),
 * for one timed run each, so that drift of the machine falls on all of them
 * alike. Only one worker runs at a time. Shown: the median over rounds, the
 * min-max, and the medians of the ratios taken inside each round (to the
 * floor and to fixalloc). Workloads (4), (7), (10) and (11) measure RSS,
 * so each of their runs is a fresh process (--cold, --mixed-rss, --phase).
 * Instruction
 * counts of (1) come from each worker under valgrind's callgrind
 * (--hot-only). Output: markdown on stdout, and on request a CSV file and a
 * gnuplot script that draws the charts.
 *
 * This file owns the order of a run: the options, the workers, each
 * workload in turn, then the report. The parts are in options.c,
 * workers.c, rounds.c, noise.c, instructions.c, workloads.c, stats.c,
 * report.c, tables.c, targets.c, csv.c and charts.c; driver.h declares
 * them and the bench_run they share.
 */
#include "driver.h"

#include <stdarg.h>
#include <time.h>

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void progress(const bench_run *run, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A line on stderr: the seconds since the start, then fmt. */
static void progress(const bench_run *run, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench: [%3.0f s] ",
            (double)(bench_now_ns() - run->t_start_ns) / 1e9);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static double load_average(void)
{
    double load = -1;
    FILE *la = fopen("/proc/loadavg", "r");
    if (la != NULL) {
        if (fscanf(la, "%lf", &load) != 1) {
            load = -1;
        }
        fclose(la);
    }
    return load;
}

int main(int argc, char **argv)
{
    /* Large (the series' samples): static, not on the stack. */
    static bench_run state;
    bench_run *run = &state;
    bench_options *o = &run->opt;
    parse_options(o, argc, argv);
    run->start_load = load_average();
    run->t_start_ns = bench_now_ns();
    find_exe_dir(run);
    setvbuf(stdout, NULL, _IOLBF, 0);
    start_workers(run);
    run->ref.bare = row_of(run, "bare");
    run->ref.ring = row_of(run, "ring");
    run->ref.pool = row_of(run, "fa_pool");
    run->ref.cache = row_of(run, "fa_cache");
    run->ref.fam = row_of(run, "fa_malloc");

    bool instr = !o->no_instructions && (o->instructions_only || !o->quick) &&
                 o->workload[WL_HOT];
    if (instr && !have_valgrind()) {
        fprintf(stderr, "bench: valgrind not found: no instruction counts "
                        "(apt-get install valgrind)\n");
        instr = false;
    }
    if (o->instructions_only) {
        stop_workers(run);
        if (instr) {
            count_instructions(run);
            print_instructions_only(run);
        }
        return 0;
    }
    progress(run, "%zu implementations started", run->nrows);
    static const int timed[] = {WL_HOT, WL_LIFO, WL_SHUFFLE, WL_PRODCON,
                                WL_PAIRS2};
    for (size_t k = 0; k < sizeof timed / sizeof timed[0]; k++) {
        for (size_t z = 0; o->workload[timed[k]] && z < o->nsizes; z++) {
            progress(run, "%s, %zu B", wl_title(timed[k]), o->sizes[z]);
            run_series(run, timed[k], o->sizes[z]);
        }
    }
    for (size_t d = 0; o->workload[WL_MIXED] && d < 2; d++) {
        progress(run, "%s, %s", wl_title(WL_MIXED), dist_name(d));
        run_series(run, WL_MIXED, d);
    }
    if (o->workload[WL_LARSON]) {
        progress(run, "%s", wl_title(WL_LARSON));
        run_series(run, WL_LARSON, BENCH_UNIFORM);
    }
    stop_workers(run);
    for (size_t z = 0; o->workload[WL_COLD] && z < o->ncold_sizes; z++) {
        progress(run, "%s and %s, %zu B", wl_title(WL_COLD), wl_title(WL_TRIM),
                 o->cold_sizes[z]);
        run_cold_series(run, WL_COLD, o->cold_sizes[z]);
    }
    for (size_t d = 0; o->workload[WL_MIXED_RSS] && d < 2; d++) {
        progress(run, "%s, %s", wl_title(WL_MIXED_RSS), dist_name(d));
        run_cold_series(run, WL_MIXED_RSS, d);
    }
    if (o->workload[WL_PHASE]) {
        progress(run, "%s, %zu B then %zu B", wl_title(WL_PHASE), o->phase_a,
                 o->phase_b);
        run_cold_series(run, WL_PHASE, o->phase_a);
    }
    if (instr) {
        progress(run, "instruction counts (valgrind)");
        count_instructions(run);
    }
    double secs = (double)(bench_now_ns() - run->t_start_ns) / 1e9;

    print_header(run);
    print_skipped(run);
    print_glance(run);
    print_timed_table(run, WL_HOT, WL_SHUFFLE,
                      "One thread: (1) hot pairs, (2) "
                      "LIFO batch, (3) shuffled batch");
    print_timed_table(run, WL_PRODCON, WL_PAIRS2,
                      "Two threads: (5) producer/"
                      "consumer, (6) independent hot pairs");
    print_private(run);
    print_not_served(run, WL_PRODCON,
                     "one thread per pool: an object cannot be "
                     "freed by another thread");
    printf("\n");
    print_cold_table(run);
    print_trim_table(run);
    print_timed_table(run, WL_MIXED, WL_LARSON,
                      "Objects of any size: (8) random "
                      "replacement, (9) larson-style, two threads");
    print_mixed_rss_table(run);
    print_phase_table(run);
    print_best_peer(run);
    print_targets(run);
    printf("Measured in %.0f s.\n", secs);
    if (o->csv != NULL) {
        write_csv(run, o->csv);
    }
    if (o->gnuplot != NULL) {
        write_gnuplot(run, o->gnuplot);
    }
    return 0;
}
