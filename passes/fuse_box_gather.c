/* Fuse each lowered conv's three explicit steps (row_boxes -> region_gather
 * -> col_boxes) into one box_gather op, which the backends run channel by
 * channel with every intermediate in a small per-thread scratch, instead of
 * writing whole-map box images and gathered rows to memory. */
#include "passes.h"

int pass_fuse_box_gather(ir_graph *g, const pass_options *o, pelk_diag *d)
{
    (void)o;
    (void)d;
    for (int i = 0; i < g->n_ops; i++) {
        ir_op *cb = &g->ops[i];
        if (cb->kind != OP_COL_BOXES)
            continue;
        int gi = ir_defining_op(g, cb->in[0]);
        if (gi < 0 || g->ops[gi].kind != OP_REGION_GATHER || ir_count_uses(g, cb->in[0]) != 1)
            continue;
        int ri = ir_defining_op(g, g->ops[gi].in[0]);
        if (ri < 0 || g->ops[ri].kind != OP_ROW_BOXES || ir_count_uses(g, g->ops[gi].in[0]) != 1 ||
            g->ops[ri].in[0] != cb->in[1])
            continue;
        /* box_gather(x; theta, bias [, map]) takes col_boxes' place */
        int x = cb->in[1], theta = g->ops[gi].cst[0];
        cb->kind = OP_BOX_GATHER;
        cb->in[0] = x;
        cb->n_in = 1;
        cb->cst[2] = cb->cst[1];
        cb->cst[1] = cb->cst[0];
        cb->cst[0] = theta;
        cb->n_cst += 1;
        int hi = gi > ri ? gi : ri, lo = gi > ri ? ri : gi;
        ir_remove_op(g, hi);
        ir_remove_op(g, lo);
        i -= 2;
    }
    return 0;
}
