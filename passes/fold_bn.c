/* Fold an inference BatchNorm into the depthwise conv before it (NOTES.md
 * section 3): W' = W s, b' = (b - mean) s + beta with s = gamma / sqrt(var + eps).
 * A positional embedding before the BN is linear in W, so scaling W scales
 * it too; this pass therefore runs before fold-kpe. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "passes.h"

static void fold_one(ir_graph *g, ir_op *conv, const ir_op *bn)
{
    int gch = bn->g;
    char name[256];
    /* copies: adding constants may move g->consts */
    ir_const w = g->consts[conv->cst[0]];
    ir_const gamma = g->consts[bn->cst[0]], beta = g->consts[bn->cst[1]],
             mean = g->consts[bn->cst[2]], var = g->consts[bn->cst[3]];
    int have = w.data && gamma.data && beta.data && mean.data && var.data;
    int has_bias = conv->n_cst >= 2;
    ir_const bias = has_bias ? g->consts[conv->cst[1]] : w;

    snprintf(name, sizeof name, "%s_bn", w.name);
    int nw = ir_clone_const(g, conv->cst[0], name);
    snprintf(name, sizeof name, "%s_folded_bias", gamma.name);
    int shape[1] = {gch};
    int nb = ir_add_const(g, name, 1, shape);
    if (have && (!has_bias || bias.data)) {
        float *wd = g->consts[nw].data, *bd = xcalloc((size_t)gch, sizeof(float));
        int64_t per = ir_const_numel(&w) / gch;
        for (int c = 0; c < gch; c++) {
            double s = gamma.data[c] / sqrt((double)var.data[c] + bn->eps);
            for (int64_t k = 0; k < per; k++)
                wd[c * per + k] = (float)(wd[c * per + k] * s);
            double b = has_bias ? bias.data[c] : 0.0;
            bd[c] = (float)((b - mean.data[c]) * s + beta.data[c]);
        }
        g->consts[nb].data = bd;
    }
    conv->cst[0] = nw;
    if (!has_bias) {
        conv->cst[1] = nb;
        conv->n_cst = 2;
    } else {
        conv->cst[1] = nb;
    }
    conv->out = bn->out;
}

int pass_fold_bn(ir_graph *g, const pass_options *o, pelk_diag *d)
{
    (void)o;
    (void)d;
    for (int i = 0; i < g->n_ops; i++) {
        ir_op *bn = &g->ops[i];
        if (bn->kind != OP_BATCHNORM)
            continue;
        int p = ir_defining_op(g, bn->in[0]);
        if (p < 0 || ir_count_uses(g, bn->in[0]) != 1)
            continue;
        ir_op *conv = &g->ops[p];
        if ((conv->kind != OP_PERIPH_CONV && conv->kind != OP_DWCONV) || conv->g != bn->g ||
            conv->kpe == IR_KPE_MAP)
            continue; /* nothing to fold into: the BN op stays and runs as it is */
        fold_one(g, conv, bn);
        ir_remove_op(g, i);
        i--;
    }
    return 0;
}
