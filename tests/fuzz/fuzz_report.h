/*
 * fuzz_report.h - the fuzz targets' error handler: the reports counted by
 * kind (from any thread), the last one kept for a failure's message, and
 * the failure itself.
 */
#ifndef FUZZ_REPORT_H
#define FUZZ_REPORT_H

#include <fixalloc.h>

/* Sets every count to zero and installs the counting handler. */
void fuzz_reports_reset(void);

/* Reports of one kind, and of every kind, since the reset. */
int fuzz_reports(fa_error_kind kind);
int fuzz_reports_total(void);

/* Prints the last report (if any) and what went wrong, then aborts: a
 * crash libFuzzer keeps. `target` names the fuzz target. */
_Noreturn void fuzz_fail(const char *target, const char *what);

#endif /* FUZZ_REPORT_H */
