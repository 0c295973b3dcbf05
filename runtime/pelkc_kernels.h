/* Reference kernels the generated C calls, one image at a time, NCHW.
 * Static inline: every call site passes compile-time constants, so the C
 * compiler specialises each one. Plain loops, written so the innermost loop
 * runs along contiguous memory. */
#ifndef PELKC_KERNELS_H
#define PELKC_KERNELS_H

#include <math.h>
#include <stdint.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "pelkc_vec.h" /* PK_VEC, pk_vf, pk_load and pk_store, for the generated C */

static inline int pk_thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* Dense conv without padding: w [co][ci][k][k], out [co][ho][wo]; threads
 * split the output channels. */
static inline void pk_conv2d(const float *in, float *out, int ci, int h, int w, const float *wt,
                             const float *bias, int co, int k, int stride, int nthreads)
{
    int ho = (h - k) / stride + 1, wo = (w - k) / stride + 1;
    (void)nthreads;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int o = 0; o < co; o++) {
        float *y = out + (int64_t)o * ho * wo;
        for (int p = 0; p < ho * wo; p++)
            y[p] = bias[o];
        for (int c = 0; c < ci; c++)
            for (int i = 0; i < k; i++)
                for (int j = 0; j < k; j++) {
                    float wv = wt[(((int64_t)o * ci + c) * k + i) * k + j];
                    const float *x = in + ((int64_t)c * h + i) * w + j;
                    for (int oy = 0; oy < ho; oy++)
                        for (int ox = 0; ox < wo; ox++)
                            y[oy * wo + ox] += wv * x[(int64_t)oy * stride * w + ox * stride];
                }
    }
}

/* LayerNorm statistics of pixels [p0, p0 + n) (n <= 64): mean and 1/std
 * over the c channels. One function for pk_layernorm and pk_ln_stats, so the
 * fused LayerNorm (normalised while a GEMM packs its input) gives the same
 * bits as the separate one. */
static inline void pk__ln_tile(const float *in, int c, int hw, int p0, int n, float eps,
                               float *mean, float *rstd)
{
    for (int p = 0; p < n; p++)
        mean[p] = rstd[p] = 0;
    for (int ch = 0; ch < c; ch++)
        for (int p = 0; p < n; p++)
            mean[p] += in[(int64_t)ch * hw + p0 + p];
    for (int p = 0; p < n; p++)
        mean[p] /= (float)c;
    for (int ch = 0; ch < c; ch++)
        for (int p = 0; p < n; p++) {
            float d = in[(int64_t)ch * hw + p0 + p] - mean[p];
            rstd[p] += d * d;
        }
    for (int p = 0; p < n; p++)
        rstd[p] = 1.0f / sqrtf(rstd[p] / (float)c + eps);
}

/* LayerNorm over channels at each of hw pixels (weight and bias may be NULL:
 * normalise only); pixels in tiles so the channel loop walks contiguous rows,
 * tiles split among threads. */
static inline void pk_layernorm(const float *in, float *out, int c, int hw, const float *wt,
                                const float *bias, float eps, int nthreads)
{
    enum { TILE = 64 };
    (void)nthreads;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int p0 = 0; p0 < hw; p0 += TILE) {
        int n = hw - p0 < TILE ? hw - p0 : TILE;
        float mean[TILE], rstd[TILE];
        pk__ln_tile(in, c, hw, p0, n, eps, mean, rstd);
        for (int ch = 0; ch < c; ch++) {
            float a = wt ? wt[ch] : 1.0f, b = bias ? bias[ch] : 0.0f;
            for (int p = 0; p < n; p++) {
                int64_t at = (int64_t)ch * hw + p0 + p;
                out[at] = wt || bias ? (in[at] - mean[p]) * rstd[p] * a + b
                                     : (in[at] - mean[p]) * rstd[p];
            }
        }
    }
}

/* Only the statistics: stats[p] = mean, stats[hw + p] = 1/std, for a layer
 * that normalises its input as it reads it (pk_gemm_job's S). */
static inline void pk_ln_stats(const float *in, float *stats, int c, int hw, float eps,
                               int nthreads)
{
    enum { TILE = 64 };
    (void)nthreads;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int p0 = 0; p0 < hw; p0 += TILE) {
        int n = hw - p0 < TILE ? hw - p0 : TILE;
        pk__ln_tile(in, c, hw, p0, n, eps, stats + p0, stats + hw + p0);
    }
}

/* Dense depthwise conv, stride 1, zero padding k/2, on channels [0, g);
 * channels [g, c) are copied. map (may be NULL) adds a per-channel [g][h][w]
 * term (the folded border positional embedding). */
