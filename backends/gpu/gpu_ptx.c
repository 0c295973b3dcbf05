/* The GPU kernels as LLVM IR, through the LLVM C API (LLVM 19).
 *
 * Each kernel of the plan (gpu_plan.c) gets one body function,
 *   void pk<i>_<kind>_body(ptr a0, ..., ptr a6, i32 block, i32 thread)
 * built once by build_body() whatever the target: it computes its global index
 * block * GPU_BLOCK + thread, returns past the launch's thread count, and
 * computes one output element with every size a literal. Only the wrapper
 * differs by target:
 *   NVPTX: a kernel entry pk<i>_<kind>(a0..a6) (ptx_kernel calling convention and
 *          nvvm.annotations) passing llvm.nvvm.read.ptx.sreg.ctaid.x and tid.x;
 *   host:  pk<i>_<kind>_cpu(a0..a6, i64 blocks) looping over blocks and threads.
 * The body is inlined into its wrapper by the standard O2 pipeline. Variables
 * live in allocas that the pipeline promotes to registers. */
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Core.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>

#include "../llvm_util.h"
#include "gpu.h"

#define WHO "GPU backend" /* in messages (llvm_util.h) */

typedef struct kb {
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMBuilderRef b;  /* the code */
    LLVMBuilderRef ab; /* allocas, at the end of the entry block */
    LLVMTypeRef i1, i32, i64, f32, f64, ptr, vd;
    LLVMValueRef fn, arg[GPU_NARGS], gid;
} kb;

/* ---- small helpers: constants, memory, arithmetic ---- */

static LLVMValueRef ci(kb *k, long long v) { return LLVMConstInt(k->i32, (unsigned long long)v, 1); }
static LLVMValueRef cf(kb *k, double v) { return LLVMConstReal(k->f32, v); }
static LLVMValueRef cd(kb *k, double v) { return LLVMConstReal(k->f64, v); }

static LLVMValueRef add(kb *k, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildAdd(k->b, a, b, ""); }
static LLVMValueRef sub(kb *k, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildSub(k->b, a, b, ""); }
static LLVMValueRef mul(kb *k, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildMul(k->b, a, b, ""); }
/* indices are never negative: unsigned division is the cheap one */
static LLVMValueRef udiv(kb *k, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildUDiv(k->b, a, b, ""); }
static LLVMValueRef urem(kb *k, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildURem(k->b, a, b, ""); }
static LLVMValueRef fadd(kb *k, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFAdd(k->b, a, b, ""); }
static LLVMValueRef fsub(kb *k, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFSub(k->b, a, b, ""); }
static LLVMValueRef fmul(kb *k, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFMul(k->b, a, b, ""); }
static LLVMValueRef fdiv(kb *k, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFDiv(k->b, a, b, ""); }

static LLVMValueRef smax(kb *k, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSGT, a, b, ""), a, b, "");
}

static LLVMValueRef smin(kb *k, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSLT, a, b, ""), a, b, "");
}

/* Float element idx of kernel argument a. */
static LLVMValueRef ld(kb *k, int a, LLVMValueRef idx)
{
    LLVMValueRef p = LLVMBuildInBoundsGEP2(k->b, k->f32, k->arg[a], &idx, 1, "");
    return LLVMBuildLoad2(k->b, k->f32, p, "");
}

static void st(kb *k, int a, LLVMValueRef idx, LLVMValueRef v)
{
    LLVMValueRef p = LLVMBuildInBoundsGEP2(k->b, k->f32, k->arg[a], &idx, 1, "");
    LLVMBuildStore(k->b, v, p);
}

static LLVMValueRef var(kb *k, LLVMTypeRef t, LLVMValueRef init)
{
    LLVMValueRef v = LLVMBuildAlloca(k->ab, t, "");
    LLVMBuildStore(k->b, init, v);
    return v;
}

static LLVMValueRef get(kb *k, LLVMTypeRef t, LLVMValueRef v) { return LLVMBuildLoad2(k->b, t, v, ""); }

/* A call of an intrinsic overloaded on type t (or not overloaded when t is NULL). */
static LLVMValueRef intrinsic(kb *k, const char *name, LLVMTypeRef t, LLVMValueRef *args, int n)
{
    return lu_intrinsic(k->b, k->mod, name, t, args, n);
}

/* vals[idx] for a literal table, as a chain of selects (no memory, no address spaces). */
static LLVMValueRef table(kb *k, LLVMValueRef idx, const int *vals, int n)
{
    if (n == 0)
        return ci(k, 0);
    LLVMValueRef v = ci(k, vals[n - 1]);
    for (int i = n - 2; i >= 0; i--)
        v = LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntEQ, idx, ci(k, i), ""), ci(k, vals[i]),
                            v, "");
    return v;
}

