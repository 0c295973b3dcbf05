/* Small helpers for building LLVM IR with the C API (llvm_internal.h). */
#include <stdio.h>
#include <string.h>

#include "llvm_internal.h"

void lg_init(lgen *g, LLVMContextRef ctx, const lg_target *t, int vec, int jit, const char *name)
{
    memset(g, 0, sizeof *g);
    g->ctx = ctx;
    g->mod = LLVMModuleCreateWithNameInContext(name, ctx);
    g->b = LLVMCreateBuilderInContext(ctx);
    g->f32 = LLVMFloatTypeInContext(ctx);
    g->i8 = LLVMInt8TypeInContext(ctx);
    g->i32 = LLVMInt32TypeInContext(ctx);
    g->i64 = LLVMInt64TypeInContext(ctx);
    g->ptr = LLVMPointerTypeInContext(ctx, 0);
    g->voidt = LLVMVoidTypeInContext(ctx);
    g->vec = vec;
    g->vf = LLVMVectorType(g->f32, (unsigned)vec);
    g->jit = jit;
    g->cpu = t->cpu;
    g->features = t->features;
    lu_set_target(g->mod, t->tm, t->triple);
}

void lg_dispose(lgen *g)
{
    if (g->b)
        LLVMDisposeBuilder(g->b);
    if (g->mod)
        LLVMDisposeModule(g->mod);
    g->b = NULL;
    g->mod = NULL;
}

LLVMValueRef lg_i32(lgen *g, int v) { return LLVMConstInt(g->i32, (unsigned long long)v, 1); }

LLVMValueRef lg_i64(lgen *g, int64_t v) { return LLVMConstInt(g->i64, (unsigned long long)v, 1); }

LLVMValueRef lg_at(lgen *g, LLVMValueRef p, LLVMValueRef i)
{
    return LLVMBuildInBoundsGEP2(g->b, g->f32, p, &i, 1, "");
}

LLVMValueRef lg_atc(lgen *g, LLVMValueRef p, int64_t i)
{
    return i ? lg_at(g, p, lg_i64(g, i)) : p;
}

LLVMValueRef lg_add(lgen *g, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildNSWAdd(g->b, a, b, "");
}

LLVMValueRef lg_mul(lgen *g, LLVMValueRef a, int64_t k)
{
    return LLVMBuildNSWMul(g->b, a, lg_i64(g, k), "");
}

/* Vectors are loaded and stored with float alignment: rows are not aligned. */
LLVMValueRef lg_vload(lgen *g, LLVMValueRef p)
{
    LLVMValueRef v = LLVMBuildLoad2(g->b, g->vf, p, "");
    LLVMSetAlignment(v, 4);
    return v;
}

void lg_vstore(lgen *g, LLVMValueRef p, LLVMValueRef v)
{
    LLVMSetAlignment(LLVMBuildStore(g->b, v, p), 4);
}

LLVMValueRef lg_splat(lgen *g, LLVMValueRef scalar)
{
    LLVMValueRef one = LLVMBuildInsertElement(g->b, LLVMGetPoison(g->vf), scalar, lg_i32(g, 0), "");
    LLVMValueRef mask = LLVMConstNull(LLVMVectorType(g->i32, (unsigned)g->vec));
    return LLVMBuildShuffleVector(g->b, one, LLVMGetPoison(g->vf), mask, "");
}

LLVMValueRef lg_fmuladd(lgen *g, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c)
{
    LLVMValueRef args[3] = {a, b, c};
    return lu_intrinsic(g->b, g->mod, "llvm.fmuladd", g->vf, args, 3);
}

void lg_memcpy(lgen *g, LLVMValueRef dst, LLVMValueRef src, int64_t floats)
{
    if (floats > 0)
        LLVMBuildMemCpy(g->b, dst, 4, src, 4, lg_i64(g, floats * 4));
}

void lg_memset0(lgen *g, LLVMValueRef dst, int64_t floats)
{
    if (floats > 0)
        LLVMBuildMemSet(g->b, dst, LLVMConstInt(g->i8, 0, 0), lg_i64(g, floats * 4), 4);
}

void lg_for(lgen *g, lg_loop *l, LLVMValueRef lo, LLVMValueRef hi, int64_t step)
{
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(g->b);
    l->head = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "loop");
    l->body = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "body");
    l->exit = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "done");
    l->step = step;
    LLVMBuildBr(g->b, l->head);
    LLVMPositionBuilderAtEnd(g->b, l->head);
    l->iv = LLVMBuildPhi(g->b, g->i64, "i");
    LLVMAddIncoming(l->iv, &lo, &pre, 1);
    LLVMBuildCondBr(g->b, LLVMBuildICmp(g->b, LLVMIntSLT, l->iv, hi, ""), l->body, l->exit);
    LLVMPositionBuilderAtEnd(g->b, l->body);
}

void lg_forc(lgen *g, lg_loop *l, int64_t lo, int64_t hi, int64_t step)
{
    lg_for(g, l, lg_i64(g, lo), lg_i64(g, hi), step);
}

void lg_end(lgen *g, lg_loop *l)
{
    LLVMValueRef next = lg_add(g, l->iv, lg_i64(g, l->step));
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(g->b);
    LLVMAddIncoming(l->iv, &next, &latch, 1);
    LLVMBuildBr(g->b, l->head);
    LLVMPositionBuilderAtEnd(g->b, l->exit);
}

static void add_string_attr(lgen *g, LLVMValueRef fn, const char *k, const char *v)
{
    LLVMAttributeRef a = LLVMCreateStringAttribute(g->ctx, k, (unsigned)strlen(k), v, (unsigned)strlen(v));
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, a);
}

LLVMValueRef lg_function(lgen *g, const char *name, LLVMTypeRef ret, LLVMTypeRef *params, int n,
                         int internal)
{
    LLVMTypeRef ft = LLVMFunctionType(ret, params, (unsigned)n, 0);
    LLVMValueRef fn = LLVMAddFunction(g->mod, name, ft);
    if (internal)
        LLVMSetLinkage(fn, LLVMInternalLinkage);
    lu_enum_attr(fn, LLVMAttributeFunctionIndex, "nounwind");
    add_string_attr(g, fn, "target-cpu", g->cpu);
    add_string_attr(g, fn, "target-features", g->features);
    /* the specialised kernels are written in <vec x float>: keep them whole registers */
    char width[16];
    snprintf(width, sizeof width, "%d", g->vec * 32);
    add_string_attr(g, fn, "min-legal-vector-width", width);
    add_string_attr(g, fn, "prefer-vector-width", width);
    g->fn = fn;
    LLVMPositionBuilderAtEnd(g->b, LLVMAppendBasicBlockInContext(g->ctx, fn, "entry"));
    return fn;
}

LLVMValueRef lg_declare(lgen *g, const char *name, LLVMTypeRef ret, LLVMTypeRef *params, int n)
{
    LLVMValueRef fn = LLVMGetNamedFunction(g->mod, name);
    if (!fn) {
        fn = LLVMAddFunction(g->mod, name, LLVMFunctionType(ret, params, (unsigned)n, 0));
        lu_enum_attr(fn, LLVMAttributeFunctionIndex, "nounwind");
    }
    return fn;
}

LLVMValueRef lg_call(lgen *g, LLVMValueRef fn, LLVMValueRef *args, int n)
{
    return LLVMBuildCall2(g->b, LLVMGlobalGetValueType(fn), fn, args, (unsigned)n, "");
}
