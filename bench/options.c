/*
 * options.c - fixalloc_bench's command line: parsing, the defaults, usage.
 *
 * Owns the bench_options of a run: which workloads, sizes and
 * implementations, how many rounds, the counts of each workload (smaller
 * with --quick), the CPUs to pin to, and where the CSV file and the charts
 * go. --list and --help are answered here.
 */
#include "driver.h"
#include "bench_config.h"

#include <errno.h>
#include <sched.h>

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: fixalloc_bench [options]\n"
        "  --quick              fewer rounds, smaller counts (< 1 minute)\n"
        "  --workload LIST      e.g. 1,3,5 (default: 1-11; 7 comes with 4)\n"
        "  --size LIST          object sizes (default 16,64,256)\n"
        "  --trim-size LIST     sizes of (7)'s own table, run by 4/7 besides\n"
        "                       --size's (default 64,1024)\n"
        "  --impl LIST          implementations by id (default: all; --list)\n"
        "  --rounds N           rounds of the timed workloads\n"
        "  --cold-rounds N      rounds of workloads 4/7 and 10\n"
        "  --cold-objects N     objects of workloads 4/7 (default 10M; at\n"
        "                       most N x 256 bytes of them)\n"
        "  --phase-sizes A,B    (11)'s two object sizes (default 64,256)\n"
        "  --phase-bytes N      (11)'s bytes per phase (default 64Mi)\n"
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
    if (strncmp(end, "Ki", 2) == 0 || strncmp(end, "Mi", 2) == 0) {
        v <<= *end == 'K' ? 10 : 20;
        end += 2;
    } else if (*end == 'k' || *end == 'K') {
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

/* Parses a comma-separated list of sizes into v (at most MAX_SIZES). */
static void parse_sizes(const char *arg, size_t *v, size_t *n)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", arg);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        if (*n == MAX_SIZES) {
            fprintf(stderr, "bench: at most %d sizes\n", MAX_SIZES);
            exit(2);
        }
        v[(*n)++] = parse_num(t, "size");
        if (v[*n - 1] == 0) {
            fprintf(stderr, "bench: size 0\n");
            exit(2);
        }
    }
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
static void default_cpus(bench_options *o)
{
    cpu_set_t set;
    o->cpu_main = o->cpu_helper = -1;
    if (sched_getaffinity(0, sizeof set, &set) != 0) {
        return;
    }
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (CPU_ISSET((size_t)c, &set)) {
            o->cpu_helper = o->cpu_main;
            o->cpu_main = c;
        }
    }
    if (o->cpu_helper < 0) {
        o->cpu_helper = o->cpu_main;
    }
}

