/* Graph construction, queries and the verifier. */
#include "ir.h"

#include "box_plan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const op_names[OP_KIND_COUNT] = {
    [OP_CONV2D] = "conv2d",     [OP_LAYERNORM] = "layernorm",     [OP_PERIPH_CONV] = "periph_conv",
    [OP_ROW_BOXES] = "row_boxes", [OP_REGION_GATHER] = "region_gather",
    [OP_COL_BOXES] = "col_boxes", [OP_BOX_GATHER] = "box_gather", [OP_DWCONV] = "dwconv",     [OP_POINTWISE] = "pointwise",     [OP_GELU] = "gelu",
    [OP_MUL_CHANNEL] = "mul_channel", [OP_ADD] = "add",           [OP_AVGPOOL] = "avgpool",
    [OP_BATCHNORM] = "batchnorm",
};

static const char *const kpe_names[] = {"none", "constant", "border", "map"};

const char *ir_op_name(op_kind k) { return k < OP_KIND_COUNT ? op_names[k] : "?"; }

int ir_op_kind_from_name(const char *s)
{
    for (int k = 0; k < OP_KIND_COUNT; k++)
        if (!strcmp(op_names[k], s))
            return k;
    return -1;
}

const char *ir_kpe_name(ir_kpe k) { return kpe_names[k]; }

int ir_kpe_from_name(const char *s)
{
    for (int k = 0; k < 4; k++)
        if (!strcmp(kpe_names[k], s))
            return k;
    return -1;
}

ir_graph *ir_new(const char *name)
{
    ir_graph *g = xcalloc(1, sizeof *g);
    g->name = xstrdup(name);
    g->input = g->output = -1;
    return g;
}

void ir_free(ir_graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n_consts; i++) {
        free(g->consts[i].name);
        free(g->consts[i].data);
    }
    for (int i = 0; i < g->n_values; i++)
        free(g->values[i].name);
    for (int i = 0; i < g->n_ops; i++) {
        grid_free(&g->ops[i].rows);
        grid_free(&g->ops[i].cols);
    }
    free(g->consts);
    free(g->values);
    free(g->ops);
    free(g->name);
    free(g);
}

/* Grow an array of `size`-byte elements so that one more fits. */
static void *grow(void *p, int n, int *cap, size_t size)
{
    if (n < *cap)
        return p;
    int nc = *cap ? *cap * 2 : 16;
    void *q = realloc(p, (size_t)nc * size);
    if (!q) {
        fprintf(stderr, "pelkc: out of memory\n");
        exit(3);
    }
    *cap = nc;
    return q;
}

int ir_add_const(ir_graph *g, const char *name, int rank, const int *shape)
{
    g->consts = grow(g->consts, g->n_consts, &g->cap_consts, sizeof *g->consts);
    ir_const *c = &g->consts[g->n_consts];
    memset(c, 0, sizeof *c);
    c->name = xstrdup(name);
    c->rank = rank;
    for (int i = 0; i < rank; i++)
        c->shape[i] = shape[i];
    return g->n_consts++;
}

int ir_add_value(ir_graph *g, const char *name, int rank, int c, int h, int w)
{
    g->values = grow(g->values, g->n_values, &g->cap_values, sizeof *g->values);
    ir_value *v = &g->values[g->n_values];
    v->name = xstrdup(name);
    v->rank = rank;
    v->c = c;
    v->h = rank == 4 ? h : 1;
    v->w = rank == 4 ? w : 1;
    return g->n_values++;
}

int ir_add_op(ir_graph *g, const ir_op *op)
{
    g->ops = grow(g->ops, g->n_ops, &g->cap_ops, sizeof *g->ops);
    ir_op *o = &g->ops[g->n_ops];
    *o = *op;
    /* deep copies, whatever n is, so the graph never shares the caller's arrays */
    grid_copy(&o->rows, &op->rows);
    grid_copy(&o->cols, &op->cols);
    return g->n_ops++;
}

int ir_find_const(const ir_graph *g, const char *name)
{
    for (int i = 0; i < g->n_consts; i++)
        if (!strcmp(g->consts[i].name, name))
            return i;
    return -1;
}

int ir_find_value(const ir_graph *g, const char *name)
{
    for (int i = 0; i < g->n_values; i++)
        if (!strcmp(g->values[i].name, name))
            return i;
    return -1;
}

