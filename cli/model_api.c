/* How a command gets a compiled model's API: a .so loaded with dlopen, a
 * model compiled in process by libtcc or by LLVM's ORC JIT, or a temporary
 * .so built by the chosen backend (--backend c|llvm, --cc). */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driver.h"
#include "model_api.h"

int backend_is_llvm(const options *o) { return o->backend && !strcmp(o->backend, "llvm"); }

const char *backend_name(const options *o) { return backend_is_llvm(o) ? "LLVM" : "C"; }

#ifndef PELKC_HAVE_LLVM
static int no_llvm(pelk_diag *d)
{
    return diag_set(d, "this pelkc was built without the LLVM backend (cmake -DPELKC_LLVM=ON, "
                       "needs llvm-19-dev)");
}
#endif

pelkc_status api_create(const model_api *api, pelkc_model **m)
{
    return api->create_abi(PELKC_API_VERSION, m);
}

typedef struct model_run {
    const model_api *api;
    pelkc_model *m;
    const float *x;
    int32_t batch;
    float *y;
    const char *what;
} model_run;

static int run_model_once(void *ctx, pelk_diag *d)
{
    model_run *r = ctx;
    if (r->api->run_f32(r->m, r->x, r->batch, r->y) != PELKC_OK)
        return diag_set(d, "%s failed: %s", r->what, r->api->last_error(r->m));
    return 0;
}

int time_model_runs(const model_api *api, pelkc_model *m, const float *x, int32_t batch, float *y,
                    const char *what, int warmups, int runs, run_times *t, pelk_diag *d)
{
    model_run r = {api, m, x, batch, y, what};
    return time_runs(run_model_once, &r, warmups, runs, t, d);
}

/* Look every API function up by name, with the model's --prefix (the
 * workspace query is optional: older models lack it). */
static int bind_model_api(model_api *api, void *(*lookup)(void *, const char *), void *handle,
                          const char *what, const char *prefix, pelk_diag *d)
{
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
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        char name[160];
        snprintf(name, sizeof name, "%s%s", prefix ? prefix : "", syms[i].name);
        *syms[i].slot = lookup(handle, name);
        if (!*syms[i].slot && syms[i].slot != (void **)&api->workspace_bytes)
            return diag_set(d, "%s is not a pelkc model%s: no symbol %s", what,
                            prefix ? " with that --prefix" : "", name);
    }
    return 0;
}

int load_model_api(model_api *api, const char *path, const char *prefix, pelk_diag *d)
{
    char buf[4096];
    /* dlopen searches the library path for names without a slash */
    snprintf(buf, sizeof buf, "%s%s", strchr(path, '/') ? "" : "./", path);
    api->so = dlopen(buf, RTLD_NOW | RTLD_LOCAL);
    if (!api->so)
        return diag_set(d, "cannot load %s: %s", path, dlerror());
    return bind_model_api(api, dlsym, api->so, path, prefix, d);
}

int tcc_model_api(model_api *api, void *tcc, const char *prefix, pelk_diag *d)
{
    api->tcc = tcc;
    return bind_model_api(api, tcc_model_symbol, tcc, "the model compiled by tcc", prefix, d);
}

#ifdef PELKC_HAVE_LLVM
static void *jit_lookup(void *jit, const char *name) { return llvm_jit_symbol(jit, name); }
#endif

void close_model_api(model_api *api)
{
#ifdef PELKC_HAVE_LLVM
    if (api->jit)
        llvm_jit_close(api->jit);
#endif
    if (api->so)
        dlclose(api->so);
    tcc_model_free(api->tcc);
    memset(api, 0, sizeof *api);
}

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

int build_model_api(const options *o, const ir_graph *g, int tcc, model_api *api, char *built_by,
                    size_t cap, pelk_diag *d)
{
    build_options bo = make_build_options(o);
    if (tcc) {
        tcc_model *m;
        tcc_timing t;
        if (tcc_build(g, &bo, &m, &t, d))
            return -1;
        snprintf(built_by, cap,
                 "libtcc in process (%.1f KB of orchestration C and runtime: emit %.3f s, "
                 "weights blob %.3f s, tcc %.3f s, link %.3f s; kernels precompiled into pelkc "
                 "by the system compiler -O3)",
                 t.c_bytes / 1e3, t.emit, t.weights, t.compile, t.relocate);
        return tcc_model_api(api, m, o->prefix, d);
    }
    if (backend_is_llvm(o)) {
#ifdef PELKC_HAVE_LLVM
        llvm_jit *j = llvm_jit_open(g, &bo, d);
        if (!j)
            return -1;
        api->jit = j;
        snprintf(built_by, cap, "LLVM 19 ORC JIT in process (default<O3>, %s; LLVM backend)",
                 bo.march ? "host CPU" : "generic x86-64");
        return bind_model_api(api, jit_lookup, j, "the model compiled by the JIT", NULL, d);
#else
        return no_llvm(d);
#endif
    }
    char so[] = "/tmp/pelkc-run-XXXXXX";
    int fd = mkstemp(so);
    if (fd < 0)
        return diag_set(d, "cannot create a temporary file in /tmp");
    close(fd);
    int rc = c_build_so(g, &bo, so, d);
    if (!rc)
        rc = load_model_api(api, so, o->prefix, d);
    if (!o->keep_temps)
        unlink(so);
    else
        fprintf(stderr, "pelkc: library kept at %s\n", so);
    snprintf(built_by, cap, "%s -O3%s%s -fopenmp (C backend, specialised kernels)",
             o->cc ? o->cc : "cc", bo.march ? " -march=" : "", bo.march ? bo.march : "");
    return rc;
}
