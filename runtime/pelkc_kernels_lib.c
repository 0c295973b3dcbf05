/* The runtime kernels as a library with external linkage (the header says
 * who calls it). The C backend's .so includes pelkc_kernels.h and
 * pelkc_gemm.h into the generated C so that the C compiler specialises every
 * call; the LLVM backend has no C compiler at model-compile time and libtcc
 * cannot compile the kernels (no SIMD, no OpenMP), so these generic kernels
 * are compiled once, when pelkc itself is built (-O3 -fopenmp -march=...),
 * and called by name with literal shapes. The signatures are mirrored in
 * backends/llvm/llvm_model.c. */
#include "pelkc_gemm.h" /* PK_VEC: the target's widest, as the headers default */
#include "pelkc_kernels.h"
#include "pelkc_kernels_lib.h"

void pkl_conv2d(const float *in, float *out, int ci, int h, int w, const float *wt,
                const float *bias, int co, int k, int stride, int nthreads)
{
    pk_conv2d(in, out, ci, h, w, wt, bias, co, k, stride, nthreads);
}

void pkl_layernorm(const float *in, float *out, int c, int hw, const float *wt,
                   const float *bias, float eps, int nthreads)
{
    pk_layernorm(in, out, c, hw, wt, bias, eps, nthreads);
}

void pkl_dwconv(const float *in, float *out, int c, int h, int w, int g, int k,
                const float *wt, const float *bias, const float *map, int nthreads)
{
    pk_dwconv(in, out, c, h, w, g, k, wt, bias, map, nthreads);
}

void pkl_gemm_run(const float *packed, const float *bias, const pk_gemm_job *job, int epilogue,
                  int nthreads)
{
    pk_gemm_run(packed, bias, job, epilogue, nthreads);
}

void pkl_ln_stats(const float *in, float *stats, int c, int hw, float eps, int nthreads)
{
    pk_ln_stats(in, stats, c, hw, eps, nthreads);
}

void pkl_gelu(const float *in, float *out, int64_t n, int nthreads)
{
    pk_gelu(in, out, n, nthreads);
}

void pkl_mul_channel(const float *in, float *out, int c, int hw, const float *gamma,
                     int nthreads)
{
    pk_mul_channel(in, out, c, hw, gamma, nthreads);
}

void pkl_add(const float *a, const float *b, float *out, int64_t n, int64_t rest,
             int nthreads)
{
    pk_add(a, b, out, n, rest, nthreads);
}

void pkl_batchnorm(const float *in, float *out, int c, int hw, int g, const float *wt,
                   const float *bias, const float *mean, const float *var, float eps)
{
    pk_batchnorm(in, out, c, hw, g, wt, bias, mean, var, eps);
}

void pkl_avgpool(const float *in, float *out, int c, int hw)
{
    pk_avgpool(in, out, c, hw);
}

void pkl_parallel(void (*body)(void *, int, int), void *ctx, int nthreads)
{
#ifdef _OPENMP
#pragma omp parallel num_threads(nthreads)
    body(ctx, omp_get_thread_num(), omp_get_num_threads());
#else
    (void)nthreads;
    body(ctx, 0, 1);
#endif
}

const pkl_symbol pkl_symbols[] = {
    {"pkl_conv2d", (void *)pkl_conv2d},
    {"pkl_layernorm", (void *)pkl_layernorm},
    {"pkl_dwconv", (void *)pkl_dwconv},
    {"pkl_gemm_run", (void *)pkl_gemm_run},
    {"pkl_ln_stats", (void *)pkl_ln_stats},
    {"pkl_gelu", (void *)pkl_gelu},
    {"pkl_mul_channel", (void *)pkl_mul_channel},
    {"pkl_add", (void *)pkl_add},
    {"pkl_batchnorm", (void *)pkl_batchnorm},
    {"pkl_avgpool", (void *)pkl_avgpool},
    {"pkl_parallel", (void *)pkl_parallel},
    {0, 0},
};
