/* The LLVM backend's target side: the target machine (host CPU or generic
 * x86-64), LLVM's own O3 pipeline through the new pass manager, object
 * emission, and the link of a standalone .so: the model's object, the
 * weights as a second object (one constant global), and the runtime library
 * pelkc carries inside it (rt_embed.c.in), with the system C compiler as the
 * linker driver. Everything happens in a private temp directory; the .so is
 * moved into place only when the link succeeded. */
#include <errno.h>
#include <llvm-c/Target.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llvm_internal.h"

/* The runtime library objects embedded by CMake (llvm_rt_embed.c). */
extern const unsigned char pelkc_llvm_rt_native[], pelkc_llvm_rt_native_end[];
extern const unsigned char pelkc_llvm_rt_generic[], pelkc_llvm_rt_generic_end[];

int lg_target_make(lg_target *t, const build_options *o, pelk_diag *d)
{
    memset(t, 0, sizeof *t);
    if (o->march && strcmp(o->march, "native"))
        return diag_set(d, "the LLVM backend targets --march native or generic (its runtime "
                           "library is built for those two), got '%s'", o->march);
    LLVMInitializeNativeTarget();
    LLVMInitializeNativeAsmPrinter();
    t->native = o->march != NULL;
    t->triple = LLVMGetDefaultTargetTriple();
    t->cpu = t->native ? LLVMGetHostCPUName() : LLVMCreateMessage("x86-64");
    t->features = t->native ? LLVMGetHostCPUFeatures() : LLVMCreateMessage("");
    t->tm = lu_target_machine(t->triple, t->cpu, t->features, LLVMCodeGenLevelAggressive,
                              LLVMRelocPIC, LG_WHO, d);
    if (!t->tm) {
        lg_target_free(t);
        return -1;
    }
    return 0;
}

void lg_target_free(lg_target *t)
{
    if (t->tm)
        LLVMDisposeTargetMachine(t->tm);
    LLVMDisposeMessage(t->triple);
    LLVMDisposeMessage(t->cpu);
    LLVMDisposeMessage(t->features);
    memset(t, 0, sizeof *t);
}

int lg_optimize(LLVMModuleRef m, const lg_target *t, pelk_diag *d)
{
    return lu_optimize(m, t->tm, "default<O3>", 1, LG_WHO, d);
}

/* The model's module, built for target t; the caller disposes of it. */
static int build_module(lgen *g, LLVMContextRef ctx, const lowered_model *m, const lg_target *t,
                        pelk_diag *d)
{
    lg_init(g, ctx, t, m->vec, 0, m->g->name);
    return lg_build_model(g, m, d);
}

int llvm_emit(const ir_graph *graph, const build_options *o, FILE *out, pelk_diag *d)
{
    lg_target t;
    if (lg_target_make(&t, o, d))
        return -1;
    lowered_model m;
    lowered_model_prepare(graph, o, LOWERED_FOR_CPU, &m);
    LLVMContextRef ctx = LLVMContextCreate();
    lgen g;
    int rc = build_module(&g, ctx, &m, &t, d);
    if (!rc) {
        char *text = LLVMPrintModuleToString(g.mod);
        fputs(text, out);
        LLVMDisposeMessage(text);
    }
    lg_dispose(&g);
    LLVMContextDispose(ctx);
    lowered_model_free(&m);
    lg_target_free(&t);
    if (!rc && ferror(out))
        rc = diag_set(d, "write error while emitting LLVM IR");
    return rc;
}

/* The weights blob as an object: one hidden constant @pelkc_weights. */
static int emit_weights(const lowered_model *lm, const lg_target *t, const char *path,
                        pelk_diag *d)
{
    const weight_layout *wl = &lm->weights;
    unsigned char *blob = aligned_alloc(64, (size_t)(wl->total + 64) / 64 * 64);
    int rc = blob ? fill_weights(lm->g, wl, blob, d)
                  : diag_set(d, "out of memory for %lld bytes of weights", (long long)wl->total);
    if (!rc) {
        LLVMContextRef ctx = LLVMContextCreate();
        LLVMModuleRef m = LLVMModuleCreateWithNameInContext("pelkc_weights", ctx);
        LLVMSetTarget(m, t->triple);
        LLVMValueRef data = LLVMConstStringInContext2(ctx, (const char *)blob, (size_t)wl->total, 1);
        free(blob); /* LLVM holds its own copy: keep one, not two, while the object is written */
        blob = NULL;
        LLVMValueRef gv = LLVMAddGlobal(m, LLVMTypeOf(data), "pelkc_weights");
        LLVMSetInitializer(gv, data);
        LLVMSetGlobalConstant(gv, 1);
        LLVMSetAlignment(gv, 64);
        LLVMSetVisibility(gv, LLVMHiddenVisibility);
        rc = lu_emit_object(t->tm, m, path, LG_WHO, d);
        LLVMDisposeModule(m);
        LLVMContextDispose(ctx);
    }
    free(blob);
    return rc;
}

