/* LLVM IR for one lowered peripheral conv (box_gather), specialised for its
 * grid, kernel, channels and map: the IR twin of backends/c/emit_box_gather.c,
 * built with the same schedule (ir/box_plan.h) and the same literal
 * offsets, region sizes and trip counts, in <vec x float> vectors.
 * Per channel: (1) row boxes by doubling, (2) for each output row the
 * gather-multiply-add into one register accumulator per live column region,
 * (3) column boxes grouped by width, by doubling, added into the output.
 * Threads: opN_box_gather packs its arguments and runs opN_body on a team
 * through the runtime's pkl_parallel; each thread takes a contiguous range
 * of channels and its own scratch. */
#include <stdio.h>
#include <stdlib.h>

#include "llvm_internal.h"

typedef struct bg_gen {
    lgen *g;
    const box_plan *p;
    LLVMValueRef s, x, t; /* this thread's scratch; this channel's input and theta */
} bg_gen;

/* s + off (floats), off = row * pitch + k: a row index times a pitch plus a constant. */
static LLVMValueRef s_at(bg_gen *e, LLVMValueRef row, int64_t pitch, int64_t k)
{
    lgen *g = e->g;
    return lg_at(g, e->s, lg_add(g, lg_mul(g, row, pitch), lg_i64(g, k)));
}

static void gen_row_boxes(bg_gen *e)
{
    lgen *g = e->g;
    const box_plan *p = e->p;
    lg_loop li, lj;
    /* B_1 is the image itself, in rows of pitch wp */
    lg_forc(g, &li, 0, p->h, 1);
    lg_memcpy(g, s_at(e, li.iv, p->wp, box_rowbox_at(p, 0)), lg_at(g, e->x, lg_mul(g, li.iv, p->w)), p->w);
    lg_end(g, &li);
    /* B_2m(i) = B_m(i) + B_m(i + m) */
    for (int k = 1; k < p->rows.n_pow; k++) {
        int m = 1 << (k - 1);
        lg_forc(g, &li, 1 - 2 * m, p->h, 1);
        LLVMValueRef row = lg_mul(g, li.iv, p->wp);
        lg_forc(g, &lj, 0, p->wp, p->vec);
        LLVMValueRef at = lg_add(g, row, lj.iv);
        LLVMValueRef a = lg_vload(g, lg_at(g, e->s, lg_add(g, at, lg_i64(g, box_rowbox_at(p, k - 1)))));
        LLVMValueRef b = lg_vload(
            g, lg_at(g, e->s, lg_add(g, at, lg_i64(g, box_rowbox_at(p, k - 1) + (int64_t)m * p->wp))));
        lg_vstore(g, lg_at(g, e->s, lg_add(g, at, lg_i64(g, box_rowbox_at(p, k)))),
                  LLVMBuildFAdd(g->b, a, b, ""));
        lg_end(g, &lj);
        lg_end(g, &li);
    }
    /* other heights as sums of powers of two */
    for (int i = p->rows.n_pow; i < p->n_rowbox; i++) {
        int h = p->rowbox_height[i];
        lg_forc(g, &li, 1 - h, p->h, 1);
        LLVMValueRef row = lg_mul(g, li.iv, p->wp);
        lg_forc(g, &lj, 0, p->wp, p->vec);
        LLVMValueRef at = lg_add(g, row, lj.iv), sum = NULL;
        int off = 0;
        for (int k = p->rows.n_pow - 1; k >= 0; k--)
            if (h & (1 << k)) {
                LLVMValueRef v = lg_vload(
                    g, lg_at(g, e->s, lg_add(g, at, lg_i64(g, box_rowbox_at(p, k) + (int64_t)off * p->wp))));
                sum = sum ? LLVMBuildFAdd(g->b, sum, v, "") : v;
                off += 1 << k;
            }
        lg_vstore(g, lg_at(g, e->s, lg_add(g, at, lg_i64(g, box_rowbox_at(p, i)))), sum);
        lg_end(g, &lj);
        lg_end(g, &li);
    }
}

