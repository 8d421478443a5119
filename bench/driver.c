/*
 * driver.c - fixalloc_bench: runs every implementation's worker process
 * in interleaved rounds and prints the comparison.
 *
 * Each implementation is one worker process (worker.c), started once with
 * --serve and kept for the whole run. For each workload and size the driver
 * asks every worker to set up, then runs rounds: in round r it asks the
 * workers one after another, in an order rotated by r (A B C, B C A, ...),
 * for one timed run each, so that drift of the machine falls on all of them
 * alike. Only one worker runs at a time. Shown: the median over rounds, the
 * min-max, and the medians of the ratios taken inside each round (to the
 * floor and to fixalloc). Workloads (4), (7) and (10) measure RSS, so each
 * of their runs is a fresh process (--cold, --mixed-rss). Instruction
 * counts of (1) come from each worker under valgrind's callgrind
 * (--hot-only). Output: markdown on stdout, and on request a CSV file and a
 * gnuplot script that draws the charts.
 */
#include "bench.h"
#include "bench_config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROWS 24
#define MAX_ROUNDS 64
#define MAX_SERIES 64
#define MAX_SIZES 8

/* ---------------------------------------------------------------------
 * Implementations: one row, one worker process
 * ------------------------------------------------------------------- */

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

static row rows[MAX_ROWS];

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
static size_t nrows;
static char exe_dir[PATH_MAX];

static struct {
    int rounds, redone, kept;
    double spent_ns;  /* in runs done again */
    double budget_ns; /* at most that much */
} noise;

/* After a disturbed attempt: whether to run it again (attempts of at most
 * `tries`, within the run's time budget for retries). */
static bool try_again(int attempt, int tries, double attempt_ns)
{
    if (attempt + 1 >= tries || noise.spent_ns + attempt_ns > noise.budget_ns) {
        noise.kept++;
        return false;
    }
    noise.spent_ns += attempt_ns;
    noise.redone++;
    return true;
}

/* ---------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------- */

static struct options {
    bool quick, instructions_only, no_instructions;
    bool workload[WL_COUNT + 1];
    size_t sizes[MAX_SIZES];
    size_t nsizes;
    const char *impls; /* comma-separated ids, or NULL for all */
    int rounds, cold_rounds;
    int cpu_main, cpu_helper;
    size_t hot_n, batch_n, lifo_reps, shuffle_reps, prodcon_n, pairs2_n;
    size_t mixed_n, mixed_live, larson_n, larson_epochs, larson_live;
    size_t cold_n, mixed_rss_n, instr_n;
    const char *csv, *gnuplot, *png_prefix;
} o;

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: fixalloc_bench [options]\n"
        "  --quick              fewer rounds, smaller counts (< 1 minute)\n"
        "  --workload LIST      e.g. 1,3,5 (default: 1-10; 7 comes with 4)\n"
        "  --size LIST          object sizes (default 16,64,256)\n"
        "  --impl LIST          implementations by id (default: all; --list)\n"
        "  --rounds N           rounds of the timed workloads\n"
        "  --cold-rounds N      rounds of workloads 4/7 and 10\n"
        "  --cold-objects N     objects of workloads 4/7 (default 10M)\n"
        "  --cpu A,B            CPUs of the main and the helper thread\n"
        "  --no-instructions    skip the valgrind instruction counts\n"
        "  --instructions       only the instruction counts of (1)\n"
        "  --csv FILE           write every number to FILE\n"
        "  --gnuplot FILE       write a gnuplot script drawing the charts\n"
        "  --png-prefix P       ... into P<chart>.png (default bench-)\n"
        "  --list               list the implementations built\n");
}

static size_t parse_num(const char *s, const char *what)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s) {
        fprintf(stderr, "bench: bad %s '%s'\n", what, s);
        exit(2);
    }
    if (*end == 'k' || *end == 'K') {
        v *= 1000;
        end++;
    } else if (*end == 'M') {
        v *= 1000000;
        end++;
    }
    if (*end != '\0') {
        fprintf(stderr, "bench: bad %s '%s'\n", what, s);
        exit(2);
    }
    return (size_t)v;
}

static const char *need_arg(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "bench: %s needs an argument\n", argv[*i]);
        exit(2);
    }
    return argv[++*i];
}

/* The CPUs: the main thread on the last CPU allowed, the helper on the one
 * before it (the same one on a single CPU). */
static void default_cpus(void)
{
    cpu_set_t set;
    o.cpu_main = o.cpu_helper = -1;
    if (sched_getaffinity(0, sizeof set, &set) != 0) {
        return;
    }
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (CPU_ISSET((size_t)c, &set)) {
            o.cpu_helper = o.cpu_main;
            o.cpu_main = c;
        }
    }
    if (o.cpu_helper < 0) {
        o.cpu_helper = o.cpu_main;
    }
}

static void parse_options(int argc, char **argv)
{
    bool any_wl = false, list = false;
    o.rounds = o.cold_rounds = 0;
    default_cpus();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--quick") == 0) {
            o.quick = true;
        } else if (strcmp(a, "--workload") == 0) {
            char buf[128];
            snprintf(buf, sizeof buf, "%s", need_arg(argc, argv, &i));
            for (char *save = NULL, *t = strtok_r(buf, ",", &save); t != NULL;
                 t = strtok_r(NULL, ",", &save)) {
                size_t w = parse_num(t, "workload");
                if (w < 1 || w > WL_COUNT) {
                    fprintf(stderr, "bench: workloads are 1 to %d\n", WL_COUNT);
                    exit(2);
                }
                o.workload[w] = true;
                any_wl = true;
            }
        } else if (strcmp(a, "--size") == 0) {
            char buf[128];
            snprintf(buf, sizeof buf, "%s", need_arg(argc, argv, &i));
            for (char *save = NULL, *t = strtok_r(buf, ",", &save); t != NULL;
                 t = strtok_r(NULL, ",", &save)) {
                if (o.nsizes == MAX_SIZES) {
                    fprintf(stderr, "bench: at most %d sizes\n", MAX_SIZES);
                    exit(2);
                }
                o.sizes[o.nsizes++] = parse_num(t, "size");
                if (o.sizes[o.nsizes - 1] == 0) {
                    fprintf(stderr, "bench: size 0\n");
                    exit(2);
                }
            }
        } else if (strcmp(a, "--impl") == 0) {
            o.impls = need_arg(argc, argv, &i);
        } else if (strcmp(a, "--rounds") == 0) {
            o.rounds = (int)parse_num(need_arg(argc, argv, &i), "rounds");
        } else if (strcmp(a, "--cold-rounds") == 0) {
            o.cold_rounds = (int)parse_num(need_arg(argc, argv, &i), "rounds");
        } else if (strcmp(a, "--cold-objects") == 0) {
            o.cold_n = parse_num(need_arg(argc, argv, &i), "count");
        } else if (strcmp(a, "--cpu") == 0) {
            if (sscanf(need_arg(argc, argv, &i), "%d,%d", &o.cpu_main,
                       &o.cpu_helper) != 2) {
                fprintf(stderr, "bench: --cpu A,B\n");
                exit(2);
            }
        } else if (strcmp(a, "--no-instructions") == 0) {
            o.no_instructions = true;
        } else if (strcmp(a, "--instructions") == 0) {
            o.instructions_only = true;
        } else if (strcmp(a, "--csv") == 0) {
            o.csv = need_arg(argc, argv, &i);
        } else if (strcmp(a, "--gnuplot") == 0) {
            o.gnuplot = need_arg(argc, argv, &i);
        } else if (strcmp(a, "--png-prefix") == 0) {
            o.png_prefix = need_arg(argc, argv, &i);
        } else if (strcmp(a, "--list") == 0) {
            list = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else {
            fprintf(stderr, "bench: unknown option '%s'\n", a);
            usage(stderr);
            exit(2);
        }
    }
    if (list) {
        for (size_t k = 0; k < sizeof bench_workers / sizeof bench_workers[0];
             k++) {
            printf("%-18s %s\n", bench_workers[k].impl, bench_workers[k].exe);
        }
        for (size_t k = 0; bench_missing[k].peer != NULL; k++) {
            printf("%-18s not built: %s missing\n", bench_missing[k].peer,
                   bench_missing[k].package);
        }
        exit(0);
    }
    if (o.nsizes == 0) {
        o.sizes[0] = 16;
        o.sizes[1] = 64;
        o.sizes[2] = 256;
        o.nsizes = 3;
    }
    for (int w = 1; w <= WL_COUNT; w++) {
        o.workload[w] = o.workload[w] || !any_wl;
    }
    o.workload[WL_TRIM] = o.workload[WL_TRIM] || o.workload[WL_COLD];
    o.workload[WL_COLD] = o.workload[WL_COLD] || o.workload[WL_TRIM];
    bool q = o.quick;
    if (o.rounds == 0) {
        o.rounds = q ? 3 : 11;
    }
    if (o.cold_rounds == 0) {
        o.cold_rounds = 1;
    }
    if (o.rounds > MAX_ROUNDS || o.cold_rounds > MAX_ROUNDS) {
        fprintf(stderr, "bench: at most %d rounds\n", MAX_ROUNDS);
        exit(2);
    }
    o.hot_n = q ? 300000 : 2000000;
    o.batch_n = 100000;
    o.lifo_reps = q ? 1 : 5;
    o.shuffle_reps = q ? 1 : 3;
    o.prodcon_n = q ? 100000 : 300000;
    o.pairs2_n = q ? 300000 : 2000000;
    o.mixed_live = 8192;
    o.mixed_n = q ? 200000 : 1000000;
    o.larson_live = 2048;
    o.larson_n = q ? 50000 : 100000;
    o.larson_epochs = q ? 2 : 5;
    if (o.cold_n == 0) {
        o.cold_n = q ? 500000 : 10000000;
    }
    o.mixed_rss_n = q ? 200000 : 1000000;
    o.instr_n = 100000;
    noise.budget_ns = q ? 10e9 : 90e9;
    if (o.png_prefix == NULL) {
        o.png_prefix = "bench-";
    }
}

