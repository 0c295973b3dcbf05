/* Pointwise (1x1) conv layers as a matrix product, one image at a time, NCHW:
 *
 *     Y[o][p] = bias[o] + sum_i W[o][i] * X[i][p]     o < O, i < I, p < P
 *
 * i.e. C[O x P] = A[O x I] * B[I x P], all row-major, B = X and C = Y with
 * leading dimension P. W is a constant, so the compiler packs it once
 * (pk_gemm_pack_weights, plain C) into the panel layout the micro-kernel
 * reads; at run time pk_gemm packs slices of X into a small per-thread
 * buffer and runs a register-blocked micro-kernel.
 *
 * Packed weight layout (independent of PK_VEC and of the target):
 *     panels of PK_GEMM_MR = 6 consecutive output rows, rows past O zero;
 *     panel m holds, for k = 0..I-1, the MR weights W[6m+0..6m+5][k]:
 *         packed[((size_t)m * I + k) * 6 + j] = W[6m + j][k]   (0 if 6m+j >= O)
 *     pk_gemm_packed_size(O, I) = ceil(O / 6) * 6 * I floats.
 *
 * Micro-kernel: MR = 6 rows of W (broadcast) x NV vectors of pixels
 * (NV = 4 with 16-float AVX-512 vectors: 6 x 64 pixels in 24 zmm
 * accumulators; NV = 2 with 8-float vectors: the classic 6 x 16 AVX2 tile).
 * X is packed per thread into a KC x (nv * PK_VEC) panel (zero-padded past P),
 * which stays in L1 while the thread's block of weight panels streams
 * through it; a block of output rows is sized so that its weights stay in L2
 * across the pixel panels. Pixel tails (P = 49, 196) run narrower kernels on
 * whole vectors and load/store the last, partial vector with masks, so
 * nothing outside X, Y, W or bias is read or written.
 *
 * Determinism: every output is the chain
 *     y = bias; for i = 0..I-1: y = fma(W[o][i], X[i][p], y)
 * in this order, in one vector lane, then the GELU if asked. Tiles, K blocks,
 * the thread partition and the batch grouping (pk_gemm_batch) change only
 * which lane computes it, never the operations, so the results are
 * bit-identical across runs, across thread counts and between pk_gemm and
 * pk_gemm_batch (given one compiled binary: with FMA hardware the chain uses
 * fused multiply-adds; the portable fallback without FMA uses a multiply and
 * an add, which gives other, equally deterministic, bits).
 *
 * GELU (epilogue 1): 0.5 y (1 + erf(y / sqrt 2)) with a vectorised rational
 * erf (max abs error 4.5e-7 against erf; the GELU is within 2.7e-7 |y| of the
 * exact one), not libm's erff, so it can differ from pk_gelu in the last
 * bits. */
#ifndef PELKC_GEMM_H
#define PELKC_GEMM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#ifndef PK_VEC
#define PK_VEC 8
#endif

#if defined(__AVX512F__) && PK_VEC == 16
#define PK__GEMM_AVX512 1
#include <immintrin.h>
#elif defined(__AVX__) && defined(__FMA__) && PK_VEC == 8
#define PK__GEMM_AVX2 1
#include <immintrin.h>
#endif

/* Rows of W per micro-tile: fixed, it is the packed layout. */
#define PK_GEMM_MR 6
/* Vectors of pixels per micro-tile (6 x NV accumulators). */
#ifndef PK_GEMM_NV
#if PK_VEC >= 16
#define PK_GEMM_NV 4
#else
#define PK_GEMM_NV 2
#endif
#endif
/* K block: the packed X panel is KC x NV*PK_VEC floats (32 KiB at 128 x 64). */
#ifndef PK_GEMM_KC
#define PK_GEMM_KC 128
#endif
/* Bytes of packed weights a block of output rows may keep in L2. */
#ifndef PK_GEMM_L2_BYTES
#define PK_GEMM_L2_BYTES (768 * 1024)
#endif

typedef float pk_gemm_vf __attribute__((vector_size(PK_VEC * 4)));
typedef int32_t pk_gemm_vi __attribute__((vector_size(PK_VEC * 4)));

/* ---- compile time: weight packing ---- */

static size_t pk_gemm_packed_size(int O, int I)
{
    return (size_t)((O + PK_GEMM_MR - 1) / PK_GEMM_MR) * PK_GEMM_MR * (size_t)I;
}