/* The gather for output rows xr .. xr + rows - 1. */
static void gen_gather(bg_gen *e, LLVMValueRef xr, int kc, int rows)
{
    lgen *g = e->g;
    const box_plan *p = e->p;
    const box_axis *R = &p->rows, *C = &p->cols;
    LLVMValueRef xrw = lg_mul(g, xr, p->wp);
    LLVMValueRef *z = xcalloc((size_t)rows * C->n, sizeof *z), v[2];
    lg_loop lj;
    lg_forc(g, &lj, 0, p->wp, p->vec);
    LLVMValueRef base = lg_add(g, xrw, lj.iv);
    for (int q = 0; q < rows; q++)
        for (int b = C->live0; b < C->live1; b++)
            z[q * C->n + b] = LLVMConstNull(g->vf);
    for (int a = R->live0; a < R->live1; a++) {
        int64_t row0 = box_rowbox_at(p, box_plan_rowbox(p, R->size[a]));
        for (int q = 0; q < rows; q++)
            v[q] = lg_vload(g, lg_at(g, e->s, lg_add(g, base,
                                                     lg_i64(g, row0 + (int64_t)(R->lo[a] + q) * p->wp))));
        for (int b = C->live0; b < C->live1; b++) {
            LLVMValueRef tv = LLVMBuildLoad2(g->b, g->f32, lg_atc(g, e->t, a * kc + b), "");
            tv = lg_splat(g, tv);
            for (int q = 0; q < rows; q++)
                z[q * C->n + b] = lg_fmuladd(g, tv, v[q], z[q * C->n + b]);
        }
    }
    for (int q = 0; q < rows; q++)
        for (int b = C->live0; b < C->live1; b++)
            lg_vstore(g, lg_atc(g, lg_at(g, e->s, lj.iv), box_z_at(p, q, b)), z[q * C->n + b]);
    lg_end(g, &lj);
    free(z);
}

/* s[k + u] as a vector, u the loop's index. */
static LLVMValueRef sload(bg_gen *e, LLVMValueRef u, int64_t k)
{
    return lg_vload(e->g, lg_atc(e->g, lg_at(e->g, e->s, u), k));
}

/* Column boxes for output rows xr .. xr + rows - 1, level by level across
 * every width group and row (a store and the shifted load reading it back
 * stay far apart), all in whole vectors with literal trip counts. */
static void gen_col_boxes(bg_gen *e, int rows)
{
    lgen *g = e->g;
    const box_plan *p = e->p;
    const box_axis *C = &p->cols;
    int v = p->vec, tlv = (p->tl + v - 1) / v * v, max_levels = 0;
    lg_loop lu;
    for (int q = 0; q < rows; q++)
        for (int i = 0; i < C->n_sizes; i++) {
            int w = C->sizes[i];
            if (box_width_levels(w) > max_levels)
                max_levels = box_width_levels(w);
            lg_forc(g, &lu, 0, tlv, v);
            LLVMValueRef sum = NULL;
            for (int b = C->live0; b < C->live1; b++)
                if (C->size[b] == w) {
                    LLVMValueRef z = sload(e, lu.iv, box_z_at(p, q, b) + C->lo[b]);
                    sum = sum ? LLVMBuildFAdd(g->b, sum, z, "") : z;
                }
            lg_vstore(g, lg_atc(g, lg_at(g, e->s, lu.iv), box_t_at(p, q, i, 0)), sum);
            lg_end(g, &lu);
        }
    for (int k = 1; k <= max_levels; k++)
        for (int q = 0; q < rows; q++)
            for (int i = 0; i < C->n_sizes; i++) {
                if (box_width_levels(C->sizes[i]) < k)
                    continue;
                int m = 1 << (k - 1), len = p->tl - ((1 << k) - 1);
                lg_forc(g, &lu, 0, (len + v - 1) / v * v, v);
                LLVMValueRef sum = LLVMBuildFAdd(g->b, sload(e, lu.iv, box_t_at(p, q, i, k - 1)),
                                                 sload(e, lu.iv, box_t_at(p, q, i, k - 1) + m), "");
                lg_vstore(g, lg_atc(g, lg_at(g, e->s, lu.iv), box_t_at(p, q, i, k)), sum);
                lg_end(g, &lu);
            }
    for (int q = 0; q < rows; q++) {
        int64_t yr = box_out_at(p, q);
        lg_forc(g, &lu, 0, p->wp, v);
        LLVMValueRef sum = sload(e, lu.iv, yr);
        for (int i = 0; i < C->n_sizes; i++) {
            int w = C->sizes[i], off = 0;
            for (int k = box_width_levels(w); k >= 0; k--)
                if (w & (1 << k)) {
                    sum = LLVMBuildFAdd(g->b, sum, sload(e, lu.iv, box_t_at(p, q, i, k) + off), "");
                    off += 1 << k;
                }
        }
        lg_vstore(g, lg_atc(g, lg_at(g, e->s, lu.iv), yr), sum);
        lg_end(g, &lu);
    }
}

