/* Kernels precompiled into pelkc itself, for models compiled in process with
 * libtcc (`pelkc run SPEC`). TinyCC has no SIMD intrinsics or OpenMP and
 * ignores vector_size, so its generated code is only the orchestration: one
 * call per op, every shape and offset a literal; the kernels it calls are
 * these, built by the system compiler (-O3, from the same pelkc_kernels.h and
 * pelkc_gemm.h) and handed to tcc by address. The generated code includes this
 * header instead of those two; the macros keep its calls spelled as usual.
 * Plain C: tcc, gcc and clang all accept it. */
#ifndef PELKC_HOST_H
#define PELKC_HOST_H

#include <stdint.h>

#include "pelkc_job.h"

void pkx_conv2d(const float *in, float *out, int ci, int h, int w, const float *wt,
                const float *bias, int co, int k, int stride, int nthreads);
void pkx_layernorm(const float *in, float *out, int c, int hw, const float *wt, const float *bias,
                   float eps, int nthreads);
void pkx_dwconv(const float *in, float *out, int c, int h, int w, int g, int k, const float *wt,
                const float *bias, const float *map, int nthreads);
void pkx_gemm_run(const float *packed, const float *bias, const pk_gemm_job *job, int epilogue,
                  int nthreads);
void pkx_ln_stats(const float *in, float *stats, int c, int hw, float eps, int nthreads);
void pkx_gelu(const float *in, float *out, int64_t n, int nthreads);
void pkx_mul_channel(const float *in, float *out, int c, int hw, const float *gamma, int nthreads);
void pkx_add(const float *a, const float *b, float *out, int64_t n, int64_t rest, int nthreads);
void pkx_batchnorm(const float *in, float *out, int c, int hw, int g, const float *wt,
                   const float *bias, const float *mean, const float *var, float eps);
void pkx_avgpool(const float *in, float *out, int c, int hw);

/* A lowered peripheral conv (box_gather), not specialised: the box plan
 * (passes/box_plan.h) is computed from this description at run time. */
typedef struct pkx_box_config {
    int c, g, h, w;   /* channels, conv channels, map */
    int map;          /* 1: add a per-channel [g, h, w] map (the folded border kpe) */
    int n_rows, n_cols;
    const int *rows, *cols; /* region sizes of the sharing grid */
} pkx_box_config;

void pkx_box_gather(const float *in, float *out, const float *theta, const float *bias,
                    const float *map, float *scratch, int nthreads, const pkx_box_config *cfg);

#define pk_conv2d pkx_conv2d
#define pk_layernorm pkx_layernorm
#define pk_dwconv pkx_dwconv
#define pk_gemm_run pkx_gemm_run
#define pk_ln_stats pkx_ln_stats
#define pk_gelu pkx_gelu
#define pk_mul_channel pkx_mul_channel
#define pk_add pkx_add
#define pk_batchnorm pkx_batchnorm
#define pk_avgpool pkx_avgpool

#endif
