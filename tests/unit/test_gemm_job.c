/* pk_gemm_run's sources and epilogues (runtime/pelkc_gemm.h) against a
 * double-precision reference written here from the definitions:
 *   - patch k: a conv with kernel = stride = k, no padding, over a C x H x W
 *     map (odd sizes: the last rows and columns that make no whole patch are
 *     dropped), its weight [O][C][k][k] read as the matrix [O][C*k*k];
 *   - norm: the input normalised over channels per pixel (LayerNorm without
 *     affine, eps 1e-6), statistics from pk_ln_stats, the reference's own in
 *     double;
 *   - residual: added after the bias (and never with the GELU, as in PeLK);
 *   - GELU epilogue;
 *   - batches of 1..3 images whose pixels share vectors (P % PK_VEC != 0),
 *     which exercises the staging of straddling vectors, 1 and 2 threads.
 * Per output |y - ref| <= 1e-5 * (|bias| + sum |w| |x| + |res|), as in
 * test_gemm.c (|x| of a normalised input: (|x| + |mean|) * rstd, source_ref). Batches are also bit-identical to one image at a time, and to
 * any thread count. The seed is fresh per run (printed; argv[1] repeats it). */
#define PK_GEMM_MIN_PARALLEL 0
#include "pelkc_gemm.h"
#include "pelkc_kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "rng.h"

static double gelu_ref(double y) { return 0.5 * y * (1.0 + erf(y / sqrt(2.0))); }

typedef struct {
    int C, H, W, k, O, nimg, norm, resid, act;
} job_case;

/* The right operand in double: rows C*k*k, columns P = (H/k)*(W/k); bmag
 * gets each value's magnitude for the error bound: |x|, or normalised
 * (|x| + |mean|) * rstd, since float32 x - mean cancels when the channels of a
 * pixel are nearly equal (C = 2) and no float32 LayerNorm does better. */
static void source_ref(const job_case *t, const float *x, double *b, double *bmag)
{
    int k = t->k, ho = t->H / k, wo = t->W / k, P = ho * wo;
    int64_t hw = (int64_t)t->H * t->W;
    double *xn = malloc((size_t)t->C * hw * sizeof(double));
    double *xm = malloc((size_t)t->C * hw * sizeof(double));
    for (int64_t p = 0; p < hw; p++) {
        double mean = 0, var = 0;
        for (int c = 0; c < t->C; c++)
            mean += x[c * hw + p];
        mean /= t->C;
        for (int c = 0; c < t->C; c++)
            var += (x[c * hw + p] - mean) * (x[c * hw + p] - mean);
        double rstd = 1.0 / sqrt(var / t->C + 1e-6);
        for (int c = 0; c < t->C; c++) {
            double v = x[c * hw + p];
            xn[c * hw + p] = t->norm ? (v - mean) * rstd : v;
            xm[c * hw + p] = t->norm ? (fabs(v) + fabs(mean)) * rstd : fabs(v);
        }
    }
    for (int c = 0; c < t->C; c++)
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++)
                for (int oy = 0; oy < ho; oy++)
                    for (int ox = 0; ox < wo; ox++) {
                        int64_t to = (int64_t)((c * k + ki) * k + kj) * P + oy * wo + ox;
                        int64_t from = c * hw + (int64_t)(oy * k + ki) * t->W + ox * k + kj;
                        b[to] = xn[from];
                        bmag[to] = xm[from];
                    }
    free(xn);
    free(xm);
}

