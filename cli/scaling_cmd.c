/* pelkc scaling: the paper's Fig. 6, model parameters against the kernel
 * size (7 to 151, the same size in every stage) for dense, stripe
 * (K x 5 + 5 x K) and peripheral kernels, plus a panel the paper does not
 * have: the measured time of one stage's conv against the kernel size.
 *
 * Dense and peripheral counts are the parameters of the graph pelkc builds
 * (the grid {center: K} is dense, {center: 5, base: 2} the paper's peripheral
 * rule). Stripe is SLaK's decomposed kernel, two depthwise convs K x 5 and
 * 5 x K with a bias each (without SLaK's extra small kernel): the dense count
 * with each conv's K*K + 1 parameters per channel replaced by 10 K + 2. */
#include <stdlib.h>
#include <string.h>

#include "../frontend/build_graph.h"
#include "cli.h"
#include "plot.h"

/* ConvNeXt-T (Liu et al. 2022): dims 96-192-384-768, depths 3-3-9-3, every channel through the
 * conv, MLP ratio 4, no positional embedding. */
static const char convnext_t[] =
    "name: convnext_t\n"
    "input: {channels: 3, height: 224, width: 224}\n"
    "stem: {kernel: 4, stride: 4}\n"
    "stages:\n"
    "  - {dim: 96, depth: 3, kernel: 7}\n"
    "  - {dim: 192, depth: 3, kernel: 7}\n"
    "  - {dim: 384, depth: 9, kernel: 7}\n"
    "  - {dim: 768, depth: 3, kernel: 7}\n"
    "block: {partial: 1, mlp_ratio: 4, kpe: none}\n"
    "head: {classes: 1000}\n";

enum { K_MIN = 7, K_MAX = 151, N_K = (K_MAX - K_MIN) / 2 + 1, N_FORMS = 3, MAX_STAGES = 8 };
static const char *const form_names[N_FORMS] = {"dense", "stripe", "peripheral"};

typedef struct row {
    int64_t total, stage[MAX_STAGES]; /* model; each stage's conv parameters (weights + bias) */
    double ms;                        /* measured conv time; < 0 if not measured */
} row;

/* Parameters of the model with kernel k in every stage: the graph's constants. */
static int64_t count_params(model_spec *s, int k, int peripheral, int64_t *stage)
{
    pelk_diag d;
    for (int i = 0; i < s->n_stages; i++) {
        stage_spec *st = &s->stages[i];
        st->kernel = k;
        grid_free(&st->rows);
        grid_free(&st->cols);
        grid_from_rule(&st->rows, k, peripheral ? 5 : k, 2, &d);
        grid_copy(&st->cols, &st->rows);
        stage[i] = (int64_t)st->depth * st->conv_channels * ((int64_t)st->rows.n * st->cols.n + 1);
    }
    ir_graph *g = build_graph(s, NULL, &d);
    int64_t n = 0;
    for (int i = 0; i < g->n_consts; i++)
        n += ir_const_numel(&g->consts[i]);
    ir_free(g);
    return n;
}

static int write_csv(const char *path, const model_spec *s, row rows[N_K][N_FORMS], pelk_diag *d)
{
    char tmp[4096];
    FILE *f = open_partial(path, tmp, sizeof tmp, d);
    if (!f)
        return -1;
    fprintf(f, "kernel,form,params");
    for (int i = 0; i < s->n_stages; i++)
        fprintf(f, ",conv_params_stage%d", i);
    fprintf(f, ",conv_ms\n");
    for (int k = 0; k < N_K; k++)
        for (int fm = 0; fm < N_FORMS; fm++) {
            const row *r = &rows[k][fm];
            fprintf(f, "%d,%s,%lld", K_MIN + 2 * k, form_names[fm], (long long)r->total);
            for (int i = 0; i < s->n_stages; i++)
                fprintf(f, ",%lld", (long long)r->stage[i]);
            if (r->ms >= 0)
                fprintf(f, ",%.4f\n", r->ms);
            else
                fprintf(f, ",\n");
        }
    return commit_partial(f, tmp, path, d);
}

static int write_png(const char *path, const model_spec *s, row rows[N_K][N_FORMS],
                     const char *shape, const char *compiler, pelk_diag *d)
{
    static double kx[N_K], py[N_FORMS][N_K], tx[N_FORMS][N_K], ty[N_FORMS][N_K];
    plot_series params[N_FORMS], times[N_FORMS];
    char labels[N_FORMS][64];
    int nt = 0;
    for (int fm = 0; fm < N_FORMS; fm++) {
        int n = 0;
        for (int k = 0; k < N_K; k++) {
            kx[k] = K_MIN + 2 * k;
            py[fm][k] = rows[k][fm].total / 1e6;
            if (rows[k][fm].ms >= 0)
                tx[fm][n] = kx[k], ty[fm][n++] = rows[k][fm].ms;
        }
        params[fm] = (plot_series){form_names[fm], N_K, kx, py[fm], NULL, 1};
        if (n) {
            snprintf(labels[nt], sizeof labels[nt], "%s%s", form_names[fm],
                     fm == 2 ? " (lowered)" : "");
            times[nt] = (plot_series){labels[nt], n, tx[fm], ty[fm], NULL, 1};
            nt++;
        }
    }
    char t1[160], t2[200];
    snprintf(t1, sizeof t1, "%s: parameters vs kernel size (every stage)", s->name);
    snprintf(t2, sizeof t2, "one conv, %s, built by %s", shape, compiler);
    plot_panel panels[2] = {
        {t1, "kernel size K", "parameters (M)", 0, params, N_FORMS},
        {t2, "kernel size K", "median ms per run", 1, times, nt},
    };
    return plot_png(panels, 2, 600, 440, path, d);
}

