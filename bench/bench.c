/*
 * bench.c - fa_pool against glibc malloc and a bare free list, in one run.
 *
 * For each workload and object size the implementations run in interleaved
 * rounds (A B C, B C A, C A B, ...), so that drift of the machine falls on all
 * of them alike. Each round gives one ns-per-pair sample per implementation
 * and, within the round, the ratio of each to the bare list; the tables show
 * the median sample with min-max and the median of the ratios. The RSS
 * workload runs every implementation in a fresh process (fork and exec of
 * this program) so that resident memory never mixes. bench/README.md says
 * what each workload does; bench/instructions.sh counts instructions of the
 * hot loop with valgrind, through --hot-only.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The implementations, the reference (the bare list) first. */
static const bench_impl *const bench_impls[] = {
    &bench_impl_bare,
    &bench_impl_fixalloc,
    &bench_impl_glibc,
};
#define NIMPLS (sizeof bench_impls / sizeof bench_impls[0])
#define MAX_ROUNDS 64
#define MAX_SIZES 16

static const char *const wl_names[WL_COUNT] = {
    "(1) alloc+free at once",
    "(2) 100k batch, LIFO free",
    "(3) 100k batch, shuffled free",
    "(4) many objects live, touched",
};

/* ---------------------------------------------------------------------
 * Helpers used by the workload templates
 * ------------------------------------------------------------------- */

uint64_t bench_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

long bench_rss_bytes(void) {
    /* Read with open/read, not stdio, so that no buffer is allocated from the
     * heap under measurement. */
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY);
    if (fd < 0) {
        return -1;
    }
    ssize_t len = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len <= 0) {
        return -1;
    }
    buf[len] = '\0';
    const char *line = strstr(buf, "VmRSS:");
    if (line == NULL) {
        return -1;
    }
    return strtol(line + 6, NULL, 10) * 1024;
}

_Noreturn void bench_out_of_memory(const char *impl, size_t size) {
    fprintf(stderr, "bench: %s returned NULL (object size %zu)\n", impl, size);
    exit(1);
}

/* ---------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------- */

typedef struct options {
    bool quick;
    bool workload[WL_COUNT + 1];
    size_t sizes[MAX_SIZES];
    size_t nsizes;
    bool impl[NIMPLS];
    int rounds;          /* rounds of workloads 1-3; 0 = default */
    int rss_rounds;      /* rounds of workload 4; 0 = default */
    int cpu;             /* -2 = choose, -1 = do not pin */
    size_t hot_n, lifo_reps, shuffle_reps, batch_n, rss_n;
} options;

static void usage(FILE *f) {
    fprintf(f,
        "usage: fixalloc_bench [options]\n"
        "  --quick            fewer rounds and smaller counts (< 20 s)\n"
        "  --workload LIST    workloads to run, e.g. 1,3 (default 1,2,3,4)\n"
        "  --size LIST        object sizes, e.g. 64,256 (default 16,64,256)\n"
        "  --impl LIST        implementations (default all):");
    for (size_t i = 0; i < NIMPLS; i++) {
        fprintf(f, " %s", bench_impls[i]->id);
    }
    fprintf(f,
        "\n"
        "  --rounds N         rounds of workloads 1-3\n"
        "  --rss-rounds N     rounds of workload 4\n"
        "  --rss-objects N    objects live in workload 4 (default 10M)\n"
        "  --cpu N            pin to CPU N (-1: do not pin; default: the\n"
        "                     last CPU allowed)\n"
        "  --hot-only IMPL N  run only N pairs of workload 1 for IMPL, at the\n"
        "                     first --size (for bench/instructions.sh)\n"
        "  --list             list the implementations\n");
}

static size_t parse_size(const char *s, const char *what) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s) {
        fprintf(stderr, "bench: bad %s '%s'\n", what, s);
        exit(2);
    }
    /* Accept 10M, 100k. */
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

static int find_impl(const char *id) {
    for (size_t i = 0; i < NIMPLS; i++) {
        if (strcmp(bench_impls[i]->id, id) == 0 ||
            strcmp(bench_impls[i]->name, id) == 0) {
            return (int)i;
        }
    }
    fprintf(stderr, "bench: no implementation '%s' (--list)\n", id);
    exit(2);
}

