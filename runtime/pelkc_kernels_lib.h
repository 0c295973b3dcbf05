/* The runtime kernels as a library with external linkage
 * (pelkc_kernels_lib.c), compiled by the system compiler when pelkc is built,
 * for the code that cannot inline them: the LLVM backend's models (in a .so,
 * or JIT-compiled and calling the copy inside pelkc) and the orchestration C
 * that libtcc compiles in process (pelkc_host.h). Each pkl_* function is the
 * pk_* kernel of the same name. Plain C: tcc, gcc and clang all accept it.
 * Not part of the public API. */
#ifndef PELKC_KERNELS_LIB_H
#define PELKC_KERNELS_LIB_H

#include <stdint.h>

#include "pelkc_job.h"

void pkl_conv2d(const float *in, float *out, int ci, int h, int w, const float *wt,
                const float *bias, int co, int k, int stride, int nthreads);
void pkl_layernorm(const float *in, float *out, int c, int hw, const float *wt, const float *bias,
                   float eps, int nthreads);
void pkl_dwconv(const float *in, float *out, int c, int h, int w, int g, int k, const float *wt,
                const float *bias, const float *map, int nthreads);
void pkl_gemm_run(const float *packed, const float *bias, const pk_gemm_job *job, int epilogue,
                  int nthreads);
void pkl_ln_stats(const float *in, float *stats, int c, int hw, float eps, int nthreads);
void pkl_gelu(const float *in, float *out, int64_t n, int nthreads);
void pkl_mul_channel(const float *in, float *out, int c, int hw, const float *gamma,
                     int nthreads);
void pkl_add(const float *a, const float *b, float *out, int64_t n, int64_t rest, int nthreads);
void pkl_batchnorm(const float *in, float *out, int c, int hw, int g, const float *wt,
                   const float *bias, const float *mean, const float *var, float eps);
void pkl_avgpool(const float *in, float *out, int c, int hw);
/* The LLVM backend's specialised kernels' parallel region: body(ctx, thread,
 * threads) on a team of nthreads (the generated code splits its loop statically). */
void pkl_parallel(void (*body)(void *, int, int), void *ctx, int nthreads);

/* Name and address of every function above, NULL-terminated: the JIT and
 * libtcc bind the generated code's calls to the copies compiled into pelkc. */
typedef struct pkl_symbol {
    const char *name;
    void *address;
} pkl_symbol;
extern const pkl_symbol pkl_symbols[];

#endif