static void pk_gemm_pack_weights(const float *W, int O, int I, float *packed)
{
    int panels = (O + PK_GEMM_MR - 1) / PK_GEMM_MR;
    for (int m = 0; m < panels; m++)
        for (int k = 0; k < I; k++)
            for (int j = 0; j < PK_GEMM_MR; j++) {
                int o = m * PK_GEMM_MR + j;
                packed[((size_t)m * I + k) * PK_GEMM_MR + j] = o < O ? W[(size_t)o * I + k] : 0.0f;
            }
}

/* ---- vector helpers ---- */

static inline __attribute__((always_inline)) pk_gemm_vf pk__gemm_ld(const float *p)
{
    pk_gemm_vf v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline __attribute__((always_inline)) void pk__gemm_st(float *p, pk_gemm_vf v)
{
    memcpy(p, &v, sizeof v);
}

static inline __attribute__((always_inline)) pk_gemm_vf pk__gemm_splat(float x)
{
    return (pk_gemm_vf){0} + x;
}

/* c + a * b, fused where the target has FMA (whatever -ffp-contract says). */
static inline __attribute__((always_inline)) pk_gemm_vf pk__gemm_fma(pk_gemm_vf a, pk_gemm_vf b,
                                                                    pk_gemm_vf c)
{
#if defined(PK__GEMM_AVX512)
    return (pk_gemm_vf)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
#elif defined(PK__GEMM_AVX2)
    return (pk_gemm_vf)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
#else
    return c + a * b;
#endif
}

/* The first n (1..PK_VEC) floats at p; the other lanes 0. */
static inline pk_gemm_vf pk__gemm_ldn(const float *p, int n)
{
#if defined(PK__GEMM_AVX512)
    return (pk_gemm_vf)_mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), p);
#else
    pk_gemm_vf v = {0};
    memcpy(&v, p, (size_t)n * sizeof(float));
    return v;
#endif
}

static inline void pk__gemm_stn(float *p, pk_gemm_vf v, int n)
{
#if defined(PK__GEMM_AVX512)
    _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1), (__m512)v);
#else
    memcpy(p, &v, (size_t)n * sizeof(float));
#endif
}

static inline __attribute__((always_inline)) pk_gemm_vf pk__gemm_sel(pk_gemm_vi m, pk_gemm_vf a,
                                                                    pk_gemm_vf b)
{
    return (pk_gemm_vf)(((pk_gemm_vi)a & m) | ((pk_gemm_vi)b & ~m)); /* m ? a : b */
}

/* GELU(y) = 0.5 y (1 + erf(y / sqrt 2)); erf as x P(x^2) / Q(x^2) on x
 * clamped to [-4, 4] (the rational erf of Eigen / XLA). */
static inline __attribute__((always_inline)) pk_gemm_vf pk__gemm_gelu(pk_gemm_vf y)
{
    const pk_gemm_vf four = pk__gemm_splat(4.0f), mfour = pk__gemm_splat(-4.0f);
    pk_gemm_vf x = y * pk__gemm_splat(0.70710678118654752f);
    x = pk__gemm_sel(x > four, four, x);
    x = pk__gemm_sel(x < mfour, mfour, x);
    pk_gemm_vf x2 = x * x;
    pk_gemm_vf p = pk__gemm_splat(-2.72614225801306e-10f);
    p = pk__gemm_fma(p, x2, pk__gemm_splat(2.77068142495902e-08f));
    p = pk__gemm_fma(p, x2, pk__gemm_splat(-2.10102402082508e-06f));
    p = pk__gemm_fma(p, x2, pk__gemm_splat(-5.69250639462346e-05f));
    p = pk__gemm_fma(p, x2, pk__gemm_splat(-7.34990630326855e-04f));
    p = pk__gemm_fma(p, x2, pk__gemm_splat(-2.95459980854025e-03f));
    p = pk__gemm_fma(p, x2, pk__gemm_splat(-1.60960333262415e-02f));
    pk_gemm_vf q = pk__gemm_splat(-1.45660718464996e-05f);
    q = pk__gemm_fma(q, x2, pk__gemm_splat(-2.13374055278905e-04f));
    q = pk__gemm_fma(q, x2, pk__gemm_splat(-1.68282697438203e-03f));
    q = pk__gemm_fma(q, x2, pk__gemm_splat(-7.37332916720468e-03f));
    q = pk__gemm_fma(q, x2, pk__gemm_splat(-1.42647390514189e-02f));
    pk_gemm_vf erf = x * p / q;
    pk_gemm_vf h = pk__gemm_splat(0.5f) * y;
    return pk__gemm_fma(h, erf, h);
}

/* ---- run time ---- */