/* Calls fn on each comma-separated item of list. */
static void each_item(const char *list, void (*fn)(const char *, options *),
                      options *o) {
    char buf[256];
    if (strlen(list) >= sizeof buf) {
        fprintf(stderr, "bench: list too long\n");
        exit(2);
    }
    strcpy(buf, list);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        fn(tok, o);
    }
}

static void add_workload(const char *s, options *o) {
    size_t w = parse_size(s, "workload");
    if (w < 1 || w > WL_COUNT) {
        fprintf(stderr, "bench: workloads are 1 to %d\n", WL_COUNT);
        exit(2);
    }
    o->workload[w] = true;
}

static void add_size(const char *s, options *o) {
    size_t v = parse_size(s, "size");
    if (v == 0 || o->nsizes == MAX_SIZES) {
        fprintf(stderr, "bench: bad size '%s'\n", s);
        exit(2);
    }
    o->sizes[o->nsizes++] = v;
}

static void add_impl(const char *s, options *o) {
    o->impl[find_impl(s)] = true;
}

static const char *need_arg(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        fprintf(stderr, "bench: %s needs an argument\n", argv[*i]);
        exit(2);
    }
    return argv[++*i];
}

static int run_hot_only(const options *o, const char *id, size_t n);
static int run_rss_child(const char *id, size_t size, size_t n);

static void parse_options(int argc, char **argv, options *o) {
    bool any_wl = false, any_impl = false;
    memset(o, 0, sizeof *o);
    o->cpu = -2;
    const char *hot_impl = NULL;
    size_t hot_n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--quick") == 0) {
            o->quick = true;
        } else if (strcmp(a, "--workload") == 0) {
            each_item(need_arg(argc, argv, &i), add_workload, o);
            any_wl = true;
        } else if (strcmp(a, "--size") == 0) {
            each_item(need_arg(argc, argv, &i), add_size, o);
        } else if (strcmp(a, "--impl") == 0) {
            each_item(need_arg(argc, argv, &i), add_impl, o);
            any_impl = true;
        } else if (strcmp(a, "--rounds") == 0) {
            o->rounds = (int)parse_size(need_arg(argc, argv, &i), "rounds");
        } else if (strcmp(a, "--rss-rounds") == 0) {
            o->rss_rounds = (int)parse_size(need_arg(argc, argv, &i), "rounds");
        } else if (strcmp(a, "--rss-objects") == 0) {
            o->rss_n = parse_size(need_arg(argc, argv, &i), "count");
        } else if (strcmp(a, "--cpu") == 0) {
            const char *v = need_arg(argc, argv, &i);
            o->cpu = strcmp(v, "-1") == 0 ? -1 : (int)parse_size(v, "cpu");
        } else if (strcmp(a, "--hot-only") == 0) {
            hot_impl = need_arg(argc, argv, &i);
            hot_n = parse_size(need_arg(argc, argv, &i), "count");
        } else if (strcmp(a, "--rss-child") == 0 && i + 3 < argc) {
            /* Internal: one run of workload 4 in a fresh process. */
            exit(run_rss_child(argv[i + 1], parse_size(argv[i + 2], "size"),
                               parse_size(argv[i + 3], "count")));
        } else if (strcmp(a, "--list") == 0) {
            for (size_t k = 0; k < NIMPLS; k++) {
                printf("%-10s %s\n", bench_impls[k]->id, bench_impls[k]->name);
            }
            exit(0);
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else {
            fprintf(stderr, "bench: unknown option '%s'\n", a);
            usage(stderr);
            exit(2);
        }
    }
    if (o->nsizes == 0) {
        o->sizes[0] = 16;
        o->sizes[1] = 64;
        o->sizes[2] = 256;
        o->nsizes = 3;
    }
    if (hot_impl != NULL) {
        exit(run_hot_only(o, hot_impl, hot_n));
    }
    for (int w = 1; w <= WL_COUNT; w++) {
        o->workload[w] = o->workload[w] || !any_wl;
    }
    for (size_t k = 0; k < NIMPLS; k++) {
        o->impl[k] = o->impl[k] || !any_impl;
    }
    if (o->rounds == 0) {
        o->rounds = o->quick ? 5 : 15;
    }
    if (o->rss_rounds == 0) {
        /* Workload 4's time is mostly page faults (seconds per child at
         * 256 B) and its RSS is deterministic: two rounds keep the default
         * run under about 2 minutes. */
        o->rss_rounds = o->quick ? 1 : 2;
    }
    if (o->rounds > MAX_ROUNDS || o->rss_rounds > MAX_ROUNDS) {
        fprintf(stderr, "bench: at most %d rounds\n", MAX_ROUNDS);
        exit(2);
    }
    o->batch_n = 100000;
    o->hot_n = o->quick ? 1000000 : 4000000;
    o->lifo_reps = o->quick ? 4 : 20;
    o->shuffle_reps = o->quick ? 2 : 8;
    if (o->rss_n == 0) {
        o->rss_n = o->quick ? 500000 : 10000000;
    }
}