/* ---- structured control flow ---- */

typedef struct loop {
    LLVMValueRef var;
    LLVMBasicBlockRef cond, end;
} loop;

/* for (i = lo; i < hi; i++): returns i inside the body. */
static LLVMValueRef loop_begin(kb *k, loop *l, LLVMValueRef lo, LLVMValueRef hi)
{
    l->var = var(k, k->i32, lo);
    l->cond = LLVMAppendBasicBlockInContext(k->ctx, k->fn, "loop");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(k->ctx, k->fn, "body");
    l->end = LLVMAppendBasicBlockInContext(k->ctx, k->fn, "done");
    LLVMBuildBr(k->b, l->cond);
    LLVMPositionBuilderAtEnd(k->b, l->cond);
    LLVMValueRef i = get(k, k->i32, l->var);
    LLVMBuildCondBr(k->b, LLVMBuildICmp(k->b, LLVMIntSLT, i, hi, ""), body, l->end);
    LLVMPositionBuilderAtEnd(k->b, body);
    return get(k, k->i32, l->var);
}

static void loop_end(kb *k, loop *l)
{
    LLVMBuildStore(k->b, add(k, get(k, k->i32, l->var), ci(k, 1)), l->var);
    LLVMBuildBr(k->b, l->cond);
    LLVMPositionBuilderAtEnd(k->b, l->end);
}

typedef struct branch {
    LLVMBasicBlockRef other, end;
} branch;

/* if (cond) { ... } else { ... }: then-part first; branch_else, branch_end. */
static void branch_if(kb *k, branch *br, LLVMValueRef cond)
{
    LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(k->ctx, k->fn, "then");
    br->other = LLVMAppendBasicBlockInContext(k->ctx, k->fn, "else");
    br->end = LLVMAppendBasicBlockInContext(k->ctx, k->fn, "endif");
    LLVMBuildCondBr(k->b, cond, then, br->other);
    LLVMPositionBuilderAtEnd(k->b, then);
}

static void branch_else(kb *k, branch *br)
{
    LLVMBuildBr(k->b, br->end);
    LLVMPositionBuilderAtEnd(k->b, br->other);
}

static void branch_end(kb *k, branch *br)
{
    LLVMBuildBr(k->b, br->end);
    LLVMPositionBuilderAtEnd(k->b, br->end);
}

/* ---- exact GELU without libm (PTX has none): x Phi(x) with Phi from erfc ----
 * erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2), relative error below 1.2e-7
 * for every z >= 0 (Numerical Recipes' erfcc, Chebyshev fit), evaluated in
 * double with exp by range reduction and a degree-12 Taylor polynomial. */
static LLVMValueRef exp_f64(kb *k, LLVMValueRef y)
{
    LLVMValueRef lo = cd(k, -700.0); /* exp(-700) is far below float's range; keeps 2^n normal */
    y = LLVMBuildSelect(k->b, LLVMBuildFCmp(k->b, LLVMRealOLT, y, lo, ""), lo, y, "");
    LLVMValueRef nf = fadd(k, fmul(k, y, cd(k, 1.4426950408889634)), cd(k, 0.5));
    nf = intrinsic(k, "llvm.floor", k->f64, &nf, 1);
    LLVMValueRef r = fsub(k, fsub(k, y, fmul(k, nf, cd(k, 6.93147180369123816490e-01))),
                          fmul(k, nf, cd(k, 1.90821492927058770002e-10)));
    double fact = 479001600.0; /* 12! */
    LLVMValueRef p = cd(k, 1.0 / fact);
    for (int i = 11; i >= 0; i--) {
        fact /= (i + 1);
        p = fadd(k, fmul(k, p, r), cd(k, 1.0 / fact));
    }
    LLVMValueRef n = LLVMBuildFPToSI(k->b, nf, k->i64, "");
    LLVMValueRef bits = LLVMBuildShl(k->b, LLVMBuildAdd(k->b, n, LLVMConstInt(k->i64, 1023, 0), ""),
                                     LLVMConstInt(k->i64, 52, 0), "");
    return fmul(k, p, LLVMBuildBitCast(k->b, bits, k->f64, ""));
}

