/* pk_gemm (runtime/pelkc_gemm.h) against a double-precision reference.
 *
 * Shapes: PeLK-T's eight pointwise layers, the same K and pixel tails with
 * fewer rows, tiny ones (1x1 with P = 1), O and I not multiples of anything,
 * every P in 1..40, I across the K blocks, random ones. Per output:
 * |y - ref| <= 1e-5 * mag(o), mag(o) the largest |bias[o]| +
 * sum_i |W[o][i] X[i][p]| of the row (the scale of its rounding error);
 * epilogue 1 against the exact GELU of the double result.
 * Determinism, all bit-identical: two runs; 1, 2 and 3 threads (every shape
 * is split between the threads here: PK_GEMM_MIN_PARALLEL 0); pk_gemm_batch
 * and one pk_gemm per image. X, Y and the packed weights live between guard
 * zones that must stay untouched (and the test is clean under ASan).
 * The eight full-size shapes are checked more lightly (a sample of rows
 * against the reference, fewer runs) so that an unoptimised sanitizer build
 * takes seconds, not minutes.
 *
 * Build (from the repo root), e.g.:
 *   gcc -O3 -march=native -fopenmp -std=gnu11 -Iruntime -Itests/unit \
 *       tests/unit/test_gemm.c -o build/test_gemm -lm
 * PK_VEC defaults to 16 with AVX-512, else 8; -DPK_VEC=8 forces 8. */
#define PK_GEMM_MIN_PARALLEL 0
#include "pelkc_gemm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rng.h"

enum { GUARD = 64 };
static const float GUARD_VALUE = -12345.678f;

/* floats with GUARD guard floats on both sides */
static float *guarded(size_t n)
{
    float *b = malloc((n + 2 * GUARD) * sizeof(float));
    for (size_t i = 0; i < n + 2 * GUARD; i++)
        b[i] = GUARD_VALUE;
    return b + GUARD;
}

static int guards_intact(const float *p, size_t n)
{
    for (int i = 0; i < GUARD; i++)
        if (p[-1 - i] != GUARD_VALUE || p[n + i] != GUARD_VALUE)
            return 0;
    return 1;
}

static void guarded_free(float *p) { free(p - GUARD); }

static double gelu_ref(double y) { return 0.5 * y * (1.0 + erf(y / sqrt(2.0))); }

static int failures_reported;

/* y against the reference; returns the largest error / mag seen */
static double compare(const float *W, const float *bias, const float *X, const float *Y, int O,
                      int I, int P, int epilogue, int row_step, int *ok)
{
    double worst = 0;
    double *ref = malloc((size_t)P * sizeof(double)), *mag = malloc((size_t)P * sizeof(double));
    for (int o = 0; o < O; o = o + row_step < O || o == O - 1 ? o + row_step : O - 1) {
        double rowmag = 0;
        for (int p = 0; p < P; p++) {
            ref[p] = bias[o];
            mag[p] = fabs(bias[o]);
        }
        for (int i = 0; i < I; i++) {
            double w = W[(size_t)o * I + i];
            const float *x = X + (size_t)i * P;
            for (int p = 0; p < P; p++) {
                ref[p] += w * x[p];
                mag[p] += fabs(w * x[p]);
            }
        }
        for (int p = 0; p < P; p++)
            rowmag = mag[p] > rowmag ? mag[p] : rowmag;
        if (rowmag == 0)
            rowmag = 1e-30;
        for (int p = 0; p < P; p++) {
            double want = epilogue == 1 ? gelu_ref(ref[p]) : ref[p];
            double err = fabs((double)Y[(size_t)o * P + p] - want) / rowmag;
            if (!(err <= 1e-5)) {
                *ok = 0;
                if (failures_reported++ < 10)
                    fprintf(stderr,
                            "O=%d I=%d P=%d ep=%d: y[%d][%d] = %.9g, want %.9g (err %.3g)\n", O, I,
                            P, epilogue, o, p, (double)Y[(size_t)o * P + p], want, err);
            }
            worst = err > worst || err != err ? err : worst;
        }
    }
    free(ref);
    free(mag);
    return worst;
}

static double worst_seen;

/* One shape: reference, both epilogues, determinism, batch. full: every
 * output against the reference, 1, 2 and 3 threads, batches of 3 with 1
 * and 2 threads; else (the big PeLK-T shapes, so that an unoptimised
 * sanitizer build stays quick) every row_step-th row against the reference,
 * 2 threads against 1 for the GELU epilogue, one batch of 2 with 2 threads. */
