/* Packing for the matrix product (pelkc_gemm.h): the weights once, at
 * compile time, into the panel layout the micro-kernel reads; blocks of X at
 * run time, into a thread's buffer.
 *
 * Packed weight layout (independent of PK_VEC and of the target; it depends
 * only on MR = 6 and KC = 256, which are fixed):
 *     K blocks of KC = 256 inputs, k0 = 0, 256, 512, ... (the last one
 *     kcb = I - k0 <= 256 long); within a block, panels of MR = 6 output rows
 *     (rows past O zero), each panel the kcb x 6 weights k-major:
 *         packed[k0 * Opad + m * kcb * 6 + (k - k0) * 6 + j] = W[6m + j][k]
 *     with Opad = ceil(O / 6) * 6, k0 = k - k % 256, 0 where 6m + j >= O.
 *     pk_gemm_packed_size(O, I) = Opad * I floats. A K block of all panels
 *     is contiguous, so the run time streams it front to back.
 *
 * Packed X: rows [k0, k0 + kc) of the right operand (a job's source, plain,
 * patch or normalised: pelkc_job.h), w = nv * PK_VEC columns of the images'
 * pixel sequence per row, zero past the last pixel. */
#ifndef PELKC_GEMM_PACK_H
#define PELKC_GEMM_PACK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pelkc_job.h"
#include "pelkc_vec.h"

/* Rows of W per micro-tile and the K block: fixed, they are the packed
 * layout (the compiler that packs and the code that runs must agree). */
#define PK_GEMM_MR 6
#define PK_GEMM_KC 256

/* ---- compile time: weight packing ---- */

static inline size_t pk_gemm_packed_size(int O, int I)
{
    return (size_t)((O + PK_GEMM_MR - 1) / PK_GEMM_MR) * PK_GEMM_MR * (size_t)I;
}

/* Offset of the weights W[6m + 0..5][k0 ..] of panel m in K block k0. */
static inline size_t pk__gemm_a_at(int O, int I, int m, int k0)
{
    size_t opad = (size_t)((O + PK_GEMM_MR - 1) / PK_GEMM_MR) * PK_GEMM_MR;
    int kcb = I - k0 < PK_GEMM_KC ? I - k0 : PK_GEMM_KC;
    return (size_t)k0 * opad + (size_t)m * kcb * PK_GEMM_MR;
}

static inline void pk_gemm_pack_weights(const float *W, int O, int I, float *packed)
{
    int panels = (O + PK_GEMM_MR - 1) / PK_GEMM_MR;
    for (int k0 = 0; k0 < I; k0 += PK_GEMM_KC) {
        int kcb = I - k0 < PK_GEMM_KC ? I - k0 : PK_GEMM_KC;
        for (int m = 0; m < panels; m++) {
            float *a = packed + pk__gemm_a_at(O, I, m, k0);
            for (int k = 0; k < kcb; k++)
                for (int j = 0; j < PK_GEMM_MR; j++) {
                    int o = m * PK_GEMM_MR + j;
                    a[k * PK_GEMM_MR + j] = o < O ? W[(size_t)o * I + k0 + k] : 0.0f;
                }
        }
    }
}

/* ---- run time: packing X ---- */

typedef pk_gemm_job pk__gemm_args;

/* n values of row i of the right operand, pixels [p, p + n) of image img,
 * into d (patch or normalised sources; the plain one is pack_x's fast path). */
static inline void pk__gemm_read_row(const pk__gemm_args *g, int img, int i, int p, int n,
                                     float *restrict d)
{
    const float *x = g->X[img], *s = g->S ? g->S[img] : NULL;
    if (!g->patch) { /* two loops, so each vectorises */
        const float *xr = x + (int64_t)i * g->P + p;
        if (s) {
            const float *mean = s + p, *rstd = s + g->P + p;
            for (int t = 0; t < n; t++)
                d[t] = (xr[t] - mean[t]) * rstd[t];
        } else
            memcpy(d, xr, (size_t)n * sizeof(float));
        return;
    }
    int k = g->patch, wo = g->in_w / k, c = i / (k * k), ki = i / k % k, kj = i % k;
    int64_t hw = (int64_t)g->in_h * g->in_w;
    x += (int64_t)c * hw;
    for (int t = 0; t < n;) {
        int oy = (p + t) / wo, ox = (p + t) % wo;
        int run = wo - ox < n - t ? wo - ox : n - t; /* to the end of the output row */
        int64_t base = (int64_t)(oy * k + ki) * g->in_w + kj;
        for (int u = 0; u < run; u++) {
            int64_t at = base + (int64_t)(ox + u) * k;
            d[t + u] = s ? (x[at] - s[at]) * s[hw + at] : x[at];
        }
        t += run;
    }
}

/* Pack rows [k0, k0 + kc) of the right operand, sequence columns [q0, q0 +
 * nq), into bp[k][0 .. w) (w = nv * PK_VEC), zero past nq. */
static inline void pk__gemm_pack_x(const pk__gemm_args *g, int k0, int kc, int64_t q0, int nq,
                                   int w, float *restrict bp)
{
    int P = g->P;
    int img = (int)(q0 / P), p0 = (int)(q0 % P);
    if (p0 + nq <= P && !g->patch && !g->S) { /* plain, one image: vectors, a masked tail */
        const float *x = g->X[img] + (int64_t)k0 * P + p0;
        int nfull = nq / PK_VEC, tail = nq % PK_VEC;
        for (int k = 0; k < kc; k++) {
            const float *xr = x + (int64_t)k * P;
            float *d = bp + (int64_t)k * w;
            int v = nfull;
            /* nfull <= PK_GEMM_NV: straight-line copies (a loop here becomes
             * a memcpy call per row, which costs more than the copy) */
            switch (nfull) {
            default:
                for (int u = nfull - 1; u >= 4; u--)
                    pk_store(d + u * PK_VEC, pk_load(xr + u * PK_VEC));
                /* fall through */
            case 4:
                pk_store(d + 3 * PK_VEC, pk_load(xr + 3 * PK_VEC));
                /* fall through */
            case 3:
                pk_store(d + 2 * PK_VEC, pk_load(xr + 2 * PK_VEC));
                /* fall through */
            case 2:
                pk_store(d + PK_VEC, pk_load(xr + PK_VEC));
                /* fall through */
            case 1:
                pk_store(d, pk_load(xr));
                /* fall through */
            case 0:
                break;
            }
            if (tail)
                pk_store(d + v++ * PK_VEC, pk_loadn(xr + nfull * PK_VEC, tail));
            for (; v * PK_VEC < w; v++)
                pk_store(d + v * PK_VEC, (pk_vf){0});
        }
        return;
    }
    for (int64_t q = q0; q < q0 + nq;) {
        img = (int)(q / P);
        int p = (int)(q % P);
        int n = P - p < q0 + nq - q ? P - p : (int)(q0 + nq - q);
        for (int k = 0; k < kc; k++)
            pk__gemm_read_row(g, img, k0 + k, p, n, bp + (int64_t)k * w + (q - q0));
        q += n;
    }
    if (nq < w)
        for (int k = 0; k < kc; k++)
            memset(bp + (int64_t)k * w + nq, 0, (size_t)(w - nq) * sizeof(float));
}

#endif