static LLVMValueRef gelu(kb *k, LLVMValueRef x)
{
    static const double c[] = {-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806,
                               0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277};
    LLVMValueRef xd = LLVMBuildFPExt(k->b, x, k->f64, "");
    LLVMValueRef ax = intrinsic(k, "llvm.fabs", k->f64, &xd, 1);
    LLVMValueRef z = fmul(k, ax, cd(k, 0.70710678118654752440));
    LLVMValueRef t = fdiv(k, cd(k, 1.0), fadd(k, cd(k, 1.0), fmul(k, z, cd(k, 0.5))));
    LLVMValueRef poly = cd(k, c[9]);
    for (int i = 8; i >= 0; i--)
        poly = fadd(k, fmul(k, poly, t), cd(k, c[i]));
    LLVMValueRef erfc = fmul(k, t, exp_f64(k, fsub(k, poly, fmul(k, z, z))));
    LLVMValueRef half = fmul(k, erfc, cd(k, 0.5));
    LLVMValueRef phi = LLVMBuildSelect(k->b, LLVMBuildFCmp(k->b, LLVMRealOGE, xd, cd(k, 0.0), ""),
                                       fsub(k, cd(k, 1.0), half), half, "");
    return LLVMBuildFPTrunc(k->b, fmul(k, xd, phi), k->f32, "");
}

/* ---- the kernel bodies: one output element per thread ---- */

/* Argument slots, as gpu_plan.c fills them. */
enum { X = 0, X2 = 1, Y = 2, C0 = 3, C1 = 4, C2 = 5, C3 = 6 };

static void body_conv2d(kb *k, const gpu_kernel *g)
{
    int ci_ = g->p[0], h = g->p[1], w = g->p[2], kk = g->p[4], s = g->p[5];
    int ho = (h - kk) / s + 1, wo = (w - kk) / s + 1;
    LLVMValueRef o = udiv(k, k->gid, ci(k, ho * wo)), q = urem(k, k->gid, ci(k, ho * wo));
    LLVMValueRef oy = udiv(k, q, ci(k, wo)), ox = urem(k, q, ci(k, wo));
    LLVMValueRef acc = var(k, k->f32, ld(k, C1, o));
    loop lc, li, lj;
    LLVMValueRef c = loop_begin(k, &lc, ci(k, 0), ci(k, ci_));
    LLVMValueRef i = loop_begin(k, &li, ci(k, 0), ci(k, kk));
    LLVMValueRef j = loop_begin(k, &lj, ci(k, 0), ci(k, kk));
    LLVMValueRef widx = add(k, mul(k, add(k, mul(k, add(k, mul(k, o, ci(k, ci_)), c), ci(k, kk)), i),
                                   ci(k, kk)), j);
    LLVMValueRef row = add(k, mul(k, c, ci(k, h)), add(k, mul(k, oy, ci(k, s)), i));
    LLVMValueRef xidx = add(k, mul(k, row, ci(k, w)), add(k, mul(k, ox, ci(k, s)), j));
    LLVMBuildStore(k->b, fadd(k, get(k, k->f32, acc), fmul(k, ld(k, C0, widx), ld(k, X, xidx))), acc);
    loop_end(k, &lj);
    loop_end(k, &li);
    loop_end(k, &lc);
    st(k, Y, k->gid, get(k, k->f32, acc));
}

static void body_layernorm(kb *k, const gpu_kernel *g)
{
    int c = g->p[0], hw = g->p[1], affine = g->p[2];
    LLVMValueRef p = k->gid;
    LLVMValueRef sum = var(k, k->f32, cf(k, 0)), sq = var(k, k->f32, cf(k, 0));
    loop l;
    LLVMValueRef ch = loop_begin(k, &l, ci(k, 0), ci(k, c));
    LLVMBuildStore(k->b, fadd(k, get(k, k->f32, sum), ld(k, X, add(k, mul(k, ch, ci(k, hw)), p))), sum);
    loop_end(k, &l);
    LLVMValueRef mean = fdiv(k, get(k, k->f32, sum), cf(k, c));
    ch = loop_begin(k, &l, ci(k, 0), ci(k, c));
    LLVMValueRef dv = fsub(k, ld(k, X, add(k, mul(k, ch, ci(k, hw)), p)), mean);
    LLVMBuildStore(k->b, fadd(k, get(k, k->f32, sq), fmul(k, dv, dv)), sq);
    loop_end(k, &l);
    LLVMValueRef v = fadd(k, fdiv(k, get(k, k->f32, sq), cf(k, c)), cf(k, g->eps));
    v = intrinsic(k, "llvm.sqrt", k->f32, &v, 1);
    LLVMValueRef rstd = fdiv(k, cf(k, 1.0), v);
    ch = loop_begin(k, &l, ci(k, 0), ci(k, c));
    LLVMValueRef at = add(k, mul(k, ch, ci(k, hw)), p);
    LLVMValueRef y = fmul(k, fsub(k, ld(k, X, at), mean), rstd);
    if (affine)
        y = fadd(k, fmul(k, y, ld(k, C0, ch)), ld(k, C1, ch));
    st(k, Y, at, y);
    loop_end(k, &l);
}

