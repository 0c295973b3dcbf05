/* The preparation every backend shares (lowered_model.h): done once per
 * build, so the backends and the blob they link agree by construction. */
#include <stdlib.h>
#include <string.h>

#include "lowered_model.h"

/* A matrix product gains from a batch only when its pixels are few (P <
 * 256: the vector tails of P = 49 and 196, weight panels streamed once for
 * all the images). Before the first such op every image runs alone through
 * the ops, so its activations stay in the last-level cache instead of the
 * whole batch's streaming from memory; from it on, layer by layer. Results
 * are the same bits either way. */
static int first_batched_op(const ir_graph *g)
{
    for (int i = 0; i < g->n_ops; i++) {
        const ir_op *op = &g->ops[i];
        const ir_value *out = &g->values[op->out];
        if ((op->kind == OP_POINTWISE || op_is_patchify(g, op)) && out->h * out->w < 256)
            return i;
    }
    return g->n_ops;
}

static int same_grid(const sharing_grid *a, const sharing_grid *b)
{
    return a->n == b->n && !memcmp(a->size, b->size, (size_t)a->n * sizeof *a->size);
}

/* The first box_gather op with the same kernel configuration as op i (grid,
 * kernel, channels, map, kpe form). */
static int box_config_of(const ir_graph *g, int i)
{
    const ir_op *a = &g->ops[i];
    const ir_value *va = &g->values[a->in[0]];
    for (int j = 0; j < i; j++) {
        const ir_op *b = &g->ops[j];
        const ir_value *vb = &g->values[b->in[0]];
        if (b->kind == OP_BOX_GATHER && b->g == a->g && b->kernel == a->kernel &&
            b->kpe == a->kpe && vb->c == va->c && vb->h == va->h && vb->w == va->w &&
            same_grid(&a->rows, &b->rows) && same_grid(&a->cols, &b->cols))
            return j;
    }
    return i;
}

void lowered_model_prepare(const ir_graph *g, const build_options *o, lowered_for use,
                           lowered_model *m)
{
    memset(m, 0, sizeof *m);
    m->g = g;
    m->vec = use == LOWERED_FOR_GPU ? 1 : o && o->vec ? o->vec : 8;
    plan_memory(g, &m->mem);
    layout_weights(g, use == LOWERED_FOR_CPU, &m->weights);
    m->split = first_batched_op(g);
    m->box_config = xcalloc((size_t)g->n_ops + 1, sizeof *m->box_config);
    m->box = xcalloc((size_t)g->n_ops + 1, sizeof *m->box);
    for (int i = 0; i < g->n_ops; i++) {
        const ir_op *op = &g->ops[i];
        m->box_config[i] = -1;
        if (op->kind != OP_BOX_GATHER)
            continue;
        const ir_value *in = &g->values[op->in[0]];
        m->box_config[i] = box_config_of(g, i);
        box_plan_make(&m->box[i], &op->rows, &op->cols, in->h, in->w, m->vec);
        int64_t s = pk_scratch_pitch(m->box[i].scratch_floats);
        m->box_scratch = s > m->box_scratch ? s : m->box_scratch;
    }
}

void lowered_model_free(lowered_model *m)
{
    memory_plan_free(&m->mem);
    weight_layout_free(&m->weights);
    if (m->box)
        for (int i = 0; i < m->g->n_ops; i++)
            box_plan_free(&m->box[i]);
    free(m->box);
    free(m->box_config);
    memset(m, 0, sizeof *m);
}
