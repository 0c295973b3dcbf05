/* The weights blob linked into every compiled model: the constants, each at a
 * 64-byte aligned offset, in graph order. Binary, never C text. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

void layout_weights(const ir_graph *g, weight_layout *w)
{
    w->offset = xcalloc((size_t)g->n_consts + 1, sizeof *w->offset);
    int64_t at = 0;
    for (int i = 0; i < g->n_consts; i++) {
        w->offset[i] = at;
        at += (ir_const_numel(&g->consts[i]) * (int64_t)sizeof(float) + 63) / 64 * 64;
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
        size_t n = (size_t)ir_const_numel(c);
        if (fwrite(zeros, 1, (size_t)(w->offset[i] - at), f) != (size_t)(w->offset[i] - at) ||
            fwrite(c->data, sizeof(float), n, f) != n)
            rc = diag_set(d, "%s: write failed: %s", path, strerror(errno));
        at = w->offset[i] + (int64_t)(n * sizeof(float));
    }
    if (fclose(f) && !rc)
        rc = diag_set(d, "%s: write failed: %s", path, strerror(errno));
    return rc;
}

void weight_layout_free(weight_layout *w)
{
    free(w->offset);
    w->offset = NULL;
}
