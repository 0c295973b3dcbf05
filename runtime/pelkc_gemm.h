/* Pointwise (1x1) conv layers as a matrix product, one image at a time, NCHW:
 *
 *     Y[o][p] = bias[o] + sum_i W[o][i] * X[i][p]     o < O, i < I, p < P
 *
 * i.e. C[O x P] = A[O x I] * B[I x P], all row-major, B = X and C = Y with
 * leading dimension P. W is a constant, so the compiler packs it once
 * (pk_gemm_pack_weights, plain C) into the panel layout the micro-kernel
 * reads; at run time pk_gemm packs blocks of X into a per-thread buffer and
 * runs a register-blocked micro-kernel. The packing (and the packed weight
 * layout) is pelkc_gemm_pack.h; the vector helpers, pelkc_vec.h; this file
 * keeps the micro-kernel and the driver around it.
 *
 * Micro-kernel: MR = 6 rows of W (broadcast) x NV vectors of pixels
 * (NV = 4 with 16-float AVX-512 vectors: 6 x 64 pixels in 24 zmm
 * accumulators; NV = 2 with 8-float vectors: the classic 6 x 16 AVX2 tile).
 * Threads split the output into a grid of rectangles (rows x pixel vectors,
 * the split with the smallest largest part), one per thread, no K split.
 * Within a rectangle, GotoBLAS order: chunks of up to 1 MiB of packed X per
 * K block (a thread-private buffer: 64 KiB on the stack for a single panel,
 * else malloc'd per call) > K blocks of 256 (X packed once per chunk and
 * block, zero-padded past P) > row blocks whose weights for the K block
 * (768 KiB) stay in L2 > pixel panels of NV vectors > 6-row tiles, the
 * weights prefetched 4 KiB ahead (they stream from memory when the layer's
 * weights exceed the caches). Pixel tails (P = 49, 196) run narrower kernels
 * on whole vectors and load/store the last, partial vector with masks, so
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
 * erf (with AVX-512 its division is a reciprocal and a Newton step; swept
 * over y in [-12, 12] by 1e-5, the GELU is within 2.4e-7 |y| of the exact
 * one, 2.0e-7 |y| with the division), not libm's erff, so it can differ
 * from pk_gelu in the last bits. */
#ifndef PELKC_GEMM_H
#define PELKC_GEMM_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pelkc_gemm_pack.h"
#include "pelkc_job.h"
#include "pelkc_vec.h"
#ifdef _OPENMP
#include <omp.h>
#endif

/* Vectors of pixels per micro-tile (6 x NV accumulators). */
#ifndef PK_GEMM_NV
#if PK_VEC >= 16
#define PK_GEMM_NV 4
#else
#define PK_GEMM_NV 2
#endif
#endif
/* Fewest multiply-adds worth more than one thread (a test sets 0). */
#ifndef PK_GEMM_MIN_PARALLEL
#define PK_GEMM_MIN_PARALLEL 1e6
#endif
/* Bytes of packed weights a block of output rows may keep in L2. */
#ifndef PK_GEMM_L2_BYTES
#define PK_GEMM_L2_BYTES (768 * 1024)
#endif
/* Bytes of packed X (one K block) a thread packs at once. */
#ifndef PK_GEMM_B_BYTES
#define PK_GEMM_B_BYTES (1024 * 1024)
#endif

/* GELU(y) = 0.5 y (1 + erf(y / sqrt 2)); erf as x P(x^2) / Q(x^2) on x
 * clamped to [-4, 4] (the rational erf of Eigen / XLA). */
