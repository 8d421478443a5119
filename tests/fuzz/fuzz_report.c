/*
 * fuzz_report.c - the fuzz targets' error handler (fuzz_report.h).
 */
#include "fuzz_report.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static atomic_int counts[FA_ERR_BAD_POOL + 1];

/* The last report, for a failure's message: its strings may not outlive
 * the call. */
static fa_error last_report;
static char last_pool[64], last_detail[160];

static void record_report(const fa_error *err)
{
    last_report = *err;
    snprintf(last_pool, sizeof last_pool, "%s", err->pool ? err->pool : "");
    snprintf(last_detail, sizeof last_detail, "%s",
             err->detail ? err->detail : "");
    int kind = (int)err->kind;
    if (kind < 0 || kind > FA_ERR_BAD_POOL) {
        kind = 0;
    }
    atomic_fetch_add(&counts[kind], 1);
}

void fuzz_reports_reset(void)
{
    for (int i = 0; i <= FA_ERR_BAD_POOL; i++) {
        atomic_store(&counts[i], 0);
    }
    fa_set_error_handler(record_report);
}

int fuzz_reports(fa_error_kind kind)
{
    return atomic_load(&counts[kind]);
}

int fuzz_reports_total(void)
{
    int n = 0;
    for (int i = 0; i <= FA_ERR_BAD_POOL; i++) {
        n += atomic_load(&counts[i]);
    }
    return n;
}

void fuzz_fail(const char *target, const char *what)
{
    if (last_report.kind != 0) {
        fprintf(stderr, "%s: last report: %s in %s '%s' at %p: %s\n", target,
                fa_error_kind_name(last_report.kind), last_report.object,
                last_pool, last_report.addr, last_detail);
    }
    fprintf(stderr, "%s: %s\n", target, what);
    abort();
}