/* ---------------------------------------------------------------------
 * Process setup
 * ------------------------------------------------------------------- */

/* Pins the process to one CPU; returns the CPU, or -1. */
static int pin_cpu(int want) {
    cpu_set_t set;
    if (want == -1 || sched_getaffinity(0, sizeof set, &set) != 0) {
        return -1;
    }
    size_t cpu = (size_t)want;
    if (want == -2) {
        for (size_t c = 0; c < CPU_SETSIZE; c++) {
            if (CPU_ISSET(c, &set)) {
                cpu = c; /* the last one allowed */
            }
        }
    }
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        perror("bench: sched_setaffinity");
        return -1;
    }
    return (int)cpu;
}

/* Memory outside every implementation's heap, touched now. */
static void *map_touched(size_t bytes) {
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) {
        perror("bench: mmap");
        exit(1);
    }
    memset(p, 0, bytes);
    return p;
}

/* A fixed-seed permutation of 0..n-1 (splitmix64, Fisher-Yates). */
static uint32_t *shuffled(size_t n) {
    uint32_t *perm = map_touched(n * sizeof *perm);
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; i < n; i++) {
        perm[i] = (uint32_t)i;
    }
    for (size_t i = n - 1; i > 0; i--) {
        uint64_t z = (x += 0x9e3779b97f4a7c15u);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
        z ^= z >> 31;
        size_t j = (size_t)(z % (i + 1));
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    return perm;
}

static void *init_or_die(const bench_impl *impl, size_t size, size_t max_live) {
    void *st = impl->init(size, max_live);
    if (st == NULL) {
        fprintf(stderr, "bench: %s: init failed for size %zu\n", impl->name,
                size);
        exit(1);
    }
    return st;
}

/* ---------------------------------------------------------------------
 * Modes for bench/instructions.sh and for workload 4
 * ------------------------------------------------------------------- */

/* Exactly n iterations of workload 1's loop, after a fixed warm-up, so that
 * a run with n = 0 measures everything but the loop. */
static int run_hot_only(const options *o, const char *id, size_t n) {
    const bench_impl *impl = bench_impls[find_impl(id)];
    void *st = init_or_die(impl, o->sizes[0], 1);
    bench_args warm = {o->sizes[0], 64, 0, NULL, NULL};
    impl->run[WL_HOT - 1](st, &warm);
    bench_args a = {o->sizes[0], n, 0, NULL, NULL};
    bench_result r = impl->run[WL_HOT - 1](st, &a);
    impl->destroy(st);
    printf("%s size %zu pairs %llu\n", impl->id, o->sizes[0],
           (unsigned long long)r.pairs);
    return 0;
}

