/* pelkc stats: what a spec costs, layer by layer. The graph is lowered by the
 * same passes as `compile`, so the table shows the ops that run: their stored
 * parameters, the multiply-adds they execute and the ones a dense kernel would
 * need, and the bytes of their outputs. The spec's own parameters (before the
 * folds) and each peripheral conv's saving against a dense kernel come from
 * the graph as built without weights. With --weights W the table's graph is
 * the one compile builds from W (its training-time parts included), and the
 * non-zero values of W, and of the constants after the folds, are counted: a
 * sparse checkpoint's real parameter count. */
#include <stdlib.h>
#include <string.h>

#include "../frontend/build_graph.h"
#include "cli.h"

/* Multiply-adds of the op if its conv were dense (k x k taps per output). */
static int64_t dense_macs(const ir_graph *g, const ir_op *op)
{
    const ir_value *out = &g->values[op->out];
    if (op->kind == OP_BOX_GATHER || op->kind == OP_REGION_GATHER)
        return (int64_t)out->h * out->w * op->g * op->kernel * op->kernel;
    return ir_op_macs(g, op);
}

static int64_t op_params(const ir_graph *g, const ir_op *op)
{
    int64_t n = 0;
    for (int k = 0; k < op->n_cst; k++)
        n += ir_const_numel(&g->consts[op->cst[k]]);
    return n;
}

static void shape_text(const ir_value *v, char *buf, size_t cap)
{
    if (v->rank == 2)
        snprintf(buf, cap, "%d", v->c);
    else
        snprintf(buf, cap, "%dx%dx%d", v->c, v->h, v->w);
}

/* The parameter saving of every peripheral conv of the graph as built. */
static void print_savings(const ir_graph *g)
{
    int64_t shared = 0, dense = 0;
    int n = 0;
    printf("peripheral convs: parameters shared over the grid vs a dense kernel (weights only)\n");
    for (int i = 0; i < g->n_ops; i++) {
        const ir_op *op = &g->ops[i];
        if (op->kind != OP_PERIPH_CONV)
            continue;
        int64_t s = (int64_t)op->g * op->rows.n * op->cols.n;
        int64_t d = (int64_t)op->g * op->kernel * op->kernel;
        printf("  %-16s kernel %d, grid %dx%d, %d channels: %lld instead of %lld (%.2fx fewer, "
               "%.1f%% saved)\n",
               g->values[op->out].name, op->kernel, op->rows.n, op->cols.n, op->g, (long long)s,
               (long long)d, (double)d / (double)s, 100.0 * (1.0 - (double)s / (double)d));
        shared += s;
        dense += d;
        n++;
    }
    if (n)
        printf("  all %d: %lld instead of %lld (%.2fx fewer, %.1f%% saved)\n", n, (long long)shared,
               (long long)dense, (double)dense / (double)shared,
               100.0 * (1.0 - (double)shared / (double)dense));
    else
        printf("  none (no stage has a conv)\n");
}

/* Non-zero values over the graph's constants into *nonzero; returns all values. */
static int64_t count_nonzero(const ir_graph *g, int64_t *nonzero)
{
    int64_t all = 0, nz = 0;
    for (int i = 0; i < g->n_consts; i++) {
        const ir_const *c = &g->consts[i];
        int64_t n = ir_const_numel(c);
        all += n;
        for (int64_t k = 0; c->data && k < n; k++)
            nz += c->data[k] != 0.0f; /* -0.0 is a zero, NaN is not */
    }
    *nonzero = nz;
    return all;
}

static void print_nonzero(const char *what, int64_t nz, int64_t all)
{
    printf("%s: %lld values, non-zero %lld (%.2f M, %.2f%%; %.2f%% zero)\n", what, (long long)all,
           (long long)nz, nz / 1e6, all ? 100.0 * (double)nz / (double)all : 0.0,
           all ? 100.0 * (double)(all - nz) / (double)all : 0.0);
}