int64_t ir_const_numel(const ir_const *c)
{
    int64_t n = 1;
    for (int i = 0; i < c->rank; i++)
        n *= c->shape[i];
    return n;
}

int64_t ir_value_numel(const ir_value *v) { return (int64_t)v->c * v->h * v->w; }

int64_t ir_op_macs(const ir_graph *g, const ir_op *op)
{
    const ir_value *out = &g->values[op->out];
    const ir_value *in = &g->values[op->in[0]];
    int64_t pixels = (int64_t)out->h * out->w;
    switch (op->kind) {
    case OP_CONV2D: {
        const ir_const *w = &g->consts[op->cst[0]];
        return pixels * w->shape[0] * w->shape[1] * w->shape[2] * w->shape[3];
    }
    case OP_PERIPH_CONV:
    case OP_DWCONV:
        /* as executed densely: every tap of every output of the g channels */
        return pixels * op->g * (int64_t)op->kernel * op->kernel;
    case OP_BOX_GATHER:
    case OP_REGION_GATHER: {
        box_plan p;
        box_plan_make(&p, &op->rows, &op->cols, out->h, out->w, 1);
        int64_t macs = p.gather_macs * op->g;
        box_plan_free(&p);
        return macs;
    }
    case OP_POINTWISE:
        return pixels * (int64_t)in->c * out->c;
    default:
        return 0;
    }
}

/* ---- verifier ---- */

typedef struct vctx {
    const ir_graph *g;
    const ir_op *op;
    int index;
    pelk_diag *d;
} vctx;

