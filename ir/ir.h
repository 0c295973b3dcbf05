/* pelkc's graph IR: one struct for the whole network (ggml-style).
 *
 * Values are activations: float32, batch first, either [N, C, H, W] or
 * [N, C]; the batch N is chosen at run time, the rest is fixed here.
 * Constants are weights: a name (the safetensors name when they come from
 * the user), a concrete shape and, when known, their data. A graph without
 * data still goes through every pass: that is how `pelkc emit` works.
 * Ops list their value operands and their constant operands separately and
 * carry typed attributes; the text form is documented in spec/IR.md. */
#ifndef PELK_IR_H
#define PELK_IR_H

#include <stdint.h>

#include "../common/diag.h"
#include "grid.h"

typedef enum op_kind {
    OP_CONV2D,      /* dense conv, no padding: (x; weight [O,I,kh,kw], bias [O]) {stride} */
    OP_LAYERNORM,   /* over channels, per pixel: (x [; weight [C], bias [C]]) {eps}; without
                       constants it only normalises (its affine part folded away) */
    OP_PERIPH_CONV, /* shared-grid depthwise conv on the first g channels, the rest copied:
                       (x; theta [g,1,kr,kc], bias [g] [, kpe]) {g, kernel, rows, cols, kpe} */
    /* The lowered periph_conv (NOTES.md section 2, ir/box_plan.h), first as
       three explicit steps, all with periph_conv's attributes: */
    OP_ROW_BOXES,    /* (x) -> [N, g*n, Hp, W]: each channel's n row-box images B_h
                        (heights: the powers of two and the grid's live heights) */
    OP_REGION_GATHER,/* (boxes; theta) -> [N, g*kc, H, W]: Z_b = sum_a theta[a,b] B_{h_a}
                        shifted by P_a - r, over the live regions */
    OP_COL_BOXES,    /* (gathered, x; bias [, map]) -> [N,C,H,W]: Y = sum_b column box of
                        Z_b shifted by Q_b - r, plus bias (and map); channels >= g from x */
    OP_BOX_GATHER,   /* the three fused into one pass per channel: (x; theta, bias [, map]),
                        operands and attributes as periph_conv, kpe folded (none or map) */
    OP_DWCONV,      /* dense depthwise conv on the first g channels, the rest copied, stride 1,
                       zero padding k/2: (x; weight [g,1,k,k] [, bias [g] [, map [g,H,W]]])
                       {g, kernel, kpe} */
    OP_BATCHNORM,   /* inference BatchNorm on the first g channels, the rest copied:
                       (x; weight, bias, running_mean, running_var, all [g]) {g, eps} */
    OP_POINTWISE,   /* per-pixel linear over channels: (x [, residual]; weight [O,I], bias [O])
                       {act}: y = act(W x + b) (+ residual) */
    OP_GELU,        /* exact erf GELU: (x) */
    OP_MUL_CHANNEL, /* per-channel scale: (x; gamma [C]) */
    OP_ADD,         /* (a, b) {g}: g = 0 adds every channel; g > 0 adds channels [0, g)
                       and takes the rest from a */
    OP_AVGPOOL,     /* global average over H, W: [N,C,H,W] -> [N,C] */
    OP_KIND_COUNT
} op_kind;

/* How an op's kernel-wise positional embedding operand is to be read.
 * The spec's three modes, plus the folded forms the passes produce. */
typedef enum ir_kpe {
    IR_KPE_NONE,     /* no kpe operand */
    IR_KPE_CONSTANT, /* kpe operand h [g,k,k], added at every tap */
    IR_KPE_BORDER,   /* kpe operand h [g,k,k], added at in-image taps */
    IR_KPE_MAP       /* operand is a precomputed per-channel map [g,H,W] */
} ir_kpe;

typedef struct ir_const {
    char *name;
    int rank;
    int shape[4];
    float *data; /* owned; NULL in a structure-only graph */
} ir_const;

typedef struct ir_value {
    char *name;
    int rank; /* 4: [N,C,H,W]; 2: [N,C] */
    int c, h, w;
} ir_value;

typedef struct ir_op {
    op_kind kind;
    int out;
    int in[2], n_in;       /* value ids */
    int cst[5], n_cst;     /* constant ids */
    /* attributes; which ones an op has is given by its kind */
    int stride;
    double eps;
    int g, kernel;
    sharing_grid rows, cols;
    ir_kpe kpe;
    int act; /* pointwise: 0 none, 1 exact GELU (fused) */
} ir_op;

typedef struct ir_graph {
    char *name;
    ir_const *consts;
    int n_consts, cap_consts;
    ir_value *values;
    int n_values, cap_values;
    ir_op *ops;
    int n_ops, cap_ops;
    int input, output; /* value ids */
} ir_graph;

ir_graph *ir_new(const char *name);
void ir_free(ir_graph *g);

/* Add a constant; data may be NULL. Returns its id. */
int ir_add_const(ir_graph *g, const char *name, int rank, const int *shape);
int ir_add_value(ir_graph *g, const char *name, int rank, int c, int h, int w);
/* Append an op (copied; grids are deep-copied). Returns its index. */
int ir_add_op(ir_graph *g, const ir_op *op);
/* Find by name; -1 if absent. */
int ir_find_const(const ir_graph *g, const char *name);
int ir_find_value(const ir_graph *g, const char *name);

int64_t ir_const_numel(const ir_const *c);
int64_t ir_value_numel(const ir_value *v); /* per image */
/* Multiply-adds of one op for one image. */
int64_t ir_op_macs(const ir_graph *g, const ir_op *op);

const char *ir_op_name(op_kind k);
int ir_op_kind_from_name(const char *s); /* -1 if unknown */
const char *ir_kpe_name(ir_kpe k);
int ir_kpe_from_name(const char *s);

/* Shapes, operand counts, kinds and attributes all agree; every value is
 * defined before use. The message names the op. */
int ir_verify(const ir_graph *g, pelk_diag *d);

/* Drop constants no op refers to (after folds). */
void ir_drop_unused_consts(ir_graph *g);
/* Insert a copy of op before position pos. */
int ir_insert_op(ir_graph *g, int pos, const ir_op *op);
/* Remove op i (its result value stays in the table, unused). */
void ir_remove_op(ir_graph *g, int i);
/* How many op operands read value v; the index of the op defining v (-1: none). */
int ir_count_uses(const ir_graph *g, int v);
int ir_defining_op(const ir_graph *g, int v);
/* A new constant holding a copy of constant src's data (if any), named name. */
int ir_clone_const(ir_graph *g, int src, const char *name);

/* Text form (spec/IR.md). ir_print returns a malloc'd string. */
char *ir_print(const ir_graph *g);
/* One op as it prints in the text form, without indent or newline. */
char *ir_op_text(const ir_graph *g, const ir_op *op);
ir_graph *ir_parse(const char *text, const char *filename, pelk_diag *d);

#endif
