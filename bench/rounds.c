/*
 * rounds.c - the measurements: interleaved rounds and fresh-process runs.
 *
 * For each workload and size, every worker is asked to set up, then in
 * round r the workers run one after another in an order rotated by r
 * (A B C, B C A, ...), one timed run each, so that drift of the machine
 * falls on all of them alike. Workloads (4)/(7), (10) and (11) measure
 * RSS, so each of their runs is a fresh process (--cold, --mixed-rss,
 * --phase). A round
 * that other processes disturbed is run again (noise.c).
 */
#include "driver.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* Rounds of a timed workload, the workers interleaved. */
void run_series(bench_run *run, int w, size_t size)
{
    const bench_options *o = &run->opt;
    series *s = new_series(run, w, size);
    s->rounds = o->rounds;
    size_t n = 0, reps = 0, live = 0;
    switch (w) {
    case WL_HOT: n = o->hot_n; break;
    case WL_LIFO:
        n = o->batch_n;
        reps = o->lifo_reps;
        break;
    case WL_SHUFFLE:
        n = o->batch_n;
        reps = o->shuffle_reps;
        break;
    case WL_PRODCON: n = o->prodcon_n; break;
    case WL_PAIRS2: n = o->pairs2_n; break;
    case WL_MIXED:
        n = o->mixed_n;
        live = o->mixed_live;
        break;
    case WL_LARSON:
        n = o->larson_n;
        reps = o->larson_epochs;
        live = o->larson_live;
        break;
    default: abort();
    }
    char cmd[128], line[512];
    snprintf(cmd, sizeof cmd, "begin %d %zu %zu %zu %zu\n", w, size, n, reps,
             live);
    int order[MAX_ROWS], m = 0;
    for (size_t i = 0; i < run->nrows; i++) {
        if (!run->rows[i].up || !applicable(&run->rows[i], w)) {
            continue;
        }
        if (ask(&run->rows[i], cmd, line, sizeof line, 300) &&
            strcmp(line, "ok") == 0) {
            order[m++] = (int)i;
            s->ran[i] = true;
        } else if (run->rows[i].up) {
            fprintf(stderr, "bench: %s, workload %d: %s\n", run->rows[i].id, w,
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
                if (!ask(&run->rows[i], "run\n", line, sizeof line, 300) ||
                    sscanf(line, "ok %llu %llu %lld", &ns, &pairs, &cpu_ns) !=
                        3 ||
                    pairs == 0) {
                    s->ran[i] = false;
                    continue;
                }
                s->ns[i][r] = (double)ns / (double)pairs;
                cpu += (double)cpu_ns;
            }
            run->noise.rounds += attempt == 0;
            double wall = (double)(bench_now_ns() - t0);
            if (!disturbed(busy0, cpu, wall) ||
                !try_again(run, attempt, 3, wall)) {
                break;
            }
        }
    }
    for (int k = 0; k < m; k++) {
        if (run->rows[order[k]].up) {
            ask(&run->rows[order[k]], "end\n", line, sizeof line, 300);
        }
    }
}

/* One fresh process: --cold SIZE N, --mixed-rss DIST N, or --phase
 * A,B,CYCLES BYTES (size: A). */
static bool run_cold_once(const bench_run *run, row *r, int w, size_t size,
                          size_t n, cold_sample *out)
{
    const bench_options *o = &run->opt;
    char a1[64], a2[32], line[512];
    const char *mode = w == WL_COLD ? "--cold" : "--mixed-rss";
    snprintf(a1, sizeof a1, "%zu", size);
    snprintf(a2, sizeof a2, "%zu", n);
    if (w == WL_PHASE) {
        mode = "--phase";
        snprintf(a1, sizeof a1, "%zu,%zu,%zu", o->phase_a, o->phase_b,
                 o->phase_cycles);
        snprintf(a2, sizeof a2, "%zu", o->phase_bytes);
    }
    char *extra[] = {(char *)(uintptr_t)mode, a1, a2, NULL};
    int res_fd;
    pid_t pid = spawn(run, r, extra, NULL, NULL, &res_fd);
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

void run_cold_series(bench_run *run, int w, size_t size)
{
    const bench_options *o = &run->opt;
    series *s = new_series(run, w, size);
    s->rounds = o->cold_rounds;
    switch (w) {
    case WL_COLD: s->n = cold_objects(o, size); break;
    case WL_PHASE:
        s->n = o->phase_cycles *
               (o->phase_bytes / o->phase_a + o->phase_bytes / o->phase_b);
        break;
    default: s->n = o->mixed_rss_n; break;
    }
    int order[MAX_ROWS], m = 0;
    for (size_t i = 0; i < run->nrows; i++) {
        if (run->rows[i].up && applicable(&run->rows[i], w)) {
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
                if (!run_cold_once(run, &run->rows[i], w, size, s->n,
                                   &s->cold[i][r])) {
                    s->ran[i] = false;
                    break;
                }
                run->noise.rounds += attempt == 0;
                double wall = (double)(bench_now_ns() - t0);
                if (!disturbed(busy0, s->cold[i][r].cpu_ns, wall) ||
                    !try_again(run, attempt, 2, wall)) {
                    break;
                }
            }
            cold_sample *c = &s->cold[i][r];
            s->ns[i][r] =
                (c->init_ns + c->alloc_ns + c->free_ns) / (double)s->n;
        }
    }
}
