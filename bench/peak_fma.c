/* The machine's peak float32 multiply-add rate: 16 independent chains of
 * vector FMAs per thread (enough to cover the FMA latency), no memory
 * traffic. Built with -O3 -march=native like the code pelkc generates;
 * prints GFLOP/s (2 flops per multiply-add), the median of 7 runs, for one
 * core and then for T threads running at the same time (argv[1], default 2:
 * all cores busy may run at a lower clock than one). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench_util.h"

#if defined(__AVX512F__)
#define VEC 16
#else
#define VEC 8
#endif
typedef float vf __attribute__((vector_size(VEC * 4)));

/* GFLOP/s of one thread: the median of 7 timed runs of the chains. */
static double chains_rate(double *rates)
{
    enum { CHAINS = 16 };
    const long iters = 20000000;
    volatile float seed = 1e-7f;
    vf a = {0}, x[CHAINS];
    for (int l = 0; l < VEC; l++)
        a[l] = 1.0f + seed;
    for (int c = 0; c < CHAINS; c++)
        for (int l = 0; l < VEC; l++)
            x[c][l] = seed * (c + 1);
    for (int r = 0; r < 7; r++) {
        double t0 = now();
        for (long i = 0; i < iters; i++)
            for (int c = 0; c < CHAINS; c++)
                x[c] = x[c] * a + a; /* contracted to one FMA */
        double t = now() - t0;
        rates[r] = 2.0 * VEC * CHAINS * (double)iters / t / 1e9;
    }
    float sink = 0;
    for (int c = 0; c < CHAINS; c++)
        for (int l = 0; l < VEC; l++)
            sink += x[c][l];
    qsort(rates, 7, sizeof rates[0], cmp);
    return sink; /* keeps the chains live */
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    if (threads < 1 || threads > 256) {
        fprintf(stderr, "peak_fma: threads must be 1..256, got '%s'\n", argv[1]);
        return 1;
    }
    double one[7], sink = chains_rate(one);
    printf("vector width: %d floats; checksum %g\n", VEC, sink);
    printf("peak_gflops: %.1f\n", one[3]);
    double all[256][7], total = 0;
#pragma omp parallel num_threads(threads)
    {
        int t = omp_get_thread_num();
        double s = chains_rate(all[t]);
#pragma omp atomic
        sink += s;
    }
    for (int t = 0; t < threads; t++)
        total += all[t][3];
    printf("%d threads at once: %.1f GFLOP/s in all (%.1f per thread; checksum %g)\n", threads,
           total, total / threads, sink);
    printf("peak_gflops_all: %.1f\n", total);
    return 0;
}
