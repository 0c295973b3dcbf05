/* pk_gemm (runtime/pelkc_gemm.h) on PeLK-T's eight pointwise-layer shapes,
 * against OpenBLAS's cblas_sgemm when built with -DHAVE_OPENBLAS.
 *
 * Build (from the repo root):
 *   gcc -O3 -march=native -fopenmp -std=gnu11 -Iruntime bench/gemm_bench.c -o build/gemm_bench -lm
 * with the OpenBLAS comparison (Debian: apt-get install -y libopenblas-dev):
 *   gcc -O3 -march=native -fopenmp -std=gnu11 -Iruntime -DHAVE_OPENBLAS \
 *       -I/usr/include/x86_64-linux-gnu/openblas-pthread bench/gemm_bench.c \
 *       -o build/gemm_bench -lopenblas -lm
 * Run: build/gemm_bench [--peak GFLOPS] [--min-time SECONDS] [--batch N] [--stat median|min]
 *                        [--cold]
 *   --peak: one core's peak (bench/peak_fma.c; default 227), for the % columns
 *   --min-time: timed runs per cell last at least this long (default 0.3 s)
 *   --batch: images for the pk_gemm_batch columns (default 8; 0 skips them)
 *   --stat min: report the fastest run instead of the median (on a busy
 *     machine the median of the 2-thread runs mostly measures time slices)
 *   --cold: evict the caches before each timed run (then read X back), so
 *     the weights come from memory as in a whole network; without it the
 *     same layer runs again and again and its weights stay in L2/L3
 *
 * Each cell: 3 warm-up runs, then the median of at least 15 runs (and at
 * least --min-time). GFLOP/s counts 2 O I P flops per product. pelkc's time
 * includes its bias (epilogue 0; the "+GELU" column is fc1's fused
 * bias + GELU); OpenBLAS's is sgemm alone (alpha 1, beta 0, no bias), with
 * openblas_set_num_threads set to the same thread count. The pelkc and
 * OpenBLAS runs are not interleaved, so their thread pools do not spin
 * against each other. "batch ms" is pk_gemm_batch over --batch images,
 * per image (it groups the images' pixels for the P = 49 and 196 shapes and
 * runs image by image for the others).
 *
 * Totals: one PeLK-T image's MLPs, i.e. per stage depth x (fc1 + GELU, fc2)
 * with depths 3/3/9/3, at 2 threads: pelkc single images, pelkc per image of
 * a --batch batch, and OpenBLAS (sgemm only). */
#ifndef PK_VEC
#if defined(__AVX512F__)
#define PK_VEC 16
#else
#define PK_VEC 8
#endif
#endif
#include "pelkc_gemm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef HAVE_OPENBLAS
#include <cblas.h>
#undef I /* <complex.h>, via openblas_config.h */
#endif

typedef struct {
    int O, I, P, depth, fc1;
} shape;

static const shape shapes[8] = {
    {496, 124, 3136, 3, 1}, {124, 496, 3136, 3, 0}, {996, 249, 784, 3, 1}, {249, 996, 784, 3, 0},
    {1996, 499, 196, 9, 1}, {499, 1996, 196, 9, 0}, {3992, 998, 49, 3, 1}, {998, 3992, 49, 3, 0},
};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    const shape *s;
    const float *packed, *W, *bias;
    const float **X;
    float **Y;
    int nimg, threads, epilogue, blas;
} job;

static double min_time = 0.3;
static int use_min; /* --stat min: the fastest run instead of the median */
/* --cold: before each run, evict the caches (read 128 MiB), then read X
 * back: the weights come from memory, as in a whole network, where one
 * image's pass goes through ~175 MB of them */
static float *flush_buf;
enum { FLUSH_FLOATS = 32 << 20 };
static volatile float flush_sink;

static void make_cold(const job *j)
{
    if (!flush_buf)
        return;
    float s = 0;
    for (size_t i = 0; i < FLUSH_FLOATS; i += 16)
        s += flush_buf[i];
    size_t nx = (size_t)j->s->I * j->s->P;
    for (int n = 0; n < j->nimg; n++)
        for (size_t i = 0; i < nx; i += 16)
            s += j->X[n][i];
    flush_sink = s;
}

