/* The --backend option: which backend builds a .so (compile), and how the
 * commands that run a graph straight away (run SPEC, bench, conv, bench-conv)
 * get its API: the C backend builds a temporary .so and loads it; the LLVM
 * backend compiles in process with its JIT and writes no file. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int backend_is_llvm(const options *o) { return o->backend && !strcmp(o->backend, "llvm"); }

const char *backend_name(const options *o) { return backend_is_llvm(o) ? "LLVM" : "C"; }

#ifndef PELKC_HAVE_LLVM
static int no_llvm(pelk_diag *d)
{
    return diag_set(d, "this pelkc was built without the LLVM backend (cmake -DPELKC_LLVM=ON, "
                       "needs llvm-19-dev)");
}
#endif

int build_so(const ir_graph *g, const options *o, const char *path, pelk_diag *d)
{
    build_options bo = make_build_options(o);
    if (!backend_is_llvm(o))
        return c_build_so(g, &bo, path, d);
#ifdef PELKC_HAVE_LLVM
    return llvm_build_so(g, &bo, path, d);
#else
    return no_llvm(d);
#endif
}

int emit_llvm(const ir_graph *g, const options *o, FILE *out, pelk_diag *d)
{
    build_options bo = make_build_options(o);
#ifdef PELKC_HAVE_LLVM
    return llvm_emit(g, &bo, out, d);
#else
    (void)g, (void)bo, (void)out;
    return no_llvm(d);
#endif
}

#ifdef PELKC_HAVE_LLVM
static int open_jit(const ir_graph *g, const options *o, model_api *api, pelk_diag *d)
{
    build_options bo = make_build_options(o);
    llvm_jit *j = llvm_jit_open(g, &bo, d);
    if (!j)
        return -1;
    api->jit = j;
    struct {
        void **slot;
        const char *name;
    } syms[] = {
        {(void **)&api->create_abi, "pelkc_create_abi"},
        {(void **)&api->free, "pelkc_free"},
        {(void **)&api->input_shape, "pelkc_input_shape"},
        {(void **)&api->output_shape, "pelkc_output_shape"},
        {(void **)&api->set_threads, "pelkc_set_threads"},
        {(void **)&api->run_f32, "pelkc_run_f32"},
        {(void **)&api->last_error, "pelkc_last_error"},
        {(void **)&api->name, "pelkc_model_name"},
        {(void **)&api->workspace_bytes, "pelkc_workspace_bytes"},
    };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++)
        *syms[i].slot = llvm_jit_symbol(j, syms[i].name);
    return 0;
}
#endif

int open_graph_model(const ir_graph *g, const options *o, model_api *api, pelk_diag *d)
{
    if (backend_is_llvm(o)) {
#ifdef PELKC_HAVE_LLVM
        return open_jit(g, o, api, d);
#else
        return no_llvm(d);
#endif
    }
    char so[] = "/tmp/pelkc-model-XXXXXX";
    int fd = mkstemp(so);
    if (fd < 0)
        return diag_set(d, "cannot create a temporary file in /tmp");
    close(fd);
    int rc = build_so(g, o, so, d);
    if (!rc)
        rc = load_model_api(api, so, o->prefix, d);
    if (!rc) {
        char name[160];
        snprintf(name, sizeof name, "%spelkc_workspace_bytes", o->prefix ? o->prefix : "");
        api->workspace_bytes = (pelkc_status(*)(const pelkc_model *, int64_t *))dlsym(api->so, name);
    }
    if (o->keep_temps)
        fprintf(stderr, "pelkc: library kept at %s\n", so);
    else
        unlink(so);
    return rc;
}

void close_model_api(model_api *api)
{
#ifdef PELKC_HAVE_LLVM
    if (api->jit)
        llvm_jit_close(api->jit);
#endif
    if (api->so)
        dlclose(api->so);
    memset(api, 0, sizeof *api);
}