static void test_shape(int O, int I, int P, int full)
{
    size_t nw = (size_t)O * I, nx = (size_t)I * P, ny = (size_t)O * P;
    float *W = malloc((nw ? nw : 1) * sizeof(float)), *bias = malloc((size_t)O * sizeof(float));
    float *X = guarded(nx), *Y = guarded(ny), *Y2 = guarded(ny);
    size_t np = pk_gemm_packed_size(O, I);
    float *packed = guarded(np);
    for (size_t i = 0; i < nw; i++)
        W[i] = frand();
    for (int o = 0; o < O; o++)
        bias[o] = frand();
    for (size_t i = 0; i < nx; i++)
        X[i] = frand() * 2.0f;
    pk_gemm_pack_weights(W, O, I, packed);
    CHECK(guards_intact(packed, np));
    CHECK(np == (size_t)((O + 5) / 6) * 6 * I);
    /* rows checked: about 20 M multiply-adds' worth at most */
    int row_step = 1;
    if (!full)
        while ((double)O / row_step * I * P > 2e7)
            row_step++;

    for (int ep = 0; ep <= 1; ep++) {
        int ok = 1;
        pk_gemm(packed, bias, X, Y, O, I, P, ep, 1);
        double w = compare(W, bias, X, Y, O, I, P, ep, row_step, &ok);
        worst_seen = w > worst_seen ? w : worst_seen;
        CHECK(ok);
        CHECK(guards_intact(Y, ny));
        CHECK(guards_intact(X, nx));
        if (!full && ep == 0)
            continue;
        /* the same again: bit-identical */
        if (full) {
            memset(Y2, 0, ny * sizeof(float));
            pk_gemm(packed, bias, X, Y2, O, I, P, ep, 1);
            CHECK(!memcmp(Y, Y2, ny * sizeof(float)));
        }
        /* other thread counts: bit-identical */
        for (int t = 2; t <= (full ? 3 : 2); t++) {
            memset(Y2, 0, ny * sizeof(float));
            pk_gemm(packed, bias, X, Y2, O, I, P, ep, t);
            CHECK(!memcmp(Y, Y2, ny * sizeof(float)));
            CHECK(guards_intact(Y2, ny));
        }
    }
    /* Y holds epilogue 1 of X, one thread */

    /* images at once, the first one this X: bit-identical per image */
    {
        enum { NMAX = 3 };
        int nimg = full ? 3 : 2;
        const float *xs[NMAX];
        float *ys[NMAX];
        float *xo[NMAX];
        for (int n = 0; n < nimg; n++) {
            xo[n] = guarded(nx);
            for (size_t i = 0; i < nx; i++)
                xo[n][i] = n == 0 ? X[i] : frand();
            xs[n] = xo[n];
            ys[n] = guarded(ny);
        }
        for (int ep = full ? 0 : 1; ep <= 1; ep++)
            for (int t = full ? 1 : 2; t <= 2; t++) {
                pk_gemm_batch(packed, bias, xs, ys, nimg, O, I, P, ep, t);
                int same = 1;
                for (int n = 0; n < nimg; n++) {
                    CHECK(guards_intact(ys[n], ny));
                    if (n == 0 && ep == 1) {
                        same &= !memcmp(ys[n], Y, ny * sizeof(float));
                        continue;
                    }
                    pk_gemm(packed, bias, xs[n], Y2, O, I, P, ep, 1);
                    same &= !memcmp(ys[n], Y2, ny * sizeof(float));
                }
                CHECK(same);
            }
        for (int n = 0; n < nimg; n++) {
            guarded_free(xo[n]);
            guarded_free(ys[n]);
        }
    }
    free(W);
    free(bias);
    guarded_free(X);
    guarded_free(Y);
    guarded_free(Y2);
    guarded_free(packed);
}

/* The documented packed layout, element by element: K blocks of 256, panels
 * of 6 rows, k-major within a panel. */
