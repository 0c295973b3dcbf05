/* pelkc bench: compile a spec with random weights into a temporary .so, run
 * it on a random batch (warm-ups, then timed runs) and report the median, the
 * throughput, the multiply-add rate actually achieved and the peak memory. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_bench(const options *opts)
{
    options o = *opts;
    if (!o.iters)
        o.iters = 10;
    if (o.weights)
        return die("bench uses random weights; compile and run a model to use real ones");
    o.random_weights = 1;
    pelk_diag d;
    model_spec s = {0};
    double t0 = now_seconds();
    ir_graph *g = load_graph(&o, &s, 1, NULL, &d);
    if (!g) {
        spec_free(&s);
        return die(d.msg);
    }
    int64_t macs = 0;
    for (int i = 0; i < g->n_ops; i++)
        macs += ir_op_macs(g, &g->ops[i]);
    model_api api = {0};
    char built_by[512];
    int rc = build_model_api(&o, o.be, g, &api, built_by, sizeof built_by, &d);
    double t_build = now_seconds() - t0;
    int n_ops = g->n_ops;
    ir_free(g);

    pelkc_model *m = NULL;
    float *x = NULL, *y = NULL;
    int32_t c, h, w, oc, oh, ow;
    if (!rc && (api_create(&api, &m) != PELKC_OK || api.set_threads(m, o.threads) != PELKC_OK))
        rc = diag_set(&d, "cannot create the model");
    if (!rc) {
        api.input_shape(m, &c, &h, &w);
        api.output_shape(m, &oc, &oh, &ow);
        int64_t n = (int64_t)o.batch * c * h * w;
        x = xcalloc((size_t)n, sizeof *x);
        y = xcalloc((size_t)o.batch * oc * oh * ow, sizeof *y);
        fill_random(x, n, o.seed);
    }
    run_times t;
    if (!rc)
        rc = time_model_runs(&api, m, x, o.batch, y, "run", 2, o.iters, &t, &d);
    if (!rc) {
        double med = t.median;
        int64_t ws = 0;
        if (api.workspace_bytes)
            api.workspace_bytes(m, &ws);
        printf("model: %s, %d ops, periph %s; built in %.2f s by %s\n", s.name, n_ops,
               o.periph_dense ? "dense" : "lowered", t_build, built_by);
        printf("batch %d, threads %d, %d runs after 2 warm-ups: min %.2f ms, max %.2f ms\n",
               o.batch, o.threads, o.iters, t.min * 1e3, t.max * 1e3);
        printf("images/s: %.2f\n", o.batch / med);
        /* on a shared machine the wall time includes waiting for a core; this does not */
        printf("cpu_ms per run (all threads, mean): %.2f\n", t.cpu * 1e3);
        printf("multiply-adds executed per image: %.3f G; rate %.1f G multiply-adds/s "
               "(%.1f GFLOP/s)\n",
               macs / 1e9, macs * (double)o.batch / med / 1e9, 2 * macs * (double)o.batch / med / 1e9);
        printf("workspace: %.1f MB (activations and scratch); peak_rss_mb: %.1f\n", ws / 1e6,
               peak_rss_mb());
        printf("median_ms: %.3f\n", med * 1e3);
    }
    free(x);
    free(y);
    if (m)
        api.free(m);
    close_model_api(&api);
    spec_free(&s);
    return rc ? die(d.msg) : 0;
}
