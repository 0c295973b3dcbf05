/* pelkc sweep: one stage's peripheral conv under several sharing grids (and
 * kernel sizes): each variant is compiled (by default with the optimising C
 * backend; --cc tcc in process), timed briefly, and written to a CSV and a
 * PNG. A variant that fails (a grid that does not fit the kernel, a compiler
 * error) is reported on stderr and in the CSV, and the sweep goes on. */
#include <stdlib.h>
#include <string.h>

#include "../frontend/build_graph.h"
#include "cli.h"
#include "plot.h"

typedef conv_variant variant;

int time_conv_variant(const options *o, kpe_mode kpe, int channels, int height, int width,
                      conv_variant *v, char *built_by, size_t cap, pelk_diag *d)
{
    ir_graph *g = load_conv_graph(o, v->grid, v->kernel, kpe, channels, height, width, 1, &v->kr,
                                  &v->kc, d);
    if (!g)
        return -1;
    v->params = (int64_t)channels * v->kr * v->kc;
    v->macs = 0;
    v->macs_dense = (int64_t)height * width * channels * v->kernel * v->kernel;
    for (int i = 0; i < g->n_ops; i++)
        v->macs += ir_op_macs(g, &g->ops[i]);
    model_api api = {0};
    int rc = build_model_api(o, o->be, g, &api, built_by, cap, d);
    ir_free(g);
    pelkc_model *m = NULL;
    if (!rc && (api_create(&api, &m) != PELKC_OK || api.set_threads(m, o->threads) != PELKC_OK))
        rc = diag_set(d, "cannot create the conv model");
    int iters = o->iters ? o->iters : 10;
    int64_t n = (int64_t)o->batch * channels * height * width;
    float *x = xcalloc((size_t)n, sizeof *x), *y = xcalloc((size_t)n, sizeof *y);
    fill_random(x, n, o->seed);
    run_times t;
    if (!rc)
        rc = time_model_runs(&api, m, x, o->batch, y, "run", 2, iters, &t, d);
    if (!rc)
        v->median_ms = t.median * 1e3;
    if (m)
        api.free(m);
    close_model_api(&api);
    free(x);
    free(y);
    return rc;
}