static inline __attribute__((always_inline)) pk_vf pk__gemm_gelu(pk_vf y)
{
    const pk_vf four = pk_splat(4.0f), mfour = pk_splat(-4.0f);
    pk_vf x = y * pk_splat(0.70710678118654752f);
    x = pk_select(x > four, four, x);
    x = pk_select(x < mfour, mfour, x);
    pk_vf x2 = x * x;
    pk_vf p = pk_splat(-2.72614225801306e-10f);
    p = pk_fma(p, x2, pk_splat(2.77068142495902e-08f));
    p = pk_fma(p, x2, pk_splat(-2.10102402082508e-06f));
    p = pk_fma(p, x2, pk_splat(-5.69250639462346e-05f));
    p = pk_fma(p, x2, pk_splat(-7.34990630326855e-04f));
    p = pk_fma(p, x2, pk_splat(-2.95459980854025e-03f));
    p = pk_fma(p, x2, pk_splat(-1.60960333262415e-02f));
    pk_vf q = pk_splat(-1.45660718464996e-05f);
    q = pk_fma(q, x2, pk_splat(-2.13374055278905e-04f));
    q = pk_fma(q, x2, pk_splat(-1.68282697438203e-03f));
    q = pk_fma(q, x2, pk_splat(-7.37332916720468e-03f));
    q = pk_fma(q, x2, pk_splat(-1.42647390514189e-02f));
#if defined(PK_VEC_AVX512)
    /* p / q as p * (1/q): the 14-bit reciprocal and one Newton step (rel.
     * error ~2^-27), cheaper than a vector division */
    pk_vf rq = (pk_vf)_mm512_rcp14_ps((__m512)q);
    rq = rq * (pk_splat(2.0f) - q * rq);
    pk_vf erf = x * p * rq;
#else
    pk_vf erf = x * p / q;
#endif
    pk_vf h = pk_splat(0.5f) * y;
    return pk_fma(h, erf, h);
}

/* ---- run time ---- */

/* Where one vector of a tile's output columns lives: row 0 of the tile at
 * c, row r at c + r * ldc, n valid lanes (PK_VEC = a full vector). With
 * AVX-512 masks a vector may span two images: lanes [0, split) at c and
 * lanes [split, n) at c2 (c2 is where lane split goes); split 0: one image. */
typedef struct {
    float *c[PK_GEMM_NV];
    const float *r[PK_GEMM_NV]; /* the residual at the same place, or NULL */
    int64_t ldc[PK_GEMM_NV];
    int64_t rs[PK_GEMM_NV]; /* tile row o0 starts at c + o0 * rs (0: a staging tile) */
    int n[PK_GEMM_NV];
    int split[PK_GEMM_NV];
    float *c2[PK_GEMM_NV];
    const float *r2[PK_GEMM_NV];
    int full; /* every vector whole, in one image, in place */
} pk__gemm_cols;

/* Lanes [0, n) of a column vector at p + off (split: lanes [split, n) at
 * p2 + off, as pk__gemm_cols describes), the other lanes 0. */
static inline __attribute__((always_inline)) pk_vf
pk__gemm_ld_cols(const float *p, const float *p2, int n, int split, int64_t off)
{
#if defined(PK_VEC_AVX512)
    if (split) { /* lane j >= split reads p2 + off + (j - split): a shifted, masked load */
        __mmask16 lo = (__mmask16)((1u << split) - 1), all = (__mmask16)((1u << n) - 1);
        __m512 v = _mm512_maskz_loadu_ps(lo, p + off);
        uintptr_t at = (uintptr_t)(p2 + off) - (uintptr_t)split * sizeof(float);
        return (pk_vf)_mm512_mask_loadu_ps(v, (__mmask16)(all & ~lo), (const void *)at);
    }
#else
    (void)p2;
    (void)split;
#endif
    return n == PK_VEC ? pk_load(p + off) : pk_loadn(p + off, n);
}

static inline __attribute__((always_inline)) void pk__gemm_st_cols(float *p, float *p2, int n,
                                                                   int split, int64_t off,
                                                                   pk_vf v)
{
#if defined(PK_VEC_AVX512)
    if (split) {
        __mmask16 lo = (__mmask16)((1u << split) - 1), all = (__mmask16)((1u << n) - 1);
        _mm512_mask_storeu_ps(p + off, lo, (__m512)v);
        uintptr_t at = (uintptr_t)(p2 + off) - (uintptr_t)split * sizeof(float);
        _mm512_mask_storeu_ps((void *)at, (__mmask16)(all & ~lo), (__m512)v);
        return;
    }
#else
    (void)p2;
    (void)split;
#endif
    if (n == PK_VEC)
        pk_store(p + off, v);
    else
        pk_storen(p + off, v, n);
}