static void run(const job *j)
{
    const shape *s = j->s;
#ifdef HAVE_OPENBLAS
    if (j->blas) {
        for (int n = 0; n < j->nimg; n++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->O, s->P, s->I, 1.0f, j->W,
                        s->I, j->X[n], s->P, 0.0f, j->Y[n], s->P);
        return;
    }
#endif
    if (j->nimg == 1)
        pk_gemm(j->packed, j->bias, j->X[0], j->Y[0], s->O, s->I, s->P, j->epilogue, j->threads);
    else
        pk_gemm_batch(j->packed, j->bias, (const float *const *)j->X, (float *const *)j->Y, j->nimg,
                      s->O, s->I, s->P, j->epilogue, j->threads);
}

/* median seconds per image */
static double time_job(const job *j)
{
    enum { MAXR = 2000 };
    static double t[MAXR];
#ifdef HAVE_OPENBLAS
    if (j->blas)
        openblas_set_num_threads(j->threads);
#endif
    for (int r = 0; r < 3; r++)
        run(j);
    int n = 0;
    double start = now(), excluded = 0;
    while (n < MAXR && (n < 15 || now() - start - excluded < min_time)) {
        double tc = now();
        make_cold(j);
        excluded += now() - tc;
        double t0 = now();
        run(j);
        t[n++] = now() - t0;
    }
    qsort(t, n, sizeof t[0], cmp);
    return (use_min ? t[0] : t[n / 2]) / j->nimg;
}

static float frand(unsigned *state)
{
    *state = *state * 1664525u + 1013904223u;
    return (float)((*state >> 8) & 0xffff) / 65536.0f - 0.5f;
}

int main(int argc, char **argv)
{
    double peak = 227.0;
    int batch = 8;
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--peak") && a + 1 < argc)
            peak = atof(argv[++a]);
        else if (!strcmp(argv[a], "--min-time") && a + 1 < argc)
            min_time = atof(argv[++a]);
        else if (!strcmp(argv[a], "--batch") && a + 1 < argc)
            batch = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--stat") && a + 1 < argc)
            use_min = !strcmp(argv[++a], "min");
        else if (!strcmp(argv[a], "--cold")) {
            flush_buf = malloc((size_t)FLUSH_FLOATS * sizeof(float));
            for (size_t i = 0; i < FLUSH_FLOATS; i++)
                flush_buf[i] = (float)(i & 7);
        } else {
            fprintf(stderr,
                    "usage: %s [--peak GFLOPS] [--min-time S] [--batch N] [--stat median|min] "
                    "[--cold]\n",
                    argv[0]);
            return 2;
        }
    }
    int nimg = batch > 1 ? batch : 1;
    double load = -1;
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (fscanf(la, "%lf", &load) != 1)
            load = -1;
        fclose(la);
    }
    printf("pk_gemm: PK_VEC %d, MR %d x NV %d, KC %d; peak %.0f GFLOP/s per core; %s of runs; "
           "%s; load average %.2f\n",
           PK_VEC, PK_GEMM_MR, PK_GEMM_NV, PK_GEMM_KC, peak, use_min ? "fastest" : "median",
           flush_buf ? "weights cold (from memory)" : "weights warm (in cache)", load);
#ifdef HAVE_OPENBLAS
    printf("OpenBLAS: %s\n", openblas_get_config());
#else
    printf("OpenBLAS: not built in (-DHAVE_OPENBLAS)\n");
