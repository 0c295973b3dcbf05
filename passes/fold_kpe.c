/* Fold the kernel-wise positional embedding (paper Eq. 3, NOTES.md section 3).
 * sum_ij W[i,j] (X + h[i,j]) = conv(X, W) + sum_ij W[i,j] h[i,j] over the taps
 * that count: all taps (constant) -> one extra bias per channel; in-image taps
 * only (border) -> a fixed [g,H,W] map, which this pass precomputes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes.h"

/* P[c] = W[c] * h[c] as a dense k x k product, in double. */
static double *weighted_kpe(const ir_op *op, const float *theta, const float *h, int c)
{
    int k = op->kernel;
    double *p = xcalloc((size_t)k * k, sizeof *p);
    const float *t = theta + (size_t)c * op->rows.n * op->cols.n;
    const float *hc = h + (size_t)c * k * k;
    for (int a = 0, i = 0; a < op->rows.n; a++)
        for (int ii = 0; ii < op->rows.size[a]; ii++, i++)
            for (int b = 0, j = 0; b < op->cols.n; b++)
                for (int jj = 0; jj < op->cols.size[b]; jj++, j++)
                    p[i * k + j] = (double)t[a * op->cols.n + b] * hc[i * k + j];
    return p;
}

static void fold_constant(const ir_op *op, const float *theta, const float *bias, const float *h,
                          float *out)
{
    int k = op->kernel;
    for (int c = 0; c < op->g; c++) {
        double *p = weighted_kpe(op, theta, h, c);
        double s = bias[c];
        for (int i = 0; i < k * k; i++)
            s += p[i];
        out[c] = (float)s;
        free(p);
    }
}

/* map[c][y][x] = the sum of P over taps (i,j) landing inside the H x W map,
 * i.e. rows i in [r-y, r-y+H), cols j in [r-x, r-x+W): a rectangle sum of a
 * summed-area table of P, exact in double. */
static void fold_border(const ir_op *op, const float *theta, const float *h, int H, int W,
                        float *map)
{
    int k = op->kernel, r = k / 2;
    double *sat = xcalloc((size_t)(k + 1) * (k + 1), sizeof *sat);
    for (int c = 0; c < op->g; c++) {
        double *p = weighted_kpe(op, theta, h, c);
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++)
                sat[(i + 1) * (k + 1) + j + 1] = p[i * k + j] + sat[i * (k + 1) + j + 1] +
                                                 sat[(i + 1) * (k + 1) + j] - sat[i * (k + 1) + j];
        for (int y = 0; y < H; y++) {
            int i0 = r - y < 0 ? 0 : r - y, i1 = r - y + H > k ? k : r - y + H;
            for (int x = 0; x < W; x++) {
                int j0 = r - x < 0 ? 0 : r - x, j1 = r - x + W > k ? k : r - x + W;
                double s = sat[i1 * (k + 1) + j1] - sat[i0 * (k + 1) + j1] -
                           sat[i1 * (k + 1) + j0] + sat[i0 * (k + 1) + j0];
                map[((size_t)c * H + y) * W + x] = (float)s;
            }
        }
        free(p);
    }
    free(sat);
}

int pass_fold_kpe(ir_graph *g, const pass_options *o, pelk_diag *d)
{
    (void)o;
    (void)d;
    for (int i = 0; i < g->n_ops; i++) {
        ir_op *op = &g->ops[i];
        if (op->kind != OP_PERIPH_CONV ||
            (op->kpe != IR_KPE_CONSTANT && op->kpe != IR_KPE_BORDER))
            continue;
        const ir_value *x = &g->values[op->in[0]];
        /* copy what we need: adding a constant may move g->consts */
        ir_const theta = g->consts[op->cst[0]], bias = g->consts[op->cst[1]],
                 h = g->consts[op->cst[2]];
        char name[256];
        int have_data = theta.data && bias.data && h.data;
        if (op->kpe == IR_KPE_CONSTANT) {
            snprintf(name, sizeof name, "%s_kpe", bias.name);
            int id = ir_add_const(g, name, 1, bias.shape);
            if (have_data) {
                g->consts[id].data = xcalloc((size_t)op->g, sizeof(float));
                fold_constant(op, theta.data, bias.data, h.data, g->consts[id].data);
            }
            op->cst[1] = id;
            op->n_cst = 2;
            op->kpe = IR_KPE_NONE;
        } else {
            snprintf(name, sizeof name, "%s_kpe_map", theta.name);
            int shape[3] = {op->g, x->h, x->w};
            int id = ir_add_const(g, name, 3, shape);
            if (have_data) {
                g->consts[id].data = xcalloc((size_t)op->g * x->h * x->w, sizeof(float));
                fold_border(op, theta.data, h.data, x->h, x->w, g->consts[id].data);
            }
            op->cst[2] = id;
            op->kpe = IR_KPE_MAP;
        }
    }
    return 0;
}
