/* LLVM C API helpers shared by the LLVM and GPU backends (llvm_util.h). */
#include <stdio.h>
#include <string.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "llvm_util.h"

/* LLVM's messages run to many lines; the first says what went wrong. */
static int first_line(pelk_diag *d, const char *who, const char *what, const char *msg)
{
    char line[300];
    snprintf(line, sizeof line, "%s", msg ? msg : "(no message)");
    line[strcspn(line, "\n")] = '\0';
    return diag_set(d, "%s: %s: %s", who, what, line);
}

int lu_fail(pelk_diag *d, const char *who, const char *what, char *msg)
{
    int rc = first_line(d, who, what, msg);
    if (msg)
        LLVMDisposeMessage(msg);
    return rc;
}

int lu_error(pelk_diag *d, const char *who, const char *what, LLVMErrorRef e)
{
    char *msg = LLVMGetErrorMessage(e);
    int rc = first_line(d, who, what, msg);
    LLVMDisposeErrorMessage(msg);
    return rc;
}

LLVMTargetMachineRef lu_target_machine(const char *triple, const char *cpu, const char *features,
                                       LLVMCodeGenOptLevel level, LLVMRelocMode reloc,
                                       const char *who, pelk_diag *d)
{
    LLVMTargetRef target;
    char *err = NULL;
    if (LLVMGetTargetFromTriple(triple, &target, &err)) {
        char what[200];
        snprintf(what, sizeof what, "LLVM has no target %s", triple);
        lu_fail(d, who, what, err);
        return NULL;
    }
    return LLVMCreateTargetMachine(target, triple, cpu, features, level, reloc,
                                   LLVMCodeModelDefault);
}

void lu_set_target(LLVMModuleRef m, LLVMTargetMachineRef tm, const char *triple)
{
    LLVMSetTarget(m, triple);
    LLVMTargetDataRef layout = LLVMCreateTargetDataLayout(tm);
    LLVMSetModuleDataLayout(m, layout);
    LLVMDisposeTargetData(layout);
}

int lu_optimize(LLVMModuleRef m, LLVMTargetMachineRef tm, const char *pipeline, int vectorize,
                const char *who, pelk_diag *d)
{
    char *err = NULL;
    if (LLVMVerifyModule(m, LLVMReturnStatusAction, &err))
        return lu_fail(d, who, "invalid LLVM module (a pelkc bug)", err);
    LLVMDisposeMessage(err);
    LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
    if (vectorize) {
        LLVMPassBuilderOptionsSetLoopVectorization(opts, 1);
        LLVMPassBuilderOptionsSetSLPVectorization(opts, 1);
        LLVMPassBuilderOptionsSetLoopUnrolling(opts, 1);
        LLVMPassBuilderOptionsSetLoopInterleaving(opts, 1);
    }
    LLVMErrorRef e = LLVMRunPasses(m, pipeline, tm, opts);
    LLVMDisposePassBuilderOptions(opts);
    return e ? lu_error(d, who, "LLVM passes failed", e) : 0;
}

int lu_emit_object(LLVMTargetMachineRef tm, LLVMModuleRef m, const char *path, const char *who,
                   pelk_diag *d)
{
    char *err = NULL;
    if (LLVMTargetMachineEmitToFile(tm, m, (char *)path, LLVMObjectFile, &err))
        return lu_fail(d, who, "object emission", err);
    return 0;
}

LLVMValueRef lu_intrinsic(LLVMBuilderRef b, LLVMModuleRef m, const char *name, LLVMTypeRef t,
                          LLVMValueRef *args, int n)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMTypeRef types[1] = {t};
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(m, id, types, t ? 1 : 0);
    LLVMTypeRef ft = LLVMIntrinsicGetType(LLVMGetModuleContext(m), id, types, t ? 1 : 0);
    return LLVMBuildCall2(b, ft, fn, args, (unsigned)n, "");
}

void lu_enum_attr(LLVMValueRef fn, unsigned index, const char *name)
{
    unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
    LLVMContextRef ctx = LLVMGetModuleContext(LLVMGetGlobalParent(fn));
    LLVMAddAttributeAtIndex(fn, index, LLVMCreateEnumAttribute(ctx, kind, 0));
}
