/* Small helpers shared by the single-file C benchmarks in bench/ (each is
 * built with one gcc line from the repo root; this header sits beside them). */
#ifndef PELKC_BENCH_UTIL_H
#define PELKC_BENCH_UTIL_H

#include <stdio.h>
#include <time.h>

/* seconds, monotonic */
static inline double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* qsort comparator for doubles, ascending */
static inline int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* the 1-minute load average, or -1 */
static inline double load_average(void)
{
    double load = -1;
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (fscanf(la, "%lf", &load) != 1)
            load = -1;
        fclose(la);
    }
    return load;
}

#endif
