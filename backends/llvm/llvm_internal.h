/* Shared by the LLVM backend's files (backends/llvm); not used elsewhere.
 * lgen holds the module being built and a few helpers that keep the IR
 * building code close to the C it mirrors: float pointers plus offsets,
 * vector loads and stores, counted loops. */
#ifndef PELK_LLVM_INTERNAL_H
#define PELK_LLVM_INTERNAL_H

#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>
#include <stdint.h>

#include "../llvm_util.h"
#include "../lowered_model.h"

#define LG_WHO "LLVM backend" /* in messages (llvm_util.h) */

typedef struct lgen {
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMBuilderRef b;
    LLVMTypeRef f32, i8, i32, i64, ptr, vf, voidt; /* vf: <vec x float> */
    int vec;
    int jit;             /* the weights are reached through the GOT, not as a hidden symbol */
    const char *cpu;     /* target-cpu and target-features attributes of every function */
    const char *features;
    LLVMValueRef weights; /* @pelkc_weights */
    LLVMValueRef fn;      /* the function being built */
} lgen;

/* A counted loop for (iv = lo; iv < hi; iv += step), iv an i64 (signed). */
typedef struct lg_loop {
    LLVMBasicBlockRef head, body, exit;
    LLVMValueRef iv;
    int64_t step;
} lg_loop;

LLVMValueRef lg_i32(lgen *g, int v);
LLVMValueRef lg_i64(lgen *g, int64_t v);
/* p + i floats (i an i64 value), or p + a constant number of floats. */
LLVMValueRef lg_at(lgen *g, LLVMValueRef p, LLVMValueRef i);
LLVMValueRef lg_atc(lgen *g, LLVMValueRef p, int64_t i);
LLVMValueRef lg_add(lgen *g, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef lg_mul(lgen *g, LLVMValueRef a, int64_t k);
LLVMValueRef lg_vload(lgen *g, LLVMValueRef p);
void lg_vstore(lgen *g, LLVMValueRef p, LLVMValueRef v);
LLVMValueRef lg_splat(lgen *g, LLVMValueRef scalar);
/* a * b + c, each a vector (llvm.fmuladd: fused where the target has FMA). */
LLVMValueRef lg_fmuladd(lgen *g, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c);
void lg_memcpy(lgen *g, LLVMValueRef dst, LLVMValueRef src, int64_t floats);
void lg_memset0(lgen *g, LLVMValueRef dst, int64_t floats);

void lg_for(lgen *g, lg_loop *l, LLVMValueRef lo, LLVMValueRef hi, int64_t step);
void lg_forc(lgen *g, lg_loop *l, int64_t lo, int64_t hi, int64_t step);
void lg_end(lgen *g, lg_loop *l);

/* A function of the module, internal unless exported; builder at its entry. */
LLVMValueRef lg_function(lgen *g, const char *name, LLVMTypeRef ret, LLVMTypeRef *params,
                         int n, int internal);
/* An external function, declared once. */
LLVMValueRef lg_declare(lgen *g, const char *name, LLVMTypeRef ret, LLVMTypeRef *params, int n);
LLVMValueRef lg_call(lgen *g, LLVMValueRef fn, LLVMValueRef *args, int n);

/* The module for the model: run_batch, one specialised function per box_gather
 * configuration, the kernels it calls (declared), and pelkc_desc. */
int lg_build_model(lgen *g, const lowered_model *m, pelk_diag *d);
/* box_gather op `index`'s specialised function (its first op of the configuration). */
LLVMValueRef lg_box_gather_fn(lgen *g, const lowered_model *m, int index);

/* Target: "native" or "generic" (build_options.march NULL). */
typedef struct lg_target {
    LLVMTargetMachineRef tm;
    char *triple, *cpu, *features;
    int native;
} lg_target;
int lg_target_make(lg_target *t, const build_options *o, pelk_diag *d);
void lg_target_free(lg_target *t);
/* Start a module for target t in ctx (triple, data layout set). */
void lg_init(lgen *g, LLVMContextRef ctx, const lg_target *t, int vec, int jit, const char *name);
void lg_dispose(lgen *g);
/* Verify, then LLVM's own O3 pipeline (vectorisers included). */
int lg_optimize(LLVMModuleRef m, const lg_target *t, pelk_diag *d);

#endif
