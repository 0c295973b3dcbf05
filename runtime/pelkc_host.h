/* What the code libtcc compiles in process (`pelkc run SPEC`) calls. TinyCC
 * has no SIMD intrinsics or OpenMP and ignores vector_size, so its generated
 * code is only the orchestration: one call per op, every shape and offset a
 * literal; the kernels it calls are pelkc's own, built by the system compiler
 * (-O3, from the same pelkc_kernels.h and pelkc_gemm.h): the library of
 * pelkc_kernels_lib.h, and a generic lowered conv (pkx_box_gather, in
 * backends/c/host_kernels.c), handed to tcc by address. The generated code
 * includes this header instead of those two; the macros keep its calls
 * spelled as usual. Plain C: tcc, gcc and clang all accept it. */
#ifndef PELKC_HOST_H
#define PELKC_HOST_H

#include <stdint.h>

#include "pelkc_kernels_lib.h"

/* A lowered peripheral conv (box_gather), not specialised: the box plan
 * (ir/box_plan.h) is computed from this description at run time. */
typedef struct pkx_box_config {
    int c, g, h, w;   /* channels, conv channels, map */
    int map;          /* 1: add a per-channel [g, h, w] map (the folded border kpe) */
    int n_rows, n_cols;
    const int *rows, *cols; /* region sizes of the sharing grid */
} pkx_box_config;

void pkx_box_gather(const float *in, float *out, const float *theta, const float *bias,
                    const float *map, float *scratch, int nthreads, const pkx_box_config *cfg);

#define pk_conv2d pkl_conv2d
#define pk_layernorm pkl_layernorm
#define pk_dwconv pkl_dwconv
#define pk_gemm_run pkl_gemm_run
#define pk_ln_stats pkl_ln_stats
#define pk_gelu pkl_gelu
#define pk_mul_channel pkl_mul_channel
#define pk_add pkl_add
#define pk_batchnorm pkl_batchnorm
#define pk_avgpool pkl_avgpool

#endif
