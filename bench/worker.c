/*
 * worker.c - the process that runs one implementation's workloads.
 *
 * Every worker executable (bench-fixalloc, bench-glibc, bench-jemalloc, ...)
 * is this file plus the adapters of one library, listed at compile time in
 * BENCH_IMPL_LIST. A worker process serves exactly one implementation
 * (--impl), so allocators that replace malloc never share a process. Modes:
 *
 *   --serve              commands on stdin, replies on fd 3 (the driver's
 *                        rounds: begin W SIZE N REPS / run / end / quit)
 *   --cold SIZE N        workloads (4) and (7) once, in this fresh process
 *   --mixed-rss DIST N   workload (10) once, in this fresh process
 *   --phase A,B,C BYTES  workload (11) once, in this fresh process: C
 *                        cycles of BYTES in A-byte objects, then in B-byte
 *                        ones
 *   --hot-only N SIZES   workload (1) at each size, for the instruction
 *                        counts (callgrind toggles collection around it)
 *   --list               the implementations of this executable
 *
 * The main thread runs single-threaded workloads pinned to --cpu's first
 * CPU; two-thread workloads add one helper thread pinned to the second,
 * created once and kept. Replies go to fd 3 when it is open (else stdout),
 * so that whatever a library prints cannot garble them.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifdef BENCH_HAVE_CALLGRIND
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_TOGGLE_COLLECT
#define CALLGRIND_DUMP_STATS_AT(s) ((void)(s))
#endif

#define X(id) extern const bench_impl bench_impl_##id;
BENCH_IMPL_LIST
#undef X
#define X(id) &bench_impl_##id,
static const bench_impl *const impls[] = {BENCH_IMPL_LIST};
#undef X
#define NIMPLS (sizeof impls / sizeof impls[0])

uint32_t bench_size_table[2][BENCH_SIZE_TABLE];

static const bench_impl *impl;
static int cpu_main = -1, cpu_helper = -1;
static FILE *out;

/* ---------------------------------------------------------------------
 * Helpers of bench.h
 * ------------------------------------------------------------------- */

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

long bench_rss_bytes(void)
{
    /* open/read, not stdio: no buffer from the heap under measurement. */
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

_Noreturn void bench_out_of_memory(const char *name, size_t size)
{
    fprintf(stderr, "bench: %s returned NULL (object size %zu)\n", name, size);
    exit(1);
}

static _Noreturn void die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static _Noreturn void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench worker: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

/* The size tables of the mixed workloads (fixed seed): uniform in
 * [16, 1024], and skewed towards small sizes, 16 + 1008 u^4 (median 79 B,
 * mean 218 B). */
static void make_size_tables(void)
{
    uint64_t x = 0x5eed5eed;
    for (size_t i = 0; i < BENCH_SIZE_TABLE; i++) {
        uint64_t z = bench_rand(&x);
        bench_size_table[BENCH_UNIFORM][i] = (uint32_t)(16 + z % 1009);
        double u = (double)(bench_rand(&x) >> 11) * 0x1p-53;
        bench_size_table[BENCH_SKEWED][i] =
            (uint32_t)(16 + 1008.0 * u * u * u * u);
    }
}

static void pin(int cpu)
{
    if (cpu < 0) {
        return;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((size_t)cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        perror("bench worker: sched_setaffinity");
    }
}

/* Memory outside every implementation's heap, touched now. */
static void *map_touched(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) {
        die("mmap of %zu bytes: %s", bytes, strerror(errno));
    }
    memset(p, 0, bytes);
    return p;
}

/* A fixed-seed permutation of 0..n-1 (Fisher-Yates). */
static uint32_t *shuffled(size_t n)
{
    uint32_t *perm = map_touched(n * sizeof *perm);
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; i < n; i++) {
        perm[i] = (uint32_t)i;
    }
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(bench_rand(&x) % (i + 1));
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    return perm;
}

static void *init_or_die(size_t size, size_t max_live)
{
    void *st = impl->init(size, max_live);
    if (st == NULL) {
        die("%s: init failed (size %zu, %zu live)", impl->name, size, max_live);
    }
    return st;
}

static void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void reply(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
    fputc('\n', out);
    fflush(out);
}

