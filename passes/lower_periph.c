/* Lower each peripheral conv for execution. By default into box_gather, which
 * costs about k'_rows x k'_cols multiply-adds per output (ir/box_plan.h);
 * with --periph dense into dwconv over the expanded k x k kernel (the baseline
 * every PeLK implementation runs, O(k^2) per output, kept for checking). */
#include <stdio.h>
#include <string.h>

#include "../ir/box_plan.h"
#include "passes.h"

static void expand(const ir_op *op, const float *theta, float *w)
{
    int k = op->kernel, kc = op->cols.n;
    for (int c = 0; c < op->g; c++) {
        const float *t = theta + (size_t)c * op->rows.n * kc;
        float *wc = w + (size_t)c * k * k;
        for (int a = 0, i = 0; a < op->rows.n; a++)
            for (int ii = 0; ii < op->rows.size[a]; ii++, i++)
                for (int b = 0, j = 0; b < kc; b++)
                    for (int jj = 0; jj < op->cols.size[b]; jj++, j++)
                        wc[i * k + j] = t[a * kc + b];
    }
}

static void to_dense(ir_graph *g, ir_op *op)
{
    ir_const theta = g->consts[op->cst[0]]; /* copy: adding a constant may move it */
    char name[256];
    snprintf(name, sizeof name, "%s_dense", theta.name);
    int shape[4] = {op->g, 1, op->kernel, op->kernel};
    int id = ir_add_const(g, name, 4, shape);
    if (theta.data) {
        g->consts[id].data = xcalloc((size_t)op->g * op->kernel * op->kernel, sizeof(float));
        expand(op, theta.data, g->consts[id].data);
    }
    op->kind = OP_DWCONV;
    op->cst[0] = id;
    grid_free(&op->rows);
    grid_free(&op->cols);
}

/* periph_conv -> row_boxes, region_gather, col_boxes (the explicit form). */
static void to_boxes(ir_graph *g, int i)
{
    ir_op op = g->ops[i]; /* copies: adding ops and values moves the arrays */
    int h = g->values[op.in[0]].h, w = g->values[op.in[0]].w;
    box_plan p;
    box_plan_make(&p, &op.rows, &op.cols, h, w, 1);
    char name[300];
    snprintf(name, sizeof name, "%s.row_boxes", g->values[op.out].name);
    int boxes = ir_add_value(g, name, 4, op.g * p.n_rowbox, p.hp, w);
    snprintf(name, sizeof name, "%s.gathered", g->values[op.out].name);
    int gathered = ir_add_value(g, name, 4, op.g * (p.cols.live1 - p.cols.live0), h, w);
    box_plan_free(&p);

    ir_op rb = op, rg = op, cb = op;
    rb.kind = OP_ROW_BOXES;
    rb.out = boxes;
    rb.n_cst = 0;
    rb.kpe = IR_KPE_NONE;
    rg.kind = OP_REGION_GATHER;
    rg.in[0] = boxes;
    rg.out = gathered;
    rg.n_cst = 1;
    rg.kpe = IR_KPE_NONE;
    cb.kind = OP_COL_BOXES;
    cb.in[0] = gathered;
    cb.in[1] = op.in[0];
    cb.n_in = 2;
    cb.cst[0] = op.cst[1];
    cb.cst[1] = op.cst[2];
    cb.n_cst = op.kpe == IR_KPE_MAP ? 2 : 1;
    /* replace op i by the three, in order; ir_remove_op frees op i's grids, the copies keep theirs */
    ir_insert_op(g, i, &cb);
    ir_insert_op(g, i, &rg);
    ir_insert_op(g, i, &rb);
    ir_remove_op(g, i + 3);
}

int pass_lower_periph(ir_graph *g, const pass_options *o, pelk_diag *d)
{
    for (int i = 0; i < g->n_ops; i++) {
        ir_op *op = &g->ops[i];
        if (op->kind != OP_PERIPH_CONV)
            continue;
        if (op->kpe == IR_KPE_CONSTANT || op->kpe == IR_KPE_BORDER)
            return diag_set(d, "lower-periph: op %d still has an unfolded kpe", i);
        if (o->periph_dense) {
            to_dense(g, op);
        } else {
            to_boxes(g, i);
            i += 2;
        }
    }
    return 0;
}