/* Where one vector of a tile's output columns lives: row 0 of the tile at
 * c, row r at c + r * ldc, n valid lanes (PK_VEC = a full vector). */
typedef struct {
    float *c[PK_GEMM_NV];
    int64_t ldc[PK_GEMM_NV];
    int n[PK_GEMM_NV];
} pk__gemm_cols;

/* One micro-tile: rows [0, mr) of a weight panel (a: kc x MR) times the
 * packed X panel b (kc x nv*PK_VEC). first: start from the bias (else from
 * the values in C); gelu: apply the GELU before storing. */
static inline __attribute__((always_inline)) void
pk__gemm_ukr(const int nv, int kc, const float *restrict a, const float *restrict b,
             const pk__gemm_cols *cols, int mr, const float *bias, int first, int gelu)
{
    enum { MR = PK_GEMM_MR, V = PK_VEC };
    pk_gemm_vf acc[MR][PK_GEMM_NV];
    int full = mr == MR;
    for (int v = 0; v < nv; v++)
        full &= cols->n[v] == V;
    if (first) {
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            pk_gemm_vf bv = pk__gemm_splat(full || r < mr ? bias[r] : 0.0f);
#pragma GCC unroll 8
            for (int v = 0; v < nv; v++)
                acc[r][v] = bv;
        }
    } else if (full) {
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
            for (int v = 0; v < nv; v++)
                acc[r][v] = pk__gemm_ld(cols->c[v] + r * cols->ldc[v]);
    } else {
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
            for (int v = 0; v < nv; v++)
                acc[r][v] = r >= mr ? (pk_gemm_vf){0}
                            : cols->n[v] == V
                                ? pk__gemm_ld(cols->c[v] + r * cols->ldc[v])
                                : pk__gemm_ldn(cols->c[v] + r * cols->ldc[v], cols->n[v]);
    }

#pragma GCC unroll 2
    for (int k = 0; k < kc; k++) {
        pk_gemm_vf bv[PK_GEMM_NV];
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++)
            bv[v] = pk__gemm_ld(b + (k * nv + v) * V);
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            pk_gemm_vf av = pk__gemm_splat(a[k * MR + r]);
#pragma GCC unroll 8
            for (int v = 0; v < nv; v++)
                acc[r][v] = pk__gemm_fma(av, bv[v], acc[r][v]);
        }
    }

    if (gelu) {
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
            for (int v = 0; v < nv; v++)
                acc[r][v] = pk__gemm_gelu(acc[r][v]);
    }
    if (full) {
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
            for (int v = 0; v < nv; v++)
                pk__gemm_st(cols->c[v] + r * cols->ldc[v], acc[r][v]);
    } else {
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
            for (int v = 0; v < nv; v++)
                if (r < mr) {
                    if (cols->n[v] == V)
                        pk__gemm_st(cols->c[v] + r * cols->ldc[v], acc[r][v]);
                    else
                        pk__gemm_stn(cols->c[v] + r * cols->ldc[v], acc[r][v], cols->n[v]);
                }
    }
}

static void pk__gemm_ukr_any(int nv, int kc, const float *a, const float *b,
                             const pk__gemm_cols *cols, int mr, const float *bias, int first,
                             int gelu)
{
    switch (nv) {
    case 1:
        pk__gemm_ukr(1, kc, a, b, cols, mr, bias, first, gelu);
        break;
#if PK_GEMM_NV >= 2
    case 2:
        pk__gemm_ukr(2, kc, a, b, cols, mr, bias, first, gelu);
        break;
#endif
#if PK_GEMM_NV >= 3
    case 3:
        pk__gemm_ukr(3, kc, a, b, cols, mr, bias, first, gelu);
        break;
#endif
#if PK_GEMM_NV >= 4
    case 4:
        pk__gemm_ukr(4, kc, a, b, cols, mr, bias, first, gelu);
        break;
#endif
#if PK_GEMM_NV >= 5
    default:
        pk__gemm_ukr(PK_GEMM_NV, kc, a, b, cols, mr, bias, first, gelu);
        break;
#endif
    }
}

/* The images' pixels form one sequence q = img * P + p; vectors of PK_VEC
 * of them may straddle two images (only when P % PK_VEC != 0 and nimg > 1). */
typedef struct {
    const float *const *X;
    float *const *Y;
    int nimg, O, I, P;
} pk__gemm_args;

/* Pack X rows [k0, k0 + kc), sequence columns [q0, q0 + nq), into
 * bp[k][0 .. w) (w = nv * PK_VEC), zero past nq. */
