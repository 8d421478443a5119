/*
 * noise.c - the noise guard: disturbed measurements and their retries.
 *
 * CPU time the whole machine spent (busy and stolen) against the CPU time
 * of the process measured. What is left is other processes'; a round in
 * which they took more than a quarter of a CPU is run again (twice at
 * most), so that a shared machine does not skew one round. Owns the run's
 * noise_guard counts.
 */
#include "driver.h"

#include <math.h>
#include <unistd.h>

double machine_busy_ns(void)
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
bool disturbed(double busy0, double cpu_ns, double wall_ns)
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

/* After a disturbed attempt: whether to run it again (attempts of at most
 * `tries`, within the run's time budget for retries). */
bool try_again(bench_run *run, int attempt, int tries, double attempt_ns)
{
    if (attempt + 1 >= tries ||
        run->noise.spent_ns + attempt_ns > run->opt.retry_budget_ns) {
        run->noise.kept++;
        return false;
    }
    run->noise.spent_ns += attempt_ns;
    run->noise.redone++;
    return true;
}