static void run_case(const job_case *t)
{
    int k = t->k, I = t->C * k * k, P = (t->H / k) * (t->W / k), O = t->O, N = t->nimg;
    int64_t hw = (int64_t)t->H * t->W, nx = t->C * hw, ny = (int64_t)O * P;
    float *W = malloc((size_t)O * I * sizeof(float)), *bias = malloc((size_t)O * sizeof(float));
    float *packed = malloc(pk_gemm_packed_size(O, I) * sizeof(float));
    for (int64_t i = 0; i < (int64_t)O * I; i++)
        W[i] = frand();
    for (int o = 0; o < O; o++)
        bias[o] = frand();
    pk_gemm_pack_weights(W, O, I, packed);

    float *xs[3], *ys[3], *rs[3], *ss[3], *y1 = malloc((size_t)ny * sizeof(float));
    for (int n = 0; n < N; n++) {
        xs[n] = malloc((size_t)nx * sizeof(float));
        ys[n] = malloc((size_t)ny * sizeof(float));
        rs[n] = malloc((size_t)ny * sizeof(float));
        ss[n] = malloc((size_t)2 * hw * sizeof(float));
        for (int64_t i = 0; i < nx; i++) /* an offset, so the norm matters */
            xs[n][i] = 3.0f + frand();
        for (int64_t i = 0; i < ny; i++)
            rs[n][i] = frand();
        pk_ln_stats(xs[n], ss[n], t->C, (int)hw, 1e-6f, 1);
    }
    pk_gemm_job job = {(const float *const *)xs, ys, t->resid ? (const float *const *)rs : NULL,
                       t->norm ? (const float *const *)ss : NULL, N, O, I, P,
                       k > 1 ? k : 0, t->H, t->W}; /* k = 1: the plain source, X [I][P] */
    int ok = 1, same = 1;
    double worst = 0;
    double *b = malloc((size_t)I * P * sizeof(double));
    double *bmag = malloc((size_t)I * P * sizeof(double));
    for (int threads = 1; threads <= 2; threads++) {
        pk_gemm_run(packed, bias, &job, t->act, threads);
        for (int n = 0; n < N; n++) {
            /* one image alone gives the same bits */
            pk_gemm_job one = job;
            one.X = (const float *const *)&xs[n];
            one.Y = &y1;
            one.R = t->resid ? (const float *const *)&rs[n] : NULL;
            one.S = t->norm ? (const float *const *)&ss[n] : NULL;
            one.nimg = 1;
            pk_gemm_run(packed, bias, &one, t->act, 3 - threads);
            same &= !memcmp(y1, ys[n], (size_t)ny * sizeof(float));
            if (threads == 2)
                continue;
            source_ref(t, xs[n], b, bmag);
            for (int o = 0; o < O; o++)
                for (int p = 0; p < P; p++) {
                    double ref = bias[o], mag = fabs(bias[o]);
                    for (int i = 0; i < I; i++) {
                        ref += (double)W[(int64_t)o * I + i] * b[(int64_t)i * P + p];
                        mag += fabs((double)W[(int64_t)o * I + i]) * bmag[(int64_t)i * P + p];
                    }
                    if (t->act)
                        ref = gelu_ref(ref);
                    if (t->resid) {
                        ref += rs[n][(int64_t)o * P + p];
                        mag += fabs(rs[n][(int64_t)o * P + p]);
                    }
                    double err = fabs(ys[n][(int64_t)o * P + p] - ref) / mag;
                    worst = err > worst ? err : worst;
                    ok &= err <= 1e-5;
                }
        }
    }
    if (!ok || !same)
        fprintf(stderr, "C=%d H=%d W=%d k=%d O=%d N=%d norm=%d resid=%d act=%d: worst %.3g%s\n",
                t->C, t->H, t->W, k, O, N, t->norm, t->resid, t->act, worst,
                same ? "" : ", batch differs from single images");
    CHECK(ok);
    CHECK(same);
    for (int n = 0; n < N; n++) {
        free(xs[n]);
        free(ys[n]);
        free(rs[n]);
        free(ss[n]);
    }
    free(b);
    free(bmag);
    free(y1);
    free(W);
    free(bias);
    free(packed);
}

int main(int argc, char **argv)
{
    rng = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : (unsigned)time(NULL) | 1u;
    printf("seed %u (repeat: test_gemm_job %u)\n", rng, rng);
    /* PeLK-T's stem and downsample shapes, at reduced width */
    job_case fixed[] = {
        {3, 32, 32, 4, 24, 1, 0, 0, 0},  {3, 30, 29, 4, 13, 2, 0, 0, 0},
        {24, 14, 14, 2, 50, 2, 1, 0, 0}, {31, 7, 7, 2, 20, 3, 1, 0, 0},
        {40, 9, 9, 1, 70, 3, 1, 0, 1},   {70, 9, 9, 1, 40, 3, 0, 1, 0},
        {300, 7, 7, 1, 9, 2, 1, 1, 0},   {13, 5, 3, 1, 7, 3, 0, 1, 1},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        run_case(&fixed[i]);
    for (int r = 0; r < 40; r++) {
        job_case t = {irand(1, 40), irand(1, 20), irand(1, 20), irand(1, 4), irand(1, 40),
                      irand(1, 3), irand(0, 1), irand(0, 1), 0};
        if (t.k > t.H || t.k > t.W)
            t.k = 1;
        t.act = t.resid ? 0 : irand(0, 1);
        run_case(&t);
    }
    return check_summary();
}
