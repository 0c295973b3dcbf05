/* Fuse each LayerNorm left without an affine part (fold-affine moved it into
 * the next linear op) into that op: the pointwise fc1 after a block's norm and
 * the patchify conv (kernel = stride) after a downsample's norm. The op then
 * normalises its input as it reads it ({norm=eps}), so the normalised tensor
 * is never written: the backend computes each pixel's mean and 1/std in one
 * pass and applies them while packing the matrix product's input. */
#include "passes.h"

/* The op can read a normalised input on the fly. */
static int can_take_norm(const ir_graph *g, const ir_op *op)
{
    if (op->eps > 0)
        return 0;
    if (op->kind == OP_POINTWISE)
        return 1;
    if (op->kind == OP_CONV2D) {
        const ir_const *w = &g->consts[op->cst[0]];
        return op->stride == w->shape[2] && w->shape[2] == w->shape[3];
    }
    return 0;
}

int pass_fuse_norm(ir_graph *g, const pass_options *o, pelk_diag *d)
{
    (void)d;
    if (o && o->keep_norms)
        return 0;
    for (int i = 0; i < g->n_ops; i++) {
        const ir_op *ln = &g->ops[i];
        if (ln->kind != OP_LAYERNORM || ln->n_cst != 0 || ln->out == g->output ||
            ir_count_uses(g, ln->out) != 1)
            continue;
        for (int j = i + 1; j < g->n_ops; j++) {
            ir_op *use = &g->ops[j];
            if (use->in[0] != ln->out || !can_take_norm(g, use))
                continue;
            use->in[0] = ln->in[0];
            use->eps = ln->eps;
            ir_remove_op(g, i);
            i--;
            break;
        }
    }
    return 0;
}