static void pk__gemm_pack_x(const pk__gemm_args *g, int k0, int kc, int64_t q0, int nq, int w,
                            float *bp)
{
    int P = g->P;
    for (int64_t q = q0; q < q0 + nq;) {
        int img = (int)(q / P), p = (int)(q % P);
        int n = P - p < q0 + nq - q ? P - p : (int)(q0 + nq - q);
        const float *x = g->X[img] + (int64_t)k0 * P + p;
        float *d = bp + (q - q0);
        for (int k = 0; k < kc; k++)
            memcpy(d + (int64_t)k * w, x + (int64_t)k * P, (size_t)n * sizeof(float));
        q += n;
    }
    if (nq < w)
        for (int k = 0; k < kc; k++)
            memset(bp + (int64_t)k * w + nq, 0, (size_t)(w - nq) * sizeof(float));
}

/* One thread's rectangle: weight panels [m0, m1) x pixel vectors [v0, v1). */
static void pk__gemm_rect(const float *packed, const float *bias, const pk__gemm_args *g,
                          int epilogue, int m0, int m1, int v0, int v1)
{
    enum { MR = PK_GEMM_MR, V = PK_VEC, NV = PK_GEMM_NV, KC = PK_GEMM_KC };
    float bp[KC * NV * V] __attribute__((aligned(64)));
    float stage[NV][MR * V] __attribute__((aligned(64))); /* straddling vectors */
    float bias_pad[MR];
    int O = g->O, I = g->I, P = g->P;
    int64_t Q = (int64_t)g->nimg * P;
    if (m0 >= m1 || v0 >= v1)
        return;
    /* row blocks whose weights fit in L2, of equal size */
    int64_t per_panel = (int64_t)MR * I * (int64_t)sizeof(float);
    int mcap = (int)(PK_GEMM_L2_BYTES / per_panel);
    mcap = mcap < 1 ? 1 : mcap;
    int nmb = (m1 - m0 + mcap - 1) / mcap;
    /* pixel panels of at most NV vectors, of near-equal size */
    int nvec = v1 - v0, npan = (nvec + NV - 1) / NV;
    for (int mb = 0; mb < nmb; mb++) {
        int ma = m0 + (int)((int64_t)(m1 - m0) * mb / nmb);
        int mz = m0 + (int)((int64_t)(m1 - m0) * (mb + 1) / nmb);
        for (int pn = 0; pn < npan; pn++) {
            int va = v0 + nvec * pn / npan, vz = v0 + nvec * (pn + 1) / npan, nv = vz - va;
            int64_t q0 = (int64_t)va * V;
            int nq = (int)((int64_t)vz * V < Q ? (int64_t)vz * V - q0 : Q - q0);
            /* the output columns of each vector (row offset added per tile) */
            pk__gemm_cols cols0;
            int straddle[NV];
            for (int v = 0; v < nv; v++) {
                int64_t q = q0 + (int64_t)v * V;
                int img = (int)(q / P), p = (int)(q % P);
                int n = Q - q < V ? (int)(Q - q) : V;
                straddle[v] = P - p < n;
                cols0.c[v] = straddle[v] ? stage[v] : g->Y[img] + p;
                cols0.ldc[v] = straddle[v] ? V : P;
                cols0.n[v] = straddle[v] ? V : n;
            }
            for (int k0 = 0; k0 < I; k0 += KC) {
                int kc = I - k0 < KC ? I - k0 : KC;
                int first = k0 == 0, gelu = epilogue == 1 && k0 + kc == I;
                pk__gemm_pack_x(g, k0, kc, q0, nq, nv * V, bp);
                for (int m = ma; m < mz; m++) {
                    int o0 = m * MR, mr = O - o0 < MR ? O - o0 : MR;
                    const float *a = packed + ((size_t)m * I + k0) * MR;
                    const float *bs = bias + o0;
                    if (mr < MR) {
                        for (int j = 0; j < MR; j++)
                            bias_pad[j] = j < mr ? bias[o0 + j] : 0.0f;
                        bs = bias_pad;
                    }
                    pk__gemm_cols cols = cols0;
                    for (int v = 0; v < nv; v++) {
                        if (!straddle[v]) {
                            cols.c[v] += (int64_t)o0 * P;
                            continue;
                        }
                        if (first)
                            continue;
                        /* gather the two images' parts of this vector */
                        int64_t q = q0 + (int64_t)v * V;
                        int img = (int)(q / P), p = (int)(q % P), n1 = P - p;
                        int n = Q - q < V ? (int)(Q - q) : V;
                        for (int r = 0; r < mr; r++) {
                            memcpy(stage[v] + r * V, g->Y[img] + (int64_t)(o0 + r) * P + p,
                                   (size_t)n1 * sizeof(float));
                            memcpy(stage[v] + r * V + n1, g->Y[img + 1] + (int64_t)(o0 + r) * P,
                                   (size_t)(n - n1) * sizeof(float));
                        }
                    }
                    pk__gemm_ukr_any(nv, kc, a, bp, &cols, mr, bs, first, gelu);
                    for (int v = 0; v < nv; v++) {
                        if (!straddle[v])
                            continue;
                        int64_t q = q0 + (int64_t)v * V;
                        int img = (int)(q / P), p = (int)(q % P), n1 = P - p;
                        int n = Q - q < V ? (int)(Q - q) : V;
                        for (int r = 0; r < mr; r++) {
                            memcpy(g->Y[img] + (int64_t)(o0 + r) * P + p, stage[v] + r * V,
                                   (size_t)n1 * sizeof(float));
                            memcpy(g->Y[img + 1] + (int64_t)(o0 + r) * P, stage[v] + r * V + n1,
                                   (size_t)(n - n1) * sizeof(float));
                        }
                    }
                }
            }
        }
    }
}

