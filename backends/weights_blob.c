/* The weights blob linked into every compiled model: the constants, each at a
 * 64-byte aligned offset, in graph order. Binary, never C text. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/pelkc_gemm.h"
#include "backend.h"

/* A constant read only as the weight of pointwise ops is stored packed for pk_gemm. */
static weight_format format_of(const ir_graph *g, int c)
{
    int as_gemm = 0, other = 0;
    for (int i = 0; i < g->n_ops; i++)
        for (int k = 0; k < g->ops[i].n_cst; k++)
            if (g->ops[i].cst[k] == c) {
                if (g->ops[i].kind == OP_POINTWISE && k == 0)
                    as_gemm = 1;
                else
                    other = 1;
            }
    return as_gemm && !other ? WEIGHT_GEMM_PACKED : WEIGHT_PLAIN;
}

static int64_t stored_floats(const ir_const *c, weight_format f)
{
    if (f == WEIGHT_GEMM_PACKED)
        return (int64_t)pk_gemm_packed_size(c->shape[0], c->shape[1]);
    return ir_const_numel(c);
}

void layout_weights(const ir_graph *g, weight_layout *w)
{
    w->offset = xcalloc((size_t)g->n_consts + 1, sizeof *w->offset);
    w->format = xcalloc((size_t)g->n_consts + 1, sizeof *w->format);
    int64_t at = 0;
    for (int i = 0; i < g->n_consts; i++) {
        w->offset[i] = at;
        w->format[i] = format_of(g, i);
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
            pk_gemm_pack_weights(c->data, c->shape[0], c->shape[1], packed);
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

int fill_weights(const ir_graph *g, const weight_layout *w, unsigned char *dst, pelk_diag *d)
{
    memset(dst, 0, (size_t)w->total);
    for (int i = 0; i < g->n_consts; i++) {
        const ir_const *c = &g->consts[i];
        if (!c->data)
            return diag_set(d, "constant @%s has no data (no weights were given)", c->name);
        float *at = (float *)(dst + w->offset[i]);
        if (w->format[i] == WEIGHT_GEMM_PACKED)
            pk_gemm_pack_weights(c->data, c->shape[0], c->shape[1], at);
        else
            memcpy(at, c->data, (size_t)ir_const_numel(c) * sizeof(float));
    }
    return 0;
}

void weight_layout_free(weight_layout *w)
{
    free(w->offset);
    free(w->format);
    w->offset = NULL;
    w->format = NULL;
}