/* ---------------------------------------------------------------------
 * Worker processes
 * ------------------------------------------------------------------- */

static void find_exe_dir(void)
{
    ssize_t n = readlink("/proc/self/exe", exe_dir, sizeof exe_dir - 1);
    if (n <= 0) {
        perror("bench: readlink /proc/self/exe");
        exit(1);
    }
    exe_dir[n] = '\0';
    char *slash = strrchr(exe_dir, '/');
    if (slash != NULL) {
        *slash = '\0';
    }
}

/* Starts `exe --impl id --cpu A,B extra...`, with its stdin from a pipe
 * (*cmd_fd, or /dev/null when cmd_fd is NULL) and its fd 3 into a pipe
 * (*res_fd); its stdout goes to our stderr. With `prefix` (valgrind ...)
 * the command is run under it. Returns the pid. */
static pid_t spawn(const row *r, char *const *extra, char *const *prefix,
                   int *cmd_fd, int *res_fd)
{
    char path[PATH_MAX + 64], cpus[32];
    snprintf(path, sizeof path, "%s/%s", exe_dir, r->exe);
    snprintf(cpus, sizeof cpus, "%d,%d", o.cpu_main, o.cpu_helper);
    char *argv[48];
    size_t k = 0;
    for (; prefix != NULL && *prefix != NULL; prefix++) {
        argv[k++] = *prefix;
    }
    argv[k++] = path;
    argv[k++] = (char *)"--impl";
    argv[k++] = (char *)(uintptr_t)r->id;
    argv[k++] = (char *)"--cpu";
    argv[k++] = cpus;
    for (; *extra != NULL && k < 46; extra++) {
        argv[k++] = *extra;
    }
    argv[k] = NULL;
    int in[2] = {-1, -1}, res[2];
    if ((cmd_fd != NULL && pipe(in) != 0) || pipe(res) != 0) {
        perror("bench: pipe");
        exit(1);
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("bench: fork");
        exit(1);
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        dup2(cmd_fd != NULL ? in[0] : null, 0);
        dup2(2, 1);
        dup2(res[1], 3);
        for (int fd = 4; fd < 256; fd++) {
            close(fd);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "bench: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (cmd_fd != NULL) {
        close(in[0]);
        *cmd_fd = in[1];
    }
    close(res[1]);
    *res_fd = res[0];
    return pid;
}

/* Reads one line from fd into line (buffered in buf/len), waiting at most
 * timeout_s. Returns false on EOF, error or timeout. */
static bool read_line(int fd, char *buf, size_t *len, size_t cap, char *line,
                      size_t line_cap, int timeout_s)
{
    for (;;) {
        char *nl = memchr(buf, '\n', *len);
        if (nl != NULL) {
            size_t n = (size_t)(nl - buf);
            size_t c = n < line_cap - 1 ? n : line_cap - 1;
            memcpy(line, buf, c);
            line[c] = '\0';
            memmove(buf, nl + 1, *len - n - 1);
            *len -= n + 1;
            return true;
        }
        if (*len == cap) {
            *len = 0; /* an absurd line: drop it */
        }
        struct pollfd p = {fd, POLLIN, 0};
        int k = poll(&p, 1, timeout_s * 1000);
        if (k <= 0) {
            return false;
        }
        ssize_t got = read(fd, buf + *len, cap - *len);
        if (got <= 0) {
            return false;
        }
        *len += (size_t)got;
    }
}

/* Describes how process pid ended (it has exited or is killed now). */
static void reap(pid_t pid, char *why, size_t cap, const char *what)
{
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        snprintf(why, cap, "%s: no answer in time (killed)", what);
    } else if (WIFSIGNALED(status)) {
        snprintf(why, cap, "%s: killed by signal %d (%s)", what,
                 WTERMSIG(status), strsignal(WTERMSIG(status)));
    } else {
        snprintf(why, cap, "%s: exited with status %d", what,
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
}

/* ---------------------------------------------------------------------
 * Noise guard: CPU time the whole machine spent (busy and stolen) against
 * the CPU time of the process measured. What is left is other processes';
 * a round in which they took more than a quarter of a CPU is run again
 * (twice at most), so that a shared machine does not skew one round.
 * ------------------------------------------------------------------- */

static double machine_busy_ns(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL) {
        return NAN;
    }
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
                   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 4) {
        return NAN;
    }
    /* user nice system idle iowait irq softirq steal: all but idle, iowait */
    double busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]);
    return busy * 1e9 / (double)sysconf(_SC_CLK_TCK);
}

/* Whether other processes took more than a quarter of a CPU over `wall`
 * ns, given the busy time before and the measured process's CPU time;
 * allows two clock ticks per CPU of slack for /proc/stat's resolution. */
static bool disturbed(double busy0, double cpu_ns, double wall_ns)
{
    double busy1 = machine_busy_ns();
    if (isnan(busy0) || isnan(busy1)) {
        return false;
    }
    double slack = 2.0 * (double)sysconf(_SC_NPROCESSORS_ONLN) * 1e9 /
                   (double)sysconf(_SC_CLK_TCK);
    if (getenv("BENCH_NOISE_DEBUG") != NULL) {
        fprintf(stderr,
                "noise: others %.1f ms over %.1f ms (measured %.1f ms)\n",
                (busy1 - busy0 - cpu_ns) / 1e6, wall_ns / 1e6, cpu_ns / 1e6);
    }
    return busy1 - busy0 - cpu_ns > 0.25 * wall_ns + slack;
}

static void row_down(row *r, const char *what)
{
    if (!r->up) {
        return;
    }
    r->up = false;
    close(r->cmd_fd);
    close(r->res_fd);
    reap(r->pid, r->why, sizeof r->why, what);
    fprintf(stderr, "bench: %s stopped: %s\n", r->id, r->why);
}

/* Sends a command and reads the reply line; false when the worker died. */
static bool ask(row *r, const char *cmd, char *reply_line, size_t cap,
                int timeout_s)
{
    size_t n = strlen(cmd);
    if (write(r->cmd_fd, cmd, n) != (ssize_t)n) {
        row_down(r, "worker");
        return false;
    }
    if (!read_line(r->res_fd, r->buf, &r->buf_len, sizeof r->buf, reply_line,
                   cap, timeout_s)) {
        row_down(r, "worker");
        return false;
    }
    return true;
}

