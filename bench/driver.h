/*
 * driver.h - fixalloc_bench's internals: its state and shared functions.
 *
 * Everything a run knows is in one bench_run: the options, the
 * implementations (one row, one worker process each), the series of
 * samples, the noise guard's counts and the start time. main (driver.c)
 * owns it and passes it to every part: options.c fills the options,
 * workers.c, rounds.c, noise.c and instructions.c fill the rows and the
 * series, stats.c and workloads.c read them, and report.c, tables.c,
 * targets.c, csv.c and charts.c print them.
 */
#ifndef FIXALLOC_BENCH_DRIVER_H
#define FIXALLOC_BENCH_DRIVER_H

#include "bench.h"

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#define MAX_ROWS 24
#define MAX_ROUNDS 64
#define MAX_SERIES 64
#define MAX_SIZES 8

/* The command line, with the defaults filled in. */
typedef struct bench_options {
    bool quick, instructions_only, no_instructions;
    bool workload[WL_COUNT + 1];
    size_t sizes[MAX_SIZES];
    size_t nsizes;
    /* (7)'s own table: these sizes; (4)/(7) run at sizes[] and these. */
    size_t trim_sizes[MAX_SIZES];
    size_t ntrim_sizes;
    size_t cold_sizes[2 * MAX_SIZES];
    size_t ncold_sizes;
    const char *impls; /* comma-separated ids, or NULL for all */
    int rounds, cold_rounds;
    int cpu_main, cpu_helper;
    size_t hot_n, batch_n, lifo_reps, shuffle_reps, prodcon_n, pairs2_n;
    size_t mixed_n, mixed_live, larson_n, larson_epochs, larson_live;
    size_t cold_n, mixed_rss_n, instr_n;
    size_t cold_bytes; /* (4)/(7): at most this many bytes of objects */
    size_t phase_a, phase_b, phase_bytes, phase_cycles; /* (11) */
    double retry_budget_ns; /* time allowed for runs done again */
    const char *csv, *gnuplot, *png_prefix;
} bench_options;

/* One implementation: one row of the tables, one worker process. */
typedef struct row {
    const char *exe, *id;
    char name[64], version[64], trim_call[64], trim_none[96];
    unsigned caps;
    bool up;       /* serving */
    char why[320]; /* why not, when not up */
    pid_t pid;
    int cmd_fd, res_fd;
    char buf[512]; /* replies read but not yet consumed */
    size_t buf_len;
    double instr[MAX_SIZES]; /* (1) instructions per pair; < 0: none */
} row;

/* One fresh-process run of (4)/(7), (10) or (11). For (11): rss_full is
 * the peak after a phase's allocation, rss_freed the RSS at the end
 * (everything freed), rss_trimmed after the first phase's allocation, and
 * bytes the bytes of one phase. */
typedef struct cold_sample {
    double init_ns, alloc_ns, free_ns, trim_ns, cpu_ns;
    double rss_full, rss_freed, rss_trimmed, bytes;
    size_t slot;
} cold_sample;

/* The samples of one (workload, size). */
typedef struct series {
    int w;
    size_t size; /* bytes, or BENCH_UNIFORM / BENCH_SKEWED */
    int rounds;
    size_t n; /* objects of a cold run; (11): of all its phases */
    bool ran[MAX_ROWS];
    double ns[MAX_ROWS][MAX_ROUNDS];
    cold_sample cold[MAX_ROWS][MAX_ROUNDS];
} series;

/* The noise guard's counts: rounds run, run again, and kept disturbed. */
typedef struct noise_guard {
    int rounds, redone, kept;
    double spent_ns; /* in runs done again */
} noise_guard;

/* The rows the others are measured against; -1 when not built. */
typedef struct ref_rows {
    int bare, ring, pool, cache, fam; /* fam: fa_malloc */
} ref_rows;

