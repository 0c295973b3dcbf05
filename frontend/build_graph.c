#include "build_graph.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The builder's cursor: the graph and a name scratch buffer. */
typedef struct builder {
    ir_graph *g;
    char name[160];
} builder;

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

ir_graph *build_graph(const model_spec *s)
{
    builder b = {ir_new(s->name), ""};
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
    return g;
}

ir_graph *build_conv_graph(int kernel, const sharing_grid *rows, const sharing_grid *cols,
                           int channels, int h, int w, kpe_mode kpe)
{
    char name[64];
    snprintf(name, sizeof name, "conv_k%d", kernel);
    builder b = {ir_new(name), ""};
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