/* ---------------------------------------------------------------------
 * The helper thread: the second thread of the two-thread workloads
 * ------------------------------------------------------------------- */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned posted, done;
    void (*fn)(void *);
    void *arg;
    bool up;
    pthread_t thread;
} helper = {PTHREAD_MUTEX_INITIALIZER,
            PTHREAD_COND_INITIALIZER,
            0,
            0,
            NULL,
            NULL,
            false,
            0};

static void *helper_main(void *unused)
{
    (void)unused;
    pin(cpu_helper);
    if (impl->thread_start != NULL) {
        impl->thread_start();
    }
    unsigned seen = 0;
    pthread_mutex_lock(&helper.mu);
    for (;;) {
        while (helper.posted == seen) {
            pthread_cond_wait(&helper.cv, &helper.mu);
        }
        seen = helper.posted;
        void (*fn)(void *) = helper.fn;
        void *arg = helper.arg;
        pthread_mutex_unlock(&helper.mu);
        fn(arg);
        pthread_mutex_lock(&helper.mu);
        helper.done = seen;
        pthread_cond_broadcast(&helper.cv);
    }
    return NULL;
}

/* Runs fn(arg) on the helper thread; helper_wait() waits for it. */
static void helper_post(void (*fn)(void *), void *arg)
{
    if (!helper.up) {
        if (pthread_create(&helper.thread, NULL, helper_main, NULL) != 0) {
            die("pthread_create failed");
        }
        helper.up = true;
    }
    pthread_mutex_lock(&helper.mu);
    helper.fn = fn;
    helper.arg = arg;
    helper.posted++;
    pthread_cond_broadcast(&helper.cv);
    pthread_mutex_unlock(&helper.mu);
}

static void helper_wait(void)
{
    pthread_mutex_lock(&helper.mu);
    while (helper.done != helper.posted) {
        pthread_cond_wait(&helper.cv, &helper.mu);
    }
    pthread_mutex_unlock(&helper.mu);
}

/* ---------------------------------------------------------------------
 * One series: the state of a (workload, size) between begin and end
 * ------------------------------------------------------------------- */

static struct series {
    int w;
    size_t size, n, reps, live;
    void *st;        /* the main thread's state */
    void *st_h;      /* the helper's: st, or its own (not BENCH_SHARED) */
    bench_args a, b; /* the main thread's and the helper's arguments */
    bench_result rb; /* the helper's last result */
    bench_ring *ring;
    bench_barrier barrier;
    void **ptrs;
    uint32_t *perm;
    void **arrays[2];
} S;

static bool helper_owns_state(void)
{
    return (impl->caps & BENCH_SHARED) == 0;
}

static void h_init(void *unused)
{
    (void)unused;
    S.st_h = init_or_die(S.size, S.w == WL_LARSON ? 2 * S.live : 4096);
}

static void h_destroy(void *unused)
{
    (void)unused;
    impl->destroy(S.st_h);
}

/* Fills array k with S.live objects of random sizes from state st. */
static void fill_array(void *st, int k)
{
    const uint32_t *sizes =
        bench_size_table[S.w == WL_LARSON ? BENCH_UNIFORM : S.size];
    uint64_t x = 0xf111 + (uint64_t)k;
    for (size_t i = 0; i < S.live; i++) {
        void *p = impl->alloc_n(st, sizes[bench_rand(&x) % BENCH_SIZE_TABLE]);
        if (p == NULL) {
            bench_out_of_memory(impl->name, 0);
        }
        *(char *)p = 1;
        S.arrays[k][i] = p;
    }
}

static void empty_array(void *st, int k)
{
    for (size_t i = 0; i < S.live; i++) {
        impl->free(st, S.arrays[k][i]);
    }
}

static void h_fill(void *unused)
{
    (void)unused;
    fill_array(S.st_h, 1);
}

static void h_empty(void *unused)
{
    (void)unused;
    empty_array(S.st_h, 1);
}

static void h_producer(void *unused)
{
    (void)unused;
    S.rb = impl->producer(S.st_h, &S.b);
}

static void h_hot(void *unused)
{
    (void)unused;
    S.rb = impl->fixed[WL_HOT](S.st_h, &S.b);
}

static void h_larson(void *unused)
{
    (void)unused;
    S.rb = impl->var[WL_LARSON](S.st_h, &S.b);
}

static bool two_threads(int w)
{
    return w == WL_PRODCON || w == WL_PAIRS2 || w == WL_LARSON;
}

