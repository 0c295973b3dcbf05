/* Fold a parallel small dense kernel (re-parameterisation) into the peripheral
 * conv it is added to: y = P(x) + S(x) on the first g channels becomes one
 * peripheral conv whose central taps carry both. When the s x s window lies
 * in the grid's fine centre (one tap per region) it adds into theta's central
 * entries and the grid is unchanged; otherwise the regions that overlap the
 * window are first split so that each tap in it is a region of its own, which
 * keeps the conv a sharing grid (k' grows by what the split needs). Runs after
 * fold-kpe: the positional embedding belongs to the peripheral kernel alone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes.h"

/* Split g so that taps [lo, hi] are singletons; from[a'] = old region of a'. */
static void refine(const sharing_grid *g, int lo, int hi, sharing_grid *out, int **from)
{
    int k = grid_sum(g);
    out->size = xcalloc((size_t)k, sizeof(int));
    *from = xcalloc((size_t)k, sizeof(int));
    out->n = 0;
    for (int a = 0, p = 0; a < g->n; p += g->size[a], a++) {
        int end = p + g->size[a]; /* region [p, end) */
        int cut0 = lo > p ? (lo < end ? lo : end) : p;
        int cut1 = hi + 1 < end ? (hi + 1 > p ? hi + 1 : p) : end;
        if (cut0 > p) { /* part before the window */
            (*from)[out->n] = a;
            out->size[out->n++] = cut0 - p;
        }
        for (int t = cut0; t < cut1; t++) {
            (*from)[out->n] = a;
            out->size[out->n++] = 1;
        }
        if (end > cut1 && cut1 >= cut0) { /* part after the window */
            (*from)[out->n] = a;
            out->size[out->n++] = end - cut1;
        }
    }
}

/* Index of the region that holds tap t. */
static int region_of(const sharing_grid *g, int t)
{
    for (int a = 0, p = 0; a < g->n; p += g->size[a], a++)
        if (t < p + g->size[a])
            return a;
    return g->n - 1;
}

static void fold_one(ir_graph *g, ir_op *conv, const ir_op *small)
{
    int gch = conv->g, k = conv->kernel, s = small->kernel, r = k / 2;
    sharing_grid rows, cols;
    int *from_r, *from_c;
    refine(&conv->rows, r - s / 2, r + s / 2, &rows, &from_r);
    refine(&conv->cols, r - s / 2, r + s / 2, &cols, &from_c);
    ir_const theta = g->consts[conv->cst[0]], bias = g->consts[conv->cst[1]],
             sw = g->consts[small->cst[0]];
    const float *sb = small->n_cst >= 2 ? g->consts[small->cst[1]].data : NULL;
    int has_sb = small->n_cst >= 2;
    char name[256];
    snprintf(name, sizeof name, "%s_small", theta.name);
    int shape[4] = {gch, 1, rows.n, cols.n};
    int nt = ir_add_const(g, name, 4, shape);
    snprintf(name, sizeof name, "%s_small", bias.name);
    int nb = ir_clone_const(g, conv->cst[1], name);
    if (theta.data && sw.data && (!has_sb || sb)) {
        float *t = xcalloc((size_t)gch * rows.n * cols.n, sizeof(float));
        for (int c = 0; c < gch; c++) {
            for (int a = 0; a < rows.n; a++)
                for (int b = 0; b < cols.n; b++)
                    t[((size_t)c * rows.n + a) * cols.n + b] =
                        theta.data[((size_t)c * conv->rows.n + from_r[a]) * conv->cols.n + from_c[b]];
            for (int i = 0; i < s; i++)
                for (int j = 0; j < s; j++) {
                    int a = region_of(&rows, r - s / 2 + i), b = region_of(&cols, r - s / 2 + j);
                    t[((size_t)c * rows.n + a) * cols.n + b] += sw.data[((size_t)c * s + i) * s + j];
                }
            if (sb)
                g->consts[nb].data[c] += sb[c];
        }
        g->consts[nt].data = t;
    }
    grid_free(&conv->rows);
    grid_free(&conv->cols);
    conv->rows = rows;
    conv->cols = cols;
    conv->cst[0] = nt;
    conv->cst[1] = nb;
    free(from_r);
    free(from_c);
}

int pass_fold_small(ir_graph *g, const pass_options *o, pelk_diag *d)
{
    (void)o;
    (void)d;
    for (int i = 0; i < g->n_ops; i++) {
        ir_op *add = &g->ops[i];
        if (add->kind != OP_ADD || add->g == 0)
            continue;
        int pa = ir_defining_op(g, add->in[0]), pb = ir_defining_op(g, add->in[1]);
        if (pa < 0 || pb < 0)
            continue;
        ir_op *conv = &g->ops[pa], *small = &g->ops[pb];
        if (conv->kind != OP_PERIPH_CONV || small->kind != OP_DWCONV ||
            conv->in[0] != small->in[0] || conv->g != add->g || small->g != add->g ||
            small->kpe != IR_KPE_NONE ||
            (conv->kpe != IR_KPE_NONE && conv->kpe != IR_KPE_MAP) ||
            small->kernel > conv->kernel || ir_count_uses(g, conv->out) != 1 ||
            ir_count_uses(g, small->out) != 1)
            continue; /* not the pattern: the ops stay and run as they are */
        fold_one(g, conv, small);
        conv->out = add->out;
        /* remove the add, then the small conv (higher index first) */
        int hi = i > pb ? i : pb, lo = i > pb ? pb : i;
        ir_remove_op(g, hi);
        ir_remove_op(g, lo);
        i = -1; /* indices moved: rescan */
    }
    return 0;
}
