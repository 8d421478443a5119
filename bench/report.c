/*
 * report.c - the opening of the markdown report, and the number formats.
 *
 * The number formats every table uses; the title, the machine and the
 * method in brief, the versions of the libraries, the noise guard's
 * counts, the workloads' counts, and what was not run (peers not built,
 * workers that did not start).
 */
#include "driver.h"
#include "bench_config.h"

#include <gnu/libc-version.h>
#include <math.h>
#include <sys/utsname.h>
#include <unistd.h>

void fmt_ns(char *b, size_t cap, double v)
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

void fmt_ratio(char *b, size_t cap, double v)
{
    if (isnan(v)) {
        snprintf(b, cap, "-");
    } else {
        snprintf(b, cap, "%.2fx", v);
    }
}
void print_header(const bench_run *run)
{
    const bench_options *o = &run->opt;
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
    printf("# fixalloc benchmark%s\n\n", o->quick ? " (quick)" : "");
    printf("%ld CPUs online (%s), Linux %.*s, gcc %s, glibc %s. Each "
           "implementation runs in its own process; its main thread is pinned "
           "to CPU %d, a second thread (workloads 5, 6, 9) to CPU %d. Times "
           "are ns per alloc+free pair: the median of %d round%s, in each of "
           "which the implementations run one after another in an order "
           "rotated every round, with min-max; ratios are medians of the "
           "ratios taken inside each round. Workloads 4, 7, 10 and 11 run in "
           "a fresh process each (%d round%s).\n\n",
           sysconf(_SC_NPROCESSORS_ONLN), model, (int)strcspn(u.release, "-+"),
           u.release, __VERSION__, gnu_get_libc_version(), o->cpu_main,
           o->cpu_helper, o->rounds, o->rounds > 1 ? "s" : "", o->cold_rounds,
           o->cold_rounds > 1 ? "s" : "");
    printf("Versions:");
    const char *last = "";
    for (size_t i = 0; i < run->nrows; i++) {
        if (!run->rows[i].up || strcmp(run->rows[i].version, "-") == 0 ||
            run->rows[i].version[0] == '\0' ||
            strcmp(run->rows[i].exe, last) == 0) {
            continue;
        }
        /* "5.3.0-0-g54eaed1d..." -> "5.3.0"; "gperftools 2.10" -> "2.10" */
        const char *v = run->rows[i].version;
        if (strncmp(v, "gperftools ", 11) == 0) {
            v += 11;
        }
        printf("%s %s %.*s", last[0] != '\0' ? "," : "", run->rows[i].exe + 6,
               (int)strcspn(v, "-"), v);
        last = run->rows[i].exe;
    }
    printf(". Load average (1 min) at the start: %.2f.\n\n", run->start_load);
    int dpdk = row_of(run, "dpdk");
    if (dpdk >= 0 && run->rows[dpdk].up) {
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
           run->noise.rounds, run->noise.redone,
           run->noise.redone == 1 ? "was" : "were", run->noise.kept,
           run->noise.kept == 1 ? " was" : "s were", o->retry_budget_ns / 1e9);
    printf("Counts: (1) %zu pairs per run; (2) %zu-object batch x %zu, (3) "
           "x %zu; (5) %zu objects handed over; (6) %zu pairs per thread; "
           "(4)/(7) %zu objects, at most %.2f GB of them; (8) %zu steps over "
           "%zu live objects; (9) %zu epochs x %zu steps per thread over 2 x "
           "%zu objects; (10) %zu objects; (11) %zu cycles of %.0f MiB in "
           "%zu-byte objects, then in %zu-byte ones.\n\n",
           o->hot_n, o->batch_n, o->lifo_reps, o->shuffle_reps, o->prodcon_n,
           o->pairs2_n, o->cold_n, (double)o->cold_bytes / 1e9, o->mixed_n,
           o->mixed_live, o->larson_epochs, o->larson_n, o->larson_live,
           o->mixed_rss_n, o->phase_cycles, (double)o->phase_bytes / 1048576.0,
           o->phase_a, o->phase_b);
    const char *check = getenv("FIXALLOC_CHECK");
    if (check != NULL) {
        printf("FIXALLOC_CHECK=%s in the environment.\n\n", check);
    }
}

void print_skipped(const bench_run *run)
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
    for (size_t i = 0; i < run->nrows; i++) {
        if (!run->rows[i].up && run->rows[i].why[0] != '\0') {
            if (!any) {
                printf("## Not run\n\n");
                any = true;
            }
            printf("- %s: %s\n", run->rows[i].name, run->rows[i].why);
        }
    }
    if (any) {
        printf("\n");
    }
}