void parse_options(bench_options *o, int argc, char **argv)
{
    bool any_wl = false, list = false;
    o->rounds = o->cold_rounds = 0;
    default_cpus(o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--quick") == 0) {
            o->quick = true;
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
                o->workload[w] = true;
                any_wl = true;
            }
        } else if (strcmp(a, "--size") == 0) {
            parse_sizes(need_arg(argc, argv, &i), o->sizes, &o->nsizes);
        } else if (strcmp(a, "--trim-size") == 0) {
            parse_sizes(need_arg(argc, argv, &i), o->trim_sizes,
                        &o->ntrim_sizes);
        } else if (strcmp(a, "--phase-sizes") == 0) {
            size_t v[MAX_SIZES], n = 0;
            parse_sizes(need_arg(argc, argv, &i), v, &n);
            if (n != 2 || v[0] == v[1]) {
                fprintf(stderr, "bench: --phase-sizes A,B: two sizes\n");
                exit(2);
            }
            o->phase_a = v[0];
            o->phase_b = v[1];
        } else if (strcmp(a, "--phase-bytes") == 0) {
            o->phase_bytes = parse_num(need_arg(argc, argv, &i), "bytes");
        } else if (strcmp(a, "--impl") == 0) {
            o->impls = need_arg(argc, argv, &i);
        } else if (strcmp(a, "--rounds") == 0) {
            o->rounds = (int)parse_num(need_arg(argc, argv, &i), "rounds");
        } else if (strcmp(a, "--cold-rounds") == 0) {
            o->cold_rounds = (int)parse_num(need_arg(argc, argv, &i), "rounds");
        } else if (strcmp(a, "--cold-objects") == 0) {
            o->cold_n = parse_num(need_arg(argc, argv, &i), "count");
        } else if (strcmp(a, "--cpu") == 0) {
            if (sscanf(need_arg(argc, argv, &i), "%d,%d", &o->cpu_main,
                       &o->cpu_helper) != 2) {
                fprintf(stderr, "bench: --cpu A,B\n");
                exit(2);
            }
        } else if (strcmp(a, "--no-instructions") == 0) {
            o->no_instructions = true;
        } else if (strcmp(a, "--instructions") == 0) {
            o->instructions_only = true;
        } else if (strcmp(a, "--csv") == 0) {
            o->csv = need_arg(argc, argv, &i);
        } else if (strcmp(a, "--gnuplot") == 0) {
            o->gnuplot = need_arg(argc, argv, &i);
        } else if (strcmp(a, "--png-prefix") == 0) {
            o->png_prefix = need_arg(argc, argv, &i);
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
    if (o->nsizes == 0) {
        o->sizes[0] = 16;
        o->sizes[1] = 64;
        o->sizes[2] = 256;
        o->nsizes = 3;
    }
    if (o->ntrim_sizes == 0) {
        o->trim_sizes[0] = 64;
        o->trim_sizes[1] = 1024;
        o->ntrim_sizes = 2;
    }
    /* (4)/(7) run at --size's sizes, then at the trim sizes not among
     * them. */
    for (size_t z = 0; z < o->nsizes; z++) {
        o->cold_sizes[o->ncold_sizes++] = o->sizes[z];
    }
    for (size_t t = 0; t < o->ntrim_sizes; t++) {
        bool seen = false;
        for (size_t z = 0; z < o->ncold_sizes; z++) {
            seen = seen || o->cold_sizes[z] == o->trim_sizes[t];
        }
        if (!seen) {
            o->cold_sizes[o->ncold_sizes++] = o->trim_sizes[t];
        }
    }
    for (int w = 1; w <= WL_COUNT; w++) {
        o->workload[w] = o->workload[w] || !any_wl;
    }
    o->workload[WL_TRIM] = o->workload[WL_TRIM] || o->workload[WL_COLD];
    o->workload[WL_COLD] = o->workload[WL_COLD] || o->workload[WL_TRIM];
    bool q = o->quick;
    if (o->rounds == 0) {
        o->rounds = q ? 3 : 11;
    }
    if (o->cold_rounds == 0) {
        o->cold_rounds = 1;
    }
    if (o->rounds > MAX_ROUNDS || o->cold_rounds > MAX_ROUNDS) {
        fprintf(stderr, "bench: at most %d rounds\n", MAX_ROUNDS);
        exit(2);
    }
    o->hot_n = q ? 300000 : 2000000;
    o->batch_n = 100000;
    o->lifo_reps = q ? 1 : 5;
    o->shuffle_reps = q ? 1 : 3;
    o->prodcon_n = q ? 100000 : 300000;
    o->pairs2_n = q ? 300000 : 2000000;
    o->mixed_live = 8192;
    o->mixed_n = q ? 200000 : 1000000;
    o->larson_live = 2048;
    o->larson_n = q ? 50000 : 100000;
    o->larson_epochs = q ? 2 : 5;
    if (o->cold_n == 0) {
        o->cold_n = q ? 500000 : 10000000;
    }
    /* 10M objects up to 256 bytes; fewer of larger ones (2.5M of 1 KiB). */
    o->cold_bytes = o->cold_n * 256;
    if (o->phase_a == 0) {
        o->phase_a = 64;
        o->phase_b = 256;
    }
    if (o->phase_bytes == 0) {
        o->phase_bytes = (size_t)(q ? 16 : 64) << 20;
    }
    if (o->phase_bytes < o->phase_a || o->phase_bytes < o->phase_b) {
        fprintf(stderr, "bench: --phase-bytes below an object\n");
        exit(2);
    }
    o->phase_cycles = 3;
    o->mixed_rss_n = q ? 200000 : 1000000;
    o->instr_n = 100000;
    o->retry_budget_ns = q ? 10e9 : 90e9;
    if (o->png_prefix == NULL) {
        o->png_prefix = "bench-";
    }
}
