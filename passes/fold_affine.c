/* Fold per-channel affine maps into the linear op next to them, at compile
 * time, so they cost nothing at run time:
 *  - layer scale: gamma * (W x + b) = (gamma W) x + gamma b, for a mul_channel
 *    after a pointwise;
 *  - a LayerNorm's own affine part: W (w * n + b) + c = (W diag w) n + (W b + c),
 *    for a LayerNorm feeding a pointwise or a conv2d without padding (every tap
 *    sees the normalised input, so the same algebra holds per tap). The
 *    LayerNorm stays, normalising only. */
#include <stdio.h>

#include "passes.h"

static int fold_layer_scale(ir_graph *g, int i)
{
    ir_op *mul = &g->ops[i];
    int p = ir_defining_op(g, mul->in[0]);
    if (p < 0 || g->ops[p].kind != OP_POINTWISE || g->ops[p].n_in != 1 || g->ops[p].act ||
        ir_count_uses(g, mul->in[0]) != 1)
        return 0;
    ir_op *lin = &g->ops[p];
    char name[256];
    ir_const gamma = g->consts[mul->cst[0]];
    snprintf(name, sizeof name, "%s_scaled", g->consts[lin->cst[0]].name);
    int w = ir_clone_const(g, lin->cst[0], name);
    snprintf(name, sizeof name, "%s_scaled", g->consts[lin->cst[1]].name);
    int b = ir_clone_const(g, lin->cst[1], name);
    ir_const *W = &g->consts[w], *B = &g->consts[b];
    if (W->data && B->data && gamma.data) {
        int o_n = W->shape[0], i_n = W->shape[1];
        for (int o = 0; o < o_n; o++) {
            for (int k = 0; k < i_n; k++)
                W->data[(size_t)o * i_n + k] *= gamma.data[o];
            B->data[o] *= gamma.data[o];
        }
    }
    lin->cst[0] = w;
    lin->cst[1] = b;
    lin->out = mul->out;
    ir_remove_op(g, i);
    return 1;
}

static int fold_norm_affine(ir_graph *g, int i)
{
    ir_op *lin = &g->ops[i];
    if (lin->kind != OP_POINTWISE && lin->kind != OP_CONV2D)
        return 0;
    int p = ir_defining_op(g, lin->in[0]);
    if (p < 0 || g->ops[p].kind != OP_LAYERNORM || g->ops[p].n_cst != 2 ||
        ir_count_uses(g, lin->in[0]) != 1)
        return 0;
    ir_op *ln = &g->ops[p];
    ir_const nw = g->consts[ln->cst[0]], nb = g->consts[ln->cst[1]];
    char name[256];
    snprintf(name, sizeof name, "%s_normed", g->consts[lin->cst[0]].name);
    int w = ir_clone_const(g, lin->cst[0], name);
    snprintf(name, sizeof name, "%s_normed", g->consts[lin->cst[1]].name);
    int b = ir_clone_const(g, lin->cst[1], name);
    ir_const *W = &g->consts[w], *B = &g->consts[b];
    if (W->data && B->data && nw.data && nb.data) {
        /* weight layout [O][I][taps]: taps = k*k for conv2d, 1 for pointwise */
        int o_n = W->shape[0], i_n = W->shape[1];
        int taps = W->rank == 4 ? W->shape[2] * W->shape[3] : 1;
        for (int o = 0; o < o_n; o++) {
            double add = 0;
            for (int k = 0; k < i_n; k++)
                for (int t = 0; t < taps; t++) {
                    float *wv = &W->data[((size_t)o * i_n + k) * taps + t];
                    add += (double)*wv * nb.data[k];
                    *wv *= nw.data[k];
                }
            B->data[o] = (float)(B->data[o] + add);
        }
    }
    lin->cst[0] = w;
    lin->cst[1] = b;
    ln->n_cst = 0;
    return 1;
}

int pass_fold_affine(ir_graph *g, const pass_options *o, pelk_diag *d)
{
    (void)o;
    (void)d;
    for (int i = 0; i < g->n_ops; i++) {
        if (g->ops[i].kind == OP_MUL_CHANNEL && fold_layer_scale(g, i)) {
            i--;
            continue;
        }
        fold_norm_affine(g, i);
    }
    return 0;
}
