/* How a command gets a compiled model's API: a .so loaded with dlopen, or a
 * model the chosen backend compiles in process (libtcc, LLVM's ORC JIT) or
 * into a temporary .so (the C compiler, the GPU backend). */
#include <stdio.h>
#include <string.h>

#include "driver.h"
#include "model_api.h"

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

/* Look every API function up by name (the workspace query is optional:
 * older models lack it); prefix only names the symbols in the message. */
static int bind_model_api(model_api *api, const char *what, const char *prefix, pelk_diag *d)
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
        *syms[i].slot = api->symbol(api->handle, syms[i].name);
        if (!*syms[i].slot && syms[i].slot != (void **)&api->workspace_bytes)
            return diag_set(d, "%s is not a pelkc model%s: no symbol %s%s", what,
                            prefix ? " with that --prefix" : "", prefix ? prefix : "",
                            syms[i].name);
    }
    return 0;
}

int load_model_api(model_api *api, const char *path, const char *prefix, pelk_diag *d)
{
    api->handle = so_model_load(path, prefix, d);
    if (!api->handle)
        return -1;
    api->symbol = so_model_symbol;
    api->close = so_model_close;
    return bind_model_api(api, path, prefix, d);
}

void close_model_api(model_api *api)
{
    if (api->handle)
        api->close(api->handle);
    memset(api, 0, sizeof *api);
}

int build_model_api(const options *o, const pelkc_backend *b, const ir_graph *g, model_api *api,
                    char *built_by, size_t cap, pelk_diag *d)
{
    build_options bo = make_build_options(o);
    api->handle = backend_open(b, g, &bo, built_by, cap, d);
    if (!api->handle)
        return -1;
    api->symbol = b->symbol;
    api->close = b->close;
    char what[128];
    snprintf(what, sizeof what, "the model compiled by %s", b->what);
    return bind_model_api(api, what, o->prefix, d);
}