/* Output rows xr .. xr + rows - 1 of channel c: gather, bias (and map), column
 * boxes, then the w floats of each padded row copied out to y. */
static void gen_rows(bg_gen *e, const ir_op *op, LLVMValueRef xr, int rows, LLVMValueRef c,
                     LLVMValueRef y, LLVMValueRef bias, LLVMValueRef map)
{
    lgen *g = e->g;
    const box_plan *p = e->p;
    int64_t plane = (int64_t)p->h * p->w;
    gen_gather(e, xr, op->cols.n, rows);
    LLVMValueRef bc = LLVMBuildLoad2(g->b, g->f32, lg_at(g, bias, c), "");
    for (int q = 0; q < rows; q++) {
        LLVMValueRef yr = lg_atc(g, e->s, box_out_at(p, q));
        lg_loop lj;
        lg_forc(g, &lj, 0, p->w, 1);
        LLVMValueRef val = bc;
        if (op->kpe == IR_KPE_MAP) {
            LLVMValueRef at = lg_add(g, lg_mul(g, c, plane),
                                     lg_add(g, lg_mul(g, lg_add(g, xr, lg_i64(g, q)), p->w), lj.iv));
            val = LLVMBuildFAdd(g->b, bc, LLVMBuildLoad2(g->b, g->f32, lg_at(g, map, at), ""), "");
        }
        LLVMBuildStore(g->b, val, lg_at(g, yr, lj.iv));
        lg_end(g, &lj);
    }
    gen_col_boxes(e, rows);
    for (int q = 0; q < rows; q++)
        lg_memcpy(g, lg_at(g, y, lg_mul(g, lg_add(g, xr, lg_i64(g, q)), p->w)),
                  lg_atc(g, e->s, box_out_at(p, q)), p->w);
}

enum { ARG_IN, ARG_OUT, ARG_THETA, ARG_BIAS, ARG_MAP, ARG_SCRATCH, N_ARGS };

