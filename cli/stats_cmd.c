/* pelkc stats: what a spec costs, layer by layer. The graph is built without
 * weights and lowered by the same passes as `compile`, so the table shows the
 * ops that run: their stored parameters, the multiply-adds they execute and
 * the ones a dense kernel would need, and the bytes of their outputs. The
 * spec's own parameters (before the folds) and each peripheral conv's saving
 * against a dense kernel come from the graph as built. */
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
    if (o->weights || o->random_weights)
        return die("stats reads only the spec; drop --weights / --random-weights");
    if (spec_load(&s, o->path, &d))
        return die(d.msg);
    ir_graph *built = build_graph(&s, NULL, &d), *g = NULL;
    int rc = built ? ir_verify(built, &d) : -1;
    if (!rc) {
        g = build_graph(&s, NULL, &d);
        pass_options po = make_pass_options(o);
        rc = run_passes(g, &po, NULL, &d);
    }
    if (!rc) {
        int64_t spec_params = 0;
        for (int i = 0; i < built->n_consts; i++)
            spec_params += ir_const_numel(&built->consts[i]);
        printf("%s: input %dx%dx%d; spec parameters %lld (%.2f M)\n", s.name, s.channels,
               s.height, s.width, (long long)spec_params, spec_params / 1e6);
        printf("ops as compiled (params: constants stored after the folds; macs: multiply-adds "
               "executed; macs_dense: with dense kernels):\n");
        print_table(g, o->periph_dense ? "dense" : "lowered");
        print_savings(built);
    }
    ir_free(built);
    ir_free(g);
    spec_free(&s);
    return rc ? die(d.msg) : 0;
}
