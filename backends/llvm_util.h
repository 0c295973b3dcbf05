/* LLVM C API helpers that the LLVM CPU backend (backends/llvm) and the GPU
 * backend (backends/gpu) both use, so that neither includes the other:
 * target machines, a module's target, verify and optimise, object files,
 * intrinsic calls, attributes, and LLVM's messages as pelkc diagnostics.
 * `who` names the backend in messages ("LLVM backend", "GPU backend"). */
#ifndef PELK_LLVM_UTIL_H
#define PELK_LLVM_UTIL_H

#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/TargetMachine.h>

#include "../common/diag.h"

/* d gets "who: what: " and the first line of msg (LLVM's, may be NULL), which is disposed of. */
int lu_fail(pelk_diag *d, const char *who, const char *what, char *msg);
int lu_error(pelk_diag *d, const char *who, const char *what, LLVMErrorRef e);

/* A target machine for triple; NULL with d set when this LLVM lacks the target. */
LLVMTargetMachineRef lu_target_machine(const char *triple, const char *cpu, const char *features,
                                       LLVMCodeGenOptLevel level, LLVMRelocMode reloc,
                                       const char *who, pelk_diag *d);
/* Give module m tm's triple and data layout. */
void lu_set_target(LLVMModuleRef m, LLVMTargetMachineRef tm, const char *triple);
/* Verify m, then run LLVM's pipeline (e.g. "default<O3>"); vectorize: ask for the loop and SLP
 * vectorisers, unrolling and interleaving in so many words. */
int lu_optimize(LLVMModuleRef m, LLVMTargetMachineRef tm, const char *pipeline, int vectorize,
                const char *who, pelk_diag *d);
int lu_emit_object(LLVMTargetMachineRef tm, LLVMModuleRef m, const char *path, const char *who,
                   pelk_diag *d);

/* A call of intrinsic `name`, overloaded on type t (not overloaded when t is NULL). */
LLVMValueRef lu_intrinsic(LLVMBuilderRef b, LLVMModuleRef m, const char *name, LLVMTypeRef t,
                          LLVMValueRef *args, int n);
/* Enum attribute `name` (e.g. "nounwind") on fn at index (LLVMAttributeFunctionIndex: fn's). */
void lu_enum_attr(LLVMValueRef fn, unsigned index, const char *name);

#endif
