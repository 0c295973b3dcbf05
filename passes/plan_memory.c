/* Static memory plan for one image: linear scan over the ops in order, each
 * result placed at the lowest free offset that fits, freed after its last use.
 * Results never alias their operands (no op here works in place). The fused
 * norms' statistics follow the values. */
#include <stdlib.h>
#include <string.h>

#include "passes.h"

enum { ALIGN_FLOATS = 16 }; /* 64-byte alignment for every value */

typedef struct block {
    int64_t offset, size;
    int value;
} block;

/* Lowest offset where `size` fits between the live blocks (sorted by offset). */
static int64_t first_fit(const block *live, int n, int64_t size)
{
    int64_t at = 0;
    for (int i = 0; i < n; i++) {
        if (live[i].offset - at >= size)
            return at;
        if (live[i].offset + live[i].size > at)
            at = live[i].offset + live[i].size;
    }
    return at;
}

static void insert_sorted(block *live, int *n, block b)
{
    int i = *n;
    while (i > 0 && live[i - 1].offset > b.offset) {
        live[i] = live[i - 1];
        i--;
    }
    live[i] = b;
    (*n)++;
}

/* Floats of LayerNorm statistics op needs: a mean and a 1/std per input
 * pixel when a norm is fused into it (a pointwise op or a patchify conv). */
static int64_t norm_stats_floats(const ir_graph *g, const ir_op *op)
{
    const ir_value *in = &g->values[op->in[0]];
    return op->eps > 0 && (op->kind == OP_POINTWISE || op->kind == OP_CONV2D)
               ? 2 * (int64_t)in->h * in->w
               : 0;
}

void plan_memory(const ir_graph *g, memory_plan *p)
{
    int nv = g->n_values;
    p->offset = xcalloc((size_t)nv, sizeof *p->offset);
    p->arena_floats = 0;
    int *last_use = xcalloc((size_t)nv, sizeof *last_use);
    for (int v = 0; v < nv; v++) {
        p->offset[v] = -1;
        last_use[v] = -1;
    }
    for (int i = 0; i < g->n_ops; i++)
        for (int k = 0; k < g->ops[i].n_in; k++)
            last_use[g->ops[i].in[k]] = i;

    block *live = xcalloc((size_t)nv + 1, sizeof *live);
    int n_live = 0;
    for (int i = 0; i < g->n_ops; i++) {
        int out = g->ops[i].out;
        if (out != g->output) {
            int64_t size = (ir_value_numel(&g->values[out]) + ALIGN_FLOATS - 1) / ALIGN_FLOATS *
                           ALIGN_FLOATS;
            block b = {first_fit(live, n_live, size), size, out};
            p->offset[out] = b.offset;
            if (b.offset + size > p->arena_floats)
                p->arena_floats = b.offset + size;
            insert_sorted(live, &n_live, b);
        }
        /* free the blocks whose values die here */
        int kept = 0;
        for (int k = 0; k < n_live; k++)
            if (last_use[live[k].value] > i)
                live[kept++] = live[k];
        n_live = kept;
    }
    free(live);
    free(last_use);
    p->stats_offset = p->arena_floats;
    p->stats_floats = 0;
    for (int i = 0; i < g->n_ops; i++)
        if (norm_stats_floats(g, &g->ops[i]) > p->stats_floats)
            p->stats_floats = norm_stats_floats(g, &g->ops[i]);
    p->arena_floats += p->stats_floats;
}

void memory_plan_free(memory_plan *p)
{
    free(p->offset);
    p->offset = NULL;
}