static bool selected(const char *id)
{
    if (o.impls == NULL) {
        return true;
    }
    size_t n = strlen(id);
    for (const char *p = o.impls; (p = strstr(p, id)) != NULL; p += n) {
        if ((p == o.impls || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) {
            return true;
        }
    }
    return false;
}

/* Copies tab-separated field k of s into dst. */
static void field(const char *s, int k, char *dst, size_t cap)
{
    for (; k > 0 && s != NULL; k--) {
        s = strchr(s, '\t');
        s = s != NULL ? s + 1 : NULL;
    }
    size_t n = 0;
    if (s != NULL) {
        n = strcspn(s, "\t\n");
    }
    if (n >= cap) {
        n = cap - 1;
    }
    memcpy(dst, s != NULL ? s : "", n);
    dst[n] = '\0';
}

static void start_workers(void)
{
    signal(SIGPIPE, SIG_IGN);
    for (size_t k = 0; k < sizeof bench_workers / sizeof bench_workers[0];
         k++) {
        if (!selected(bench_workers[k].impl) || nrows == MAX_ROWS) {
            continue;
        }
        row *r = &rows[nrows++];
        memset(r, 0, sizeof *r);
        r->exe = bench_workers[k].exe;
        r->id = bench_workers[k].impl;
        snprintf(r->name, sizeof r->name, "%s", r->id);
        for (size_t z = 0; z < MAX_SIZES; z++) {
            r->instr[z] = -1;
        }
        char *extra[] = {(char *)"--serve", NULL};
        r->pid = spawn(r, extra, NULL, &r->cmd_fd, &r->res_fd);
        r->up = true;
        char line[512];
        if (!read_line(r->res_fd, r->buf, &r->buf_len, sizeof r->buf, line,
                       sizeof line, 120)) {
            row_down(r, "worker at start");
            continue;
        }
        if (strncmp(line, "ready\t", 6) == 0) {
            char f[128];
            field(line, 1, f, sizeof f);
            r->caps = (unsigned)strtoul(f, NULL, 10);
            field(line, 2, r->version, sizeof r->version);
            field(line, 3, r->name, sizeof r->name);
            field(line, 4, r->trim_call, sizeof r->trim_call);
            field(line, 5, r->trim_none, sizeof r->trim_none);
        } else {
            snprintf(r->why, sizeof r->why, "%.300s",
                     strncmp(line, "unavailable ", 12) == 0 ? line + 12 : line);
            r->up = false;
            close(r->cmd_fd);
            close(r->res_fd);
            waitpid(r->pid, NULL, 0);
            fprintf(stderr, "bench: %s: %s\n", r->id, r->why);
        }
    }
}

static void stop_workers(void)
{
    for (size_t i = 0; i < nrows; i++) {
        if (rows[i].up && rows[i].pid > 0) {
            if (write(rows[i].cmd_fd, "quit\n", 5) < 0) {
                /* it is gone anyway */
            }
            close(rows[i].cmd_fd);
            close(rows[i].res_fd);
            waitpid(rows[i].pid, NULL, 0);
        }
    }
}

static int row_of(const char *id)
{
    for (size_t i = 0; i < nrows; i++) {
        if (strcmp(rows[i].id, id) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static bool applicable(const row *r, int w)
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
    case WL_MIXED_RSS: return (c & BENCH_VAR) != 0;
    case WL_LARSON: return (c & BENCH_VAR) && (c & BENCH_REMOTE);
    default: return (c & BENCH_FIXED) != 0;
    }
}

/* ---------------------------------------------------------------------
 * Series: the samples of one (workload, size)
 * ------------------------------------------------------------------- */

typedef struct cold_sample {
    double init_ns, alloc_ns, free_ns, trim_ns, cpu_ns;
    double rss_full, rss_freed, rss_trimmed, bytes;
    size_t slot;
} cold_sample;

typedef struct series {
    int w;
    size_t size; /* bytes, or BENCH_UNIFORM / BENCH_SKEWED */
    int rounds;
    size_t n; /* objects of a cold run */
    bool ran[MAX_ROWS];
    double ns[MAX_ROWS][MAX_ROUNDS];
    cold_sample cold[MAX_ROWS][MAX_ROUNDS];
} series;

static series all[MAX_SERIES];
static size_t nseries;

static uint64_t t_start;

static void progress(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static void progress(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench: [%3.0f s] ",
            (double)(bench_now_ns() - t_start) / 1e9);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static bool is_cold(int w)
{
    return w == WL_COLD || w == WL_MIXED_RSS;
}

static bool is_mixed(int w)
{
    return w >= WL_MIXED;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n, double *lo, double *hi)
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

static double med_ns(const series *s, int i, double *lo, double *hi)
{
    return median(s->ns[i], s->rounds, lo, hi);
}

/* The median over rounds of ns[a] / ns[b], each ratio taken in one round;
 * NAN when either did not run. */
static double ratio(const series *s, int a, int b)
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

/* A median of one field of the cold samples. */
enum { C_ALLOC, C_FREE, C_TRIM, C_FULL, C_FREED, C_TRIMMED, C_BYTES };

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

static double cold_median(const series *s, size_t i, int f)
{
    double v[MAX_ROUNDS];
    for (int k = 0; k < s->rounds; k++) {
        v[k] = cold_field(&s->cold[i][k], f);
    }
    return median(v, s->rounds, NULL, NULL);
}

static series *new_series(int w, size_t size)
{
    if (nseries == MAX_SERIES) {
        fprintf(stderr, "bench: too many series\n");
        exit(1);
    }
    series *s = &all[nseries++];
    memset(s, 0, sizeof *s);
    s->w = w;
    s->size = size;
    return s;
}

static series *find_series(int w, size_t size)
{
    for (size_t k = 0; k < nseries; k++) {
        if (all[k].w == w && all[k].size == size) {
            return &all[k];
        }
    }
    return NULL;
}

/* Rounds of a timed workload, the workers interleaved. */
static void run_series(int w, size_t size)
{
    series *s = new_series(w, size);
    s->rounds = o.rounds;
    size_t n = 0, reps = 0, live = 0;
    switch (w) {
    case WL_HOT: n = o.hot_n; break;
    case WL_LIFO:
        n = o.batch_n;
        reps = o.lifo_reps;
        break;
    case WL_SHUFFLE:
        n = o.batch_n;
        reps = o.shuffle_reps;
        break;
    case WL_PRODCON: n = o.prodcon_n; break;
    case WL_PAIRS2: n = o.pairs2_n; break;
    case WL_MIXED:
        n = o.mixed_n;
        live = o.mixed_live;
        break;
    case WL_LARSON:
        n = o.larson_n;
        reps = o.larson_epochs;
        live = o.larson_live;
        break;
    default: abort();
    }
    char cmd[128], line[512];
    snprintf(cmd, sizeof cmd, "begin %d %zu %zu %zu %zu\n", w, size, n, reps,
             live);
    int order[MAX_ROWS], m = 0;
    for (size_t i = 0; i < nrows; i++) {
        if (!rows[i].up || !applicable(&rows[i], w)) {
            continue;
        }
        if (ask(&rows[i], cmd, line, sizeof line, 300) &&
            strcmp(line, "ok") == 0) {
            order[m++] = (int)i;
            s->ran[i] = true;
        } else if (rows[i].up) {
            fprintf(stderr, "bench: %s, workload %d: %s\n", rows[i].id, w,
                    line);
        }
    }
    for (int r = 0; r < s->rounds; r++) {
        for (int attempt = 0;; attempt++) {
            double busy0 = machine_busy_ns(), cpu = 0;
            uint64_t t0 = bench_now_ns();
            for (int k = 0; k < m; k++) {
                int i = order[(k + r) % m];
                unsigned long long ns, pairs;
                long long cpu_ns;
                if (!s->ran[i]) {
                    continue;
                }
                if (!ask(&rows[i], "run\n", line, sizeof line, 300) ||
                    sscanf(line, "ok %llu %llu %lld", &ns, &pairs, &cpu_ns) !=
                        3 ||
                    pairs == 0) {
                    s->ran[i] = false;
                    continue;
                }
                s->ns[i][r] = (double)ns / (double)pairs;
                cpu += (double)cpu_ns;
            }
            noise.rounds += attempt == 0;
            double wall = (double)(bench_now_ns() - t0);
            if (!disturbed(busy0, cpu, wall) || !try_again(attempt, 3, wall)) {
                break;
            }
        }
    }
    for (int k = 0; k < m; k++) {
        if (rows[order[k]].up) {
            ask(&rows[order[k]], "end\n", line, sizeof line, 300);
        }
    }
}

/* One fresh process: --cold SIZE N or --mixed-rss DIST N. */
static bool run_cold_once(row *r, int w, size_t size, size_t n,
                          cold_sample *out)
{
    char a1[32], a2[32], line[512];
    snprintf(a1, sizeof a1, "%zu", size);
    snprintf(a2, sizeof a2, "%zu", n);
    char *extra[] = {(char *)(w == WL_COLD ? "--cold" : "--mixed-rss"), a1, a2,
                     NULL};
    int res_fd;
    pid_t pid = spawn(r, extra, NULL, NULL, &res_fd);
    char buf[512];
    size_t len = 0;
    bool got = read_line(res_fd, buf, &len, sizeof buf, line, sizeof line, 600);
    close(res_fd);
    char why[320];
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    int status;
    if (got && wait4(pid, &status, 0, &ru) == pid) {
        snprintf(why, sizeof why, "cold run ended");
    } else {
        reap(pid, why, sizeof why, "cold run");
    }
    out->cpu_ns = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 +
                  (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
    unsigned long long in, an, fn, tn, bytes;
    long full, freed, trimmed;
    size_t slot;
    if (!got ||
        sscanf(line, "ok %llu %llu %llu %llu %ld %ld %ld %llu %zu", &in, &an,
               &fn, &tn, &full, &freed, &trimmed, &bytes, &slot) != 9) {
        fprintf(stderr, "bench: %s, workload %d, %zu: %s\n", r->id, w, size,
                got ? line : why);
        return false;
    }
    out->init_ns = (double)in;
    out->alloc_ns = (double)an;
    out->free_ns = (double)fn;
    out->trim_ns = (double)tn;
    out->rss_full = (double)full;
    out->rss_freed = (double)freed;
    out->rss_trimmed = (double)trimmed;
    out->bytes = (double)bytes;
    out->slot = slot;
    return true;
}

static void run_cold_series(int w, size_t size)
{
    series *s = new_series(w, size);
    s->rounds = o.cold_rounds;
    s->n = w == WL_COLD ? o.cold_n : o.mixed_rss_n;
    int order[MAX_ROWS], m = 0;
    for (size_t i = 0; i < nrows; i++) {
        if (rows[i].up && applicable(&rows[i], w)) {
            order[m++] = (int)i;
            s->ran[i] = true;
        }
    }
    for (int r = 0; r < s->rounds; r++) {
        for (int k = 0; k < m; k++) {
            int i = order[(k + r) % m];
            /* One more try when other processes ran meanwhile. */
            for (int attempt = 0; s->ran[i]; attempt++) {
                double busy0 = machine_busy_ns();
                uint64_t t0 = bench_now_ns();
                if (!run_cold_once(&rows[i], w, size, s->n, &s->cold[i][r])) {
                    s->ran[i] = false;
                    break;
                }
                noise.rounds += attempt == 0;
                double wall = (double)(bench_now_ns() - t0);
                if (!disturbed(busy0, s->cold[i][r].cpu_ns, wall) ||
                    !try_again(attempt, 2, wall)) {
                    break;
                }
            }
            cold_sample *c = &s->cold[i][r];
            s->ns[i][r] =
                (c->init_ns + c->alloc_ns + c->free_ns) / (double)s->n;
        }
    }
}

/* ---------------------------------------------------------------------
 * Instruction counts of (1): each worker's --hot-only under callgrind,
 * collection on only around the loop, one dump per size.
 * ------------------------------------------------------------------- */

static bool have_valgrind(void)
{
    return system("valgrind --version >/dev/null 2>&1") == 0;
}

static void count_instructions(void)
{
    char dir[1024];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/fixalloc-bench-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : P_tmpdir);
    if (mkdtemp(dir) == NULL) {
        perror("bench: mkdtemp");
        return;
    }
    char sizes[128] = "";
    for (size_t z = 0; z < o.nsizes; z++) {
        size_t l = strlen(sizes);
        snprintf(sizes + l, sizeof sizes - l, "%s%zu", z ? "," : "",
                 o.sizes[z]);
    }
    char n[32];
    snprintf(n, sizeof n, "%zu", o.instr_n);
    setenv("FIXALLOC_TRACK", "0", 1); /* the production fast path */
    for (size_t i = 0; i < nrows; i++) {
        row *r = &rows[i];
        if (!r->up || !applicable(r, WL_HOT)) {
            continue;
        }
        char outfile[PATH_MAX];
        snprintf(outfile, sizeof outfile, "--callgrind-out-file=%s/%s", dir,
                 r->id);
        char *prefix[] = {(char *)"valgrind",
                          (char *)"--tool=callgrind",
                          (char *)"--collect-atstart=no",
                          (char *)"--dump-line=no",
                          outfile,
                          NULL};
        char *extra[] = {(char *)"--hot-only", n, sizes, NULL};
        int res_fd;
        int devnull = open("/dev/null", O_WRONLY);
        int saved = dup(2);
        dup2(devnull, 2); /* valgrind's chatter */
        pid_t pid = spawn(r, extra, prefix, NULL, &res_fd);
        dup2(saved, 2);
        close(saved);
        close(devnull);
        char buf[256];
        while (read(res_fd, buf, sizeof buf) > 0) {
        }
        close(res_fd);
        int status;
        waitpid(pid, &status, 0);
        /* Dumps: <file>.1, .2, ... one per size, in order. */
        for (size_t z = 0; z < o.nsizes; z++) {
            char path[PATH_MAX + 32];
            snprintf(path, sizeof path, "%s/%s.%zu", dir, r->id, z + 1);
            FILE *f = fopen(path, "r");
            if (f == NULL) {
                continue;
            }
            char line[512];
            double total = -1;
            while (fgets(line, sizeof line, f) != NULL) {
                if (strncmp(line, "totals:", 7) == 0 ||
                    strncmp(line, "summary:", 8) == 0) {
                    total = strtod(strchr(line, ':') + 1, NULL);
                }
            }
            fclose(f);
            unlink(path);
            if (total >= 0) {
                r->instr[z] = total / (double)o.instr_n;
            }
        }
        char path[PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/%s", dir, r->id);
        unlink(path);
    }
    rmdir(dir);
}

/* ---------------------------------------------------------------------
 * Output
 * ------------------------------------------------------------------- */

static int R_BARE, R_RING, R_POOL, R_CACHE, R_MALLOC;

static bool is_fixalloc(int i)
{
    return strncmp(rows[i].id, "fa_", 3) == 0;
}

static bool is_floor(int i)
{
    return i == R_BARE || i == R_RING;
}

static const char *wl_title(int w)
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
    default: return "?";
    }
}

static const char *dist_name(size_t d)
{
    return d == BENCH_UNIFORM ? "16-1024 uniform" : "16-1024 skewed";
}

/* The floor of workload w and fixalloc's row for it. */
static int floor_row(int w)
{
    switch (w) {
    case WL_HOT:
    case WL_LIFO:
    case WL_SHUFFLE:
    case WL_COLD:
    case WL_PAIRS2: return R_BARE;
    case WL_PRODCON: return R_RING;
    default: return -1;
    }
}

static int fixalloc_row(int w)
{
    if (w == WL_PRODCON || w == WL_PAIRS2) {
        return R_CACHE;
    }
    if (is_mixed(w)) {
        return R_MALLOC;
    }
    return R_POOL;
}

static void fmt_ns(char *b, size_t cap, double v)
{
    if (isnan(v)) {
        snprintf(b, cap, "-");
    } else if (v < 10) {
        snprintf(b, cap, "%.2f", v);
    } else if (v < 1000) {
        snprintf(b, cap, "%.1f", v);
    } else {
        snprintf(b, cap, "%.0f", v);
    }
}

static void fmt_ratio(char *b, size_t cap, double v)
{
    if (isnan(v)) {
        snprintf(b, cap, "-");
    } else {
        snprintf(b, cap, "%.2fx", v);
    }
}

static double series_med(int w, size_t size, int i)
{
    const series *s = find_series(w, size);
    if (s == NULL || i < 0 || !s->ran[i]) {
        return NAN;
    }
    return med_ns(s, i, NULL, NULL);
}

/* RSS bytes per object (4), per live object after trim (7), per byte
 * requested (10, full), per live byte after trim (10). */
static double cold_metric(int w, size_t size, int i, int which)
{
    const series *s = find_series(w, size);
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

/* Prints one at-a-glance row; values[] lower is better; bold the best of
 * the rows that are neither floors nor absent. */
typedef struct glance_col {
    const char *title;
    double v[MAX_ROWS];
    int best;
} glance_col;

static void glance_table(glance_col *cols, int ncols, bool mixed)
{
    for (int c = 0; c < ncols; c++) {
        cols[c].best = -1;
        for (size_t i = 0; i < nrows; i++) {
            double v = cols[c].v[i];
            if (!isnan(v) && !is_floor((int)i) &&
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
    for (size_t i = 0; i < nrows; i++) {
        bool any = false;
        for (int c = 0; c < ncols; c++) {
            any = any || !isnan(cols[c].v[i]);
        }
        if (!any || (mixed && !(rows[i].caps & BENCH_VAR))) {
            continue;
        }
        printf("| %s%s%s |", is_fixalloc((int)i) ? "**" : "", rows[i].name,
               is_fixalloc((int)i) ? "**" : "");
        for (int c = 0; c < ncols; c++) {
            char b[32];
            fmt_ns(b, sizeof b, cols[c].v[i]);
            bool best = cols[c].best == (int)i;
            printf(" %s%s%s |", best ? "**" : "", b, best ? "**" : "");
        }
        printf("\n");
    }
}

static size_t glance_size(void)
{
    for (size_t z = 0; z < o.nsizes; z++) {
        if (o.sizes[z] == 64) {
            return 64;
        }
    }
    return o.sizes[0];
}

static void print_glance(void)
{
    size_t z = glance_size();
    static glance_col cols[8];
    memset(cols, 0, sizeof cols);
    int nc = 0;
    static const int tw[] = {WL_HOT, WL_LIFO, WL_SHUFFLE, WL_PRODCON,
                             WL_PAIRS2};
    static const char *const tt[] = {"(1) hot pair ns", "(2) LIFO ns",
                                     "(3) shuffled ns", "(5) prod/cons ns",
                                     "(6) 2 threads ns"};
    for (int k = 0; k < 5; k++) {
        if (find_series(tw[k], z) == NULL) {
            continue;
        }
        cols[nc].title = tt[k];
        for (size_t i = 0; i < nrows; i++) {
            cols[nc].v[i] = series_med(tw[k], z, (int)i);
        }
        nc++;
    }
    if (find_series(WL_COLD, z) != NULL) {
        cols[nc].title = "(4) cold ns";
        for (size_t i = 0; i < nrows; i++) {
            cols[nc].v[i] = series_med(WL_COLD, z, (int)i);
        }
        nc++;
        cols[nc].title = "(4) RSS B/object";
        for (size_t i = 0; i < nrows; i++) {
            cols[nc].v[i] = cold_metric(WL_COLD, z, (int)i, 0);
        }
        nc++;
        cols[nc].title = "(7) RSS B/live object after trim";
        for (size_t i = 0; i < nrows; i++) {
            cols[nc].v[i] = cold_metric(WL_COLD, z, (int)i, 1);
        }
        nc++;
    }
    if (nc > 0) {
        printf("## At a glance: %zu-byte objects\n\n", z);
        printf("Lower is better everywhere; the best of each column (floors "
               "aside) in bold.\n\n");
        glance_table(cols, nc, false);
        printf("\n");
    }
    nc = 0;
    memset(cols, 0, sizeof cols);
    static char titles[4][48];
    for (size_t d = 0; d < 2; d++) {
        if (find_series(WL_MIXED, d) != NULL) {
            snprintf(titles[d], sizeof titles[d], "(8) %s ns", dist_name(d));
            cols[nc].title = titles[d];
            for (size_t i = 0; i < nrows; i++) {
                cols[nc].v[i] = series_med(WL_MIXED, d, (int)i);
            }
            nc++;
        }
    }
    if (find_series(WL_LARSON, BENCH_UNIFORM) != NULL) {
        cols[nc].title = "(9) larson ns";
        for (size_t i = 0; i < nrows; i++) {
            cols[nc].v[i] = series_med(WL_LARSON, BENCH_UNIFORM, (int)i);
        }
        nc++;
    }
    for (size_t d = 0; d < 2; d++) {
        if (find_series(WL_MIXED_RSS, d) != NULL) {
            snprintf(titles[2 + d], sizeof titles[2 + d], "(10) %s RSS B/B",
                     d == BENCH_UNIFORM ? "uniform" : "skewed");
            cols[nc].title = titles[2 + d];
            for (size_t i = 0; i < nrows; i++) {
                cols[nc].v[i] = cold_metric(WL_MIXED_RSS, d, (int)i, 2);
            }
            nc++;
        }
    }
    if (nc > 0) {
        printf("## At a glance: objects of any size (the malloc layer)\n\n");
        glance_table(cols, nc, true);
        printf("\n");
    }
}

/* The rows of the timed workloads w1 to w2 (cold ones aside). */
static void print_timed_table(int w1, int w2, const char *title)
{
    bool header = false;
    for (size_t k = 0; k < nseries; k++) {
        const series *s = &all[k];
        if (s->w < w1 || s->w > w2 || is_cold(s->w)) {
            continue;
        }
        int fl = floor_row(s->w), fa = fixalloc_row(s->w);
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
        for (size_t i = 0; i < nrows; i++) {
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
                       dist_name(s->size), rows[i].name, m, l, h, rx);
            } else if (s->w == WL_PRODCON || s->w == WL_PAIRS2) {
                printf("| %s | %zu | %s | %s | %s-%s | %s | %s |\n",
                       wl_title(s->w), s->size, rows[i].name, m, l, h, rf, rx);
            } else {
                char in[32] = "-";
                for (size_t z = 0; z < o.nsizes; z++) {
                    if (s->w == WL_HOT && o.sizes[z] == s->size &&
                        rows[i].instr[z] >= 0) {
                        snprintf(in, sizeof in, "%.1f", rows[i].instr[z]);
                    }
                }
                printf("| %s | %zu | %s | %s | %s-%s | %s | %s | %s |\n",
                       wl_title(s->w), s->size, rows[i].name, m, l, h, rf, rx,
                       in);
            }
        }
    }
    if (header) {
        printf("\n");
    }
}

static void print_not_served(int w, const char *why)
{
    char list[512] = "";
    for (size_t i = 0; i < nrows; i++) {
        if (rows[i].up && !applicable(&rows[i], w) &&
            !(rows[i].caps & (BENCH_HOT_ONLY | BENCH_RING))) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s", l ? ", " : "",
                     rows[i].name);
        }
    }
    if (list[0] != '\0') {
        printf("Not in %s: %s (%s).\n", wl_title(w), list, why);
    }
}

static void print_private(void)
{
    char list[512] = "";
    for (size_t i = 0; i < nrows; i++) {
        if (rows[i].up && applicable(&rows[i], WL_PAIRS2) &&
            !(rows[i].caps & BENCH_SHARED) && (int)i != R_BARE) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s", l ? ", " : "",
                     rows[i].name);
        }
    }
    printf("Floors: (5) the ring alone (no allocation); (6) a private bare "
           "list per thread.%s%s%s\n",
           list[0] ? " One per thread in (6), as they are not shared: " : "",
           list, list[0] ? "." : "");
}