static inline void pk_dwconv(const float *in, float *out, int c, int h, int w, int g, int k,
                             const float *wt, const float *bias, const float *map, int nthreads)
{
    int r = k / 2;
    int64_t plane = (int64_t)h * w;
    (void)nthreads;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int ch = 0; ch < g; ch++) {
        float *y = out + ch * plane;
        const float *x = in + ch * plane;
        for (int64_t p = 0; p < plane; p++)
            y[p] = (bias ? bias[ch] : 0.0f) + (map ? map[ch * plane + p] : 0.0f);
        for (int i = 0; i < k; i++) {
            /* output rows oy whose tap row oy - r + i lies in [0, h) */
            int oy0 = r - i > 0 ? r - i : 0, oy1 = h + r - i < h ? h + r - i : h;
            for (int j = 0; j < k; j++) {
                int ox0 = r - j > 0 ? r - j : 0, ox1 = w + r - j < w ? w + r - j : w;
                float wv = wt[((int64_t)ch * k + i) * k + j];
                for (int oy = oy0; oy < oy1; oy++) {
                    const float *xr = x + (int64_t)(oy - r + i) * w;
                    float *yr = y + (int64_t)oy * w;
                    for (int ox = ox0; ox < ox1; ox++)
                        yr[ox] += wv * xr[ox - r + j];
                }
            }
        }
    }
    if (c > g)
        memcpy(out + g * plane, in + g * plane, (size_t)(c - g) * plane * sizeof(float));
}

static inline float pk_gelu1(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

/* Per-pixel linear over channels: out[o][p] = act(b[o] + sum_i w[o][i] in[i][p])
 * (+ res[o][p]); act 1 is GELU. Threads split the output channels. */
static inline void pk_pointwise(const float *in, float *out, int ci, int co, int hw,
                                const float *wt, const float *bias, int act, const float *res,
                                int nthreads)
{
    (void)nthreads;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int o = 0; o < co; o++) {
        float *y = out + (int64_t)o * hw;
        for (int p = 0; p < hw; p++)
            y[p] = bias[o];
        for (int i = 0; i < ci; i++) {
            float wv = wt[(int64_t)o * ci + i];
            const float *x = in + (int64_t)i * hw;
            for (int p = 0; p < hw; p++)
                y[p] += wv * x[p];
        }
        if (act)
            for (int p = 0; p < hw; p++)
                y[p] = pk_gelu1(y[p]);
        if (res)
            for (int p = 0; p < hw; p++)
                y[p] += res[(int64_t)o * hw + p];
    }
}

/* Exact GELU: x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)). */
static inline void pk_gelu(const float *in, float *out, int64_t n, int nthreads)
{
    (void)nthreads;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int64_t i = 0; i < n; i++)
        out[i] = pk_gelu1(in[i]);
}

static inline void pk_mul_channel(const float *in, float *out, int c, int hw, const float *gamma,
                                  int nthreads)
{
    (void)nthreads;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int ch = 0; ch < c; ch++)
        for (int p = 0; p < hw; p++)
            out[(int64_t)ch * hw + p] = in[(int64_t)ch * hw + p] * gamma[ch];
}

/* out = a + b on the first n floats; the next rest floats are copied from a. */
static inline void pk_add(const float *a, const float *b, float *out, int64_t n, int64_t rest,
                          int nthreads)
{
    (void)nthreads;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int64_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
    if (rest)
        memcpy(out + n, a + n, (size_t)rest * sizeof(float));
}

/* Inference BatchNorm on channels [0, g); channels [g, c) copied. */
static inline void pk_batchnorm(const float *in, float *out, int c, int hw, int g,
                                const float *wt, const float *bias, const float *mean,
                                const float *var, float eps)
{
    for (int ch = 0; ch < g; ch++) {
        float s = wt[ch] / sqrtf(var[ch] + eps), t = bias[ch] - mean[ch] * s;
        for (int p = 0; p < hw; p++)
            out[(int64_t)ch * hw + p] = in[(int64_t)ch * hw + p] * s + t;
    }
    if (c > g)
        memcpy(out + (int64_t)g * hw, in + (int64_t)g * hw, (size_t)(c - g) * hw * sizeof(float));
}

/* Global average over each channel's hw pixels, accumulated in double. */
static inline void pk_avgpool(const float *in, float *out, int c, int hw)
{
    for (int ch = 0; ch < c; ch++) {
        double s = 0;
        for (int p = 0; p < hw; p++)
            s += in[(int64_t)ch * hw + p];
        out[ch] = (float)(s / hw);
    }
}

#endif
