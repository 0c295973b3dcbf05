/* The IR's text form (spec/IR.md): one declaration or op per line. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

#include "box_plan.h"

typedef struct strbuf {
    char *s;
    size_t len, cap;
} strbuf;

static void put(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(strbuf *b, const char *fmt, ...)
{
    if (!b->s) { /* start with a buffer: offsetting a null pointer is undefined */
        b->cap = 4096;
        b->s = xcalloc(b->cap, 1);
    }
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t nc = b->cap * 2 + (n > 0 ? (size_t)n : 0) + 256;
        char *ns = realloc(b->s, nc);
        if (!ns) {
            fprintf(stderr, "pelkc: out of memory\n");
            exit(3);
        }
        b->s = ns;
        b->cap = nc;
    }
}

/* Shortest decimal that reads back to the same double, so print-parse-print is stable. */
static void put_double(strbuf *b, double x)
{
    char tmp[40];
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, x);
        if (strtod(tmp, NULL) == x)
            break;
    }
    put(b, "%s", tmp);
}

static void put_grid(strbuf *b, const sharing_grid *g)
{
    put(b, "[");
    for (int i = 0; i < g->n; i++)
        put(b, i ? ", %d" : "%d", g->size[i]);
    put(b, "]");
}

static void put_value_type(strbuf *b, const ir_value *v)
{
    if (v->rank == 4)
        put(b, "f32[N,%d,%d,%d]", v->c, v->h, v->w);
    else
        put(b, "f32[N,%d]", v->c);
}

static void put_macs(strbuf *b, int64_t macs)
{
    if (macs >= 1000000)
        put(b, "  # %.1fM MACs", (double)macs / 1e6);
    else if (macs > 0)
        put(b, "  # %lld MACs", (long long)macs);
}

static void put_op(strbuf *b, const ir_graph *g, const ir_op *op, int with_macs)
{
    const ir_value *out = &g->values[op->out];
    put(b, "  %%%s: ", out->name);
    put_value_type(b, out);
    put(b, " = %s(", ir_op_name(op->kind));
    for (int i = 0; i < op->n_in; i++)
        put(b, i ? ", %%%s" : "%%%s", g->values[op->in[i]].name);
    for (int i = 0; i < op->n_cst; i++)
        put(b, (i || op->n_in) ? ", @%s" : "@%s", g->consts[op->cst[i]].name);
    put(b, ")");
    switch (op->kind) {
    case OP_CONV2D:
        put(b, " {stride=%d", op->stride);
        if (op->eps > 0) {
            put(b, ", norm=");
            put_double(b, op->eps);
        }
        put(b, "}");
        break;
    case OP_LAYERNORM:
        put(b, " {eps=");
        put_double(b, op->eps);
        put(b, "}");
        break;
    case OP_PERIPH_CONV:
    case OP_BOX_GATHER:
    case OP_ROW_BOXES:
    case OP_REGION_GATHER:
    case OP_COL_BOXES:
        put(b, " {g=%d, kernel=%d, rows=", op->g, op->kernel);
        put_grid(b, &op->rows);
        put(b, ", cols=");
        put_grid(b, &op->cols);
        put(b, ", kpe=%s}", ir_kpe_name(op->kpe));
        break;
    case OP_DWCONV:
        put(b, " {g=%d, kernel=%d, kpe=%s}", op->g, op->kernel, ir_kpe_name(op->kpe));
        break;
    case OP_BATCHNORM:
        put(b, " {g=%d, eps=", op->g);
        put_double(b, op->eps);
        put(b, "}");
        break;
    case OP_ADD:
        if (op->g)
            put(b, " {g=%d}", op->g);
        break;
    case OP_POINTWISE:
        if (op->act && op->eps > 0)
            put(b, " {act=gelu, norm=");
        else if (op->act)
            put(b, " {act=gelu}");
        else if (op->eps > 0)
            put(b, " {norm=");
        if (op->eps > 0) {
            put_double(b, op->eps);
            put(b, "}");
        }
        break;
    default:
        break;
    }
    if (with_macs && (op->kind == OP_ROW_BOXES || op->kind == OP_COL_BOXES)) {
        /* a box step: adds only; half of the boxes' adds are the rows' */
        const ir_value *m = &g->values[op->kind == OP_ROW_BOXES ? op->in[0] : op->out];
        box_plan p;
        box_plan_make(&p, &op->rows, &op->cols, m->h, m->w, 1);
        if (op->kind == OP_ROW_BOXES)
            put(b, "  # 0 MACs; row boxes by doubling: %d images of %dx%d per channel\n",
                p.n_rowbox, p.hp, m->w);
        else
            put(b, "  # 0 MACs; column boxes by doubling over %d distinct widths\n",
                p.cols.n_sizes);
        box_plan_free(&p);
    } else if (with_macs && op->kind == OP_REGION_GATHER) {
        const ir_value *m = &g->values[op->out];
        box_plan p;
        box_plan_make(&p, &op->rows, &op->cols, m->h, m->w, 1);
        put(b, "  # %.2fM MACs over %dx%d live regions (dense: %.1fM)\n",
            (double)p.gather_macs * op->g / 1e6, p.rows.live1 - p.rows.live0,
            p.cols.live1 - p.cols.live0,
            (double)m->h * m->w * op->g * op->kernel * op->kernel / 1e6);
        box_plan_free(&p);
    } else if (with_macs && op->kind == OP_BOX_GATHER) {
        /* the lowered conv: say what the gather and the boxes cost */
        const ir_value *in = &g->values[op->in[0]];
        box_plan p;
        box_plan_make(&p, &op->rows, &op->cols, in->h, in->w, 1);
        put(b, "  # %.2fM MACs gather over %dx%d live regions + %.2fM adds in boxes "
               "(dense: %.1fM MACs)\n",
            (double)p.gather_macs * op->g / 1e6, p.rows.live1 - p.rows.live0,
            p.cols.live1 - p.cols.live0, (double)p.box_adds * op->g / 1e6,
            (double)in->h * in->w * op->g * op->kernel * op->kernel / 1e6);
        box_plan_free(&p);
    } else if (with_macs) {
        put_macs(b, ir_op_macs(g, op));
        put(b, "\n");
    }
}

char *ir_op_text(const ir_graph *g, const ir_op *op)
{
    strbuf b = {0};
    put_op(&b, g, op, 0);
    return b.s;
}

char *ir_print(const ir_graph *g)
{
    strbuf b = {0};
    put(&b, "graph %s {\n", g->name);
    put(&b, "  input %%%s: ", g->values[g->input].name);
    put_value_type(&b, &g->values[g->input]);
    put(&b, "\n");
    for (int i = 0; i < g->n_consts; i++) {
        const ir_const *c = &g->consts[i];
        put(&b, "  const @%s: f32[", c->name);
        for (int k = 0; k < c->rank; k++)
            put(&b, k ? ",%d" : "%d", c->shape[k]);
        put(&b, "]\n");
    }
    int64_t total = 0;
    for (int i = 0; i < g->n_ops; i++) {
        put_op(&b, g, &g->ops[i], 1);
        total += ir_op_macs(g, &g->ops[i]);
    }
    put(&b, "  output %%%s\n", g->values[g->output].name);
    put(&b, "}\n");
    put(&b, "# %d ops, %d constants, %.3f G multiply-adds per image\n", g->n_ops, g->n_consts,
        (double)total / 1e9);
    return b.s;
}