/* One micro-tile: rows [0, mr) of a weight panel (a: kc x MR) times the
 * packed X panel b (kc x nv*PK_VEC). first: start from the bias (else from
 * the values in C); gelu: apply the GELU before storing; resid: add the
 * residual (cols->r, where not NULL) before storing. The tile's outputs are
 * rows [o0, o0 + mr) of the panel's columns; full: mr == MR and cols->full
 * (the caller's, so no flag is rebuilt from memory per tile). */
static inline __attribute__((always_inline)) void
pk__gemm_ukr(const int nv, int kc, const float *restrict a, const float *restrict b,
             const pk__gemm_cols *cols, int o0, int mr, int full, const float *bias, int first,
             int gelu, int resid)
{
    enum { MR = PK_GEMM_MR, V = PK_VEC };
    pk_vf acc[MR][PK_GEMM_NV];
    float *c[PK_GEMM_NV], *c2[PK_GEMM_NV];
    const float *rr[PK_GEMM_NV], *rr2[PK_GEMM_NV];
#pragma GCC unroll 8
    for (int v = 0; v < nv; v++) {
        int64_t row = (int64_t)o0 * cols->rs[v];
        c[v] = cols->c[v] + row;
        rr[v] = cols->r[v] ? cols->r[v] + row : NULL;
        c2[v] = cols->split[v] ? cols->c2[v] + row : NULL;
        rr2[v] = cols->split[v] && cols->r2[v] ? cols->r2[v] + row : NULL;
    }
    if (first) {
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            pk_vf bv = pk_splat(full || r < mr ? bias[r] : 0.0f);
#pragma GCC unroll 8
            for (int v = 0; v < nv; v++)
                acc[r][v] = bv;
        }
    } else if (full) {
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
            for (int v = 0; v < nv; v++)
                acc[r][v] = pk_load(c[v] + r * cols->ldc[v]);
    } else {
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
            for (int v = 0; v < nv; v++)
                acc[r][v] = r >= mr ? (pk_vf){0}
                                    : pk__gemm_ld_cols(c[v], c2[v], cols->n[v], cols->split[v],
                                                       r * cols->ldc[v]);
    }

#pragma GCC unroll 2
    for (int k = 0; k < kc; k++) {
        pk_vf bv[PK_GEMM_NV];
        /* the weights stream from L3 or memory when they do not fit in L2
         * (P = 49); fetch them 4 KiB ahead (past this panel: the next) */
        __builtin_prefetch(a + k * MR + 1024, 0, 2);
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++)
            bv[v] = pk_load(b + (k * nv + v) * V);
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            pk_vf av = pk_splat(a[k * MR + r]);
#pragma GCC unroll 8
            for (int v = 0; v < nv; v++)
                acc[r][v] = pk_fma(av, bv[v], acc[r][v]);
        }
    }

    if (gelu) {
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
            for (int v = 0; v < nv; v++)
                acc[r][v] = pk__gemm_gelu(acc[r][v]);
    }
    if (resid) {
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
            for (int v = 0; v < nv; v++)
                if (rr[v] && (full || r < mr))
                    acc[r][v] += full ? pk_load(rr[v] + r * cols->ldc[v])
                                      : pk__gemm_ld_cols(rr[v], rr2[v], cols->n[v],
                                                         cols->split[v], r * cols->ldc[v]);
    }
    if (full) {
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
            for (int v = 0; v < nv; v++)
                pk_store(c[v] + r * cols->ldc[v], acc[r][v]);
    } else {
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
            for (int v = 0; v < nv; v++)
                if (r < mr)
                    pk__gemm_st_cols(c[v], c2[v], cols->n[v], cols->split[v], r * cols->ldc[v],
                                     acc[r][v]);
    }
}

