/* Fuse the elementwise ops that follow a pointwise layer into it, so their
 * pass over memory disappears: the GELU after fc1 (computed as each output is
 * stored) and the residual add after fc2. */
#include "passes.h"

int pass_fuse_epilogue(ir_graph *g, const pass_options *o, pelk_diag *d)
{
    (void)o;
    (void)d;
    for (int i = 0; i < g->n_ops; i++) {
        ir_op *op = &g->ops[i];
        if (op->kind != OP_GELU && !(op->kind == OP_ADD && op->g == 0))
            continue;
        for (int k = 0; k < op->n_in; k++) {
            int p = ir_defining_op(g, op->in[k]);
            if (p < 0 || g->ops[p].kind != OP_POINTWISE || ir_count_uses(g, op->in[k]) != 1)
                continue;
            ir_op *lin = &g->ops[p];
            if (op->kind == OP_GELU && lin->n_in == 1 && !lin->act) {
                lin->act = 1;
            } else if (op->kind == OP_ADD && lin->n_in == 1) {
                lin->in[1] = op->in[1 - k]; /* the other addend: the residual */
                lin->n_in = 2;
                /* the residual must be computed before the pointwise runs */
                if (ir_defining_op(g, lin->in[1]) > p) {
                    lin->n_in = 1;
                    continue;
                }
            } else {
                continue;
            }
            lin->out = op->out;
            ir_remove_op(g, i);
            i--;
            break;
        }
    }
    return 0;
}