/* R[c][a][i][j] = sum of X(t, j) over rows t in [i + lo_a, i + lo_a + h_a) within the map. */
static void body_row_boxes(kb *k, const gpu_kernel *g)
{
    int h = g->p[1], w = g->p[2], n = g->regions.n, hw = h * w;
    LLVMValueRef j = urem(k, k->gid, ci(k, w)), i = urem(k, udiv(k, k->gid, ci(k, w)), ci(k, h));
    LLVMValueRef a = urem(k, udiv(k, k->gid, ci(k, hw)), ci(k, n));
    LLVMValueRef c = udiv(k, k->gid, ci(k, hw * n));
    LLVMValueRef top = add(k, i, table(k, a, g->regions.lo, n));
    LLVMValueRef t0 = smax(k, top, ci(k, 0));
    LLVMValueRef t1 = smin(k, add(k, top, table(k, a, g->regions.size, n)), ci(k, h));
    LLVMValueRef base = add(k, mul(k, c, ci(k, hw)), j);
    LLVMValueRef acc = var(k, k->f32, cf(k, 0));
    loop l;
    LLVMValueRef t = loop_begin(k, &l, t0, t1);
    LLVMBuildStore(k->b, fadd(k, get(k, k->f32, acc), ld(k, X, add(k, base, mul(k, t, ci(k, w))))), acc);
    loop_end(k, &l);
    st(k, Y, k->gid, get(k, k->f32, acc));
}

/* Z[c][b][i][j] = sum_a theta[c][a][b] R[c][a][i][j] over the live regions. */
static void body_region_gather(kb *k, const gpu_kernel *g)
{
    int hw = g->p[1], nr = g->p[2], nc = g->p[3], tpc = g->p[4], tcols = g->p[5];
    int r0 = g->p[6], c0 = g->p[7];
    LLVMValueRef q = urem(k, k->gid, ci(k, hw)), b = urem(k, udiv(k, k->gid, ci(k, hw)), ci(k, nc));
    LLVMValueRef c = udiv(k, k->gid, ci(k, hw * nc));
    LLVMValueRef tbase = add(k, add(k, mul(k, c, ci(k, tpc)), b), ci(k, r0 * tcols + c0));
    LLVMValueRef rbase = add(k, mul(k, c, ci(k, nr * hw)), q);
    LLVMValueRef acc = var(k, k->f32, cf(k, 0));
    loop l;
    LLVMValueRef a = loop_begin(k, &l, ci(k, 0), ci(k, nr));
    LLVMValueRef th = ld(k, C0, add(k, tbase, mul(k, a, ci(k, tcols))));
    LLVMValueRef r = ld(k, X, add(k, rbase, mul(k, a, ci(k, hw))));
    LLVMBuildStore(k->b, fadd(k, get(k, k->f32, acc), fmul(k, th, r)), acc);
    loop_end(k, &l);
    st(k, Y, k->gid, get(k, k->f32, acc));
}

/* Y = bias (+ map) + sum_b sum of Z_b(i, t) over columns t in [j + lo_b, j + lo_b + w_b)
 * within the map; channels >= g copied from X. */
static void body_col_boxes(kb *k, const gpu_kernel *g)
{
    int cg = g->p[1], h = g->p[2], w = g->p[3], map = g->p[4], n = g->regions.n, hw = h * w;
    LLVMValueRef j = urem(k, k->gid, ci(k, w)), i = urem(k, udiv(k, k->gid, ci(k, w)), ci(k, h));
    LLVMValueRef c = udiv(k, k->gid, ci(k, hw));
    branch br;
    branch_if(k, &br, LLVMBuildICmp(k->b, LLVMIntSLT, c, ci(k, cg), ""));
    LLVMValueRef init = ld(k, C0, c);
    if (map)
        init = fadd(k, init, ld(k, C1, k->gid));
    LLVMValueRef acc = var(k, k->f32, init);
    loop lb, lt;
    LLVMValueRef b = loop_begin(k, &lb, ci(k, 0), ci(k, n));
    LLVMValueRef left = add(k, j, table(k, b, g->regions.lo, n));
    LLVMValueRef t0 = smax(k, left, ci(k, 0));
    LLVMValueRef t1 = smin(k, add(k, left, table(k, b, g->regions.size, n)), ci(k, w));
    LLVMValueRef zrow = mul(k, add(k, mul(k, add(k, mul(k, c, ci(k, n)), b), ci(k, h)), i), ci(k, w));
    LLVMValueRef t = loop_begin(k, &lt, t0, t1);
    LLVMBuildStore(k->b, fadd(k, get(k, k->f32, acc), ld(k, X2, add(k, zrow, t))), acc);
    loop_end(k, &lt);
    loop_end(k, &lb);
    st(k, Y, k->gid, get(k, k->f32, acc));
    branch_else(k, &br);
    st(k, Y, k->gid, ld(k, X, k->gid));
    branch_end(k, &br);
}

