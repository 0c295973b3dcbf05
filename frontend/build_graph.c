#include "build_graph.h"

#include "safetensors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The builder's cursor: the graph, and the weights file that says which
 * optional training-time parts (BatchNorm, small kernel) a block has. */
typedef struct builder {
    ir_graph *g;
    const st_file *weights; /* may be NULL: no optional parts */
    pelk_diag *d;
    int failed;
} builder;

static int has_tensor(const builder *b, const char *fmt, const char *prefix)
{
    char name[200];
    snprintf(name, sizeof name, fmt, prefix);
    return b->weights && st_find(b->weights, name) != NULL;
}


static int cst(builder *b, int rank, int s0, int s1, int s2, int s3, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static int cst(builder *b, int rank, int s0, int s1, int s2, int s3, const char *fmt, ...)
{
    char name[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    int shape[4] = {s0, s1, s2, s3};
    int id = ir_find_const(b->g, name);
    return id >= 0 ? id : ir_add_const(b->g, name, rank, shape);
}

static void batchnorm(builder *b, ir_op *op, int g, const char *prefix)
{
    static const char *const parts[4] = {"weight", "bias", "running_mean", "running_var"};
    *op = (ir_op){.kind = OP_BATCHNORM, .n_in = 1, .g = g, .eps = 1e-5, .n_cst = 4};
    for (int k = 0; k < 4; k++)
        op->cst[k] = cst(b, 1, g, 0, 0, 0, "%s.%s", prefix, parts[k]);
}

/* Append op with result value `name` shaped like (rank, c, h, w). */
static int emit(builder *b, ir_op *op, const char *name, int rank, int c, int h, int w)
{
    op->out = ir_add_value(b->g, name, rank, c, h, w);
    ir_add_op(b->g, op);
    return op->out;
}

static int layernorm(builder *b, int x, const char *prefix, const char *out)
{
    const ir_value *v = &b->g->values[x];
    ir_op op = {.kind = OP_LAYERNORM, .in = {x}, .n_in = 1, .eps = 1e-6, .n_cst = 2};
    op.cst[0] = cst(b, 1, v->c, 0, 0, 0, "%s.weight", prefix);
    op.cst[1] = cst(b, 1, v->c, 0, 0, 0, "%s.bias", prefix);
    return emit(b, &op, out, v->rank, v->c, v->h, v->w);
}

static int conv2d(builder *b, int x, const char *prefix, int cout, int k, int stride,
                  const char *out)
{
    const ir_value *v = &b->g->values[x];
    ir_op op = {.kind = OP_CONV2D, .in = {x}, .n_in = 1, .stride = stride, .n_cst = 2};
    op.cst[0] = cst(b, 4, cout, v->c, k, k, "%s.weight", prefix);
    op.cst[1] = cst(b, 1, cout, 0, 0, 0, "%s.bias", prefix);
    int ho = (v->h - k) / stride + 1, wo = (v->w - k) / stride + 1;
    return emit(b, &op, out, 4, cout, ho, wo);
}

static int pointwise(builder *b, int x, const char *prefix, int cout, const char *out)
{
    const ir_value *v = &b->g->values[x];
    ir_op op = {.kind = OP_POINTWISE, .in = {x}, .n_in = 1, .n_cst = 2};
    op.cst[0] = cst(b, 2, cout, v->c, 0, 0, "%s.weight", prefix);
    op.cst[1] = cst(b, 1, cout, 0, 0, 0, "%s.bias", prefix);
    return emit(b, &op, out, v->rank, cout, v->h, v->w);
}

static int unary(builder *b, op_kind kind, int x, const char *out)
{
    const ir_value *v = &b->g->values[x];
    ir_op op = {.kind = kind, .in = {x}, .n_in = 1};
    return emit(b, &op, out, v->rank, v->c, v->h, v->w);
}

/* One PeLK block: partial peripheral conv, LayerNorm, MLP, layer scale, residual. */
static int block(builder *b, const model_spec *s, int si, int bj, int x)
{
    const stage_spec *st = &s->stages[si];
    const ir_value *v = &b->g->values[x];
    int c = v->c, h = v->h, w = v->w;
    char p[96], n[128];
    snprintf(p, sizeof p, "stages.%d.blocks.%d", si, bj);
    int y = x;
    if (st->conv_channels > 0) {
        ir_op op = {.kind = OP_PERIPH_CONV, .in = {x}, .n_in = 1, .g = st->conv_channels,
                    .kernel = st->kernel, .rows = st->rows, .cols = st->cols, .n_cst = 2};
        int g = st->conv_channels;
        op.cst[0] = cst(b, 4, g, 1, st->rows.n, st->cols.n, "%s.conv.weight", p);
        op.cst[1] = cst(b, 1, g, 0, 0, 0, "%s.conv.bias", p);
        if (s->kpe != KPE_NONE) {
            op.kpe = s->kpe == KPE_CONSTANT ? IR_KPE_CONSTANT : IR_KPE_BORDER;
            op.cst[op.n_cst++] = cst(b, 3, g, st->kernel, st->kernel, 0, "stages.%d.kpe", si);
        }
        snprintf(n, sizeof n, "s%d.b%d.conv", si, bj);
        y = emit(b, &op, n, 4, c, h, w);
        /* training-time parts, present when the checkpoint has them (folded later) */
        char q[128];
        if (has_tensor(b, "%s.conv.bn.weight", p)) {
            snprintf(q, sizeof q, "%s.conv.bn", p);
            batchnorm(b, &op, g, q);
            op.in[0] = y;
            snprintf(n, sizeof n, "s%d.b%d.conv_bn", si, bj);
            y = emit(b, &op, n, 4, c, h, w);
        }
        if (has_tensor(b, "%s.conv.small.weight", p)) {
            snprintf(q, sizeof q, "%s.conv.small.weight", p);
            const st_tensor *t = st_find(b->weights, q);
            if (t->rank != 4 || t->shape[0] != g || t->shape[1] != 1 || t->shape[2] != t->shape[3] ||
                t->shape[2] % 2 == 0 || t->shape[2] > 4095) {
                diag_set(b->d, "%s: tensor '%s' must be [%d, 1, s, s] with s odd", b->weights->path,
                         q, g);
                b->failed = 1;
                return x;
            }
            int sk = (int)t->shape[2];
            ir_op small = {.kind = OP_DWCONV, .in = {x}, .n_in = 1, .g = g, .kernel = sk,
                           .n_cst = 1};
            small.cst[0] = cst(b, 4, g, 1, sk, sk, "%s", q);
            snprintf(n, sizeof n, "s%d.b%d.small", si, bj);
            int z = emit(b, &small, n, 4, c, h, w);
            if (has_tensor(b, "%s.conv.small_bn.weight", p)) {
                snprintf(q, sizeof q, "%s.conv.small_bn", p);
                batchnorm(b, &op, g, q);
                op.in[0] = z;
                snprintf(n, sizeof n, "s%d.b%d.small_bn", si, bj);
                z = emit(b, &op, n, 4, c, h, w);
            }
            ir_op add = {.kind = OP_ADD, .in = {y, z}, .n_in = 2, .g = g};
            snprintf(n, sizeof n, "s%d.b%d.conv_sum", si, bj);
            y = emit(b, &add, n, 4, c, h, w);
        }
    }
    snprintf(n, sizeof n, "%s.norm", p);
    char out[128];
    snprintf(out, sizeof out, "s%d.b%d.norm", si, bj);
    y = layernorm(b, y, n, out);
    snprintf(n, sizeof n, "%s.fc1", p);
    snprintf(out, sizeof out, "s%d.b%d.fc1", si, bj);
    y = pointwise(b, y, n, st->hidden, out);
    snprintf(out, sizeof out, "s%d.b%d.gelu", si, bj);
    y = unary(b, OP_GELU, y, out);
    snprintf(n, sizeof n, "%s.fc2", p);
    snprintf(out, sizeof out, "s%d.b%d.fc2", si, bj);
    y = pointwise(b, y, n, c, out);
    ir_op scale = {.kind = OP_MUL_CHANNEL, .in = {y}, .n_in = 1, .n_cst = 1};
    scale.cst[0] = cst(b, 1, c, 0, 0, 0, "%s.gamma", p);
    snprintf(out, sizeof out, "s%d.b%d.scale", si, bj);
    y = emit(b, &scale, out, 4, c, h, w);
    ir_op add = {.kind = OP_ADD, .in = {x, y}, .n_in = 2};
    snprintf(out, sizeof out, "s%d.b%d", si, bj);
    return emit(b, &add, out, 4, c, h, w);
}

ir_graph *build_graph(const model_spec *s, const st_file *weights, pelk_diag *d)
{
    builder b = {ir_new(s->name), weights, d, 0};
    ir_graph *g = b.g;
    g->input = ir_add_value(g, "input", 4, s->channels, s->height, s->width);
    int x = conv2d(&b, g->input, "stem", s->stages[0].dim, s->stem_kernel, s->stem_stride, "stem");
    x = layernorm(&b, x, "stem_norm", "stem_norm");
    for (int i = 0; i < s->n_stages; i++) {
        char p[64], out[64];
        if (i > 0) {
            snprintf(p, sizeof p, "stages.%d.downsample.norm", i);
            snprintf(out, sizeof out, "s%d.down_norm", i);
            x = layernorm(&b, x, p, out);
            snprintf(p, sizeof p, "stages.%d.downsample.conv", i);
            snprintf(out, sizeof out, "s%d.down", i);
            x = conv2d(&b, x, p, s->stages[i].dim, 2, 2, out);
        }
        const stage_spec *st = &s->stages[i];
        if (st->conv_channels > 0 && s->kpe != KPE_NONE) /* one per stage, even with no blocks */
            cst(&b, 3, st->conv_channels, st->kernel, st->kernel, 0, "stages.%d.kpe", i);
        for (int j = 0; j < st->depth; j++)
            x = block(&b, s, i, j, x);
    }
    const ir_value *v = &g->values[x];
    ir_op pool = {.kind = OP_AVGPOOL, .in = {x}, .n_in = 1};
    x = emit(&b, &pool, "pool", 2, v->c, 1, 1);
    x = layernorm(&b, x, "head_norm", "head_norm");
    x = pointwise(&b, x, "head", s->classes, "logits");
    g->output = x;
    if (b.failed) {
        ir_free(g);
        return NULL;
    }
    return g;
}

ir_graph *build_conv_graph(int kernel, const sharing_grid *rows, const sharing_grid *cols,
                           int channels, int h, int w, kpe_mode kpe)
{
    char name[64];
    snprintf(name, sizeof name, "conv_k%d", kernel);
    builder b = {ir_new(name), NULL, NULL, 0};
    ir_graph *g = b.g;
    g->input = ir_add_value(g, "input", 4, channels, h, w);
    ir_op op = {.kind = OP_PERIPH_CONV, .in = {g->input}, .n_in = 1, .g = channels,
                .kernel = kernel, .rows = *rows, .cols = *cols, .n_cst = 2};
    op.cst[0] = cst(&b, 4, channels, 1, rows->n, cols->n, "weight");
    op.cst[1] = cst(&b, 1, channels, 0, 0, 0, "bias");
    if (kpe != KPE_NONE) {
        op.kpe = kpe == KPE_CONSTANT ? IR_KPE_CONSTANT : IR_KPE_BORDER;
        op.cst[op.n_cst++] = cst(&b, 3, channels, kernel, kernel, 0, "kpe");
    }
    g->output = emit(&b, &op, "conv", 4, channels, h, w);
    return g;
}