/* The exported API (runtime/pelkc_model.h); --prefix P renames them at link time. */
static const char *const api_names[] = {
    "pelkc_api_version", "pelkc_built_by",  "pelkc_model_name",  "pelkc_create_abi",
    "pelkc_free",        "pelkc_input_shape", "pelkc_output_shape", "pelkc_set_threads",
    "pelkc_threads",     "pelkc_workspace_bytes", "pelkc_run",     "pelkc_run_f32",
    "pelkc_last_error",  "pelkc_status_string"};
enum { N_API = sizeof api_names / sizeof api_names[0] };

/* A version script exporting only P<name>, and --defsym P<name>=<name> for each. */
static int prefix_args(const char *dir, const char *prefix, char **argv, int *a, char *store,
                       size_t cap, pelk_diag *d)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/exports.map", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return diag_set(d, "%s: cannot write: %s", path, strerror(errno));
    fprintf(f, "{\n  global:\n");
    for (int i = 0; i < N_API; i++)
        fprintf(f, "    %s%s;\n", prefix, api_names[i]);
    fprintf(f, "  local: *;\n};\n");
    if (fclose(f))
        return diag_set(d, "%s: write failed", path);
    size_t used = 0;
    for (int i = 0; i <= N_API; i++) {
        char *arg = store + used;
        int n = i < N_API ? snprintf(arg, cap - used, "-Wl,--defsym=%s%s=%s", prefix, api_names[i],
                                     api_names[i])
                          : snprintf(arg, cap - used, "-Wl,--version-script=%s", path);
        used += (size_t)n + 1;
        argv[(*a)++] = arg;
    }
    return 0;
}

static const char *const temp_names[] = {"model.ll", "model.o",     "weights.o",
                                         "runtime.o", "exports.map", "ld.log"};

static int link_in(const char *dir, const lowered_model *m, const build_options *o,
                   const char *so_path, pelk_diag *d)
{
    lg_target t;
    if (lg_target_make(&t, o, d))
        return -1;
    char obj[4200], wobj[4200], rt[4200], log[4200];
    snprintf(obj, sizeof obj, "%s/model.o", dir);
    snprintf(wobj, sizeof wobj, "%s/weights.o", dir);
    snprintf(rt, sizeof rt, "%s/runtime.o", dir);
    snprintf(log, sizeof log, "%s/ld.log", dir);
    LLVMContextRef ctx = LLVMContextCreate();
    lgen g;
    int rc = build_module(&g, ctx, m, &t, d);
    if (!rc)
        rc = lg_optimize(g.mod, &t, d);
    char ll[4200], *err = NULL;
    snprintf(ll, sizeof ll, "%s/model.ll", dir);
    if (!rc && o->keep_temps && LLVMPrintModuleToFile(g.mod, ll, &err)) /* the optimised IR, to read */
        rc = lu_fail(d, LG_WHO, ll, err);
    if (!rc)
        rc = lu_emit_object(t.tm, g.mod, obj, LG_WHO, d);
    lg_dispose(&g);
    LLVMContextDispose(ctx);
    if (!rc)
        rc = emit_weights(m, &t, wobj, d);
    if (!rc)
        rc = t.native ? write_file(rt, pelkc_llvm_rt_native,
                                   (size_t)(pelkc_llvm_rt_native_end - pelkc_llvm_rt_native), d)
                      : write_file(rt, pelkc_llvm_rt_generic,
                                   (size_t)(pelkc_llvm_rt_generic_end - pelkc_llvm_rt_generic), d);
    lg_target_free(&t);
    if (rc)
        return -1;
    char *argv[64], store[N_API * 220 + 4400];
    int a = 0;
    argv[a++] = (char *)(o->cc ? o->cc : "cc");
    argv[a++] = "-shared";
    argv[a++] = "-fopenmp"; /* the runtime library's parallel regions: libgomp */
    argv[a++] = "-o";
    int out = a++;
    argv[a++] = obj;
    argv[a++] = wobj;
    argv[a++] = rt;
    argv[a++] = "-lm";
    if (o->prefix && prefix_args(dir, o->prefix, argv, &a, store, sizeof store, d))
        return -1;
    argv[a] = NULL;
    return publish_so(argv, out, so_path, log, o->verbose, "the linker driver", d);
}

int llvm_build_so(const ir_graph *graph, const build_options *o, const char *so_path, pelk_diag *d)
{
    return build_so_in_temp(graph, o, so_path, link_in, temp_names,
                            sizeof temp_names / sizeof temp_names[0], d);
}