#endif
    double tot[4] = {0, 0, 0, 0}; /* pelkc 2T, pelkc batch 2T, blas 2T, flops */
    printf("\n%-16s %3s | %9s %7s %5s | %9s | %9s %7s %5s | %9s %7s %5s\n", "O x I x P", "thr",
           "pelkc ms", "GF/s", "%pk", "+GELU ms", "batch ms", "GF/s", "%pk", "blas ms", "GF/s",
           "%pk");
    for (int si = 0; si < 8; si++) {
        const shape *s = &shapes[si];
        unsigned seed = 12345u + si;
        size_t nw = (size_t)s->O * s->I, nx = (size_t)s->I * s->P, ny = (size_t)s->O * s->P;
        float *W = malloc(nw * sizeof(float)), *bias = malloc(s->O * sizeof(float));
        float *packed = malloc(pk_gemm_packed_size(s->O, s->I) * sizeof(float));
        const float **X = malloc(nimg * sizeof *X);
        float **Y = malloc(nimg * sizeof *Y);
        for (size_t i = 0; i < nw; i++)
            W[i] = frand(&seed) * 0.1f;
        for (int o = 0; o < s->O; o++)
            bias[o] = frand(&seed);
        for (int n = 0; n < nimg; n++) {
            float *x = malloc(nx * sizeof(float));
            for (size_t i = 0; i < nx; i++)
                x[i] = frand(&seed);
            X[n] = x;
            Y[n] = malloc(ny * sizeof(float));
        }
        pk_gemm_pack_weights(W, s->O, s->I, packed);
        double flops = 2.0 * s->O * s->I * s->P;
        for (int threads = 1; threads <= 2; threads++) {
            job j = {s, packed, W, bias, X, Y, 1, threads, 0, 0};
            double tp = time_job(&j);
            double tg = NAN;
            if (s->fc1) {
                j.epilogue = 1;
                tg = time_job(&j);
                j.epilogue = 0;
            }
            double tb = NAN;
            if (batch > 1) {
                j.nimg = nimg;
                j.epilogue = 0;
                tb = time_job(&j);
                if (threads == 2 && s->fc1) {
                    j.epilogue = 1;
                    tot[1] += s->depth * time_job(&j);
                } else if (threads == 2) {
                    tot[1] += s->depth * tb;
                }
                j.nimg = 1;
                j.epilogue = 0;
            }
            double tl = NAN;
#ifdef HAVE_OPENBLAS
            j.blas = 1;
            tl = time_job(&j);
            j.blas = 0;
#endif
            if (threads == 2) {
                tot[0] += s->depth * (s->fc1 ? tg : tp);
                tot[2] += s->depth * tl;
                tot[3] += s->depth * flops;
            }
            char name[32];
            snprintf(name, sizeof name, "%dx%dx%d", s->O, s->I, s->P);
            printf(
                "%-16s %3d | %9.3f %7.1f %5.1f | %9.3f | %9.3f %7.1f %5.1f | %9.3f %7.1f %5.1f\n",
                name, threads, tp * 1e3, flops / tp / 1e9, 100 * flops / tp / 1e9 / peak / threads,
                tg * 1e3, tb * 1e3, flops / tb / 1e9, 100 * flops / tb / 1e9 / peak / threads,
                tl * 1e3, flops / tl / 1e9, 100 * flops / tl / 1e9 / peak / threads);
            fflush(stdout);
        }
        for (int n = 0; n < nimg; n++) {
            free((void *)X[n]);
            free(Y[n]);
        }
        free(X);
        free(Y);
        free(W);
        free(bias);
        free(packed);
    }
    printf("\nPeLK-T MLPs per image (depths 3/3/9/3, fc1 with GELU), 2 threads, %.2f GFLOP:\n",
           tot[3] / 1e9);
    printf("  pelkc pk_gemm            %8.2f ms  %6.1f GFLOP/s  %5.1f%% of 2-core peak\n",
           tot[0] * 1e3, tot[3] / tot[0] / 1e9, 100 * tot[3] / tot[0] / 1e9 / (2 * peak));
    if (batch > 1)
        printf("  pelkc pk_gemm_batch(%2d)  %8.2f ms  %6.1f GFLOP/s  %5.1f%% of 2-core peak "
               "(per image)\n",
               nimg, tot[1] * 1e3, tot[3] / tot[1] / 1e9, 100 * tot[3] / tot[1] / 1e9 / (2 * peak));
#ifdef HAVE_OPENBLAS
    printf("  OpenBLAS sgemm (no bias) %8.2f ms  %6.1f GFLOP/s  %5.1f%% of 2-core peak\n",
           tot[2] * 1e3, tot[3] / tot[2] / 1e9, 100 * tot[3] / tot[2] / 1e9 / (2 * peak));
#endif
    return 0;
}