/* One timed run of the current series; returns ns and pairs. */
static bench_result run_once(void)
{
    bench_result r;
    switch (S.w) {
    case WL_HOT:
    case WL_LIFO:
    case WL_SHUFFLE: return impl->fixed[S.w](S.st, &S.a);
    case WL_MIXED: return impl->var[WL_MIXED](S.st, &S.a);
    case WL_PRODCON:
        atomic_store(&S.ring->head, 0);
        atomic_store(&S.ring->tail, 0);
        helper_post(h_producer, NULL);
        /* The consumer frees with the producer's state. */
        r = impl->consumer(S.st_h, &S.a);
        break;
    case WL_PAIRS2:
        helper_post(h_hot, NULL);
        r = impl->fixed[WL_HOT](S.st, &S.a);
        break;
    case WL_LARSON:
        helper_post(h_larson, NULL);
        r = impl->var[WL_LARSON](S.st, &S.a);
        break;
    default: die("bad workload %d", S.w);
    }
    helper_wait();
    /* Wall time of the two threads: first start to last end. */
    uint64_t t0 = S.a.t0 < S.b.t0 ? S.a.t0 : S.b.t0;
    uint64_t t1 = S.a.t1 > S.b.t1 ? S.a.t1 : S.b.t1;
    r.ns = t1 - t0;
    r.sink += S.rb.sink;
    return r;
}

static const char *begin(int w, size_t size, size_t n, size_t reps, size_t live)
{
    memset(&S, 0, sizeof S);
    S.w = w;
    S.size = size;
    S.n = n;
    S.reps = reps;
    S.live = live;
    bool fixed = w <= WL_TRIM;
    if (fixed && w != WL_PRODCON && impl->fixed[w] == NULL) {
        return "workload not served";
    }
    if (w == WL_PRODCON && impl->producer == NULL) {
        return "workload not served";
    }
    if (!fixed && impl->var[w] == NULL) {
        return "workload not served";
    }
    S.a.size = size;
    S.a.n = n;
    S.a.reps = reps;
    S.a.live = live;
    S.a.seed = 0x1234;
    switch (w) {
    case WL_HOT: S.st = init_or_die(size, 1); break;
    case WL_LIFO:
    case WL_SHUFFLE:
        S.st = init_or_die(size, n);
        S.ptrs = map_touched(n * sizeof(void *));
        S.perm = shuffled(n);
        S.a.ptrs = S.ptrs;
        S.a.perm = S.perm;
        break;
    case WL_MIXED:
        S.st = init_or_die(0, live);
        S.arrays[0] = map_touched(live * sizeof(void *));
        S.a.arrays[0] = S.arrays[0];
        fill_array(S.st, 0);
        break;
    case WL_PRODCON:
    case WL_PAIRS2:
    case WL_LARSON:
        if (w != WL_PAIRS2 && (impl->caps & (BENCH_REMOTE | BENCH_RING)) == 0) {
            return "workload not served";
        }
        S.st = init_or_die(w == WL_LARSON ? 0 : size,
                           w == WL_LARSON ? 2 * live : 4096);
        S.st_h = S.st;
        if (helper_owns_state()) {
            helper_post(h_init, NULL);
            helper_wait();
        }
        S.b = S.a;
        S.b.thread = 1;
        S.b.seed = 0x5678;
        S.barrier.n = 2;
        S.a.barrier = S.b.barrier = &S.barrier;
        if (w == WL_PRODCON) {
            S.ring = map_touched(sizeof *S.ring);
            S.a.ring = S.b.ring = S.ring;
        }
        if (w == WL_LARSON) {
            S.arrays[0] = map_touched(live * sizeof(void *));
            S.arrays[1] = map_touched(live * sizeof(void *));
            for (int k = 0; k < 2; k++) {
                S.a.arrays[k] = S.b.arrays[k] = S.arrays[k];
            }
            fill_array(S.st, 0);
            helper_post(h_fill, NULL);
            helper_wait();
        }
        break;
    default: return "workload not served";
    }
    run_once(); /* warm-up, not kept */
    return NULL;
}