/* The graph compile would build from the spec and o->weights, weights bound, before the passes. */
static ir_graph *weighted_graph(const options *o, const model_spec *s, pelk_diag *d)
{
    st_file f;
    if (st_open(&f, o->weights, d))
        return NULL;
    ir_graph *g = build_graph(s, &f, d);
    if (g && bind_weights_file(g, &f, d)) {
        ir_free(g);
        g = NULL;
    }
    st_close(&f);
    return g;
}

static void print_table(const ir_graph *g, const char *periph)
{
    int64_t params = 0, macs = 0, dense = 0, act = 0;
    printf("%-4s %-18s %-12s %-14s %12s %14s %14s %12s\n", "op", "layer", "kind", "output",
           "params", "macs", "macs_dense", "act_bytes");
    for (int i = 0; i < g->n_ops; i++) {
        const ir_op *op = &g->ops[i];
        const ir_value *out = &g->values[op->out];
        char shape[64];
        shape_text(out, shape, sizeof shape);
        int64_t p = op_params(g, op), m = ir_op_macs(g, op), dm = dense_macs(g, op);
        int64_t bytes = ir_value_numel(out) * (int64_t)sizeof(float);
        printf("%-4d %-18s %-12s %-14s %12lld %14lld %14lld %12lld\n", i, out->name,
               ir_op_name(op->kind), shape, (long long)p, (long long)m, (long long)dm,
               (long long)bytes);
        params += p, macs += m, dense += dm, act += bytes;
    }
    memory_plan plan;
    plan_memory(g, &plan);
    printf("total: params %lld, macs %lld, macs_dense %lld (%.2fx), act_bytes %lld (peripheral "
           "convs %s; per image)\n",
           (long long)params, (long long)macs, (long long)dense, (double)dense / (double)macs,
           (long long)act, periph);
    printf("activation arena after memory planning: %lld bytes per image\n",
           (long long)(plan.arena_floats * (int64_t)sizeof(float)));
    memory_plan_free(&plan);
}

int cmd_stats(const options *o)
{
    pelk_diag d;
    model_spec s;
    if (!o->path)
        return die("stats needs a SPEC file");
    if (o->random_weights)
        return die("stats counts the spec's parameters or those of --weights W; drop "
                   "--random-weights");
    if (spec_load(&s, o->path, &d))
        return die(d.msg);
    ir_graph *built = build_graph(&s, NULL, &d), *g = NULL;
    int rc = built ? ir_verify(built, &d) : -1;
    int64_t file_all = 0, file_nz = 0, folded_all = 0, folded_nz = 0;
    if (!rc) {
        g = o->weights ? weighted_graph(o, &s, &d) : build_graph(&s, NULL, &d);
        rc = g ? 0 : -1;
    }
    if (!rc && o->weights)
        file_all = count_nonzero(g, &file_nz);
    if (!rc) {
        pass_options po = make_pass_options(o);
        rc = run_passes(g, &po, NULL, &d);
    }
    if (!rc && o->weights)
        folded_all = count_nonzero(g, &folded_nz);
    if (!rc) {
        int64_t spec_params = 0;
        for (int i = 0; i < built->n_consts; i++)
            spec_params += ir_const_numel(&built->consts[i]);
        printf("%s: input %dx%dx%d; spec parameters %lld (%.2f M)\n", s.name, s.channels,
               s.height, s.width, (long long)spec_params, spec_params / 1e6);
        if (o->weights) {
            char what[600];
            snprintf(what, sizeof what, "weights %s%s", o->weights,
                     file_all != spec_params ? " (with the training-time parts it carries)" : "");
            print_nonzero(what, file_nz, file_all);
        }
        printf("ops as compiled (params: constants stored after the folds; macs: multiply-adds "
               "executed; macs_dense: with dense kernels):\n");
        print_table(g, o->periph_dense ? "dense" : "lowered");
        if (o->weights)
            print_nonzero("constants stored after the folds", folded_nz, folded_all);
        print_savings(built);
    }
    ir_free(built);
    ir_free(g);
    spec_free(&s);
    return rc ? die(d.msg) : 0;
}