/* One run of workload 4, printed as "ns pairs rss_delta slot". */
static int run_rss_child(const char *id, size_t size, size_t n) {
    const bench_impl *impl = bench_impls[find_impl(id)];
    void **ptrs = map_touched(n * sizeof *ptrs);
    void *st = init_or_die(impl, size, n);
    bench_args a = {size, n, 1, ptrs, NULL};
    bench_result r = impl->run[WL_RSS - 1](st, &a);
    size_t slot = impl->slot != NULL ? impl->slot(st) : 0;
    impl->destroy(st);
    printf("%llu %llu %ld %zu\n", (unsigned long long)r.ns,
           (unsigned long long)r.pairs, r.rss_delta, slot);
    return 0;
}

typedef struct rss_sample {
    double ns_per_pair;
    double rss_per_obj;
    size_t slot;
} rss_sample;

static rss_sample spawn_rss_child(const bench_impl *impl, size_t size,
                                  size_t n) {
    char size_s[32], n_s[32];
    snprintf(size_s, sizeof size_s, "%zu", size);
    snprintf(n_s, sizeof n_s, "%zu", n);
    int fds[2];
    if (pipe(fds) != 0) {
        perror("bench: pipe");
        exit(1);
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("bench: fork");
        exit(1);
    }
    if (pid == 0) {
        char *argv[] = {(char *)"fixalloc_bench", (char *)"--rss-child",
                        (char *)(uintptr_t)impl->id, size_s, n_s, NULL};
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv("/proc/self/exe", argv);
        perror("bench: exec");
        _exit(127);
    }
    close(fds[1]);
    char buf[256];
    size_t got = 0;
    ssize_t k;
    while (got < sizeof buf - 1 &&
           (k = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0) {
        got += (size_t)k;
    }
    buf[got] = '\0';
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    unsigned long long ns, pairs;
    long rss;
    size_t slot;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        sscanf(buf, "%llu %llu %ld %zu", &ns, &pairs, &rss, &slot) != 4) {
        fprintf(stderr, "bench: %s: RSS child failed (size %zu)\n", impl->name,
                size);
        exit(1);
    }
    rss_sample s = {(double)ns / (double)pairs, (double)rss / (double)n, slot};
    return s;
}

/* ---------------------------------------------------------------------
 * Rounds and summaries
 * ------------------------------------------------------------------- */