static void print_cold_table(void)
{
    bool header = false;
    for (size_t k = 0; k < nseries; k++) {
        const series *s = &all[k];
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
                   "live.\n\n",
                   s->n);
            printf("| size B | implementation | ns/object | RSS B/object | "
                   "÷ size | MB after freeing 90%% | trim call | ms | MB after "
                   "trim | kept B/live object |\n");
            printf("| ---: | --- | ---: | ---: | ---: | ---: | --- | ---: | "
                   "---: | ---: |\n");
            header = true;
        }
        for (size_t i = 0; i < nrows; i++) {
            if (!s->ran[i]) {
                continue;
            }
            double ns = med_ns(s, (int)i, NULL, NULL);
            double per = cold_metric(WL_COLD, s->size, (int)i, 0);
            double freed = cold_median(s, (size_t)(i), C_FREED) / 1048576.0;
            double trimmed = cold_median(s, (size_t)(i), C_TRIMMED) / 1048576.0;
            double tms = cold_median(s, (size_t)(i), C_TRIM) / 1e6;
            double kept = cold_metric(WL_COLD, s->size, (int)i, 1);
            char b[32];
            fmt_ns(b, sizeof b, ns);
            const char *call = strcmp(rows[i].trim_call, "-") != 0
                                   ? rows[i].trim_call
                                   : "none";
            printf("| %zu | %s | %s | %.2f | %.2f | %.0f | %s | %.1f | %.0f | "
                   "%.1f |\n",
                   s->size, rows[i].name, b, per, per / (double)s->size, freed,
                   call, tms, trimmed, kept);
        }
    }
    if (header) {
        printf("\n");
        for (size_t i = 0; i < nrows; i++) {
            if (rows[i].up && applicable(&rows[i], WL_COLD) &&
                strcmp(rows[i].trim_call, "-") == 0 &&
                strcmp(rows[i].trim_none, "-") != 0) {
                printf("No trim call: %s (%s).\n", rows[i].name,
                       rows[i].trim_none);
            }
        }
        printf("\n");
    }
}