static inline void pk__gemm_ukr_any(int nv, int kc, const float *a, const float *b,
                                    const pk__gemm_cols *cols, int o0, int mr, const float *bias,
                                    int first, int gelu, int resid)
{
    int full = mr == PK_GEMM_MR && cols->full;
    switch (nv) {
    case 1:
        pk__gemm_ukr(1, kc, a, b, cols, o0, mr, full, bias, first, gelu, resid);
        break;
#if PK_GEMM_NV >= 2
    case 2:
        pk__gemm_ukr(2, kc, a, b, cols, o0, mr, full, bias, first, gelu, resid);
        break;
#endif
#if PK_GEMM_NV >= 3
    case 3:
        pk__gemm_ukr(3, kc, a, b, cols, o0, mr, full, bias, first, gelu, resid);
        break;
#endif
#if PK_GEMM_NV >= 4
    case 4:
        pk__gemm_ukr(4, kc, a, b, cols, o0, mr, full, bias, first, gelu, resid);
        break;
#endif
#if PK_GEMM_NV >= 5
    default:
        pk__gemm_ukr(PK_GEMM_NV, kc, a, b, cols, o0, mr, full, bias, first, gelu, resid);
        break;
#endif
    }
}

/* A vector of the sequence that spans several images: copy rows [o0, o0 +
 * mr) of its columns between Y and the staging tile st [MR][PK_VEC]
 * (out: st to Y; out == 2: adding the residual on the way). */
static inline void pk__gemm_straddle(const pk__gemm_args *g, int64_t q, int o0, int mr, float *st,
                                     int out)
{
    int P = g->P;
    int64_t end = (int64_t)g->nimg * P;
    end = end < q + PK_VEC ? end : q + PK_VEC;
    for (int64_t at = q; at < end;) {
        int img = (int)(at / P), p = (int)(at % P);
        int n = P - p < end - at ? P - p : (int)(end - at);
        for (int r = 0; r < mr; r++) {
            float *y = g->Y[img] + (int64_t)(o0 + r) * P + p, *t = st + r * PK_VEC + (at - q);
            if (out == 2) {
                const float *res = g->R[img] + (int64_t)(o0 + r) * P + p;
                for (int u = 0; u < n; u++)
                    y[u] = t[u] + res[u];
            } else if (out)
                memcpy(y, t, (size_t)n * sizeof(float));
            else
                memcpy(t, y, (size_t)n * sizeof(float));
        }
        at += n;
    }
}

/* The output columns of a pixel panel: vectors [va, va + nv) of the
 * sequence; row 0's addresses (the tile's row offset is added per tile);
 * vectors that span images go through a staging tile. */
typedef struct {
    int64_t q0; /* first sequence column */
    int nq, nv; /* columns, vectors */
    int straddle[PK_GEMM_NV];
    pk__gemm_cols cols;
} pk__gemm_panel;

static inline void pk__gemm_panel_init(const pk__gemm_args *g, int va, int vz,
                                       float (*stage)[PK_GEMM_MR * PK_VEC], pk__gemm_panel *pp)
{
    int P = g->P;
    int64_t Q = (int64_t)g->nimg * P;
    pp->q0 = (int64_t)va * PK_VEC;
    pp->nv = vz - va;
    pp->nq = (int)((int64_t)vz * PK_VEC < Q ? (int64_t)vz * PK_VEC - pp->q0 : Q - pp->q0);
    int full = 1;
    for (int v = 0; v < pp->nv; v++) {
        int64_t q = pp->q0 + (int64_t)v * PK_VEC;
        int img = (int)(q / P), p = (int)(q % P);
        int n = Q - q < PK_VEC ? (int)(Q - q) : PK_VEC;
        /* spans images: two at most (P >= PK_VEC) with AVX-512 masks in
         * place, else through the staging tile */
        int two = P - p < n;
#if defined(PK_VEC_AVX512)
        int split = two && P >= PK_VEC ? P - p : 0;
#else
        int split = 0;
#endif
        pp->straddle[v] = two && !split;
        pp->cols.split[v] = split;
        pp->cols.c2[v] = split ? g->Y[img + 1] : NULL;
        pp->cols.r2[v] = split && g->R ? g->R[img + 1] : NULL;
        pp->cols.c[v] = pp->straddle[v] ? stage[v] : g->Y[img] + p;
        pp->cols.r[v] = g->R && !pp->straddle[v] ? g->R[img] + p : NULL;
        pp->cols.ldc[v] = pp->straddle[v] ? PK_VEC : P;
        pp->cols.rs[v] = pp->straddle[v] ? 0 : P;
        pp->cols.n[v] = pp->straddle[v] ? PK_VEC : n;
        full &= pp->cols.n[v] == PK_VEC && !split;
    }
    pp->cols.full = full;
}

