/* A matrix-product job (runtime/pelkc_gemm.h runs it): plain C, so that code
 * compiled by TinyCC (which calls pelkc's precompiled kernels, pelkc_host.h)
 * describes it the same way as code that includes the kernels.
 *
 * The images' pixels form one sequence q = img * P + p (vectors of PK_VEC of
 * them may span several images when P % PK_VEC != 0). Y[img] is [O][P]. What
 * X holds, and how row i / column p of the product's right operand is read
 * from it, is the job's source:
 *   patch 0: X[img] is [I][P], read as is;
 *   patch k: X[img] is a [I/(k*k)][in_h][in_w] map cut into k x k patches
 *            (a conv with kernel = stride = k, no padding): row
 *            i = (c * k + ki) * k + kj, column p = oy * (in_w / k) + ox reads
 *            X[c][oy * k + ki][ox * k + kj] (im2col done while packing);
 *   S (optional): per-image LayerNorm statistics of X's pixels, mean
 *            [in pixels] then rstd [in pixels]: the value read is
 *            (x - mean) * rstd (the LayerNorm before the layer, done while
 *            packing; bit-identical to pk_layernorm without affine).
 * R (optional): a residual per image, laid out as Y, added last. */
#ifndef PELKC_JOB_H
#define PELKC_JOB_H

typedef struct pk_gemm_job {
    const float *const *X;
    float *const *Y;
    const float *const *R;
    const float *const *S;
    int nimg, O, I, P;
    int patch, in_h, in_w;
} pk_gemm_job;

#endif