/* The samples of one (workload, size): per implementation, per round. */
typedef struct series {
    int w;
    size_t size;
    int rounds;
    bool ran[NIMPLS];
    double ns[NIMPLS][MAX_ROUNDS];
    rss_sample rss[NIMPLS][MAX_ROUNDS];
} series;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n, double *lo, double *hi) {
    double s[MAX_ROUNDS];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    if (lo != NULL) {
        *lo = s[0];
        *hi = s[n - 1];
    }
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* The median over rounds of ns[a] / ns[b], each ratio taken in one round;
 * 0 when either did not run. */
static double ratio(const series *s, size_t a, size_t b) {
    double r[MAX_ROUNDS];
    if (!s->ran[a] || !s->ran[b]) {
        return 0;
    }
    for (int i = 0; i < s->rounds; i++) {
        r[i] = s->ns[a][i] / s->ns[b][i];
    }
    return median(r, s->rounds, NULL, NULL);
}

/* Rounds of workload w (1-3) at one size, implementations interleaved. */
static void run_series(const options *o, int w, size_t size, series *s) {
    size_t n = o->batch_n;
    bench_args a = {size, n, 0, NULL, NULL};
    if (w == WL_HOT) {
        a.n = o->hot_n;
    } else {
        a.reps = w == WL_LIFO ? o->lifo_reps : o->shuffle_reps;
        a.ptrs = map_touched(n * sizeof(void *));
        a.perm = shuffled(n);
    }
    void *st[NIMPLS] = {0};
    memset(s, 0, sizeof *s);
    s->w = w;
    s->size = size;
    s->rounds = o->rounds;
    size_t order[NIMPLS], nrun = 0;
    for (size_t i = 0; i < NIMPLS; i++) {
        if (o->impl[i]) {
            order[nrun++] = i;
            s->ran[i] = true;
            st[i] = init_or_die(bench_impls[i], size, w == WL_HOT ? 1 : n);
            bench_impls[i]->run[w - 1](st[i], &a); /* warm-up, not kept */
        }
    }
    for (int r = 0; r < o->rounds; r++) {
        for (size_t k = 0; k < nrun; k++) {
            size_t i = order[(k + (size_t)r) % nrun];
            bench_result res = bench_impls[i]->run[w - 1](st[i], &a);
            s->ns[i][r] = (double)res.ns / (double)res.pairs;
        }
    }
    for (size_t i = 0; i < NIMPLS; i++) {
        if (st[i] != NULL) {
            bench_impls[i]->destroy(st[i]);
        }
    }
    if (a.ptrs != NULL) {
        munmap(a.ptrs, n * sizeof(void *));
        munmap((void *)(uintptr_t)a.perm, n * sizeof(uint32_t));
    }
}

/* Rounds of workload 4 at one size, each run in its own process. */
static void run_rss_series(const options *o, size_t size, series *s) {
    memset(s, 0, sizeof *s);
    s->w = WL_RSS;
    s->size = size;
    s->rounds = o->rss_rounds;
    size_t order[NIMPLS], nrun = 0;
    for (size_t i = 0; i < NIMPLS; i++) {
        if (o->impl[i]) {
            order[nrun++] = i;
            s->ran[i] = true;
        }
    }
    for (int r = 0; r < s->rounds; r++) {
        for (size_t k = 0; k < nrun; k++) {
            size_t i = order[(k + (size_t)r) % nrun];
            s->rss[i][r] = spawn_rss_child(bench_impls[i], size, o->rss_n);
            s->ns[i][r] = s->rss[i][r].ns_per_pair;
        }
    }
}

/* ---------------------------------------------------------------------
 * Output
 * ------------------------------------------------------------------- */

/* Where the implementations that the targets name sit in bench_impls[]. */
static size_t impl_index(const bench_impl *impl) {
    for (size_t i = 0; i < NIMPLS; i++) {
        if (bench_impls[i] == impl) {
            return i;
        }
    }
    abort();
}
#define IMPL_BARE impl_index(&bench_impl_bare)
#define IMPL_FA impl_index(&bench_impl_fixalloc)
#define IMPL_GLIBC impl_index(&bench_impl_glibc)

static void print_time_row(const series *s, size_t i) {
    double lo, hi;
    double med = median(s->ns[i], s->rounds, &lo, &hi);
    printf("| %s | %zu | %s | %.2f | %.2f-%.2f |", wl_names[s->w - 1],
           s->size, bench_impls[i]->name, med, lo, hi);
    double rb = ratio(s, i, IMPL_BARE);
    if (rb > 0) {
        printf(" %.2fx |", rb);
    } else {
        printf(" - |");
    }
}

static void print_series(const series *s) {
    for (size_t i = 0; i < NIMPLS; i++) {
        if (!s->ran[i]) {
            continue;
        }
        print_time_row(s, i);
        if (s->w == WL_RSS) {
            double v[MAX_ROUNDS];
            for (int r = 0; r < s->rounds; r++) {
                v[r] = s->rss[i][r].rss_per_obj;
            }
            double rss = median(v, s->rounds, NULL, NULL);
            size_t slot = s->rss[i][0].slot;
            if (slot > 0) {
                printf(" %.2f | %zu | %.3f |", rss, slot, rss / (double)slot);
            } else {
                printf(" %.2f | - | - |", rss);
            }
        }
        printf("\n");
    }
}

static void table_header(bool rss) {
    if (rss) {
        printf("| workload | size B | implementation | median ns/pair | "
               "min-max | ratio to bare list | RSS B/object | slot B | "
               "RSS/slot |\n");
        printf("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | "
               "---: |\n");
    } else {
        printf("| workload | size B | implementation | median ns/pair | "
               "min-max | ratio to bare list |\n");
        printf("| --- | ---: | --- | ---: | ---: | ---: |\n");
    }
}

static void verdict(bool met, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void verdict(bool met, const char *fmt, ...) {
    va_list ap;
    printf("- %s: ", met ? "met" : "NOT MET");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static void print_targets(const series *all, size_t nseries) {
    printf("\n## Targets (measured, not asserted)\n\n");
    bool any = false;
    for (size_t k = 0; k < nseries; k++) {
        const series *s = &all[k];
        if (!s->ran[IMPL_FA]) {
            continue;
        }
        if (s->w == WL_HOT && s->ran[IMPL_BARE]) {
            double r = ratio(s, IMPL_FA, IMPL_BARE);
            verdict(r <= 1.25,
                    "(1) %zu B: fa_pool %.2fx the bare list (target <= 1.25x)",
                    s->size, r);
            any = true;
        }
        if (s->w == WL_HOT && s->ran[IMPL_GLIBC]) {
            double r = ratio(s, IMPL_GLIBC, IMPL_FA);
            verdict(r >= 4.0,
                    "(1) %zu B: fa_pool %.2fx faster than glibc malloc "
                    "(target >= 4x)",
                    s->size, r);
            any = true;
        }
        if (s->w == WL_SHUFFLE && s->ran[IMPL_BARE] &&
            (s->size == 64 || s->size == 256)) {
            double r = ratio(s, IMPL_FA, IMPL_BARE);
            verdict(r <= 0.6,
                    "(3) %zu B: fa_pool %.2fx the bare list (target <= 0.6x)",
                    s->size, r);
            any = true;
        }
        if (s->w == WL_RSS) {
            double v[MAX_ROUNDS];
            for (int r = 0; r < s->rounds; r++) {
                v[r] = s->rss[IMPL_FA][r].rss_per_obj;
            }
            double rss = median(v, s->rounds, NULL, NULL);
            double slot = (double)s->rss[IMPL_FA][0].slot;
            verdict(rss <= 1.01 * slot,
                    "(4) %zu B: fa_pool RSS %.2f B/object = %.3fx its %.0f B "
                    "slot (target <= 1.01x)",
                    s->size, rss, rss / slot, slot);
            any = true;
        }
    }
    if (!any) {
        printf("- none evaluated (fa_pool and the bare list must both run)\n");
    }
    printf("- (1) instructions per pair (target: fa_pool <= bare list + 8): "
           "counted by bench/instructions.sh under valgrind, not here\n");
}

int main(int argc, char **argv) {
    options o;
    parse_options(argc, argv, &o);
    int cpu = pin_cpu(o.cpu);
    setvbuf(stdout, NULL, _IOLBF, 0);

    printf("# fixalloc benchmark\n\n");
    printf("gcc %s, glibc %s, %ld CPUs online, pinned to CPU %d. "
           "ns per alloc+free pair; median of %d rounds (workload 4: %d), "
           "implementations interleaved; ratios are medians of per-round "
           "ratios.\n",
           __VERSION__, gnu_get_libc_version(), sysconf(_SC_NPROCESSORS_ONLN),
           cpu, o.rounds, o.rss_rounds);
    const char *check = getenv("FIXALLOC_CHECK");
    if (check != NULL) {
        printf("FIXALLOC_CHECK=%s in the environment.\n", check);
    }
    printf("Counts: (1) %zu pairs per sample; (2) %zu-object batch x %zu, "
           "(3) x %zu per sample; (4) %zu objects live, each in a fresh "
           "process.\n\n",
           o.hot_n, o.batch_n, o.lifo_reps, o.shuffle_reps, o.rss_n);

    static series all[WL_COUNT * MAX_SIZES];
    size_t nseries = 0;
    bool header = false;
    for (int w = WL_HOT; w <= WL_SHUFFLE; w++) {
        for (size_t z = 0; o.workload[w] && z < o.nsizes; z++) {
            if (!header) {
                table_header(false);
                header = true;
            }
            run_series(&o, w, o.sizes[z], &all[nseries]);
            print_series(&all[nseries++]);
        }
    }
    if (o.workload[WL_RSS]) {
        printf("\n");
        table_header(true);
        for (size_t z = 0; z < o.nsizes; z++) {
            run_rss_series(&o, o.sizes[z], &all[nseries]);
            print_series(&all[nseries++]);
        }
    }
    print_targets(all, nseries);
    return 0;
}
