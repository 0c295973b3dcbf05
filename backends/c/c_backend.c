/* The C backend's two entries in the backend interface: `c` (generated C
 * built into a .so by the system compiler, every kernel call specialised) and
 * `tcc` (the same orchestration compiled in process by libtcc, calling the
 * kernels precompiled into pelkc; it writes no file). */
#include <stdio.h>
#include <stdlib.h>

#include "../backend.h"

static void *c_open(const ir_graph *g, const build_options *o, char *built_by, size_t cap,
                    pelk_diag *d)
{
    snprintf(built_by, cap, "%s -O3%s%s -fopenmp (C backend, specialised kernels)",
             o->cc ? o->cc : "cc", o->march ? " -march=" : "", o->march ? o->march : "");
    return so_model_build(&backend_c, g, o, d);
}

const pelkc_backend backend_c = {
    .name = "c",
    .what = "the C backend",
    .emit = c_emit,
    .build_so = c_build_so,
    .open = c_open,
    .symbol = so_model_symbol,
    .close = so_model_close,
};

/* A tcc-compiled model and the --prefix its symbols carry. */
typedef struct tcc_handle {
    tcc_model *model;
    char prefix[128];
} tcc_handle;

static void *tcc_open(const ir_graph *g, const build_options *o, char *built_by, size_t cap,
                      pelk_diag *d)
{
    tcc_model *m;
    tcc_timing t;
    if (tcc_build(g, o, &m, &t, d))
        return NULL;
    snprintf(built_by, cap,
             "libtcc in process (%.1f KB of orchestration C and runtime: emit %.3f s, "
             "weights blob %.3f s, tcc %.3f s, link %.3f s; kernels precompiled into pelkc "
             "by the system compiler -O3)",
             t.c_bytes / 1e3, t.emit, t.weights, t.compile, t.relocate);
    tcc_handle *h = xcalloc(1, sizeof *h);
    h->model = m;
    snprintf(h->prefix, sizeof h->prefix, "%s", o->prefix ? o->prefix : "");
    return h;
}

static void *tcc_symbol(void *handle, const char *name)
{
    tcc_handle *h = handle;
    char full[256];
    snprintf(full, sizeof full, "%s%s", h->prefix, name);
    return tcc_model_symbol(h->model, full);
}

static void tcc_close(void *handle)
{
    tcc_handle *h = handle;
    if (!h)
        return;
    tcc_model_free(h->model);
    free(h);
}

const pelkc_backend backend_tcc = {
    .name = "tcc",
    .what = "libtcc (in process)",
    .emit = c_emit, /* with build_options.host_kernels: the C libtcc compiles */
    .open = tcc_open,
    .symbol = tcc_symbol,
    .close = tcc_close,
};
