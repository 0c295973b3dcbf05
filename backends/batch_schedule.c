/* How a chunk of images goes through the ops: image by image, then layer by
 * layer. Shared by the C and LLVM backends, so they schedule alike. */
#include "backend.h"

/* A matrix product gains from a batch only when its pixels are few (P <
 * 256: the vector tails of P = 49 and 196, weight panels streamed once for
 * all the images). Before the first such op every image runs alone through
 * the ops, so its activations stay in the last-level cache instead of the
 * whole batch's streaming from memory; from it on, layer by layer. Results
 * are the same bits either way. */
int first_batched_op(const ir_graph *g)
{
    for (int i = 0; i < g->n_ops; i++) {
        const ir_op *op = &g->ops[i];
        const ir_value *out = &g->values[op->out];
        if ((op->kind == OP_POINTWISE || op_is_patchify(g, op)) && out->h * out->w < 256)
            return i;
    }
    return g->n_ops;
}