static int fail(vctx *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(vctx *v, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *out = v->op->out >= 0 && v->op->out < v->g->n_values
                          ? v->g->values[v->op->out].name
                          : "?";
    return diag_set(v->d, "op %d (%s -> %%%s): %s", v->index, ir_op_name(v->op->kind), out,
                    msg);
}

/* The constant operand i must have exactly this shape. */
static int want_const(vctx *v, int i, int rank, int s0, int s1, int s2, int s3)
{
    const ir_const *c = &v->g->consts[v->op->cst[i]];
    int want[4] = {s0, s1, s2, s3};
    int ok = c->rank == rank;
    for (int k = 0; ok && k < rank; k++)
        ok = c->shape[k] == want[k];
    if (ok)
        return 0;
    char got[64] = "", exp[64] = "";
    for (int k = 0; k < c->rank; k++)
        snprintf(got + strlen(got), sizeof got - strlen(got), k ? ", %d" : "%d", c->shape[k]);
    for (int k = 0; k < rank; k++)
        snprintf(exp + strlen(exp), sizeof exp - strlen(exp), k ? ", %d" : "%d", want[k]);
    return fail(v, "@%s has shape [%s], expected [%s]", c->name, got, exp);
}

static int want_counts(vctx *v, int n_in, int cst_lo, int cst_hi)
{
    if (v->op->n_in != n_in)
        return fail(v, "takes %d value operand(s), got %d", n_in, v->op->n_in);
    if (v->op->n_cst < cst_lo || v->op->n_cst > cst_hi)
        return fail(v, "takes %d to %d constant operand(s), got %d", cst_lo, cst_hi,
                    v->op->n_cst);
    return 0;
}

static int want_same_shape(vctx *v, const ir_value *a, const ir_value *b)
{
    if (a->rank != b->rank || a->c != b->c || a->h != b->h || a->w != b->w)
        return fail(v, "%%%s and %%%s differ in shape", a->name, b->name);
    return 0;
}

/* Depthwise convs (periph_conv, dwconv): shared checks. */
static int verify_depthwise(vctx *v, const ir_value *in, const ir_value *out)
{
    const ir_op *op = v->op;
    if (in->rank != 4 || want_same_shape(v, in, out))
        return in->rank != 4 ? fail(v, "needs a [N,C,H,W] input") : -1;
    if (op->g < 1 || op->g > in->c)
        return fail(v, "g = %d must be in [1, %d]", op->g, in->c);
    if (op->kernel < 1 || op->kernel % 2 == 0)
        return fail(v, "kernel %d must be odd and positive", op->kernel);
    if (want_const(v, 1, 1, op->g, 0, 0, 0))
        return -1;
    int want_extra = op->kpe != IR_KPE_NONE;
    if (op->n_cst != 2 + want_extra)
        return fail(v, "kpe=%s needs %d constants, got %d", ir_kpe_name(op->kpe), 2 + want_extra,
                    op->n_cst);
    if (op->kpe == IR_KPE_MAP)
        return want_const(v, 2, 3, op->g, in->h, in->w, 0);
    if (op->kpe != IR_KPE_NONE)
        return want_const(v, 2, 3, op->g, op->kernel, op->kernel, 0);
    return 0;
}

/* The three explicit steps of a lowered conv: shapes follow from the plan. */
static int verify_lowered_step(vctx *v)
{
    const ir_graph *g = v->g;
    const ir_op *op = v->op;
    const ir_value *in = &g->values[op->in[0]], *out = &g->values[op->out];
    if (op->rows.n < 1 || op->cols.n < 1 || grid_sum(&op->rows) != op->kernel ||
        grid_sum(&op->cols) != op->kernel || op->g < 1)
        return fail(v, "rows and cols grids must each sum to the kernel %d", op->kernel);
    /* the map is the conv's: the input's for row_boxes, the output's otherwise */
    const ir_value *map = op->kind == OP_ROW_BOXES ? in : out;
    box_plan p;
    box_plan_make(&p, &op->rows, &op->cols, map->h, map->w, 1);
    int n_rowbox = p.n_rowbox, hp = p.hp, live_c = p.cols.live1 - p.cols.live0;
    box_plan_free(&p);
    switch (op->kind) {
    case OP_ROW_BOXES:
        if (want_counts(v, 1, 0, 0))
            return -1;
        if (out->rank != 4 || out->c != op->g * n_rowbox || out->h != hp || out->w != in->w)
            return fail(v, "result must be [N,%d,%d,%d]", op->g * n_rowbox, hp, in->w);
        return 0;
    case OP_REGION_GATHER:
        if (want_counts(v, 1, 1, 1) || want_const(v, 0, 4, op->g, 1, op->rows.n, op->cols.n))
            return -1;
        if (out->rank != 4 || out->c != op->g * live_c || out->w != in->w)
            return fail(v, "result must be [N,%d,H,%d]", op->g * live_c, in->w);
        return 0;
    default: { /* OP_COL_BOXES */
        if (want_counts(v, 2, 1, 2))
            return -1;
        const ir_value *x = &g->values[op->in[1]];
        if (want_same_shape(v, x, out) || in->c != op->g * live_c || in->h != out->h)
            return fail(v, "takes [N,%d,H,W] gathered rows and the conv's input", op->g * live_c);
        if (op->kpe == IR_KPE_MAP)
            return op->n_cst != 2 ? fail(v, "kpe=map needs bias and map")
                                  : want_const(v, 1, 3, op->g, out->h, out->w, 0);
        return op->n_cst != 1 ? fail(v, "takes a bias only unless kpe=map")
                              : want_const(v, 0, 1, op->g, 0, 0, 0);
    }
    }
}

static int verify_op(vctx *v)
{
    const ir_graph *g = v->g;
    const ir_op *op = v->op;
    for (int i = 0; i < op->n_in; i++)
        if (op->in[i] < 0 || op->in[i] >= g->n_values)
            return fail(v, "value operand %d is undefined", i);
    for (int i = 0; i < op->n_cst; i++)
        if (op->cst[i] < 0 || op->cst[i] >= g->n_consts)
            return fail(v, "constant operand %d is undefined", i);
    if (op->out < 0 || op->out >= g->n_values)
        return fail(v, "result is undefined");
    const ir_value *in = op->n_in ? &g->values[op->in[0]] : NULL;
    const ir_value *out = &g->values[op->out];

    switch (op->kind) {
    case OP_CONV2D: {
        if (want_counts(v, 1, 2, 2))
            return -1;
        const ir_const *w = &g->consts[op->cst[0]];
        if (w->rank != 4 || w->shape[1] != in->c || w->shape[2] != w->shape[3])
            return fail(v, "@%s must be [O, %d, k, k]", w->name, in->c);
        if (op->stride < 1)
            return fail(v, "stride must be positive");
        int k = w->shape[2];
        if (in->rank != 4 || in->h < k || in->w < k)
            return fail(v, "the %dx%d kernel does not fit the input", k, k);
        if (op->eps < 0 || (op->eps > 0 && op->stride != k))
            return fail(v, "norm (a fused LayerNorm) needs a positive eps and stride = kernel");
        int ho = (in->h - k) / op->stride + 1, wo = (in->w - k) / op->stride + 1;
        if (out->rank != 4 || out->c != w->shape[0] || out->h != ho || out->w != wo)
            return fail(v, "result must be [N,%d,%d,%d]", w->shape[0], ho, wo);
        return want_const(v, 1, 1, w->shape[0], 0, 0, 0);
    }
    case OP_LAYERNORM:
        if (want_counts(v, 1, 0, 2) || want_same_shape(v, in, out))
            return -1;
        if (!(op->eps > 0))
            return fail(v, "eps must be positive");
        if (op->n_cst == 0)
            return 0;
        if (op->n_cst != 2)
            return fail(v, "takes a weight and a bias, or neither");
        return want_const(v, 0, 1, in->c, 0, 0, 0) || want_const(v, 1, 1, in->c, 0, 0, 0);
    case OP_ROW_BOXES:
    case OP_REGION_GATHER:
    case OP_COL_BOXES:
        return verify_lowered_step(v);
    case OP_PERIPH_CONV:
    case OP_BOX_GATHER:
        if (want_counts(v, 1, 2, 3))
            return -1;
        if (op->kind == OP_BOX_GATHER && op->kpe != IR_KPE_NONE && op->kpe != IR_KPE_MAP)
            return fail(v, "box_gather takes only a folded kpe (map or none)");
        if (op->rows.n < 1 || op->cols.n < 1 || grid_sum(&op->rows) != op->kernel ||
            grid_sum(&op->cols) != op->kernel)
            return fail(v, "rows and cols grids must each sum to the kernel %d", op->kernel);
        return verify_depthwise(v, in, out) ||
               want_const(v, 0, 4, op->g, 1, op->rows.n, op->cols.n);
    case OP_DWCONV:
        if (want_counts(v, 1, 1, 3))
            return -1;
        if (op->kpe == IR_KPE_CONSTANT || op->kpe == IR_KPE_BORDER)
            return fail(v, "dwconv takes only a folded kpe (map or none)");
        if (op->n_cst == 1) { /* no bias */
            if (op->kpe != IR_KPE_NONE)
                return fail(v, "a map needs a bias operand before it");
            if (in->rank != 4 || want_same_shape(v, in, out))
                return in->rank != 4 ? fail(v, "needs a [N,C,H,W] input") : -1;
            if (op->g < 1 || op->g > in->c || op->kernel < 1 || op->kernel % 2 == 0)
                return fail(v, "g must be in [1, %d] and the kernel odd", in->c);
            return want_const(v, 0, 4, op->g, 1, op->kernel, op->kernel);
        }
        return verify_depthwise(v, in, out) ||
               want_const(v, 0, 4, op->g, 1, op->kernel, op->kernel);
    case OP_BATCHNORM:
        if (want_counts(v, 1, 4, 4) || want_same_shape(v, in, out))
            return -1;
        if (op->g < 1 || op->g > in->c || !(op->eps > 0))
            return fail(v, "g must be in [1, %d] and eps positive", in->c);
        for (int k = 0; k < 4; k++)
            if (want_const(v, k, 1, op->g, 0, 0, 0))
                return -1;
        return 0;
    case OP_POINTWISE: {
        if (op->n_in < 1 || op->n_in > 2 || op->n_cst != 2)
            return fail(v, "takes x [, residual] and a weight and a bias");
        if (op->act < 0 || op->act > 1)
            return fail(v, "act must be none or gelu");
        if (op->eps < 0)
            return fail(v, "norm (a fused LayerNorm) needs a positive eps");
        if (op->n_in == 2 && want_same_shape(v, &g->values[op->in[1]], out))
            return -1;
        const ir_const *w = &g->consts[op->cst[0]];
        if (w->rank != 2 || w->shape[1] != in->c)
            return fail(v, "@%s must be [O, %d]", w->name, in->c);
        if (out->rank != in->rank || out->c != w->shape[0] || out->h != in->h || out->w != in->w)
            return fail(v, "result must have %d channels and the input's map", w->shape[0]);
        return want_const(v, 1, 1, w->shape[0], 0, 0, 0);
    }
    case OP_GELU:
        return want_counts(v, 1, 0, 0) || want_same_shape(v, in, out);
    case OP_MUL_CHANNEL:
        return want_counts(v, 1, 1, 1) || want_same_shape(v, in, out) ||
               want_const(v, 0, 1, in->c, 0, 0, 0);
    case OP_ADD:
        if (op->g < 0 || op->g > in->c)
            return fail(v, "g = %d must be in [0, %d]", op->g, in->c);
        return want_counts(v, 2, 0, 0) || want_same_shape(v, in, out) ||
               want_same_shape(v, &g->values[op->in[1]], out);
    case OP_AVGPOOL:
        if (want_counts(v, 1, 0, 0))
            return -1;
        if (in->rank != 4 || out->rank != 2 || out->c != in->c)
            return fail(v, "maps [N,C,H,W] to [N,C]");
        return 0;
    default:
        return fail(v, "unknown op kind %d", (int)op->kind);
    }
}

int ir_verify(const ir_graph *g, pelk_diag *d)
{
    if (g->input < 0 || g->input >= g->n_values || g->output < 0 || g->output >= g->n_values)
        return diag_set(d, "graph %s: input or output is undefined", g->name);
    char *defined = xcalloc((size_t)g->n_values, 1);
    defined[g->input] = 1;
    int rc = 0;
    for (int i = 0; i < g->n_ops && !rc; i++) {
        vctx v = {g, &g->ops[i], i, d};
        rc = verify_op(&v);
        for (int k = 0; !rc && k < g->ops[i].n_in; k++)
            if (!defined[g->ops[i].in[k]])
                rc = fail(&v, "%%%s is used before it is defined", g->values[g->ops[i].in[k]].name);
        if (!rc && defined[g->ops[i].out])
            rc = fail(&v, "%%%s is defined twice", g->values[g->ops[i].out].name);
        if (!rc)
            defined[g->ops[i].out] = 1;
    }
    if (!rc && !defined[g->output])
        rc = diag_set(d, "graph %s: the output %%%s is never computed", g->name,
                      g->values[g->output].name);
    free(defined);
    return rc;
}

void ir_drop_unused_consts(ir_graph *g)
{
    int *remap = xcalloc((size_t)g->n_consts + 1, sizeof *remap);
    for (int i = 0; i < g->n_ops; i++)
        for (int k = 0; k < g->ops[i].n_cst; k++)
            remap[g->ops[i].cst[k]] = 1;
    int n = 0;
    for (int i = 0; i < g->n_consts; i++) {
        if (!remap[i]) {
            free(g->consts[i].name);
            free(g->consts[i].data);
            remap[i] = -1;
            continue;
        }
        g->consts[n] = g->consts[i];
        remap[i] = n++;
    }
    g->n_consts = n;
    for (int i = 0; i < g->n_ops; i++)
        for (int k = 0; k < g->ops[i].n_cst; k++)
            g->ops[i].cst[k] = remap[g->ops[i].cst[k]];
    free(remap);
}

void ir_remove_op(ir_graph *g, int i)
{
    grid_free(&g->ops[i].rows);
    grid_free(&g->ops[i].cols);
    memmove(&g->ops[i], &g->ops[i + 1], (size_t)(g->n_ops - i - 1) * sizeof *g->ops);
    g->n_ops--;
}

int ir_count_uses(const ir_graph *g, int v)
{
    int n = v == g->output;
    for (int i = 0; i < g->n_ops; i++)
        for (int k = 0; k < g->ops[i].n_in; k++)
            n += g->ops[i].in[k] == v;
    return n;
}

int ir_defining_op(const ir_graph *g, int v)
{
    for (int i = 0; i < g->n_ops; i++)
        if (g->ops[i].out == v)
            return i;
    return -1;
}

int ir_clone_const(ir_graph *g, int src, const char *name)
{
    ir_const s = g->consts[src]; /* a copy: adding a constant may move the array */
    int shape[4];
    memcpy(shape, s.shape, sizeof shape);
    int id = ir_add_const(g, name, s.rank, shape);
    if (s.data) {
        size_t n = (size_t)ir_const_numel(&s);
        g->consts[id].data = xcalloc(n, sizeof(float));
        memcpy(g->consts[id].data, s.data, n * sizeof(float));
    }
    return id;
}

int ir_insert_op(ir_graph *g, int pos, const ir_op *op)
{
    int at = ir_add_op(g, op); /* appended, grids copied */
    ir_op tmp = g->ops[at];
    memmove(&g->ops[pos + 1], &g->ops[pos], (size_t)(at - pos) * sizeof *g->ops);
    g->ops[pos] = tmp;
    return pos;
}