/* Time the conv of each --kernel size: peripheral (lowered) always, dense up to --dense-max. */
static int measure(const options *o, int channels, int h, int w, row rows[N_K][N_FORMS],
                   char *built_by, size_t cap, pelk_diag *d)
{
    static const int def[] = {7, 15, 31, 51, 71, 101, 151};
    int n = o->n_kernels ? o->n_kernels : (int)(sizeof def / sizeof def[0]);
    printf("conv time, %d channels on %dx%d, batch %d, threads %d:\n", channels, h, w, o->batch,
           o->threads);
    for (int i = 0; i < n; i++) {
        int k = o->n_kernels ? o->kernels[i] : def[i];
        if (k < K_MIN || k > K_MAX || k % 2 == 0)
            return diag_set(d, "--kernel %d: scaling covers odd sizes %d to %d", k, K_MIN, K_MAX);
        for (int dense = 0; dense < 2; dense++) {
            if (dense && k > o->dense_max)
                continue;
            options od = *o;
            od.periph_dense = dense;
            conv_variant v = {.grid = "{center: 5, base: 2}", .kernel = k};
            if (time_conv_variant(&od, KPE_NONE, channels, h, w, &v, built_by, cap, d))
                return -1;
            rows[(k - K_MIN) / 2][dense ? 0 : 2].ms = v.median_ms;
            printf("  kernel %3d %-10s %10.4f ms\n", k, dense ? "dense" : "peripheral",
                   v.median_ms);
            fflush(stdout);
        }
    }
    return 0;
}

int cmd_scaling(const options *o)
{
    pelk_diag d;
    model_spec s;
    int rc;
    if (o->path)
        rc = spec_load(&s, o->path, &d);
    else if (o->model && !strcmp(o->model, "convnext-t"))
        rc = spec_parse(&s, convnext_t, strlen(convnext_t), "convnext-t", &d);
    else
        return die("scaling needs --model convnext-t or a SPEC (whose dims and depths it uses)");
    if (rc)
        return die(d.msg);
    if (s.n_stages > MAX_STAGES) {
        spec_free(&s);
        return die("scaling handles at most 8 stages");
    }
    int stage = o->stage < 0 ? 0 : o->stage;
    if (stage >= s.n_stages) {
        spec_free(&s);
        return die("--stage is past the model's last stage");
    }
    int channels = o->channels ? o->channels : s.stages[stage].dim;
    int h = o->height ? o->height : s.stages[stage].map_h;
    int w = o->height ? o->width : s.stages[stage].map_w;
    static row rows[N_K][N_FORMS];
    for (int k = 0; k < N_K; k++) {
        int kernel = K_MIN + 2 * k;
        row *dn = &rows[k][0], *st = &rows[k][1], *pe = &rows[k][2];
        dn->total = count_params(&s, kernel, 0, dn->stage);
        pe->total = count_params(&s, kernel, 1, pe->stage);
        st->total = dn->total;
        for (int i = 0; i < s.n_stages; i++) {
            const stage_spec *ss = &s.stages[i];
            st->stage[i] = (int64_t)ss->depth * ss->conv_channels * (10 * kernel + 2);
            st->total += st->stage[i] - dn->stage[i];
        }
        dn->ms = st->ms = pe->ms = -1;
    }
    printf("%s: parameters (M) with kernel K in every stage\n", s.name);
    printf("%6s %12s %12s %12s\n", "K", "dense", "stripe", "peripheral");
    for (int k = 0; k < N_K; k++)
        if ((K_MIN + 2 * k) % 10 == 1 || k == 0 || k == N_K - 1)
            printf("%6d %12.2f %12.2f %12.2f\n", K_MIN + 2 * k, rows[k][0].total / 1e6,
                   rows[k][1].total / 1e6, rows[k][2].total / 1e6);
    char built_by[512] = "", shape[128];
    snprintf(shape, sizeof shape, "%d ch %dx%d", channels, h, w);
    rc = measure(o, channels, h, w, rows, built_by, sizeof built_by, &d);
    const char *compiler = o->be == &backend_tcc ? "tcc" : o->cc ? o->cc : "cc";
    if (!rc)
        printf("timed code built by %s\n", built_by);
    if (!rc && o->csv && !(rc = write_csv(o->csv, &s, rows, &d)))
        printf("wrote %s\n", o->csv);
    if (!rc && o->png && !(rc = write_png(o->png, &s, rows, shape, compiler, &d)))
        printf("wrote %s\n", o->png);
    spec_free(&s);
    return rc ? die(d.msg) : 0;
}