static void body_dwconv(kb *k, const gpu_kernel *g)
{
    int h = g->p[1], w = g->p[2], cg = g->p[3], kk = g->p[4], bias = g->p[5], map = g->p[6];
    int r = kk / 2, hw = h * w;
    LLVMValueRef j = urem(k, k->gid, ci(k, w)), i = urem(k, udiv(k, k->gid, ci(k, w)), ci(k, h));
    LLVMValueRef c = udiv(k, k->gid, ci(k, hw));
    branch br;
    branch_if(k, &br, LLVMBuildICmp(k->b, LLVMIntSLT, c, ci(k, cg), ""));
    LLVMValueRef init = fadd(k, bias ? ld(k, C1, c) : cf(k, 0), map ? ld(k, C2, k->gid) : cf(k, 0));
    LLVMValueRef acc = var(k, k->f32, init);
    /* taps (ki, kj) whose input pixel (i - r + ki, j - r + kj) lies in the map */
    LLVMValueRef ki0 = smax(k, sub(k, ci(k, r), i), ci(k, 0));
    LLVMValueRef ki1 = smin(k, sub(k, ci(k, h + r), i), ci(k, kk));
    LLVMValueRef kj0 = smax(k, sub(k, ci(k, r), j), ci(k, 0));
    LLVMValueRef kj1 = smin(k, sub(k, ci(k, w + r), j), ci(k, kk));
    loop li, lj;
    LLVMValueRef ki = loop_begin(k, &li, ki0, ki1);
    LLVMValueRef kj = loop_begin(k, &lj, kj0, kj1);
    LLVMValueRef widx = add(k, mul(k, add(k, mul(k, c, ci(k, kk)), ki), ci(k, kk)), kj);
    LLVMValueRef xrow = add(k, mul(k, c, ci(k, h)), sub(k, add(k, i, ki), ci(k, r)));
    LLVMValueRef xidx = add(k, mul(k, xrow, ci(k, w)), sub(k, add(k, j, kj), ci(k, r)));
    LLVMBuildStore(k->b, fadd(k, get(k, k->f32, acc), fmul(k, ld(k, C0, widx), ld(k, X, xidx))), acc);
    loop_end(k, &lj);
    loop_end(k, &li);
    st(k, Y, k->gid, get(k, k->f32, acc));
    branch_else(k, &br);
    st(k, Y, k->gid, ld(k, X, k->gid));
    branch_end(k, &br);
}

static void body_pointwise(kb *k, const gpu_kernel *g)
{
    int cin = g->p[0], hw = g->p[2], act = g->p[3], res = g->p[4];
    LLVMValueRef o = udiv(k, k->gid, ci(k, hw)), q = urem(k, k->gid, ci(k, hw));
    LLVMValueRef acc = var(k, k->f32, ld(k, C1, o));
    LLVMValueRef wbase = mul(k, o, ci(k, cin));
    loop l;
    LLVMValueRef i = loop_begin(k, &l, ci(k, 0), ci(k, cin));
    LLVMValueRef prod = fmul(k, ld(k, C0, add(k, wbase, i)), ld(k, X, add(k, mul(k, i, ci(k, hw)), q)));
    LLVMBuildStore(k->b, fadd(k, get(k, k->f32, acc), prod), acc);
    loop_end(k, &l);
    LLVMValueRef y = get(k, k->f32, acc);
    if (act)
        y = gelu(k, y);
    if (res)
        y = fadd(k, y, ld(k, X2, k->gid));
    st(k, Y, k->gid, y);
}

