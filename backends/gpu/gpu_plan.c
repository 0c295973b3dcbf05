/* The GPU plan: each lowered op becomes one or more launches of a kernel
 * specialised for its sizes; launches with the same configuration (same key)
 * share one kernel. A box_gather becomes three launches (row boxes, region
 * gather, column boxes: the steps of ir/box_plan.h) through a scratch
 * buffer, each a plain direct sum so that no running sums are involved. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "gpu.h"

static const char *const kind_names[GK_COUNT] = {
    "conv2d", "layernorm", "row_boxes", "region_gather", "col_boxes", "dwconv",
    "pointwise", "gelu", "mul_channel", "add", "batchnorm", "avgpool"};

const char *gpu_kind_name(gpu_kind k) { return k < GK_COUNT ? kind_names[k] : "?"; }

typedef struct builder {
    const ir_graph *g;
    gpu_plan *p;
    const lowered_model *lm;
    int cap_k, cap_l;
} builder;

static gpu_arg value_arg(builder *b, int v)
{
    if (v == b->g->input)
        return (gpu_arg){GA_INPUT, 0};
    if (v == b->g->output)
        return (gpu_arg){GA_OUTPUT, 0};
    return (gpu_arg){GA_ARENA, b->lm->mem.offset[v]};
}

static gpu_arg const_arg(builder *b, const ir_op *op, int k)
{
    if (k >= op->n_cst)
        return (gpu_arg){GA_NONE, 0};
    return (gpu_arg){GA_WEIGHT, b->lm->weights.offset[op->cst[k]]};
}

/* Append printf text to a malloc'd string. */
static void key_add(char **key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    size_t old = *key ? strlen(*key) : 0;
    char *s = realloc(*key, old + (size_t)n + 1);
    if (!s)
        abort();
    va_start(ap, fmt);
    vsnprintf(s + old, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *key = s;
}

/* The kernel for configuration k (taken over), an existing one if the key matches. */
static int intern_kernel(builder *b, gpu_kernel *k)
{
    key_add(&k->key, "%s", kind_names[k->kind]);
    for (int i = 0; i < 8; i++)
        key_add(&k->key, " %d", k->p[i]);
    key_add(&k->key, " eps=%.9g threads=%lld regions=[", k->eps, (long long)k->threads);
    for (int i = 0; i < k->regions.n; i++)
        key_add(&k->key, "%s%d:%d", i ? " " : "", k->regions.lo[i], k->regions.size[i]);
    key_add(&k->key, "]");
    gpu_plan *p = b->p;
    for (int i = 0; i < p->n_kernels; i++)
        if (!strcmp(p->kernels[i].key, k->key)) {
            free(k->key);
            free(k->regions.lo);
            free(k->regions.size);
            return i;
        }
    if (p->n_kernels == b->cap_k) {
        b->cap_k = b->cap_k ? 2 * b->cap_k : 16;
        p->kernels = realloc(p->kernels, (size_t)b->cap_k * sizeof *p->kernels);
        if (!p->kernels)
            abort();
    }
    snprintf(k->name, sizeof k->name, "pk%d_%s", p->n_kernels, kind_names[k->kind]);
    p->kernels[p->n_kernels] = *k;
    return p->n_kernels++;
}

static void add_launch(builder *b, gpu_kernel *k, int op, const gpu_arg *args)
{
    int64_t threads = k->threads;
    if (threads == 0) { /* nothing to compute; CUDA refuses an empty grid */
        free(k->regions.lo);
        free(k->regions.size);
        return;
    }
    int id = intern_kernel(b, k);
    gpu_plan *p = b->p;
    if (p->n_launches == b->cap_l) {
        b->cap_l = b->cap_l ? 2 * b->cap_l : 32;
        p->launches = realloc(p->launches, (size_t)b->cap_l * sizeof *p->launches);
        if (!p->launches)
            abort();
    }
    gpu_launch *l = &p->launches[p->n_launches++];
    l->kernel = id;
    l->op = op;
    l->blocks = (threads + GPU_BLOCK - 1) / GPU_BLOCK;
    memcpy(l->arg, args, sizeof l->arg);
}

static gpu_regions live_regions(const box_axis *ax)
{
    gpu_regions r = {0, NULL, NULL};
    int n = ax->live1 > ax->live0 ? ax->live1 - ax->live0 : 0;
    r.lo = xcalloc((size_t)n + 1, sizeof *r.lo);
    r.size = xcalloc((size_t)n + 1, sizeof *r.size);
    for (int a = 0; a < n; a++) {
        r.lo[a] = ax->lo[ax->live0 + a];
        r.size[a] = ax->size[ax->live0 + a];
    }
    r.n = n;
    return r;
}

/* box_gather: row boxes into scratch R [g, live rows, h, w], the gather into
 * Z [g, live cols, h, w] after R, then the column boxes into the output. */
static void plan_box_gather(builder *b, const ir_op *op, int index)
{
    const ir_value *in = &b->g->values[op->in[0]];
    const box_plan *bp = &b->lm->box[index]; /* unblocked: its live regions */
    int64_t hw = (int64_t)in->h * in->w;
    gpu_regions rows = live_regions(&bp->rows), cols = live_regions(&bp->cols);
    int64_t r_floats = (int64_t)op->g * rows.n * hw, z_floats = (int64_t)op->g * cols.n * hw;
    if (r_floats + z_floats > b->p->scratch_floats)
        b->p->scratch_floats = r_floats + z_floats;
    gpu_arg none = {GA_NONE, 0}, x = value_arg(b, op->in[0]), y = value_arg(b, op->out);
    gpu_arg r = {GA_SCRATCH, 0}, z = {GA_SCRATCH, r_floats};

    gpu_kernel k1 = {.kind = GK_ROW_BOXES, .p = {op->g, in->h, in->w}, .regions = rows,
                     .threads = r_floats};
    gpu_arg a1[GPU_NARGS] = {x, none, r, none, none, none, none};
    add_launch(b, &k1, index, a1);

    /* p: g, hw, live rows, live cols, theta floats per channel, theta cols, first live row, col */
    gpu_regions none_r = {0, xcalloc(1, sizeof(int)), xcalloc(1, sizeof(int))};
    gpu_kernel k2 = {.kind = GK_REGION_GATHER,
                     .p = {op->g, (int)hw, rows.n, cols.n, op->rows.n * op->cols.n, op->cols.n,
                           bp->rows.live0, bp->cols.live0},
                     .regions = none_r, .threads = z_floats};
    gpu_arg a2[GPU_NARGS] = {r, none, z, const_arg(b, op, 0), none, none, none};
    add_launch(b, &k2, index, a2);

    gpu_kernel k3 = {.kind = GK_COL_BOXES,
                     .p = {in->c, op->g, in->h, in->w, op->kpe == IR_KPE_MAP},
                     .regions = cols, .threads = (int64_t)in->c * hw};
    gpu_arg a3[GPU_NARGS] = {x, z, y, const_arg(b, op, 1), const_arg(b, op, 2), none, none};
    add_launch(b, &k3, index, a3);
}

static int plan_op(builder *b, const ir_op *op, int index, pelk_diag *d)
{
    const ir_graph *g = b->g;
    const ir_value *in = &g->values[op->in[0]], *out = &g->values[op->out];
    int hw = in->h * in->w;
    gpu_arg none = {GA_NONE, 0};
    gpu_arg args[GPU_NARGS] = {value_arg(b, op->in[0]),
                               op->n_in > 1 ? value_arg(b, op->in[1]) : none,
                               value_arg(b, op->out),
                               const_arg(b, op, 0),
                               const_arg(b, op, 1),
                               const_arg(b, op, 2),
                               const_arg(b, op, 3)};
    gpu_kernel k = {.threads = ir_value_numel(out)};
    if ((op->kind == OP_CONV2D || op->kind == OP_POINTWISE) && op->eps > 0)
        return diag_set(d, "GPU backend: op %d has a fused LayerNorm (norm=); run the passes with "
                           "the norms kept (pass_options.keep_norms)", index);
    switch (op->kind) {
    case OP_CONV2D: {
        const ir_const *w = &g->consts[op->cst[0]];
        k.kind = GK_CONV2D;
        int p[8] = {in->c, in->h, in->w, w->shape[0], w->shape[2], op->stride};
        memcpy(k.p, p, sizeof p);
        break;
    }
    case OP_LAYERNORM:
        k.kind = GK_LAYERNORM;
        k.p[0] = in->c, k.p[1] = hw, k.p[2] = op->n_cst > 0;
        k.eps = (float)op->eps;
        k.threads = hw;
        break;
    case OP_BOX_GATHER:
        plan_box_gather(b, op, index);
        return 0;
    case OP_DWCONV: {
        k.kind = GK_DWCONV;
        int p[8] = {in->c, in->h, in->w, op->g, op->kernel, op->n_cst > 1, op->n_cst > 2};
        memcpy(k.p, p, sizeof p);
        break;
    }
    case OP_POINTWISE:
        k.kind = GK_POINTWISE;
        k.p[0] = in->c, k.p[1] = out->c, k.p[2] = hw, k.p[3] = op->act, k.p[4] = op->n_in > 1;
        break;
    case OP_GELU:
        k.kind = GK_GELU;
        k.p[0] = (int)ir_value_numel(in);
        break;
    case OP_MUL_CHANNEL:
        k.kind = GK_MUL_CHANNEL;
        k.p[0] = in->c, k.p[1] = hw;
        break;
    case OP_ADD:
        k.kind = GK_ADD;
        k.p[0] = op->g ? op->g * hw : (int)ir_value_numel(in);
        k.p[1] = (int)ir_value_numel(in) - k.p[0];
        break;
    case OP_BATCHNORM:
        k.kind = GK_BATCHNORM;
        k.p[0] = in->c, k.p[1] = hw, k.p[2] = op->g;
        k.eps = (float)op->eps;
        break;
    case OP_AVGPOOL:
        k.kind = GK_AVGPOOL;
        k.p[0] = in->c, k.p[1] = hw;
        k.threads = in->c;
        break;
    default:
        return diag_set(d, "GPU backend: op %d is a %s; run the lowering passes first", index,
                        ir_op_name(op->kind));
    }
    add_launch(b, &k, index, args);
    return 0;
}

int gpu_plan_make(const ir_graph *g, gpu_plan *p, pelk_diag *d)
{
    memset(p, 0, sizeof *p);
    /* 32-bit index arithmetic in the kernels: every buffer must stay below 2^31 elements */
    for (int v = 0; v < g->n_values; v++)
        if (ir_value_numel(&g->values[v]) > INT32_MAX / 64)
            return diag_set(d, "GPU backend: value %%%s has %lld elements per image, more than "
                               "the kernels' 32-bit indexing allows",
                            g->values[v].name, (long long)ir_value_numel(&g->values[v]));
    lowered_model_prepare(g, NULL, LOWERED_FOR_GPU, &p->lowered);
    builder b = {g, p, &p->lowered, 0, 0};
    int rc = 0;
    for (int i = 0; i < g->n_ops && !rc; i++)
        rc = plan_op(&b, &g->ops[i], i, d);
    if (!rc && p->scratch_floats > INT32_MAX)
        rc = diag_set(d, "GPU backend: the box kernels' scratch (%lld floats) exceeds 32-bit "
                         "indexing", (long long)p->scratch_floats);
    if (rc)
        gpu_plan_free(p);
    return rc;
}

void gpu_plan_free(gpu_plan *p)
{
    for (int i = 0; i < p->n_kernels; i++) {
        free(p->kernels[i].key);
        free(p->kernels[i].regions.lo);
        free(p->kernels[i].regions.size);
    }
    free(p->kernels);
    free(p->launches);
    if (p->lowered.g)
        lowered_model_free(&p->lowered);
    memset(p, 0, sizeof *p);
}