static void test_layout(void)
{
    enum { O = 13, I = 600, OPAD = 18 };
    static float W[O * I], packed[OPAD * I];
    for (int i = 0; i < O * I; i++)
        W[i] = (float)(i + 1);
    CHECK(pk_gemm_packed_size(O, I) == OPAD * I);
    pk_gemm_pack_weights(W, O, I, packed);
    int ok = 1;
    for (int k = 0; k < I; k++) {
        int k0 = k - k % 256, kcb = I - k0 < 256 ? I - k0 : 256;
        for (int o = 0; o < OPAD; o++) {
            int m = o / 6, j = o % 6;
            float want = o < O ? W[o * I + k] : 0.0f;
            ok &= packed[k0 * OPAD + m * kcb * 6 + (k - k0) * 6 + j] == want;
        }
    }
    CHECK(ok);
}

/* GELU of a 1x1 product over a sweep of y (W = 1, X = y, bias 0). */
static void test_gelu_sweep(void)
{
    enum { P = 2001 };
    static float X[P], Y[P];
    float one = 1.0f, zero = 0.0f, packed[6];
    pk_gemm_pack_weights(&one, 1, 1, packed);
    for (int p = 0; p < P; p++)
        X[p] = (float)(p - P / 2) * 0.01f; /* -10 .. 10 */
    pk_gemm(packed, &zero, X, Y, 1, 1, P, 1, 1);
    double worst = 0;
    for (int p = 0; p < P; p++) {
        double e = fabs(Y[p] - gelu_ref(X[p])) / fmax(1.0, fabs(X[p]));
        worst = e > worst ? e : worst;
    }
    printf("gelu sweep: max |err| / max(1, |y|) = %.3g\n", worst);
    CHECK(worst < 1e-6);
    CHECK(Y[P / 2] == 0.0f);
}

/* bias NULL: no bias */
static void test_no_bias(void)
{
    enum { O = 13, I = 300, P = 37 };
    static float W[O * I], X[I * P], Y[O * P], Y0[O * P], packed[18 * I], zeros[O];
    for (int i = 0; i < O * I; i++)
        W[i] = frand();
    for (int i = 0; i < I * P; i++)
        X[i] = frand();
    pk_gemm_pack_weights(W, O, I, packed);
    for (int ep = 0; ep <= 1; ep++) {
        pk_gemm(packed, NULL, X, Y, O, I, P, ep, 2);
        pk_gemm(packed, zeros, X, Y0, O, I, P, ep, 1);
        CHECK(!memcmp(Y, Y0, sizeof Y));
    }
}

int main(void)
{
    printf("PK_VEC %d, MR %d, NV %d, KC %d\n", PK_VEC, PK_GEMM_MR, PK_GEMM_NV, PK_GEMM_KC);
    test_layout();
    test_gelu_sweep();
    test_no_bias();

    /* PeLK-T's eight shapes */
    static const int pelk[8][3] = {
        {496, 124, 3136}, {124, 496, 3136}, {996, 249, 784}, {249, 996, 784},
        {1996, 499, 196}, {499, 1996, 196}, {3992, 998, 49}, {998, 3992, 49},
    };
    for (int s = 0; s < 8; s++)
        test_shape(pelk[s][0], pelk[s][1], pelk[s][2], 0);
    /* their K and tails with fewer rows, fully */
    for (int s = 0; s < 8; s++)
        test_shape(pelk[s][0] / 16, pelk[s][1], pelk[s][2] > 196 ? 196 : pelk[s][2], 1);

    /* tiny and odd */
    test_shape(1, 1, 1, 1);
    test_shape(1, 1, 17, 1);
    test_shape(7, 1, 1, 1);
    test_shape(1, 13, 1, 1);
    test_shape(5, 3, 2, 1);
    test_shape(6, 6, 16, 1);
    for (int P = 1; P <= 40; P++)
        test_shape(irand(1, 40), irand(1, 60), P, 1);
    /* across the K block (KC) and several pixel panels */
    test_shape(13, PK_GEMM_KC, 33, 1);
    test_shape(13, PK_GEMM_KC + 1, 97, 1);
    test_shape(25, 2 * PK_GEMM_KC + 7, 131, 1);
    test_shape(61, 3 * PK_GEMM_KC - 1, 4 * PK_GEMM_NV * PK_VEC + 3, 1);
    /* random */
    for (int r = 0; r < 30; r++)
        test_shape(irand(1, 100), irand(1, 300), irand(1, 300), 1);

    printf("largest error / row magnitude: %.3g\n", worst_seen);
    return check_summary();
}