/* Everything one run of fixalloc_bench knows. */
typedef struct bench_run {
    bench_options opt;
    char exe_dir[PATH_MAX]; /* where the worker executables are */
    row rows[MAX_ROWS];
    size_t nrows;
    ref_rows ref;
    series all[MAX_SERIES];
    size_t nseries;
    noise_guard noise;
    uint64_t t_start_ns;
    double start_load; /* 1-minute load average at the start; -1: unknown */
} bench_run;

/* options.c */
void parse_options(bench_options *o, int argc, char **argv);

/* workers.c: the worker processes and the request protocol */
void find_exe_dir(bench_run *run);
pid_t spawn(const bench_run *run, const row *r, char *const *extra,
            char *const *prefix, int *cmd_fd, int *res_fd);
bool read_line(int fd, char *buf, size_t *len, size_t cap, char *line,
               size_t line_cap, int timeout_s);
void reap(pid_t pid, char *why, size_t cap, const char *what);
bool ask(row *r, const char *cmd, char *reply_line, size_t cap, int timeout_s);
void start_workers(bench_run *run);
void stop_workers(bench_run *run);
int row_of(const bench_run *run, const char *id);

/* noise.c: whether other processes disturbed a measurement */
double machine_busy_ns(void);
bool disturbed(double busy0, double cpu_ns, double wall_ns);
bool try_again(bench_run *run, int attempt, int tries, double attempt_ns);

/* rounds.c: the interleaved rounds and the fresh-process runs */
void run_series(bench_run *run, int w, size_t size);
void run_cold_series(bench_run *run, int w, size_t size);

/* instructions.c: instruction counts of (1) under callgrind */
bool have_valgrind(void);
void count_instructions(bench_run *run);

/* workloads.c: names and properties of the workloads */
const char *wl_title(int w);
const char *dist_name(size_t d);
bool is_cold(int w);
bool is_mixed(int w);
bool applicable(const row *r, int w);
bool is_fixalloc(const bench_run *run, int i);
bool is_trim_size(const bench_options *o, size_t size);
size_t cold_objects(const bench_options *o, size_t size);
void size_label(const bench_options *o, int w, size_t size, char *b,
                size_t cap);
bool is_floor(const bench_run *run, int i);
int floor_row(const bench_run *run, int w);
int fixalloc_row(const bench_run *run, int w);

/* stats.c: series and their medians and ratios */
enum { C_ALLOC, C_FREE, C_TRIM, C_FULL, C_FREED, C_TRIMMED, C_BYTES };
series *new_series(bench_run *run, int w, size_t size);
const series *find_series(const bench_run *run, int w, size_t size);
double median(const double *v, int n, double *lo, double *hi);
double med_ns(const series *s, int i, double *lo, double *hi);
double ratio(const series *s, int a, int b);
double cold_median(const series *s, size_t i, int f);
double series_med(const bench_run *run, int w, size_t size, int i);
double cold_metric(const bench_run *run, int w, size_t size, int i, int which);
double phase_rss(const bench_run *run, int i, int f);

/* report.c: the opening of the markdown report */
void fmt_ns(char *b, size_t cap, double v);
void fmt_ratio(char *b, size_t cap, double v);
void print_header(const bench_run *run);
void print_skipped(const bench_run *run);

/* tables.c: the markdown tables */
void print_glance(const bench_run *run);
void print_timed_table(const bench_run *run, int w1, int w2, const char *title);
void print_private(const bench_run *run);
void print_not_served(const bench_run *run, int w, const char *why);
void print_cold_table(const bench_run *run);
void print_mixed_rss_table(const bench_run *run);
void print_trim_table(const bench_run *run);
void print_phase_table(const bench_run *run);

/* targets.c: fixalloc against the best peer and against its targets */
void print_best_peer(const bench_run *run);
void print_targets(const bench_run *run);
void print_instructions_only(const bench_run *run);

/* csv.c */
void write_csv(const bench_run *run, const char *path);

/* charts.c */
void write_gnuplot(const bench_run *run, const char *path);

#endif
