/* Vectors for the kernels: PK_VEC floats (set by the generated code before
 * the kernel headers for its target; by default 16 where AVX-512 is on,
 * else 8), and the loads, stores and arithmetic on them that every kernel
 * header (pelkc_kernels.h, pelkc_gemm_pack.h, pelkc_gemm.h) and the
 * generated C's specialised kernels use. Loads and stores go through memcpy
 * (or masked intrinsics), so they need no alignment. */
#ifndef PELKC_VEC_H
#define PELKC_VEC_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifndef PK_VEC /* the target's widest vectors */
#if defined(__AVX512F__)
#define PK_VEC 16
#else
#define PK_VEC 8
#endif
#endif

/* The intrinsics used where the vectors are the ISA's own width. */
#if defined(__AVX512F__) && PK_VEC == 16
#define PK_VEC_AVX512 1
#include <immintrin.h>
#elif defined(__AVX__) && defined(__FMA__) && PK_VEC == 8
#define PK_VEC_AVX2 1
#include <immintrin.h>
#endif

typedef float pk_vf __attribute__((vector_size(PK_VEC * 4)));
typedef int32_t pk_vi __attribute__((vector_size(PK_VEC * 4)));

static inline __attribute__((always_inline)) pk_vf pk_load(const float *p)
{
    pk_vf v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline __attribute__((always_inline)) void pk_store(float *p, pk_vf v)
{
    memcpy(p, &v, sizeof v);
}

static inline __attribute__((always_inline)) pk_vf pk_splat(float x)
{
    return x - (pk_vf){0}; /* x - 0 == x for every x: a plain broadcast */
}

/* c + a * b, fused where the target has FMA (whatever -ffp-contract says). */
static inline __attribute__((always_inline)) pk_vf pk_fma(pk_vf a, pk_vf b, pk_vf c)
{
#if defined(PK_VEC_AVX512)
    return (pk_vf)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
#elif defined(PK_VEC_AVX2)
    return (pk_vf)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
#else
    return c + a * b;
#endif
}

/* The first n (1..PK_VEC) floats at p; the other lanes 0. */
static inline pk_vf pk_loadn(const float *p, int n)
{
#if defined(PK_VEC_AVX512)
    return (pk_vf)_mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), p);
#else
    pk_vf v = {0};
    memcpy(&v, p, (size_t)n * sizeof(float));
    return v;
#endif
}

static inline void pk_storen(float *p, pk_vf v, int n)
{
#if defined(PK_VEC_AVX512)
    _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1), (__m512)v);
#else
    memcpy(p, &v, (size_t)n * sizeof(float));
#endif
}

static inline __attribute__((always_inline)) pk_vf pk_select(pk_vi m, pk_vf a, pk_vf b)
{
    return (pk_vf)(((pk_vi)a & m) | ((pk_vi)b & ~m)); /* m ? a : b */
}

#endif
