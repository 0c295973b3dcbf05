/* The compile driver: what `compile`, `run SPEC`, `emit`, `bench` and the conv
 * commands all do before a backend takes over. */
#include "driver.h"

#include <string.h>

#include "../frontend/build_graph.h"
#include "util.h"

build_options make_build_options(const options *o)
{
    build_options bo = {.cc = o->cc, .keep_temps = o->keep_temps, .verbose = o->verbose,
                        .prefix = o->prefix};
    bo.march = strcmp(o->march, "generic") ? o->march : NULL;
    bo.vec = target_vec(bo.march);
    /* tcc compiles in process: only the orchestration, calling pelkc's own kernels */
    bo.host_kernels = o->be == &backend_tcc;
    bo.sm = o->sm;
    if (bo.host_kernels)
        bo.vec = host_kernels_vec();
    return bo;
}

pass_options make_pass_options(const options *o)
{
    pass_options po = {.periph_dense = o->periph_dense};
    po.keep_norms = o->be->keep_norms;
    return po;
}

ir_graph *load_graph(const options *o, model_spec *s, int need_weights, FILE *dump, pelk_diag *d)
{
    return load_graph_timed(o, s, need_weights, dump, d, NULL);
}

ir_graph *load_graph_timed(const options *o, model_spec *s, int need_weights, FILE *dump,
                           pelk_diag *d, double times[4])
{
    double t[5] = {now_seconds()};
    if (!o->path) {
        diag_set(d, "%s needs a SPEC file", o->cmd);
        return NULL;
    }
    if (spec_load(s, o->path, d))
        return NULL;
    t[1] = now_seconds();
    st_file f = {0};
    if (o->weights && st_open(&f, o->weights, d))
        return NULL;
    ir_graph *g = build_graph(s, o->weights ? &f : NULL, d);
    t[2] = now_seconds();
    int rc = g ? 0 : -1;
    if (!rc && o->weights)
        rc = bind_weights_file(g, &f, d);
    else if (!rc && o->random_weights)
        bind_random_weights(g, o->seed);
    else if (!rc && need_weights)
        rc = diag_set(d, "%s needs --weights W.safetensors or --random-weights SEED", o->cmd);
    if (o->weights)
        st_close(&f);
    t[3] = now_seconds();
    if (rc) {
        ir_free(g);
        return NULL;
    }
    pass_options po = make_pass_options(o);
    if (run_passes(g, &po, dump, d)) {
        ir_free(g);
        return NULL;
    }
    t[4] = now_seconds();
    for (int i = 0; times && i < 4; i++)
        times[i] = t[i + 1] - t[i];
    return g;
}

ir_graph *load_conv_graph(const options *o, const char *grid, int kernel, kpe_mode kpe,
                          int channels, int h, int w, int random, int *kr, int *kc, pelk_diag *d)
{
    sharing_grid rows, cols;
    if (grid_parse_text(grid, kernel, &rows, &cols, d))
        return NULL;
    if (kr)
        *kr = rows.n;
    if (kc)
        *kc = cols.n;
    ir_graph *g = build_conv_graph(kernel, &rows, &cols, channels, h, w, kpe);
    grid_free(&rows);
    grid_free(&cols);
    int rc = 0;
    if (random)
        bind_random_weights(g, o->seed);
    else if (!o->weights)
        rc = diag_set(d, "conv needs --weights W.safetensors");
    else
        rc = bind_weights(g, o->weights, d);
    pass_options po = make_pass_options(o);
    if (!rc)
        rc = run_passes(g, &po, NULL, d);
    if (rc) {
        ir_free(g);
        return NULL;
    }
    return g;
}
