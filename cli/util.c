/* The helpers of util.h. */
#include "util.h"

#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

int die(const char *msg)
{
    fprintf(stderr, "pelkc: %s\n", msg);
    return 1;
}

double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0; /* Linux reports KiB */
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double sort_median(double *times, int n)
{
    qsort(times, (size_t)n, sizeof *times, cmp_double);
    return n % 2 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
}

int time_runs(int (*run)(void *ctx, pelk_diag *d), void *ctx, int warmups, int runs,
              run_times *t, pelk_diag *d)
{
    double *times = xcalloc((size_t)runs, sizeof *times);
    double cpu0 = 0;
    int rc = 0;
    for (int i = 0; !rc && i < warmups + runs; i++) {
        if (i == warmups)
            cpu0 = cpu_seconds();
        double t0 = now_seconds();
        rc = run(ctx, d) ? -1 : 0;
        if (i >= warmups)
            times[i - warmups] = now_seconds() - t0;
    }
    if (!rc) {
        t->cpu = (cpu_seconds() - cpu0) / runs;
        t->runs = runs;
        t->median = sort_median(times, runs);
        t->min = times[0];
        t->max = times[runs - 1];
    }
    free(times);
    return rc;
}

/* A table written to path.partial, renamed to path once whole, so a failed
 * run never leaves a half-written file under the asked-for name. */
FILE *open_partial(const char *path, char *tmp, size_t cap, pelk_diag *d)
{
    snprintf(tmp, cap, "%s.partial", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        diag_set(d, "%s: cannot write", path);
    return f;
}

int commit_partial(FILE *f, const char *tmp, const char *path, pelk_diag *d)
{
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path)) {
        remove(tmp);
        return diag_set(d, "%s: write failed", path);
    }
    return 0;
}

void fill_random(float *x, int64_t n, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 12345;
    for (int64_t i = 0; i < n; i++) { /* uniform in [-1, 1): enough for demos and timing */
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        x[i] = (float)((double)(s >> 11) / 4503599627370496.0 - 1.0);
    }
}
