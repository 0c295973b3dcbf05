/* The machine's peak float32 multiply-add rate on one core: 16 independent
 * chains of vector FMAs (enough to cover the FMA latency), no memory traffic.
 * Built with -O3 -march=native like the code pelkc generates; prints GFLOP/s
 * (2 flops per multiply-add), the median of 7 runs. */
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

int main(void)
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
    double rates[7];
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
    printf("vector width: %d floats; checksum %g\n", VEC, (double)sink);
    printf("peak_gflops: %.1f\n", rates[3]);
    return 0;
}