/* One thread's rectangle: weight panels [m0, m1) x pixel vectors [v0, v1).
 * GotoBLAS order: pixel chunks (up to PK_GEMM_B_BYTES of packed X per K
 * block) > K blocks (pack X once per chunk and block) > row blocks whose
 * weights (a contiguous stretch of the K block) stay in L2 > pixel panels
 * (packed X panel in L1/L2) > 6-row tiles. */
static inline void pk__gemm_rect(const float *packed, const float *bias, const pk__gemm_args *g,
                                 int epilogue, int m0, int m1, int v0, int v1)
{
    enum { MR = PK_GEMM_MR, V = PK_VEC, NV = PK_GEMM_NV, KC = PK_GEMM_KC };
    float bp_stack[KC * NV * V] __attribute__((aligned(64)));
    float stage[NV][MR * V] __attribute__((aligned(64))); /* straddling vectors */
    float bias_pad[MR];
    int O = g->O, I = g->I;
    if (m0 >= m1 || v0 >= v1)
        return;
    int nvec = v1 - v0;
    /* vectors per chunk: a multiple of NV, the packed K block within budget */
    int chunk = (int)(PK_GEMM_B_BYTES / ((int64_t)KC * V * sizeof(float))) / NV * NV;
    chunk = chunk < NV ? NV : chunk;
    int nchunk = (nvec + chunk - 1) / chunk;
    int cmax = (nvec + nchunk - 1) / nchunk; /* chunks of near-equal size */
    int pmax = (cmax + NV - 1) / NV;         /* panels per chunk at most */
    float *bp = bp_stack, *heap = NULL;
    if (pmax > 1) {
        heap = (float *)malloc((size_t)KC * pmax * NV * V * sizeof(float) + 64);
        if (heap)
            bp = (float *)(((uintptr_t)heap + 63) & ~(uintptr_t)63);
        else { /* no memory: one panel at a time */
            nchunk = (nvec + NV - 1) / NV;
            pmax = 1;
        }
    }
    /* row blocks whose weights for one K block stay in L2, of equal size */
    int mcap = (int)(PK_GEMM_L2_BYTES / ((int64_t)MR * KC * sizeof(float)));
    mcap = mcap < 1 ? 1 : mcap;
    int nmb = (m1 - m0 + mcap - 1) / mcap;
    pk__gemm_panel pan[(PK_GEMM_B_BYTES / (PK_GEMM_KC * PK_VEC * 4)) / PK_GEMM_NV + 1];
    for (int c = 0; c < nchunk; c++) {
        int ca = v0 + (int)((int64_t)nvec * c / nchunk),
            cz = v0 + (int)((int64_t)nvec * (c + 1) / nchunk);
        int npan = (cz - ca + NV - 1) / NV; /* panels of near-equal size */
        for (int pn = 0; pn < npan; pn++)
            pk__gemm_panel_init(g, ca + (cz - ca) * pn / npan, ca + (cz - ca) * (pn + 1) / npan,
                                stage, &pan[pn]);
        for (int k0 = 0; k0 < I; k0 += KC) {
            int kc = I - k0 < KC ? I - k0 : KC;
            int first = k0 == 0, last = k0 + kc == I, gelu = epilogue == 1 && last;
            int resid = g->R && last;
            for (int pn = 0; pn < npan; pn++)
                pk__gemm_pack_x(g, k0, kc, pan[pn].q0, pan[pn].nq, pan[pn].nv * V,
                                bp + (size_t)pn * KC * NV * V);
            for (int mb = 0; mb < nmb; mb++) {
                int ma = m0 + (int)((int64_t)(m1 - m0) * mb / nmb);
                int mz = m0 + (int)((int64_t)(m1 - m0) * (mb + 1) / nmb);
                for (int pn = 0; pn < npan; pn++) {
                    const pk__gemm_panel *pp = &pan[pn];
                    const float *b = bp + (size_t)pn * KC * NV * V;
                    for (int m = ma; m < mz; m++) {
                        int o0 = m * MR, mr = O - o0 < MR ? O - o0 : MR;
                        const float *a = packed + pk__gemm_a_at(O, I, m, k0);
                        const float *bs = bias ? bias + o0 : NULL;
                        if (mr < MR || !bias) { /* past O, or no bias: zeros */
                            for (int j = 0; j < MR; j++)
                                bias_pad[j] = j < mr && bias ? bias[o0 + j] : 0.0f;
                            bs = bias_pad;
                        }
                        for (int v = 0; v < pp->nv; v++)
                            if (pp->straddle[v] && !first)
                                pk__gemm_straddle(g, pp->q0 + (int64_t)v * V, o0, mr, stage[v], 0);
                        pk__gemm_ukr_any(pp->nv, kc, a, b, &pp->cols, o0, mr, bs, first, gelu,
                                         resid);
                        for (int v = 0; v < pp->nv; v++)
                            if (pp->straddle[v])
                                pk__gemm_straddle(g, pp->q0 + (int64_t)v * V, o0, mr, stage[v],
                                                  resid ? 2 : 1);
                    }
                }
            }
        }
    }
    free(heap);
}