/* RFC 4180: a field with commas or quotes goes in quotes, quotes doubled. */
static void csv_field(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static int write_csv(const char *path, const variant *v, int n, const char *compiler,
                     pelk_diag *d)
{
    char tmp[4096];
    FILE *f = open_partial(path, tmp, sizeof tmp, d);
    if (!f)
        return -1;
    fprintf(f, "variant,grid,kernel,kprime_rows,kprime_cols,params,macs,macs_dense,median_ms,"
               "compiler,status\n");
    for (int i = 0; i < n; i++) {
        fprintf(f, "%d,", i + 1);
        csv_field(f, v[i].grid);
        if (v[i].error[0]) {
            fprintf(f, ",%d,,,,,,,%s,", v[i].kernel, compiler);
            csv_field(f, v[i].error);
        } else {
            fprintf(f, ",%d,%d,%d,%lld,%lld,%lld,%.4f,%s,ok", v[i].kernel, v[i].kr, v[i].kc,
                    (long long)v[i].params, (long long)v[i].macs, (long long)v[i].macs_dense,
                    v[i].median_ms, compiler);
        }
        fputc('\n', f);
    }
    return commit_partial(f, tmp, path, d);
}

/* Time against multiply-adds and against parameters, one series per kernel size, each point
 * tagged with its variant number (the CSV's first column). */
static int write_png(const char *path, const variant *v, int n, const options *o,
                     const char *compiler, pelk_diag *d)
{
    int nk = o->n_kernels ? o->n_kernels : 1;
    plot_series ms_macs[MAX_LIST], ms_params[MAX_LIST];
    double *xs = xcalloc((size_t)n * 3, sizeof *xs);
    char (*tags)[16] = xcalloc((size_t)n, sizeof *tags);
    const char **tagp = xcalloc((size_t)n, sizeof *tagp);
    char (*labels)[32] = xcalloc((size_t)nk, sizeof *labels);
    int ns = 0;
    for (int k = 0, at = 0; k < nk; k++) { /* variants are ordered kernel by kernel */
        int start = at;
        for (int i = k * o->n_grids; i < (k + 1) * o->n_grids; i++)
            if (!v[i].error[0]) {
                xs[at] = v[i].macs / 1e6;
                xs[n + at] = (double)v[i].params;
                xs[2 * n + at] = v[i].median_ms;
                snprintf(tags[at], sizeof tags[at], "#%d", i + 1);
                tagp[at] = tags[at];
                at++;
            }
        if (at == start)
            continue;
        snprintf(labels[ns], sizeof labels[ns], "kernel %d", v[k * o->n_grids].kernel);
        ms_macs[ns] = (plot_series){labels[ns], at - start, xs + start, xs + 2 * n + start,
                                    tagp + start, 0};
        ms_params[ns] = (plot_series){labels[ns], at - start, xs + n + start,
                                      xs + 2 * n + start, tagp + start, 0};
        ns++;
    }
    char t1[160];
    snprintf(t1, sizeof t1, "median time per run (%s; #: CSV variant)", compiler);
    plot_panel panels[2] = {
        {t1, "multiply-adds executed (M)", "median ms", 0, ms_macs, ns},
        {"median time against parameters", "conv parameters (shared weights)", "median ms", 0,
         ms_params, ns},
    };
    int rc = plot_png(panels, 2, 560, 420, path, d);
    free(xs);
    free(tags);
    free(tagp);
    free(labels);
    return rc;
}

int cmd_sweep(const options *o)
{
    pelk_diag d;
    model_spec s;
    if (!o->path)
        return die("sweep needs a SPEC file");
    if (!o->n_grids)
        return die("sweep needs at least one --grid G");
    if (spec_load(&s, o->path, &d))
        return die(d.msg);
    int rc = 0;
    if (o->stage < 0 || o->stage >= s.n_stages)
        rc = diag_set(&d, "sweep needs --stage I with I in 0..%d (%s has %d stage%s)",
                      s.n_stages - 1, o->path, s.n_stages, s.n_stages > 1 ? "s" : "");
    else if (!s.stages[o->stage].conv_channels)
        rc = diag_set(&d, "stage %d has no conv (partial %s of dim %d is 0 channels)", o->stage,
                      s.partial_text, s.stages[o->stage].dim);
    for (int k = 0; !rc && k < o->n_kernels; k++)
        if (o->kernels[k] % 2 == 0)
            rc = diag_set(&d, "--kernel must be odd, got %d", o->kernels[k]);
    if (rc) {
        spec_free(&s);
        return die(d.msg);
    }
    const stage_spec *st = &s.stages[o->stage];
    int nk = o->n_kernels ? o->n_kernels : 1, n = nk * o->n_grids, n_ok = 0;
    variant *v = xcalloc((size_t)n, sizeof *v);
    char built_by[512] = "";
    const char *compiler = o->be == &backend_tcc ? "tcc" : o->cc ? o->cc : "cc";
    printf("%s stage %d: %d conv channels on %dx%d, kpe %s; batch %d, threads %d, %d runs each\n",
           s.name, o->stage, st->conv_channels, st->map_h, st->map_w, kpe_mode_name(s.kpe),
           o->batch, o->threads, o->iters ? o->iters : 10);
    printf("%-3s %-7s %-9s %10s %12s %12s %10s  %s\n", "#", "kernel", "k'", "params", "macs",
           "macs_dense", "median_ms", "grid");
    for (int k = 0; k < nk; k++)
        for (int i = 0; i < o->n_grids; i++) {
            variant *x = &v[k * o->n_grids + i];
            x->grid = o->grids[i];
            x->kernel = o->n_kernels ? o->kernels[k] : st->kernel;
            if (time_conv_variant(o, s.kpe, st->conv_channels, st->map_h, st->map_w, x, built_by,
                                  sizeof built_by, &d)) {
                snprintf(x->error, sizeof x->error, "%s", d.msg);
                fprintf(stderr, "pelkc: sweep: variant %d (kernel %d, grid %s) failed: %s\n",
                        k * o->n_grids + i + 1, x->kernel, x->grid, d.msg);
                printf("%-3d %-7d failed (see stderr)  %s\n", k * o->n_grids + i + 1, x->kernel,
                       x->grid);
                continue;
            }
            char kp[32];
            snprintf(kp, sizeof kp, "%dx%d", x->kr, x->kc);
            printf("%-3d %-7d %-9s %10lld %12lld %12lld %10.4f  %s\n", k * o->n_grids + i + 1,
                   x->kernel, kp, (long long)x->params, (long long)x->macs,
                   (long long)x->macs_dense, x->median_ms, x->grid);
            fflush(stdout);
            n_ok++;
        }
    if (n_ok)
        printf("timed code built by %s\n", built_by);
    if (!n_ok)
        rc = diag_set(&d, "sweep: every variant failed; nothing written");
    if (!rc && o->csv && !(rc = write_csv(o->csv, v, n, compiler, &d)))
        printf("wrote %s\n", o->csv);
    if (!rc && o->png && !(rc = write_png(o->png, v, n, o, compiler, &d)))
        printf("wrote %s\n", o->png);
    if (!rc && n_ok < n)
        printf("%d of %d variants failed (reported above and in the CSV)\n", n - n_ok, n);
    free(v);
    spec_free(&s);
    return rc ? die(d.msg) : 0;
}
