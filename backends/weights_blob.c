/* The weights blob linked into every compiled model: the constants, each at a
 * 64-byte aligned offset, in graph order. Binary, never C text. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/pelkc_gemm_pack.h" /* the packed weights layout */
#include "backend.h"

int op_is_patchify(const ir_graph *g, const ir_op *op)
{
    if (op->kind != OP_CONV2D)
        return 0;
    const ir_const *w = &g->consts[op->cst[0]];
    return w->shape[2] == w->shape[3] && op->stride == w->shape[2];
}

/* A constant read only as the weight of matrix products (pointwise ops and
 * patchify convs, whose [O,I,k,k] weight is the matrix [O, I*k*k]) is stored
 * packed for pk_gemm. */
static weight_format format_of(const ir_graph *g, int c)
{
    int as_gemm = 0, other = 0;
    for (int i = 0; i < g->n_ops; i++)
        for (int k = 0; k < g->ops[i].n_cst; k++)
            if (g->ops[i].cst[k] == c) {
                if ((g->ops[i].kind == OP_POINTWISE || op_is_patchify(g, &g->ops[i])) && k == 0)
                    as_gemm = 1;
                else
                    other = 1;
            }
    return as_gemm && !other ? WEIGHT_GEMM_PACKED : WEIGHT_PLAIN;
}

/* A packed constant is the matrix [O, I]: O = its first dim, I = the rest. */
static int gemm_inputs(const ir_const *c) { return (int)(ir_const_numel(c) / c->shape[0]); }

static int64_t stored_floats(const ir_const *c, weight_format f)
{
    if (f == WEIGHT_GEMM_PACKED)
        return (int64_t)pk_gemm_packed_size(c->shape[0], gemm_inputs(c));
    return ir_const_numel(c);
}

/* The constant as stored: dst holds stored_floats(c, f) floats. */
static void store_const(const ir_const *c, weight_format f, float *dst)
{
    if (f == WEIGHT_GEMM_PACKED)
        pk_gemm_pack_weights(c->data, c->shape[0], gemm_inputs(c), dst);
    else
        memcpy(dst, c->data, (size_t)ir_const_numel(c) * sizeof(float));
}

void layout_weights(const ir_graph *g, int pack, weight_layout *w)
{
    w->offset = xcalloc((size_t)g->n_consts + 1, sizeof *w->offset);
    w->format = xcalloc((size_t)g->n_consts + 1, sizeof *w->format);
    int64_t at = 0;
    for (int i = 0; i < g->n_consts; i++) {
        w->offset[i] = at;
        w->format[i] = pack ? format_of(g, i) : WEIGHT_PLAIN;
        at += (stored_floats(&g->consts[i], w->format[i]) * (int64_t)sizeof(float) + 63) / 64 * 64;
    }
    w->total = at;
}

int write_weights(const ir_graph *g, const weight_layout *w, const char *path, pelk_diag *d)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return diag_set(d, "%s: cannot write: %s", path, strerror(errno));
    static const char zeros[64];
    int rc = 0;
    int64_t at = 0;
    for (int i = 0; i < g->n_consts && !rc; i++) {
        const ir_const *c = &g->consts[i];
        if (!c->data) {
            rc = diag_set(d, "constant @%s has no data (no weights were given)", c->name);
            break;
        }
        size_t n = (size_t)stored_floats(c, w->format[i]);
        const float *data = c->data;
        float *packed = NULL;
        if (w->format[i] == WEIGHT_GEMM_PACKED) {
            packed = xcalloc(n, sizeof(float));
            store_const(c, w->format[i], packed);
            data = packed;
        }
        if (fwrite(zeros, 1, (size_t)(w->offset[i] - at), f) != (size_t)(w->offset[i] - at) ||
            fwrite(data, sizeof(float), n, f) != n)
            rc = diag_set(d, "%s: write failed: %s", path, strerror(errno));
        free(packed);
        at = w->offset[i] + (int64_t)(n * sizeof(float));
    }
    if (fclose(f) && !rc)
        rc = diag_set(d, "%s: write failed: %s", path, strerror(errno));
    return rc;
}

int fill_weights(const ir_graph *g, const weight_layout *w, unsigned char *blob, pelk_diag *d)
{
    int64_t at = 0;
    for (int i = 0; i < g->n_consts; i++) {
        const ir_const *c = &g->consts[i];
        if (!c->data)
            return diag_set(d, "constant @%s has no data (no weights were given)", c->name);
        float *dst = (float *)(blob + w->offset[i]);
        int64_t end = w->offset[i] + stored_floats(c, w->format[i]) * (int64_t)sizeof(float);
        memset(blob + at, 0, (size_t)(w->offset[i] - at)); /* only the alignment gaps: the blob is
                                                              large and touched once */
        at = end;
        store_const(c, w->format[i], dst);
    }
    memset(blob + at, 0, (size_t)(w->total - at));
    return 0;
}

void weight_layout_free(weight_layout *w)
{
    free(w->offset);
    free(w->format);
    w->offset = NULL;
    w->format = NULL;
}