/* Split nthreads into a grid To x Tp over weight panels x pixel vectors
 * with the least work in the largest rectangle. */
static inline void pk__gemm_grid(int panels, int64_t vecs, int nthreads, int *to, int *tp)
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

/* Pixel tasks per thread when the weights stay in L2 (below). */
#ifndef PK_GEMM_TASKS_PER_THREAD
#define PK_GEMM_TASKS_PER_THREAD 4
#endif

/* The images of g as one sequence of pixels, split into rectangles (weight
 * panels x pixel vectors) that the threads take in turn. When one block of
 * weights stays in L2, a rectangle costs nothing extra for being narrow, so
 * there are several per thread and a thread that a busy neighbour delays
 * leaves its share to the others; otherwise one per thread, since each
 * rectangle packs its own X and streams its own weights. Which thread runs
 * a rectangle never changes its results. */
static inline void pk__gemm_run(const float *packed, const float *bias, const pk__gemm_args *g,
                                int epilogue, int nthreads)
{
    int O = g->O, I = g->I, P = g->P, nimg = g->nimg;
    int panels = (O + PK_GEMM_MR - 1) / PK_GEMM_MR;
    int64_t vecs = ((int64_t)nimg * P + PK_VEC - 1) / PK_VEC;
    /* below ~1 M multiply-adds a second thread costs more than it saves */
    if ((double)O * I * P * nimg < PK_GEMM_MIN_PARALLEL)
        nthreads = 1;
    int to, tp;
    pk__gemm_grid(panels, vecs, nthreads, &to, &tp);
    double abytes = (double)pk_gemm_packed_size(O, I) * sizeof(float);
    if (nthreads > 1 && to == 1 && abytes <= PK_GEMM_L2_BYTES) {
        int64_t most = vecs / (2 * PK_GEMM_NV); /* two panels of pixels per task at least */
        int64_t want = (int64_t)tp * PK_GEMM_TASKS_PER_THREAD;
        tp = (int)(want < most ? want : most > tp ? most : tp);
    }
    int nt = to * tp;
#pragma omp parallel for num_threads(nthreads) schedule(dynamic, 1) if (nthreads > 1)
    for (int t = 0; t < nt; t++) {
        int a = t / tp, b = t % tp;
        int m0 = (int)((int64_t)panels * a / to), m1 = (int)((int64_t)panels * (a + 1) / to);
        int v0 = (int)(vecs * b / tp), v1 = (int)(vecs * (b + 1) / tp);
        pk__gemm_rect(packed, bias, g, epilogue, m0, m1, v0, v1);
    }
}