static void end(void)
{
    if (S.w == WL_MIXED) {
        empty_array(S.st, 0);
    }
    if (S.w == WL_LARSON) {
        empty_array(S.st, 0);
        helper_post(h_empty, NULL);
        helper_wait();
    }
    if (two_threads(S.w) && S.st_h != S.st) {
        helper_post(h_destroy, NULL);
        helper_wait();
    }
    if (S.st != NULL) {
        impl->destroy(S.st);
    }
    if (S.ptrs != NULL) {
        munmap(S.ptrs, S.n * sizeof(void *));
        munmap(S.perm, S.n * sizeof(uint32_t));
    }
    for (int k = 0; k < 2; k++) {
        if (S.arrays[k] != NULL) {
            munmap(S.arrays[k], S.live * sizeof(void *));
        }
    }
    if (S.ring != NULL) {
        munmap(S.ring, sizeof *S.ring);
    }
    memset(&S, 0, sizeof S);
}

/* The --serve loop. */
static int serve(void)
{
    char line[256];
    while (fgets(line, sizeof line, stdin) != NULL) {
        int w;
        size_t size, n, reps, live;
        if (sscanf(line, "begin %d %zu %zu %zu %zu", &w, &size, &n, &reps,
                   &live) == 5) {
            if (S.st != NULL) {
                end();
            }
            const char *why = begin(w, size, n, reps, live);
            if (why != NULL) {
                memset(&S, 0, sizeof S);
                reply("na %s", why);
            } else {
                reply("ok");
            }
        } else if (strncmp(line, "run", 3) == 0 && S.st == NULL) {
            reply("na no workload begun");
        } else if (strncmp(line, "run", 3) == 0) {
            /* The process's CPU time too: the driver compares it with the
             * machine's to see whether other processes ran meanwhile. */
            struct timespec c0, c1;
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
            bench_result r = run_once();
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
            long long cpu = (long long)(c1.tv_sec - c0.tv_sec) * 1000000000 +
                            (c1.tv_nsec - c0.tv_nsec);
            reply("ok %llu %llu %lld", (unsigned long long)r.ns,
                  (unsigned long long)r.pairs, cpu);
        } else if (strncmp(line, "end", 3) == 0) {
            end();
            reply("ok");
        } else if (strncmp(line, "quit", 4) == 0) {
            break;
        } else {
            reply("na bad command");
        }
    }
    return 0;
}

/* --cold SIZE N, --mixed-rss DIST N and --phase A,B,C BYTES: one run in
 * this fresh process. The pointer array and the permutation are touched
 * and the baseline RSS read before the implementation's init, so every
 * byte it adds is counted; the init is timed too (DPDK populates its whole
 * mempool there). For (11), n is the count of phase A's objects and
 * size2, reps phase B's size and the cycles. */
static int cold(int w, size_t size, size_t n, size_t size2, size_t reps)
{
    bench_args a;
    memset(&a, 0, sizeof a);
    a.size = size;
    a.n = n;
    a.size2 = size2;
    a.reps = reps;
    a.seed = 0xc01d;
    /* (11): room for the phase with the most objects. */
    size_t slots = w == WL_PHASE && size2 < size ? n * size / size2 : n;
    a.ptrs = map_touched(slots * sizeof(void *));
    a.perm = shuffled(slots);
    long rss0 = bench_rss_bytes();
    bench_run_fn fn = w == WL_COLD ? impl->fixed[WL_COLD] : impl->var[w];
    if (fn == NULL) {
        reply("na workload not served");
        return 0;
    }
    uint64_t t0 = bench_now_ns();
    void *st = init_or_die(w == WL_COLD ? size : 0, slots);
    uint64_t init_ns = bench_now_ns() - t0;
    bench_result r = fn(st, &a);
    size_t slot = impl->slot != NULL && w == WL_COLD ? impl->slot(st) : 0;
    reply("ok %llu %llu %llu %llu %ld %ld %ld %llu %zu",
          (unsigned long long)init_ns, (unsigned long long)r.alloc_ns,
          (unsigned long long)r.free_ns, (unsigned long long)r.trim_ns,
          r.rss_full - rss0, r.rss_freed - rss0, r.rss_trimmed - rss0,
          (unsigned long long)r.bytes, slot);
    return 0;
}

/* --hot-only N SIZES: workload (1)'s loop alone at each size, after a
 * warm-up, with callgrind's collection on only around it and one dump per
 * size. Without valgrind the toggles are no-ops. */