static void body_elementwise(kb *k, const gpu_kernel *g)
{
    switch (g->kind) {
    case GK_GELU:
        st(k, Y, k->gid, gelu(k, ld(k, X, k->gid)));
        break;
    case GK_MUL_CHANNEL:
        st(k, Y, k->gid, fmul(k, ld(k, X, k->gid), ld(k, C0, udiv(k, k->gid, ci(k, g->p[1])))));
        break;
    case GK_ADD: {
        branch br;
        branch_if(k, &br, LLVMBuildICmp(k->b, LLVMIntSLT, k->gid, ci(k, g->p[0]), ""));
        st(k, Y, k->gid, fadd(k, ld(k, X, k->gid), ld(k, X2, k->gid)));
        branch_else(k, &br);
        st(k, Y, k->gid, ld(k, X, k->gid));
        branch_end(k, &br);
        break;
    }
    case GK_BATCHNORM: {
        LLVMValueRef c = udiv(k, k->gid, ci(k, g->p[1]));
        branch br;
        branch_if(k, &br, LLVMBuildICmp(k->b, LLVMIntSLT, c, ci(k, g->p[2]), ""));
        LLVMValueRef v = fadd(k, ld(k, C3, c), cf(k, g->eps));
        v = intrinsic(k, "llvm.sqrt", k->f32, &v, 1);
        LLVMValueRef s = fdiv(k, ld(k, C0, c), v);
        LLVMValueRef t = fsub(k, ld(k, C1, c), fmul(k, ld(k, C2, c), s));
        st(k, Y, k->gid, fadd(k, fmul(k, ld(k, X, k->gid), s), t));
        branch_else(k, &br);
        st(k, Y, k->gid, ld(k, X, k->gid));
        branch_end(k, &br);
        break;
    }
    default:
        break;
    }
}

/* Global average of channel gid, summed in double like the C backend. */
static void body_avgpool(kb *k, const gpu_kernel *g)
{
    int hw = g->p[1];
    LLVMValueRef acc = var(k, k->f64, cd(k, 0));
    LLVMValueRef base = mul(k, k->gid, ci(k, hw));
    loop l;
    LLVMValueRef q = loop_begin(k, &l, ci(k, 0), ci(k, hw));
    LLVMValueRef x = LLVMBuildFPExt(k->b, ld(k, X, add(k, base, q)), k->f64, "");
    LLVMBuildStore(k->b, fadd(k, get(k, k->f64, acc), x), acc);
    loop_end(k, &l);
    LLVMValueRef mean = fdiv(k, get(k, k->f64, acc), cd(k, hw));
    st(k, Y, k->gid, LLVMBuildFPTrunc(k->b, mean, k->f32, ""));
}

/* The one builder of a kernel's body, whatever the target: returns the
 * function body(a0..a6, i32 block, i32 thread). */
static LLVMValueRef build_body(kb *k, const gpu_kernel *g)
{
    LLVMTypeRef params[GPU_NARGS + 2];
    for (int i = 0; i < GPU_NARGS; i++)
        params[i] = k->ptr;
    params[GPU_NARGS] = params[GPU_NARGS + 1] = k->i32;
    char name[64];
    snprintf(name, sizeof name, "%s_body", g->name);
    k->fn = LLVMAddFunction(k->mod, name, LLVMFunctionType(k->vd, params, GPU_NARGS + 2, 0));
    LLVMSetLinkage(k->fn, LLVMInternalLinkage);
    lu_enum_attr(k->fn, LLVMAttributeFunctionIndex, "alwaysinline");
    for (int i = 0; i < GPU_NARGS; i++)
        k->arg[i] = LLVMGetParam(k->fn, (unsigned)i);
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(k->ctx, k->fn, "entry");
    LLVMBasicBlockRef start = LLVMAppendBasicBlockInContext(k->ctx, k->fn, "start");
    LLVMBasicBlockRef work = LLVMAppendBasicBlockInContext(k->ctx, k->fn, "work");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(k->ctx, k->fn, "exit");
    LLVMPositionBuilderAtEnd(k->ab, entry);
    LLVMPositionBuilderAtEnd(k->b, start);
    k->gid = add(k, mul(k, LLVMGetParam(k->fn, GPU_NARGS), ci(k, GPU_BLOCK)),
                 LLVMGetParam(k->fn, GPU_NARGS + 1));
    LLVMBuildCondBr(k->b, LLVMBuildICmp(k->b, LLVMIntSLT, k->gid, ci(k, g->threads), ""), work, done);
    LLVMPositionBuilderAtEnd(k->b, work);
    switch (g->kind) {
    case GK_CONV2D: body_conv2d(k, g); break;
    case GK_LAYERNORM: body_layernorm(k, g); break;
    case GK_ROW_BOXES: body_row_boxes(k, g); break;
    case GK_REGION_GATHER: body_region_gather(k, g); break;
    case GK_COL_BOXES: body_col_boxes(k, g); break;
    case GK_DWCONV: body_dwconv(k, g); break;
    case GK_POINTWISE: body_pointwise(k, g); break;
    case GK_AVGPOOL: body_avgpool(k, g); break;
    default: body_elementwise(k, g); break;
    }
    LLVMBuildBr(k->b, done);
    LLVMPositionBuilderAtEnd(k->b, done);
    LLVMBuildRetVoid(k->b);
    LLVMPositionBuilderAtEnd(k->ab, entry); /* the allocas are all in; now leave the entry */
    LLVMBuildBr(k->ab, start);
    return k->fn;
}

