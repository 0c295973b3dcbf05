/* Small helpers every pelkc command uses: the one-line error, clocks and
 * medians, timing a run, files written whole, random inputs. They depend on
 * nothing above common/. */
#ifndef PELK_CLI_UTIL_H
#define PELK_CLI_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../common/diag.h"

/* Print "pelkc: msg" on stderr; returns the exit status 1. */
int die(const char *msg);

double now_seconds(void);  /* monotonic wall clock */
double cpu_seconds(void);  /* CPU time of every thread of this process (not children) */
double peak_rss_mb(void);
/* Sort run times in place and return their median. */
double sort_median(double *times, int n);

/* What time_runs measured: seconds per run. */
typedef struct run_times {
    int runs;
    double median, min, max;
    double cpu; /* CPU seconds per timed run, all threads together */
} run_times;

/* Call run(ctx) warmups times untimed, then runs times timed; stops at the
 * first failure (run returns nonzero with d set) and returns -1. */
int time_runs(int (*run)(void *ctx, pelk_diag *d), void *ctx, int warmups, int runs,
              run_times *t, pelk_diag *d);

/* open path.partial for writing (tmp gets its name); commit_partial closes it
 * and renames it to path, or removes it and fails */
FILE *open_partial(const char *path, char *tmp, size_t cap, pelk_diag *d);
int commit_partial(FILE *f, const char *tmp, const char *path, pelk_diag *d);

/* Uniform in [-1, 1) from a seed: inputs for demos and timing. */
void fill_random(float *x, int64_t n, uint64_t seed);

#endif