static int hot_only(size_t n, const char *sizes)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", sizes);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        size_t size = strtoull(tok, NULL, 10);
        void *st = init_or_die(size, 1);
        bench_args a;
        memset(&a, 0, sizeof a);
        a.size = size;
        a.n = 1000;
        impl->fixed[WL_HOT](st, &a);
        a.n = n;
        CALLGRIND_TOGGLE_COLLECT;
        impl->fixed[WL_HOT](st, &a);
        CALLGRIND_TOGGLE_COLLECT;
        char label[64];
        snprintf(label, sizeof label, "size %zu", size);
        CALLGRIND_DUMP_STATS_AT(label);
        impl->destroy(st);
    }
    return 0;
}

static size_t num(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') {
        die("bad number '%s'", s);
    }
    return (size_t)v;
}

int main(int argc, char **argv)
{
    const char *id = NULL;
    size_t mem_hint = 0;
    int mode = 0; /* 's'erve, 'c'old, 'm'ixed, 'p'hase, 'h'ot, 'l'ist */
    const char *m1 = NULL, *m2 = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc, two = i + 2 < argc;
        if (strcmp(a, "--impl") == 0 && more) {
            id = argv[++i];
        } else if (strcmp(a, "--cpu") == 0 && more) {
            if (sscanf(argv[++i], "%d,%d", &cpu_main, &cpu_helper) < 1) {
                die("bad --cpu");
            }
        } else if (strcmp(a, "--mem") == 0 && more) {
            mem_hint = num(argv[++i]);
        } else if (strcmp(a, "--serve") == 0) {
            mode = 's';
        } else if (strcmp(a, "--list") == 0) {
            mode = 'l';
        } else if ((strcmp(a, "--cold") == 0 || strcmp(a, "--mixed-rss") == 0 ||
                    strcmp(a, "--phase") == 0 ||
                    strcmp(a, "--hot-only") == 0) &&
                   two) {
            mode = a[2];
            m1 = argv[++i];
            m2 = argv[++i];
        } else {
            die("usage: %s --impl ID [--cpu A,B] [--mem BYTES] (--serve | "
                "--cold SIZE N | --mixed-rss DIST N | --phase A,B,CYCLES BYTES "
                "| "
                "--hot-only N SIZES | --list)",
                argv[0]);
        }
    }
    out = stdout;
    if (fcntl(3, F_GETFD) != -1) {
        out = fdopen(3, "w");
        if (out == NULL) {
            die("fdopen(3): %s", strerror(errno));
        }
    }
    if (mode == 'l') {
        for (size_t k = 0; k < NIMPLS; k++) {
            printf("%s\t%s\n", impls[k]->id, impls[k]->name);
        }
        return 0;
    }
    for (size_t k = 0; k < NIMPLS && id != NULL; k++) {
        if (strcmp(impls[k]->id, id) == 0) {
            impl = impls[k];
        }
    }
    if (impl == NULL || mode == 0) {
        die("no implementation '%s' in this executable (--list), or no mode",
            id != NULL ? id : "");
    }
    make_size_tables();
    size_t pa = 0, pb = 0, pc = 0;
    if (mode == 'p' && (sscanf(m1, "%zu,%zu,%zu", &pa, &pb, &pc) != 3 ||
                        pa == 0 || pb == 0 || pc == 0)) {
        die("bad --phase sizes '%s' (A,B,CYCLES)", m1);
    }
    if (mode == 'c') {
        mem_hint = num(m2) * (num(m1) + 192);
    } else if (mode == 'm') {
        mem_hint = num(m2) * 1200;
    } else if (mode == 'p') {
        mem_hint = 2 * num(m2);
    }
    const char *why = impl->setup != NULL ? impl->setup(mem_hint) : NULL;
    if (why != NULL) {
        reply("unavailable %s", why);
        return 0;
    }
    pin(cpu_main);
    switch (mode) {
    case 's':
        reply("ready\t%u\t%s\t%s\t%s\t%s", impl->caps,
              impl->version != NULL ? impl->version() : "-", impl->name,
              impl->trim_call != NULL ? impl->trim_call : "-",
              impl->trim_none != NULL ? impl->trim_none : "-");
        return serve();
    case 'c': return cold(WL_COLD, num(m1), num(m2), 0, 0);
    case 'm': return cold(WL_MIXED_RSS, num(m1), num(m2), 0, 0);
    case 'p': return cold(WL_PHASE, pa, num(m2) / pa, pb, pc);
    case 'h': return hot_only(num(m1), m2);
    default: return 2;
    }
}