static void annotate(kb *k, LLVMValueRef fn, const char *what, int value)
{
    LLVMMetadataRef md[3] = {LLVMValueAsMetadata(fn), LLVMMDStringInContext2(k->ctx, what, strlen(what)),
                             LLVMValueAsMetadata(ci(k, value))};
    LLVMAddNamedMetadataOperand(k->mod, "nvvm.annotations",
                                LLVMMetadataAsValue(k->ctx, LLVMMDNodeInContext2(k->ctx, md, 3)));
}

/* NVPTX: the kernel entry reads its indices from the special registers. */
static void wrap_ptx(kb *k, const gpu_kernel *g, LLVMValueRef body)
{
    LLVMTypeRef params[GPU_NARGS];
    for (int i = 0; i < GPU_NARGS; i++)
        params[i] = k->ptr;
    LLVMValueRef fn = LLVMAddFunction(k->mod, g->name, LLVMFunctionType(k->vd, params, GPU_NARGS, 0));
    LLVMSetFunctionCallConv(fn, 71); /* CallingConv::PTX_Kernel */
    annotate(k, fn, "kernel", 1);
    annotate(k, fn, "maxntidx", GPU_BLOCK);
    LLVMPositionBuilderAtEnd(k->b, LLVMAppendBasicBlockInContext(k->ctx, fn, "entry"));
    k->fn = fn;
    LLVMValueRef args[GPU_NARGS + 2];
    for (int i = 0; i < GPU_NARGS; i++)
        args[i] = LLVMGetParam(fn, (unsigned)i);
    args[GPU_NARGS] = intrinsic(k, "llvm.nvvm.read.ptx.sreg.ctaid.x", NULL, NULL, 0);
    args[GPU_NARGS + 1] = intrinsic(k, "llvm.nvvm.read.ptx.sreg.tid.x", NULL, NULL, 0);
    LLVMBuildCall2(k->b, LLVMGlobalGetValueType(body), body, args, GPU_NARGS + 2, "");
    LLVMBuildRetVoid(k->b);
}

/* Host: pk<i>_<kind>_cpu(a0..a6, i64 blocks) walks the launch grid. */
static void wrap_host(kb *k, const gpu_kernel *g, LLVMValueRef body)
{
    LLVMTypeRef params[GPU_NARGS + 1];
    for (int i = 0; i < GPU_NARGS; i++)
        params[i] = k->ptr;
    params[GPU_NARGS] = k->i64;
    char name[64];
    snprintf(name, sizeof name, "%s_cpu", g->name);
    LLVMValueRef fn = LLVMAddFunction(k->mod, name, LLVMFunctionType(k->vd, params, GPU_NARGS + 1, 0));
    LLVMSetVisibility(fn, LLVMHiddenVisibility); /* the .so exports only the C API */
    k->fn = fn;
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(k->ctx, fn, "entry");
    LLVMBasicBlockRef start = LLVMAppendBasicBlockInContext(k->ctx, fn, "start");
    LLVMPositionBuilderAtEnd(k->ab, entry);
    LLVMPositionBuilderAtEnd(k->b, start);
    LLVMValueRef args[GPU_NARGS + 2];
    for (int i = 0; i < GPU_NARGS; i++)
        args[i] = LLVMGetParam(fn, (unsigned)i);
    LLVMValueRef blocks = LLVMBuildTrunc(k->b, LLVMGetParam(fn, GPU_NARGS), k->i32, "");
    loop lb, lt;
    args[GPU_NARGS] = loop_begin(k, &lb, ci(k, 0), blocks);
    args[GPU_NARGS + 1] = loop_begin(k, &lt, ci(k, 0), ci(k, GPU_BLOCK));
    LLVMBuildCall2(k->b, LLVMGlobalGetValueType(body), body, args, GPU_NARGS + 2, "");
    loop_end(k, &lt);
    loop_end(k, &lb);
    LLVMBuildRetVoid(k->b);
    LLVMBuildBr(k->ab, start);
}

/* ---- modules and target machines ---- */

