/* pelkc conv and pelkc bench-conv: one peripheral conv layer, compiled like a
 * model (graph, passes, C backend, .so) and run through the same C API. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "npy.h"

/* The conv graph the options describe, lowered and compiled into a temporary
 * .so that is loaded into api (and deleted from disk). */
static int build_conv(const options *o, int random, model_api *api, ir_graph **out_graph,
                      char *built, size_t built_cap, pelk_diag *d)
{
    if (!o->kernel || !o->grid || !o->channels || !o->height)
        return diag_set(d, "%s needs --kernel K --grid G --channels C --size HxW", o->cmd);
    if (o->kernel % 2 == 0)
        return diag_set(d, "--kernel must be odd, got %d", o->kernel);
    kpe_mode kpe = KPE_NONE;
    if (o->kpe && !strcmp(o->kpe, "constant"))
        kpe = KPE_CONSTANT;
    else if (o->kpe && !strcmp(o->kpe, "border"))
        kpe = KPE_BORDER;
    else if (o->kpe && strcmp(o->kpe, "none"))
        return diag_set(d, "--kpe must be none, constant or border; got '%s'", o->kpe);
    ir_graph *g = load_conv_graph(o, o->grid, o->kernel, kpe, o->channels, o->height, o->width,
                                  random, NULL, NULL, d);
    int rc = g ? 0 : -1;
    char built_by[512];
    if (!rc)
        rc = build_model_api(o, o->be, g, api, built_by, sizeof built_by, d);
    if (!rc && built)
        snprintf(built, built_cap, "%s", built_by);
    if (rc || !out_graph)
        ir_free(g);
    else
        *out_graph = g;
    return rc;
}

int cmd_conv(const options *o)
{
    pelk_diag d;
    model_api api = {0};
    if (!o->input || !o->output)
        return die("conv needs --input X.npy and --output Y.npy");
    npy_array x = {0};
    if (npy_load_f32(&x, o->input, &d))
        return die(d.msg);
    int rc = build_conv(o, 0, &api, NULL, NULL, 0, &d);
    pelkc_model *m = NULL;
    float *y = NULL;
    if (!rc && (x.rank != 4 || x.shape[1] != o->channels || x.shape[2] != o->height ||
                x.shape[3] != o->width || x.shape[0] < 1 || x.shape[0] > 65536))
        rc = diag_set(&d, "%s: input must be [N, %d, %d, %d]", o->input, o->channels, o->height,
                      o->width);
    if (!rc && (api_create(&api, &m) != PELKC_OK || api.set_threads(m, o->threads) != PELKC_OK))
        rc = diag_set(&d, "cannot create the conv model");
    if (!rc) {
        int64_t n = x.shape[0] * o->channels * (int64_t)o->height * o->width;
        y = xcalloc((size_t)n, sizeof *y);
        if (api.run_f32(m, x.data, (int32_t)x.shape[0], y) != PELKC_OK)
            rc = diag_set(&d, "conv failed: %s", api.last_error(m));
        else
            rc = npy_save_f32(o->output, y, 4, x.shape, &d);
    }
    if (m)
        api.free(m);
    close_model_api(&api);
    free(y);
    npy_free(&x);
    return rc ? die(d.msg) : 0;
}

int cmd_bench_conv(const options *opts)
{
    options local = *opts;
    const options *o = &local;
    if (!local.iters)
        local.iters = 30;
    pelk_diag d;
    model_api api = {0};
    ir_graph *g = NULL;
    double t_build = now_seconds();
    char built_by[512];
    if (build_conv(o, 1, &api, &g, built_by, sizeof built_by, &d)) {
        close_model_api(&api);
        ir_free(g);
        return die(d.msg);
    }
    t_build = now_seconds() - t_build;
    int64_t macs = 0, dense = (int64_t)o->channels * o->height * o->width * o->kernel * o->kernel;
    for (int i = 0; i < g->n_ops; i++)
        macs += ir_op_macs(g, &g->ops[i]);
    char *ir = ir_op_text(g, &g->ops[0]);
    pelkc_model *m = NULL;
    int rc = 0;
    if (api_create(&api, &m) != PELKC_OK || api.set_threads(m, o->threads) != PELKC_OK)
        rc = diag_set(&d, "cannot create the conv model");
    int64_t n = (int64_t)o->batch * o->channels * o->height * o->width;
    float *x = xcalloc((size_t)n, sizeof *x), *y = xcalloc((size_t)n, sizeof *y);
    fill_random(x, n, o->seed);
    run_times t;
    if (!rc)
        rc = time_model_runs(&api, m, x, o->batch, y, "conv", 3, o->iters, &t, &d);
    if (!rc) {
        double med = t.median;
        printf("op:%s\n", ir);
        printf("periph: %s, kernel %d, %d channels, %dx%d, batch %d, threads %d\n",
               o->periph_dense ? "dense" : "lowered", o->kernel, o->channels, o->height, o->width,
               o->batch, o->threads);
        printf("built by: %s, in %.2f s\n", built_by, t_build);
        printf("runs: %d after 3 warm-ups; min %.4f ms, max %.4f ms\n", o->iters,
               t.min * 1e3, t.max * 1e3);
        printf("multiply-adds per run: %.2f M (dense would be %.2f M); %.1f G multiply-adds/s\n",
               macs * (double)o->batch / 1e6, dense * (double)o->batch / 1e6,
               macs * (double)o->batch / med / 1e9);
        printf("median_ms: %.4f\n", med * 1e3);
    }
    free(ir);
    free(x);
    free(y);
    if (m)
        api.free(m);
    close_model_api(&api);
    ir_free(g);
    return rc ? die(d.msg) : 0;
}