static void print_mixed_rss_table(void)
{
    bool header = false;
    for (size_t k = 0; k < nseries; k++) {
        const series *s = &all[k];
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
        for (size_t i = 0; i < nrows; i++) {
            if (!s->ran[i]) {
                continue;
            }
            double per = cold_metric(WL_MIXED_RSS, s->size, (int)i, 2);
            double kept = cold_metric(WL_MIXED_RSS, s->size, (int)i, 3);
            double ref = cold_metric(WL_MIXED_RSS, s->size, R_MALLOC, 2);
            char b[32], rx[32];
            fmt_ns(b, sizeof b, med_ns(s, (int)i, NULL, NULL));
            fmt_ratio(rx, sizeof rx, per / ref);
            printf("| %s | %s | %.0f | %.3f | %.3f | %s | %s |\n",
                   dist_name(s->size), rows[i].name,
                   cold_median(s, (size_t)(i), C_BYTES) / 1048576.0, per, kept,
                   b, rx);
        }
    }
    if (header) {
        printf("\n");
    }
}

/* For each series and each fixalloc row in it: the best peer. */
static void print_best_peer(void)
{
    bool header = false;
    for (size_t k = 0; k < nseries; k++) {
        const series *s = &all[k];
        int best = -1;
        double bv = NAN;
        for (size_t i = 0; i < nrows; i++) {
            if (!s->ran[i] || is_fixalloc((int)i) || is_floor((int)i)) {
                continue;
            }
            double v = s->w == WL_MIXED_RSS
                           ? cold_metric(s->w, s->size, (int)i, 2)
                           : med_ns(s, (int)i, NULL, NULL);
            if (best < 0 || v < bv) {
                best = (int)i;
                bv = v;
            }
        }
        if (best < 0) {
            continue;
        }
        for (size_t i = 0; i < nrows; i++) {
            if (!s->ran[i] || !is_fixalloc((int)i) ||
                (rows[i].caps & BENCH_HOT_ONLY)) {
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
                v = cold_metric(s->w, s->size, (int)i, 2);
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
                   sz, rows[i].name, a, rows[best].name, b, q <= 1 ? "**" : "",
                   r, q <= 1 ? "**" : "");
        }
        if (s->w == WL_COLD) {
            /* RSS per object too. */
            int rb = -1;
            double rv = NAN;
            for (size_t i = 0; i < nrows; i++) {
                double v = cold_metric(WL_COLD, s->size, (int)i, 0);
                if (s->ran[i] && !is_fixalloc((int)i) && !is_floor((int)i) &&
                    (rb < 0 || v < rv)) {
                    rb = (int)i;
                    rv = v;
                }
            }
            for (size_t i = 0; rb >= 0 && i < nrows; i++) {
                if (!s->ran[i] || !is_fixalloc((int)i)) {
                    continue;
                }
                double v = cold_metric(WL_COLD, s->size, (int)i, 0);
                char r[32];
                fmt_ratio(r, sizeof r, v / rv);
                printf("| (4) RSS per object | %zu B | %s | %.2f B | %s | "
                       "%.2f B | %s%s%s |\n",
                       s->size, rows[i].name, v, rows[rb].name, rv,
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
static bool beats_peers(const series *s, int fa, char *out, size_t cap)
{
    static const char *const peers[] = {"mimalloc", "tcmalloc", "jemalloc"};
    bool all_below = true, any = false;
    out[0] = '\0';
    for (int k = 0; k < 3; k++) {
        int p = row_of(peers[k]);
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

static void print_targets(void)
{
    printf("## Targets (measured, not asserted)\n\n");
    int bare = R_BARE, pool = R_POOL, cache = R_CACHE, fam = R_MALLOC;
    int glibc = row_of("glibc"), mim = row_of("mimalloc");
    for (size_t k = 0; k < WL_COUNT * nseries; k++) {
        /* By workload, then in the order the series ran. */
        const series *s = &all[k % nseries];
        if (s->w != (int)(k / nseries) + 1) {
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
            for (size_t z = 0; z < o.nsizes; z++) {
                if (o.sizes[z] == s->size && pool >= 0 && bare >= 0 &&
                    rows[pool].instr[z] >= 0 && rows[bare].instr[z] >= 0) {
                    double d = rows[pool].instr[z] - rows[bare].instr[z];
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
                bool ok = beats_peers(s, cache, peers, sizeof peers);
                if (peers[0] != '\0') {
                    verdict(ok,
                            "(1) %zu B: fa_cache %s (target: below 1x "
                            "each)",
                            s->size, peers);
                }
            }
            for (size_t i = 0; i < nrows; i++) {
                if ((rows[i].caps & BENCH_HOT_ONLY) &&
                    !isnan(r = ratio(s, (int)i, pool))) {
                    printf("- cost: (1) %zu B: %s %.2fx the default fa_pool "
                           "(%+.2f ns per pair)\n",
                           s->size, rows[i].name, r,
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
                double rss = cold_metric(WL_COLD, s->size, pool, 0);
                double slot = (double)s->cold[pool][0].slot;
                verdict(rss <= 1.01 * slot,
                        "(4) %zu B: fa_pool RSS %.2f "
                        "B/object = %.3fx its %.0f B slot (target <= 1.01x)",
                        s->size, rss, rss / slot, slot);
            }
            break;
        case WL_PRODCON:
            if (!isnan(r = ratio(s, cache, R_RING))) {
                verdict(r <= 2.0,
                        "(5) %zu B: fa_cache %.2fx the ring alone "
                        "(target <= 2x)",
                        s->size, r);
            }
            if (cache >= 0 && s->ran[cache]) {
                bool ok = beats_peers(s, cache, peers, sizeof peers);
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
                bool ok = beats_peers(s, cache, peers, sizeof peers);
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
                double a = cold_metric(s->w, s->size, fam, 2);
                double b = cold_metric(s->w, s->size, mim, 2);
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

static void print_instructions_only(void)
{
    printf("| implementation | size B | instructions/pair | minus bare list "
           "|\n| --- | ---: | ---: | ---: |\n");
    for (size_t z = 0; z < o.nsizes; z++) {
        for (size_t i = 0; i < nrows; i++) {
            if (rows[i].instr[z] < 0) {
                continue;
            }
            double b = R_BARE >= 0 ? rows[R_BARE].instr[z] : -1;
            char d[32] = "-";
            if (b >= 0) {
                snprintf(d, sizeof d, "%+.1f", rows[i].instr[z] - b);
            }
            printf("| %s | %zu | %.1f | %s |\n", rows[i].name, o.sizes[z],
                   rows[i].instr[z], d);
        }
    }
    printf("\n");
    for (size_t z = 0; z < o.nsizes; z++) {
        if (R_POOL >= 0 && R_BARE >= 0 && rows[R_POOL].instr[z] >= 0 &&
            rows[R_BARE].instr[z] >= 0) {
            double d = rows[R_POOL].instr[z] - rows[R_BARE].instr[z];
            verdict(d <= 8,
                    "(1) %zu B: fa_pool %+.1f instructions per pair "
                    "against the bare list (target <= +8)",
                    o.sizes[z], d);
        }
    }
}

/* ---------------------------------------------------------------------
 * CSV and gnuplot
 * ------------------------------------------------------------------- */

static void csv_line(FILE *f, int w, const series *s, int i, const char *metric,
                     const char *unit, double med, double lo, double hi,
                     double rf, double rx, int rounds)
{
    char sz[32];
    if (is_mixed(s->w)) {
        snprintf(sz, sizeof sz, "%s",
                 s->size == BENCH_UNIFORM ? "uniform" : "skewed");
    } else {
        snprintf(sz, sizeof sz, "%zu", s->size);
    }
    fprintf(f, "%d,\"%s\",%s,%s,\"%s\",%s,%s,%.4f,%.4f,%.4f,", w, wl_title(w),
            sz, rows[i].id, rows[i].name, metric, unit, med, lo, hi);
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

static void write_csv(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
        return;
    }
    fprintf(f, "workload,workload_name,size,impl,impl_name,metric,unit,median,"
               "min,max,ratio_to_floor,ratio_to_fixalloc,rounds\n");
    for (size_t k = 0; k < nseries; k++) {
        const series *s = &all[k];
        int fl = floor_row(s->w), fa = fixalloc_row(s->w);
        for (size_t i = 0; i < nrows; i++) {
            if (!s->ran[i]) {
                continue;
            }
            double lo, hi, med = med_ns(s, (int)i, &lo, &hi);
            int w = s->w, n = s->rounds;
            csv_line(f, w, s, (int)i,
                     is_cold(w) ? "ns_per_object" : "ns_per_pair", "ns", med,
                     lo, hi, ratio(s, (int)i, fl), ratio(s, (int)i, fa), n);
            if (w == WL_HOT) {
                for (size_t z = 0; z < o.nsizes; z++) {
                    if (o.sizes[z] == s->size && rows[i].instr[z] >= 0) {
                        double v = rows[i].instr[z];
                        csv_line(f, w, s, (int)i, "instructions_per_pair",
                                 "instructions", v, v, v, NAN, NAN, 1);
                    }
                }
            }
            if (!is_cold(w)) {
                continue;
            }
            /* (7)'s numbers come from (4)'s runs. */
            int wt = w == WL_COLD ? WL_TRIM : w;
            int m0 = w == WL_COLD ? 0 : 2, m1 = w == WL_COLD ? 1 : 3;
            double v = cold_metric(w, s->size, (int)i, m0);
            csv_line(f, w, s, (int)i,
                     w == WL_COLD ? "rss_per_object" : "rss_per_byte", "bytes",
                     v, v, v, NAN, NAN, n);
            v = cold_metric(w, s->size, (int)i, m1);
            csv_line(f, wt, s, (int)i,
                     w == WL_COLD ? "rss_per_live_object_after_trim"
                                  : "rss_per_live_byte_after_trim",
                     "bytes", v, v, v, NAN, NAN, n);
            v = cold_median(s, i, C_FULL);
            csv_line(f, w, s, (int)i, "rss_all_live", "bytes", v, v, v, NAN,
                     NAN, n);
            v = cold_median(s, i, C_FREED);
            csv_line(f, wt, s, (int)i, "rss_after_free_90", "bytes", v, v, v,
                     NAN, NAN, n);
            v = cold_median(s, i, C_TRIMMED);
            csv_line(f, wt, s, (int)i, "rss_after_trim", "bytes", v, v, v, NAN,
                     NAN, n);
            v = cold_median(s, i, C_TRIM);
            csv_line(f, wt, s, (int)i, "trim_call_time", "ns", v, v, v, NAN,
                     NAN, n);
        }
    }
    fclose(f);
}

/* One data block: a row per category, a column per implementation. */
typedef double (*cell_fn)(int cat, int impl);

static bool block(FILE *f, const char *name, int ncat, const char *const *cats,
                  cell_fn cell, int *cols, int *ncols)
{
    *ncols = 0;
    for (size_t i = 0; i < nrows; i++) {
        for (int c = 0; c < ncat; c++) {
            if (!isnan(cell(c, (int)i))) {
                cols[(*ncols)++] = (int)i;
                break;
            }
        }
    }
    if (*ncols == 0) {
        return false;
    }
    fprintf(f, "$%s << EOD\n\"category\"", name);
    for (int k = 0; k < *ncols; k++) {
        fprintf(f, " \"%s\"", rows[cols[k]].name);
    }
    fprintf(f, "\n");
    for (int c = 0; c < ncat; c++) {
        fprintf(f, "\"%s\"", cats[c]);
        for (int k = 0; k < *ncols; k++) {
            double v = cell(c, cols[k]);
            if (isnan(v)) {
                fprintf(f, " -");
            } else {
                fprintf(f, " %.4g", v);
            }
        }
        fprintf(f, "\n");
    }
    fprintf(f, "EOD\n");
    return true;
}

static size_t plot_size;
static const int plot_w[] = {WL_HOT,  WL_LIFO,    WL_SHUFFLE,
                             WL_COLD, WL_PRODCON, WL_PAIRS2};
static const char *const plot_wname[] = {
    "(1) hot pair", "(2) 100k LIFO",         "(3) 100k shuffled",
    "(4) 10M cold", "(5) producer/consumer", "(6) 2 threads"};

static double cell_ns(int cat, int i)
{
    return series_med(plot_w[cat], plot_size, i);
}

static double cell_rss(int cat, int i)
{
    return cold_metric(WL_COLD, o.sizes[cat], i, 0);
}

static double cell_kept(int cat, int i)
{
    return cold_metric(WL_COLD, o.sizes[cat], i, 1);
}

static double cell_mixed(int cat, int i)
{
    if (cat < 2) {
        return series_med(WL_MIXED, (size_t)cat, i);
    }
    return series_med(WL_LARSON, BENCH_UNIFORM, i);
}

static double cell_mixed_rss(int cat, int i)
{
    return cold_metric(WL_MIXED_RSS, (size_t)cat, i, 2);
}

/* A colour per row: fixalloc's rows in reds, oranges and magenta, the
 * floors in greys, the peers in blues, greens and purples. */
static const char *row_colour(int i)
{
    static const char *const fa[] = {"#d62728", "#ff7f0e", "#fdae6b",
                                     "#e6ab02", "#e7298a", "#fb6a4a"};
    static const char *const peers[] = {"#1f77b4", "#2ca02c", "#9467bd",
                                        "#17becf", "#bcbd22", "#6baed6",
                                        "#393b79", "#637939", "#7b4173"};
    static int nfa, npeer;
    static int assigned[MAX_ROWS];
    static const char *colour[MAX_ROWS];
    if (!assigned[i]) {
        assigned[i] = 1;
        if (is_floor(i)) {
            colour[i] = i == R_BARE ? "#555555" : "#aaaaaa";
        } else if (is_fixalloc(i)) {
            colour[i] = fa[nfa++ % 6];
        } else {
            colour[i] = peers[npeer++ % 9];
        }
    }
    return colour[i];
}

static void plot_clusters(FILE *f, const char *data, const int *cols, int ncols,
                          const char *title, const char *ylabel, bool logy)
{
    fprintf(f, "set title \"%s\"\nset ylabel \"%s\"\n", title, ylabel);
    fprintf(f, logy ? "set logscale y\n" : "unset logscale y\n");
    fprintf(f, "plot ");
    for (int k = 0; k < ncols; k++) {
        fprintf(f, "%s$%s using %d%s title columnheader(%d) lc rgb \"%s\"",
                k ? ", \\\n     " : "", data, k + 2, k ? "" : ":xtic(1)", k + 2,
                row_colour(cols[k]));
    }
    fprintf(f, "\n");
}

static void write_gnuplot(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
        return;
    }
    fprintf(f, "# Generated by fixalloc_bench: gnuplot %s\n", path);
    fprintf(f, "set datafile missing \"-\"\nset style data histograms\n"
               "set style histogram clustered gap 1\n"
               "set style fill solid 0.9 border rgb \"#333333\"\n"
               "set boxwidth 0.9\nset grid ytics\nset key outside right top "
               "vertical Left reverse noenhanced\nset xtics noenhanced\n"
               "set title noenhanced\nset yrange [*:*]\n");
    int cols[MAX_ROWS], ncols;
    for (size_t z = 0; z < o.nsizes; z++) {
        char name[32];
        plot_size = o.sizes[z];
        snprintf(name, sizeof name, "ns%zu", plot_size);
        if (!block(f, name, 6, plot_wname, cell_ns, cols, &ncols)) {
            continue;
        }
        fprintf(f,
                "set terminal pngcairo size 1500,620 font \"sans,11\"\n"
                "set output \"%sns-%zu.png\"\n",
                o.png_prefix, plot_size);
        char title[160];
        snprintf(title, sizeof title,
                 "ns per alloc+free pair, %zu-byte objects (median; log "
                 "scale; lower is better)",
                 plot_size);
        plot_clusters(f, name, cols, ncols, title, "ns per pair", true);
        fprintf(f, "unset output\n");
    }
    static const char *szname[MAX_SIZES];
    static char szbuf[MAX_SIZES][16];
    for (size_t z = 0; z < o.nsizes; z++) {
        snprintf(szbuf[z], sizeof szbuf[z], "%zu B", o.sizes[z]);
        szname[z] = szbuf[z];
    }
    int c2[MAX_ROWS], n2;
    if (block(f, "rss", (int)o.nsizes, szname, cell_rss, cols, &ncols) &&
        block(f, "kept", (int)o.nsizes, szname, cell_kept, c2, &n2)) {
        fprintf(f,
                "set terminal pngcairo size 1500,620 font \"sans,11\"\n"
                "set output \"%srss.png\"\nset multiplot layout 1,2\n",
                o.png_prefix);
        fprintf(f, "set key off\n");
        plot_clusters(f, "rss", cols, ncols,
                      "(4) RSS bytes per object, all live (log scale)",
                      "bytes per object", true);
        fprintf(f, "set key outside right top vertical Left reverse\n");
        plot_clusters(f, "kept", c2, n2,
                      "(7) after freeing 90% and trim: RSS bytes per live "
                      "object (log scale)",
                      "bytes per live object", true);
        fprintf(f, "unset multiplot\nunset output\n");
    }
    static const char *const mixed_names[] = {"(8) uniform", "(8) skewed",
                                              "(9) larson"};
    static const char *const mrss_names[] = {"(10) uniform", "(10) skewed"};
    static int mc[MAX_ROWS];
    int nm;
    if (block(f, "mixed", 3, mixed_names, cell_mixed, mc, &nm) &&
        block(f, "mrss", 2, mrss_names, cell_mixed_rss, c2, &n2)) {
        fprintf(f,
                "set terminal pngcairo size 1500,620 font \"sans,11\"\n"
                "set output \"%smixed.png\"\nset multiplot layout 1,2\n",
                o.png_prefix);
        fprintf(f, "set key off\n");
        plot_clusters(f, "mixed", mc, nm,
                      "Random sizes 16-1024: ns per alloc+free pair",
                      "ns per pair", false);
        fprintf(f, "set key outside right top vertical Left reverse\n");
        fprintf(f, "set yrange [1:*]\n");
        plot_clusters(f, "mrss", c2, n2,
                      "(10) RSS bytes per byte requested, all live",
                      "RSS bytes per byte", false);
        fprintf(f, "set yrange [*:*]\n");
        fprintf(f, "unset multiplot\nunset output\n");
    }
    fclose(f);
}

/* ---------------------------------------------------------------------
 * main
 * ------------------------------------------------------------------- */

static double start_load = -1;

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

static void print_header(void)
{
    struct utsname u;
    uname(&u);
    char model[128] = "?";
    FILE *ci = fopen("/proc/cpuinfo", "r");
    if (ci != NULL) {
        char line[256];
        while (fgets(line, sizeof line, ci) != NULL) {
            if (strncmp(line, "model name", 10) == 0) {
                const char *v = strchr(line, ':');
                snprintf(model, sizeof model, "%.120s",
                         v != NULL ? v + 2 : line);
                model[strcspn(model, "\n")] = '\0';
                break;
            }
        }
        fclose(ci);
    }
    printf("# fixalloc benchmark%s\n\n", o.quick ? " (quick)" : "");
    printf("%ld CPUs online (%s), Linux %.*s, gcc %s, glibc %s. Each "
           "implementation runs in its own process; its main thread is pinned "
           "to CPU %d, a second thread (workloads 5, 6, 9) to CPU %d. Times "
           "are ns per alloc+free pair: the median of %d round%s, in each of "
           "which the implementations run one after another in an order "
           "rotated every round, with min-max; ratios are medians of the "
           "ratios taken inside each round. Workloads 4, 7 and 10 run in a "
           "fresh process each (%d round%s).\n\n",
           sysconf(_SC_NPROCESSORS_ONLN), model, (int)strcspn(u.release, "-+"),
           u.release, __VERSION__, gnu_get_libc_version(), o.cpu_main,
           o.cpu_helper, o.rounds, o.rounds > 1 ? "s" : "", o.cold_rounds,
           o.cold_rounds > 1 ? "s" : "");
    printf("Versions:");
    const char *last = "";
    for (size_t i = 0; i < nrows; i++) {
        if (!rows[i].up || strcmp(rows[i].version, "-") == 0 ||
            rows[i].version[0] == '\0' || strcmp(rows[i].exe, last) == 0) {
            continue;
        }
        /* "5.3.0-0-g54eaed1d..." -> "5.3.0"; "gperftools 2.10" -> "2.10" */
        const char *v = rows[i].version;
        if (strncmp(v, "gperftools ", 11) == 0) {
            v += 11;
        }
        printf("%s %s %.*s", last[0] != '\0' ? "," : "", rows[i].exe + 6,
               (int)strcspn(v, "-"), v);
        last = rows[i].exe;
    }
    printf(". Load average (1 min) at the start: %.2f.\n\n", start_load);
    int dpdk = row_of("dpdk");
    if (dpdk >= 0 && rows[dpdk].up) {
        printf("DPDK's EAL runs without hugepages, PCI or shared "
               "configuration (--no-huge --no-shconf --no-pci): in-memory "
               "operation; the EAL refuses --in-memory itself together with "
               "--no-huge (\"Option --legacy-mem is not compatible with "
               "--in-memory\").\n\n");
    }
    printf("Noise guard: of %d rounds (and fresh-process runs), %d %s run "
           "again because other processes took more than a quarter of a CPU "
           "meanwhile; %d disturbed one%s kept (after 2 retries, or past "
           "the %.0f s allowed for retries).\n\n",
           noise.rounds, noise.redone, noise.redone == 1 ? "was" : "were",
           noise.kept, noise.kept == 1 ? " was" : "s were",
           noise.budget_ns / 1e9);
    printf("Counts: (1) %zu pairs per run; (2) %zu-object batch x %zu, (3) "
           "x %zu; (5) %zu objects handed over; (6) %zu pairs per thread; "
           "(4)/(7) %zu objects; (8) %zu steps over %zu live objects; (9) "
           "%zu epochs x %zu steps per thread over 2 x %zu objects; (10) "
           "%zu objects.\n\n",
           o.hot_n, o.batch_n, o.lifo_reps, o.shuffle_reps, o.prodcon_n,
           o.pairs2_n, o.cold_n, o.mixed_n, o.mixed_live, o.larson_epochs,
           o.larson_n, o.larson_live, o.mixed_rss_n);
    const char *check = getenv("FIXALLOC_CHECK");
    if (check != NULL) {
        printf("FIXALLOC_CHECK=%s in the environment.\n\n", check);
    }
}

static void print_skipped(void)
{
    bool any = false;
    for (size_t k = 0; bench_missing[k].peer != NULL; k++) {
        if (!any) {
            printf("## Not run\n\n");
            any = true;
        }
        printf("- %s: not built, `%s` is not installed (`make bench` as root "
               "installs it; or `apt-get install %s`).\n",
               bench_missing[k].peer, bench_missing[k].package,
               bench_missing[k].package);
    }
    for (size_t i = 0; i < nrows; i++) {
        if (!rows[i].up && rows[i].why[0] != '\0') {
            if (!any) {
                printf("## Not run\n\n");
                any = true;
            }
            printf("- %s: %s\n", rows[i].name, rows[i].why);
        }
    }
    if (any) {
        printf("\n");
    }
}

int main(int argc, char **argv)
{
    parse_options(argc, argv);
    start_load = load_average();
    t_start = bench_now_ns();
    find_exe_dir();
    setvbuf(stdout, NULL, _IOLBF, 0);
    start_workers();
    R_BARE = row_of("bare");
    R_RING = row_of("ring");
    R_POOL = row_of("fa_pool");
    R_CACHE = row_of("fa_cache");
    R_MALLOC = row_of("fa_malloc");

    bool instr = !o.no_instructions && (o.instructions_only || !o.quick) &&
                 o.workload[WL_HOT];
    if (instr && !have_valgrind()) {
        fprintf(stderr, "bench: valgrind not found: no instruction counts "
                        "(apt-get install valgrind)\n");
        instr = false;
    }
    if (o.instructions_only) {
        stop_workers();
        if (instr) {
            count_instructions();
            print_instructions_only();
        }
        return 0;
    }
    progress("%zu implementations started", nrows);
    static const int timed[] = {WL_HOT, WL_LIFO, WL_SHUFFLE, WL_PRODCON,
                                WL_PAIRS2};
    for (size_t k = 0; k < sizeof timed / sizeof timed[0]; k++) {
        for (size_t z = 0; o.workload[timed[k]] && z < o.nsizes; z++) {
            progress("%s, %zu B", wl_title(timed[k]), o.sizes[z]);
            run_series(timed[k], o.sizes[z]);
        }
    }
    for (size_t d = 0; o.workload[WL_MIXED] && d < 2; d++) {
        progress("%s, %s", wl_title(WL_MIXED), dist_name(d));
        run_series(WL_MIXED, d);
    }
    if (o.workload[WL_LARSON]) {
        progress("%s", wl_title(WL_LARSON));
        run_series(WL_LARSON, BENCH_UNIFORM);
    }
    stop_workers();
    for (size_t z = 0; o.workload[WL_COLD] && z < o.nsizes; z++) {
        progress("%s and %s, %zu B", wl_title(WL_COLD), wl_title(WL_TRIM),
                 o.sizes[z]);
        run_cold_series(WL_COLD, o.sizes[z]);
    }
    for (size_t d = 0; o.workload[WL_MIXED_RSS] && d < 2; d++) {
        progress("%s, %s", wl_title(WL_MIXED_RSS), dist_name(d));
        run_cold_series(WL_MIXED_RSS, d);
    }
    if (instr) {
        progress("instruction counts (valgrind)");
        count_instructions();
    }
    double secs = (double)(bench_now_ns() - t_start) / 1e9;

    print_header();
    print_skipped();
    print_glance();
    print_timed_table(WL_HOT, WL_SHUFFLE,
                      "One thread: (1) hot pairs, (2) "
                      "LIFO batch, (3) shuffled batch");
    print_timed_table(WL_PRODCON, WL_PAIRS2,
                      "Two threads: (5) producer/"
                      "consumer, (6) independent hot pairs");
    print_private();
    print_not_served(WL_PRODCON, "one thread per pool: an object cannot be "
                                 "freed by another thread");
    printf("\n");
    print_cold_table();
    print_timed_table(WL_MIXED, WL_LARSON,
                      "Objects of any size: (8) random "
                      "replacement, (9) larson-style, two threads");
    print_mixed_rss_table();
    print_best_peer();
    print_targets();
    printf("Measured in %.0f s.\n", secs);
    if (o.csv != NULL) {
        write_csv(o.csv);
    }
    if (o.gnuplot != NULL) {
        write_gnuplot(o.gnuplot);
    }
    return 0;
}