static LLVMModuleRef build_module(LLVMContextRef ctx, const gpu_plan *p, const char *model,
                                  gpu_target t)
{
    kb k = {.ctx = ctx};
    k.mod = LLVMModuleCreateWithNameInContext(model, ctx);
    k.b = LLVMCreateBuilderInContext(ctx);
    k.ab = LLVMCreateBuilderInContext(ctx);
    k.i1 = LLVMInt1TypeInContext(ctx);
    k.i32 = LLVMInt32TypeInContext(ctx);
    k.i64 = LLVMInt64TypeInContext(ctx);
    k.f32 = LLVMFloatTypeInContext(ctx);
    k.f64 = LLVMDoubleTypeInContext(ctx);
    k.ptr = LLVMPointerTypeInContext(ctx, 0);
    k.vd = LLVMVoidTypeInContext(ctx);
    for (int i = 0; i < p->n_kernels; i++) {
        LLVMValueRef body = build_body(&k, &p->kernels[i]);
        if (t == GPU_TARGET_PTX)
            wrap_ptx(&k, &p->kernels[i], body);
        else
            wrap_host(&k, &p->kernels[i], body);
    }
    LLVMDisposeBuilder(k.b);
    LLVMDisposeBuilder(k.ab);
    return k.mod;
}

/* Verify, optimise (O2) and emit the module for tm: assembly text or an object file. */
static int finish(LLVMModuleRef mod, LLVMTargetMachineRef tm, const char *triple,
                  LLVMMemoryBufferRef *asm_out, const char *obj_path, pelk_diag *d)
{
    lu_set_target(mod, tm, triple);
    if (lu_optimize(mod, tm, "default<O2>", 0, WHO, d))
        return -1;
    if (!asm_out)
        return lu_emit_object(tm, mod, obj_path, WHO, d);
    char *err = NULL;
    if (LLVMTargetMachineEmitToMemoryBuffer(tm, mod, LLVMAssemblyFile, &err, asm_out))
        return lu_fail(d, WHO, "LLVM code generation failed", err);
    return 0;
}

static LLVMTargetMachineRef make_tm(const char *triple, const char *cpu, const char *features,
                                    LLVMRelocMode reloc, pelk_diag *d)
{
    return lu_target_machine(triple, cpu, features, LLVMCodeGenLevelDefault, reloc, WHO, d);
}

char *gpu_emit_ptx(const gpu_plan *p, const char *model, int sm, pelk_diag *d)
{
    if (sm != 80 && sm != 90) {
        diag_set(d, "--sm must be 80 or 90, got %d", sm);
        return NULL;
    }
    LLVMInitializeNVPTXTargetInfo();
    LLVMInitializeNVPTXTarget();
    LLVMInitializeNVPTXTargetMC();
    LLVMInitializeNVPTXAsmPrinter();
    const char *triple = "nvptx64-nvidia-cuda";
    /* the oldest PTX ISA each architecture allows: CUDA 11.0 drivers for sm_80, 11.8 for sm_90 */
    LLVMTargetMachineRef tm = make_tm(triple, sm == 90 ? "sm_90" : "sm_80",
                                      sm == 90 ? "+ptx78" : "+ptx70", LLVMRelocDefault, d);
    if (!tm)
        return NULL;
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMModuleRef mod = build_module(ctx, p, model, GPU_TARGET_PTX);
    LLVMMemoryBufferRef buf = NULL;
    char *text = NULL;
    if (!finish(mod, tm, triple, &buf, NULL, d)) {
        size_t n = LLVMGetBufferSize(buf);
        text = xcalloc(n + 1, 1);
        memcpy(text, LLVMGetBufferStart(buf), n);
        LLVMDisposeMemoryBuffer(buf);
    }
    LLVMDisposeModule(mod);
    LLVMContextDispose(ctx);
    LLVMDisposeTargetMachine(tm);
    return text;
}

int gpu_emit_host_object(const gpu_plan *p, const char *model, const char *path, pelk_diag *d)
{
    if (LLVMInitializeNativeTarget() || LLVMInitializeNativeAsmPrinter())
        return diag_set(d, WHO ": LLVM cannot generate code for this host");
    char *triple = LLVMGetDefaultTargetTriple();
    LLVMTargetMachineRef tm = make_tm(triple, "", "", LLVMRelocPIC, d);
    int rc = -1;
    if (tm) {
        LLVMContextRef ctx = LLVMContextCreate();
        LLVMModuleRef mod = build_module(ctx, p, model, GPU_TARGET_HOST);
        rc = finish(mod, tm, triple, NULL, path, d);
        LLVMDisposeModule(mod);
        LLVMContextDispose(ctx);
        LLVMDisposeTargetMachine(tm);
    }
    LLVMDisposeMessage(triple);
    return rc;
}
