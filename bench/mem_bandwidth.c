/* Memory bandwidth, STREAM-like: copy (c = a) and triad (a = b + s c) over
 * three float32 arrays far larger than the 32 MiB L3 (default 256 MiB each),
 * on 1 thread and on every core (OpenMP), median of several runs.
 *
 * Build (from the repo root):
 *   gcc -O3 -march=native -fopenmp -std=gnu11 bench/mem_bandwidth.c -o build/mem_bandwidth
 * Run: build/mem_bandwidth [--mib N] [--runs R]
 *   --mib: size of each of the three arrays in MiB (default 256)
 *   --runs: timed runs per kernel and thread count (default 10), after one
 *     untimed run; the median is reported, with the fastest run beside it
 *
 * Bytes are counted as STREAM counts them: copy moves 2 words per element
 * (read a, write c), triad 3 (read b and c, write a). The stores are plain
 * stores, so the hardware also reads each written line before writing it
 * (write-allocate): the bus carries about 3/2 (copy) and 4/3 (triad) of the
 * counted bytes, as it does for STREAM built without streaming stores.
 * The arrays are first touched by the same static schedule that later uses
 * them. The last line, `bandwidth_gbs: X`, is the all-cores triad median. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

static void copy(float *restrict c, const float *restrict a, long n, int nt)
{
#pragma omp parallel for schedule(static) num_threads(nt)
    for (long i = 0; i < n; i++)
        c[i] = a[i];
}

static void triad(float *restrict a, const float *restrict b, const float *restrict c, float s,
                  long n, int nt)
{
#pragma omp parallel for schedule(static) num_threads(nt)
    for (long i = 0; i < n; i++)
        a[i] = b[i] + s * c[i];
}

/* median (and fastest) seconds of `runs` runs of kernel k (0 copy, 1 triad) */
static void measure(int k, float *a, float *b, float *c, long n, int nt, int runs, double *med,
                    double *best)
{
    double *t = malloc(runs * sizeof *t);
    for (int r = -1; r < runs; r++) {
        double t0 = now();
        if (k == 0)
            copy(c, a, n, nt);
        else
            triad(a, b, c, 3.0f, n, nt);
        double dt = now() - t0;
        if (r >= 0)
            t[r] = dt;
    }
    qsort(t, runs, sizeof t[0], cmp);
    *med = t[runs / 2];
    *best = t[0];
    free(t);
}

int main(int argc, char **argv)
{
    long mib = 256;
    int runs = 10;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--mib") && i + 1 < argc)
            mib = atol(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--mib N] [--runs R]\n", argv[0]);
            return 2;
        }
    }
    if (mib < 1 || runs < 1) {
        fprintf(stderr, "--mib and --runs must be positive\n");
        return 2;
    }
    long n = mib * (1L << 20) / (long)sizeof(float);
    int ncores = omp_get_num_procs();
    float *a = aligned_alloc(64, n * sizeof(float)), *b = aligned_alloc(64, n * sizeof(float)),
          *c = aligned_alloc(64, n * sizeof(float));
    if (!a || !b || !c) {
        fprintf(stderr, "cannot allocate 3 x %ld MiB\n", mib);
        return 1;
    }
#pragma omp parallel for schedule(static) num_threads(ncores)
    for (long i = 0; i < n; i++) {
        a[i] = 1.0f;
        b[i] = 2.0f;
        c[i] = 0.5f;
    }
    double load = load_average();
    printf("mem_bandwidth: 3 arrays x %ld MiB float32, %d cores, median of %d runs; load "
           "average %.2f\n",
           mib, ncores, runs, load);
    printf("%-6s %7s | %12s %12s\n", "kernel", "threads", "median GB/s", "best GB/s");
    double triad_all = 0;
    static const char *const names[2] = {"copy", "triad"};
    int tcounts[2] = {1, ncores};
    for (int ti = 0; ti < (ncores > 1 ? 2 : 1); ti++)
        for (int k = 0; k < 2; k++) {
            double med, best, bytes = (k == 0 ? 2.0 : 3.0) * sizeof(float) * (double)n;
            measure(k, a, b, c, n, tcounts[ti], runs, &med, &best);
            printf("%-6s %7d | %12.1f %12.1f\n", names[k], tcounts[ti], bytes / med / 1e9,
                   bytes / best / 1e9);
            fflush(stdout);
            if (k == 1)
                triad_all = bytes / med / 1e9; /* the last thread count: all cores */
        }
    /* keep the results live */
    double s = 0;
    for (long i = 0; i < n; i += 4096)
        s += a[i] + c[i];
    if (s == -1)
        printf("%g\n", s);
    printf("bandwidth_gbs: %.1f\n", triad_all);
    free(a);
    free(b);
    free(c);
    return 0;
}