/* opN_body(ctx, thread, threads): this thread's channels. */
static LLVMValueRef gen_body(lgen *g, const ir_op *op, const box_plan *p, int index)
{
    char name[64];
    snprintf(name, sizeof name, "op%d_body", index);
    LLVMTypeRef params[] = {g->ptr, g->i32, g->i32};
    LLVMValueRef fn = lg_function(g, name, g->voidt, params, 3, 1);
    LLVMValueRef args[N_ARGS];
    for (int k = 0; k < N_ARGS; k++) {
        LLVMValueRef idx = lg_i64(g, k);
        LLVMValueRef slot = LLVMBuildInBoundsGEP2(g->b, g->ptr, LLVMGetParam(fn, 0), &idx, 1, "");
        args[k] = LLVMBuildLoad2(g->b, g->ptr, slot, "");
    }
    LLVMValueRef tid = LLVMBuildSExt(g->b, LLVMGetParam(fn, 1), g->i64, "");
    LLVMValueRef nt = LLVMBuildSExt(g->b, LLVMGetParam(fn, 2), g->i64, "");
    bg_gen e = {g, p, NULL, NULL, NULL};
    e.s = lg_at(g, args[ARG_SCRATCH], lg_mul(g, tid, pk_scratch_pitch(p->scratch_floats)));
    lg_memset0(g, e.s, p->scratch_floats); /* box pads stay zero across channels */
    /* channels [g*tid/nt, g*(tid+1)/nt) */
    LLVMValueRef c0 = LLVMBuildSDiv(g->b, lg_mul(g, tid, op->g), nt, "");
    LLVMValueRef c1 = LLVMBuildSDiv(g->b, lg_mul(g, lg_add(g, tid, lg_i64(g, 1)), op->g), nt, "");
    int64_t plane = (int64_t)p->h * p->w;
    lg_loop lc;
    lg_for(g, &lc, c0, c1, 1);
    e.x = lg_at(g, args[ARG_IN], lg_mul(g, lc.iv, plane));
    e.t = lg_at(g, args[ARG_THETA], lg_mul(g, lc.iv, op->rows.n * op->cols.n));
    LLVMValueRef y = lg_at(g, args[ARG_OUT], lg_mul(g, lc.iv, plane));
    gen_row_boxes(&e);
    /* rows at a time, then one at a time for what is left */
    int rows = box_gather_rows(p), whole = p->h / rows * rows;
    lg_loop lr;
    lg_forc(g, &lr, 0, whole, rows);
    gen_rows(&e, op, lr.iv, rows, lc.iv, y, args[ARG_BIAS], args[ARG_MAP]);
    lg_end(g, &lr);
    if (whole < p->h) {
        lg_forc(g, &lr, whole, p->h, 1);
        gen_rows(&e, op, lr.iv, 1, lc.iv, y, args[ARG_BIAS], args[ARG_MAP]);
        lg_end(g, &lr);
    }
    lg_end(g, &lc);
    LLVMBuildRetVoid(g->b);
    return fn;
}

LLVMValueRef lg_box_gather_fn(lgen *g, const lowered_model *m, int index)
{
    const ir_op *op = &m->g->ops[index];
    const ir_value *in = &m->g->values[op->in[0]];
    LLVMValueRef body = gen_body(g, op, &m->box[index], index);
    char name[64];
    snprintf(name, sizeof name, "op%d_box_gather", index);
    LLVMTypeRef params[] = {g->ptr, g->ptr, g->ptr, g->ptr, g->ptr, g->ptr, g->i32};
    LLVMValueRef fn = lg_function(g, name, g->voidt, params, 7, 1);
    LLVMTypeRef ctx_t = LLVMArrayType(g->ptr, N_ARGS);
    LLVMValueRef ctx = LLVMBuildAlloca(g->b, ctx_t, "args");
    for (int k = 0; k < N_ARGS; k++) {
        LLVMValueRef idx = lg_i64(g, k);
        LLVMBuildStore(g->b, LLVMGetParam(fn, (unsigned)k),
                       LLVMBuildInBoundsGEP2(g->b, g->ptr, ctx, &idx, 1, ""));
    }
    LLVMTypeRef pp[] = {g->ptr, g->ptr, g->i32};
    LLVMValueRef par = lg_declare(g, "pkl_parallel", g->voidt, pp, 3);
    LLVMValueRef a[] = {body, ctx, LLVMGetParam(fn, 6)};
    lg_call(g, par, a, 3);
    int64_t plane = (int64_t)in->h * in->w;
    if (in->c > op->g) /* channels past g are copied */
        lg_memcpy(g, lg_atc(g, LLVMGetParam(fn, 1), op->g * plane),
                  lg_atc(g, LLVMGetParam(fn, 0), op->g * plane), (in->c - op->g) * plane);
    LLVMBuildRetVoid(g->b);
    return fn;
}