/* Split nthreads into a grid To x Tp over weight panels x pixel vectors
 * with the least work in the largest rectangle. */
static void pk__gemm_grid(int panels, int64_t vecs, int nthreads, int *to, int *tp)
{
    int64_t best = -1;
    *to = 1;
    *tp = 1;
    for (int a = 1; a <= nthreads; a++) {
        if (nthreads % a)
            continue;
        int b = nthreads / a;
        int64_t cost = (int64_t)((panels + a - 1) / a) * ((vecs + b - 1) / b);
        if (a > panels || b > vecs)
            continue;
        if (best < 0 || cost < best) {
            best = cost;
            *to = a;
            *tp = b;
        }
    }
}

/* Several images with the same weights: Y[n] = W X[n] + bias (then GELU if
 * epilogue == 1) for n < nimg, each X[n] [I][P] and Y[n] [O][P]. Their pixels
 * are packed side by side, so each weight panel is loaded once for all of
 * them and a P that is not a multiple of PK_VEC wastes only the last
 * vector of the batch. Bit-identical to nimg calls of pk_gemm. */
static void pk_gemm_batch(const float *packed, const float *bias, const float *const *X,
                          float *const *Y, int nimg, int O, int I, int P, int epilogue,
                          int nthreads)
{
    pk__gemm_args g = {X, Y, nimg, O, I, P};
    if (O <= 0 || P <= 0 || nimg <= 0)
        return;
    int panels = (O + PK_GEMM_MR - 1) / PK_GEMM_MR;
    int64_t vecs = ((int64_t)nimg * P + PK_VEC - 1) / PK_VEC;
    if (I <= 0) { /* no inputs: the bias alone */
        for (int n = 0; n < nimg; n++)
            for (int o = 0; o < O; o++)
                for (int p = 0; p < P; p++) {
                    pk_gemm_vf y = pk__gemm_splat(bias[o]);
                    Y[n][(int64_t)o * P + p] = epilogue == 1 ? pk__gemm_gelu(y)[0] : y[0];
                }
        return;
    }
    if (nthreads < 1)
        nthreads = 1;
    /* below ~1 M multiply-adds a second thread costs more than it saves */
    if ((double)O * I * P * nimg < 1e6)
        nthreads = 1;
    int to, tp;
    pk__gemm_grid(panels, vecs, nthreads, &to, &tp);
    int nt = to * tp;
    (void)nt;
#pragma omp parallel for num_threads(nt) schedule(static, 1) if (nt > 1)
    for (int t = 0; t < nt; t++) {
        int a = t / tp, b = t % tp;
        int m0 = (int)((int64_t)panels * a / to), m1 = (int)((int64_t)panels * (a + 1) / to);
        int v0 = (int)(vecs * b / tp), v1 = (int)(vecs * (b + 1) / tp);
        pk__gemm_rect(packed, bias, &g, epilogue, m0, m1, v0, v1);
    }
}

/* One image: Y [O][P] = W X + bias, X [I][P], W packed by pk_gemm_pack_weights;
 * epilogue 0: bias only, 1: bias then exact GELU. X and Y must not overlap. */
static inline void pk_gemm(const float *packed, const float *bias, const float *X, float *Y, int O,
                           int I, int P, int epilogue, int nthreads)
{
    pk_gemm_batch(packed, bias, &X, &Y, 1, O, I, P, epilogue, nthreads);
}

#endif
