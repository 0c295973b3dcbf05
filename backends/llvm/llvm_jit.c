/* The LLVM backend's JIT: the same module as for a .so, optimised the same
 * way, compiled in process by ORC LLJIT; no file is written. The generated
 * code's calls go to the runtime kernels compiled into pelkc itself
 * (runtime/pelkc_kernels_lib.c; registered as absolute symbols), the weights
 * blob is a buffer in memory (also an absolute symbol), memcpy and memset come
 * from the process. The API is pelkc_runtime.c compiled into pelkc with a
 * pelkc_jit_ prefix (rt_jit.c), reading the JIT'd pelkc_desc. */
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/pelkc_kernels_lib.h"
#define PELKC_PREFIX pelkc_jit_
#include "../../runtime/pelkc_internal.h"
#include "../../runtime/pelkc_model.h"
#include "llvm_internal.h"

extern const pelkc_model_desc *pelkc_jit_desc; /* rt_jit.c */

struct llvm_jit {
    LLVMOrcLLJITRef jit;
    unsigned char *weights;
};

static int jit_fail(pelk_diag *d, const char *what, LLVMErrorRef e)
{
    return lu_error(d, "LLVM JIT", what, e);
}

/* Define name -> address in the JIT's main library. */
static LLVMErrorRef define_absolute(LLVMOrcLLJITRef jit, const char *const *names,
                                    void *const *addresses, int n)
{
    LLVMOrcCSymbolMapPair *pairs = xcalloc((size_t)n, sizeof *pairs);
    for (int i = 0; i < n; i++) {
        pairs[i].Name = LLVMOrcLLJITMangleAndIntern(jit, names[i]);
        pairs[i].Sym.Address = (LLVMOrcExecutorAddress)(uintptr_t)addresses[i];
        pairs[i].Sym.Flags.GenericFlags = LLVMJITSymbolGenericFlagsExported;
    }
    LLVMOrcMaterializationUnitRef mu = LLVMOrcAbsoluteSymbols(pairs, (size_t)n);
    free(pairs);
    LLVMOrcJITDylibRef jd = LLVMOrcLLJITGetMainJITDylib(jit);
    LLVMErrorRef e = LLVMOrcJITDylibDefine(jd, mu);
    if (e)
        LLVMOrcDisposeMaterializationUnit(mu);
    return e;
}

/* The runtime kernels and the weights, then memcpy and friends from the process. */
static LLVMErrorRef bind_symbols(llvm_jit *j)
{
    const char *names[32];
    void *addresses[32];
    int n = 0;
    for (const pkl_symbol *s = pkl_symbols; s->name && n < 31; s++, n++) {
        names[n] = s->name;
        addresses[n] = s->address;
    }
    names[n] = "pelkc_weights";
    addresses[n++] = j->weights;
    LLVMErrorRef e = define_absolute(j->jit, names, addresses, n);
    if (e)
        return e;
    LLVMOrcDefinitionGeneratorRef gen;
    e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(
        &gen, LLVMOrcLLJITGetGlobalPrefix(j->jit), NULL, NULL);
    if (!e)
        LLVMOrcJITDylibAddGenerator(LLVMOrcLLJITGetMainJITDylib(j->jit), gen);
    return e;
}

/* Build and optimise the module in ctx; hand the target machine to the JIT. */
static int compile(llvm_jit *j, const lowered_model *m, const build_options *o,
                   LLVMOrcThreadSafeContextRef tsc, LLVMModuleRef *out, pelk_diag *d)
{
    lg_target t;
    if (lg_target_make(&t, o, d))
        return -1;
    lgen g;
    lg_init(&g, LLVMOrcThreadSafeContextGetContext(tsc), &t, m->vec, 1, m->g->name);
    int rc = lg_build_model(&g, m, d);
    if (!rc)
        rc = lg_optimize(g.mod, &t, d);
    if (rc) {
        lg_dispose(&g);
        lg_target_free(&t);
        return -1;
    }
    *out = g.mod;
    g.mod = NULL;
    lg_dispose(&g);
    LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(
        builder, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(t.tm));
    t.tm = NULL; /* owned by the builder now */
    lg_target_free(&t);
    LLVMErrorRef e = LLVMOrcCreateLLJIT(&j->jit, builder);
    return e ? jit_fail(d, "cannot create the JIT", e) : 0;
}

llvm_jit *llvm_jit_open(const ir_graph *graph, const build_options *o, pelk_diag *d)
{
    llvm_jit *j = xcalloc(1, sizeof *j);
    lowered_model m;
    lowered_model_prepare(graph, o, LOWERED_FOR_CPU, &m);
    j->weights = aligned_alloc(64, (size_t)(m.weights.total + 64) / 64 * 64);
    int rc = j->weights ? fill_weights(graph, &m.weights, j->weights, d)
                        : diag_set(d, "out of memory for %lld bytes of weights",
                                   (long long)m.weights.total);
    LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
    LLVMModuleRef mod = NULL;
    if (!rc)
        rc = compile(j, &m, o, tsc, &mod, d);
    lowered_model_free(&m);
    LLVMErrorRef e = NULL;
    if (!rc && (e = bind_symbols(j)))
        rc = jit_fail(d, "cannot bind the runtime", e);
    if (!rc) {
        LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(mod, tsc);
        mod = NULL;
        if ((e = LLVMOrcLLJITAddLLVMIRModule(j->jit, LLVMOrcLLJITGetMainJITDylib(j->jit), tsm))) {
            LLVMOrcDisposeThreadSafeModule(tsm);
            rc = jit_fail(d, "cannot add the module", e);
        }
    }
    LLVMOrcExecutorAddress desc = 0;
    if (!rc && (e = LLVMOrcLLJITLookup(j->jit, &desc, "pelkc_desc")))
        rc = jit_fail(d, "compiling the model", e);
    if (mod)
        LLVMDisposeModule(mod);
    LLVMOrcDisposeThreadSafeContext(tsc);
    if (rc) {
        llvm_jit_close(j);
        return NULL;
    }
    pelkc_jit_desc = (const pelkc_model_desc *)(uintptr_t)desc;
    return j;
}

void *llvm_jit_symbol(const llvm_jit *j, const char *name)
{
    static const struct {
        const char *name;
        void *fn;
    } api[] = {
        {"pelkc_api_version", (void *)pelkc_api_version},
        {"pelkc_built_by", (void *)pelkc_built_by},
        {"pelkc_model_name", (void *)pelkc_model_name},
        {"pelkc_create_abi", (void *)pelkc_create_abi},
        {"pelkc_free", (void *)pelkc_free},
        {"pelkc_input_shape", (void *)pelkc_input_shape},
        {"pelkc_output_shape", (void *)pelkc_output_shape},
        {"pelkc_set_threads", (void *)pelkc_set_threads},
        {"pelkc_threads", (void *)pelkc_threads},
        {"pelkc_workspace_bytes", (void *)pelkc_workspace_bytes},
        {"pelkc_run", (void *)pelkc_run},
        {"pelkc_run_f32", (void *)pelkc_run_f32},
        {"pelkc_last_error", (void *)pelkc_last_error},
        {"pelkc_status_string", (void *)pelkc_status_string},
    };
    if (!j)
        return NULL;
    for (size_t i = 0; i < sizeof api / sizeof api[0]; i++)
        if (!strcmp(api[i].name, name))
            return api[i].fn;
    return NULL;
}

void llvm_jit_close(llvm_jit *j)
{
    if (!j)
        return;
    if (j->jit)
        LLVMOrcDisposeLLJIT(j->jit);
    pelkc_jit_desc = NULL;
    free(j->weights);
    free(j);
}