/* Run a job (pk_gemm_job above): Y[n] = W src(X[n]) + bias, then the GELU
 * if epilogue == 1, then + R[n], for n < nimg; each Y[n] is [O][P]. When the
 * weights do not fit in the threads' L2 caches, or P is small, the images'
 * pixels are packed side by side, so each weight panel is loaded once for
 * all of them and a P that is not a multiple of PK_VEC wastes only the last
 * vector of the batch (PeLK-T's P = 49 and 196 stages); otherwise the images
 * go one by one, which keeps each one's activations in cache. Bit-identical
 * either way, and to running the images one at a time. X, R and S must not
 * overlap Y. */
static inline void pk_gemm_run(const float *packed, const float *bias, const pk_gemm_job *job,
                               int epilogue, int nthreads)
{
    int O = job->O, I = job->I, P = job->P;
    if (O <= 0 || P <= 0 || job->nimg <= 0)
        return;
    if (I <= 0) { /* no inputs: the bias alone */
        for (int n = 0; n < job->nimg; n++)
            for (int o = 0; o < O; o++)
                for (int p = 0; p < P; p++) {
                    pk_vf y = pk_splat(bias ? bias[o] : 0.0f);
                    float v = epilogue == 1 ? pk__gemm_gelu(y)[0] : y[0];
                    int64_t at = (int64_t)o * P + p;
                    job->Y[n][at] = job->R ? v + job->R[n][at] : v;
                }
        return;
    }
    if (nthreads < 1)
        nthreads = 1;
    double abytes = (double)pk_gemm_packed_size(O, I) * sizeof(float);
    if (job->nimg > 1 && P >= 16 * PK_VEC && abytes <= (double)nthreads * PK_GEMM_L2_BYTES) {
        for (int n = 0; n < job->nimg; n++) {
            pk_gemm_job one = *job;
            one.X = job->X + n;
            one.Y = job->Y + n;
            one.R = job->R ? job->R + n : NULL;
            one.S = job->S ? job->S + n : NULL;
            one.nimg = 1;
            pk__gemm_run(packed, bias, &one, epilogue, nthreads);
        }
        return;
    }
    pk__gemm_run(packed, bias, job, epilogue, nthreads);
}

/* Several images, plain X[n] [I][P]. */
static inline void pk_gemm_batch(const float *packed, const float *bias, const float *const *X,
                                 float *const *Y, int nimg, int O, int I, int P, int epilogue,
                                 int nthreads)
{
    pk_gemm_job job = {X, Y, NULL, NULL, nimg, O, I, P, 0, 0, 0};
    pk_gemm_run(packed, bias, &job, epilogue, nthreads);
}

/* One image: Y [O][P] = W X + bias, X [I][P], W packed by pk_gemm_pack_weights,
 * bias [O] (NULL: none); epilogue 0: bias only, 1: bias then exact GELU.
 * X and Y must not overlap. nthreads: the OpenMP team size (results do not
 * depend on it). */
static inline void pk_gemm(const float *packed, const float *bias, const float *X, float *Y, int O,
                           int I, int P, int epilogue, int nthreads)
{
    pk_gemm_batch(packed, bias, &X, &Y, 1, O, I, P, epilogue, nthreads);
}

#endif
