/* C code for one lowered peripheral conv (box_gather), specialised for its
 * grid, kernel, channels and map: every offset, region size and loop bound is
 * a literal. The schedule is passes/box_plan.h; this file only prints it.
 * Per channel: (1) row boxes by doubling, (2) for each output row the
 * gather-multiply-add into one register accumulator per live column region,
 * (3) column boxes grouped by width, by doubling, added into the output. */
#include <stdio.h>

#include "../../passes/box_plan.h"
#include "emit_c_internal.h"

/* Row box array i, pointer to its row 0. */
static void rowbox_ptr(FILE *f, const box_plan *p, int i, const char *name)
{
    fprintf(f, "            float *%s = s + %lld;\n", name,
            (long long)(p->off_rowbox + ((int64_t)i * p->hp + p->padt) * p->wp));
}

static void emit_row_boxes(FILE *f, const box_plan *p)
{
    fprintf(f, "            /* (1) row boxes B_h(i,j) = sum_{t<h} X(i+t,j), by doubling */\n");
    rowbox_ptr(f, p, 0, "b0");
    fprintf(f, "            for (int i = 0; i < %d; i++)\n"
               "                memcpy(b0 + i * %d, x + i * %d, %d * sizeof(float));\n",
            p->h, p->wp, p->w, p->w);
    for (int k = 1; k < p->rows.n_pow; k++) {
        int m = 1 << (k - 1);
        fprintf(f, "            {\n");
        rowbox_ptr(f, p, k - 1, "src");
        rowbox_ptr(f, p, k, "dst");
        fprintf(f, "                for (int i = %d; i < %d; i++)\n"
                   "                    for (int j = 0; j < %d; j++)\n"
                   "                        dst[i * %d + j] = src[i * %d + j] + src[(i + %d) * %d + j];\n"
                   "            }\n",
                1 - 2 * m, p->h, p->wp, p->wp, p->wp, m, p->wp);
    }
    for (int i = p->rows.n_pow; i < p->n_rowbox; i++) {
        int h = p->rowbox_height[i];
        fprintf(f, "            { /* height %d as a sum of powers of two */\n", h);
        rowbox_ptr(f, p, i, "dst");
        fprintf(f, "                for (int i = %d; i < %d; i++)\n"
                   "                    for (int j = 0; j < %d; j++)\n"
                   "                        dst[i * %d + j] =",
                1 - h, p->h, p->wp, p->wp);
        int off = 0, first = 1;
        for (int k = p->rows.n_pow - 1; k >= 0; k--)
            if (h & (1 << k)) {
                long long base = p->off_rowbox + ((int64_t)k * p->hp + p->padt) * p->wp;
                fprintf(f, "%s s[%lld + (i + %d) * %d + j]", first ? "" : " +", base, off, p->wp);
                off += 1 << k;
                first = 0;
            }
        fprintf(f, ";\n            }\n");
    }
}

static void emit_gather(FILE *f, const box_plan *p, int kc)
{
    const box_axis *R = &p->rows, *C = &p->cols;
    fprintf(f, "                /* (2) gather-multiply-add: one accumulator per live column region */\n");
    fprintf(f, "                for (int jb = 0; jb < %d; jb += %d) {\n", p->wp, p->vec);
    for (int b = C->live0; b < C->live1; b++)
        fprintf(f, "                    pk_vf z%d = {0};\n", b);
    for (int a = R->live0; a < R->live1; a++) {
        int box = box_plan_rowbox(p, R->size[a]);
        long long row0 = p->off_rowbox + ((int64_t)box * p->hp + p->padt) * p->wp;
        fprintf(f, "                    { pk_vf v = pk_load(s + %lld + (xr + %d) * %d + jb);", row0,
                R->lo[a], p->wp);
        for (int b = C->live0; b < C->live1; b++)
            fprintf(f, " z%d += t[%d] * v;", b, a * kc + b);
        fprintf(f, " }\n");
    }
    for (int b = C->live0; b < C->live1; b++)
        fprintf(f, "                    pk_store(s + %lld + jb, z%d);\n",
                (long long)(p->off_z + (int64_t)(b - C->live0) * p->zp + p->zl), b);
    fprintf(f, "                }\n");
}

static void emit_col_boxes(FILE *f, const box_plan *p)
{
    const box_axis *C = &p->cols;
    fprintf(f, "                /* (3) column boxes, grouped by width, by doubling */\n");
    for (int i = 0; i < C->n_sizes; i++) {
        int w = C->sizes[i];
        fprintf(f, "                { /* width %d */\n", w);
        fprintf(f, "                    for (int u = 0; u < %d; u++)\n"
                   "                        s[%lld + u] =",
                p->tl, (long long)p->off_t);
        int first = 1;
        for (int b = C->live0; b < C->live1; b++)
            if (C->size[b] == w) {
                long long z = p->off_z + (int64_t)(b - C->live0) * p->zp + p->zl + C->lo[b];
                fprintf(f, "%s s[%lld + u]", first ? "" : " +", z);
                first = 0;
            }
        fprintf(f, ";\n");
        int levels = 0;
        while ((2 << levels) <= w)
            levels++;
        for (int k = 1; k <= levels; k++) {
            int m = 1 << (k - 1);
            fprintf(f, "                    for (int u = 0; u < %d; u++)\n"
                       "                        s[%lld + u] = s[%lld + u] + s[%lld + u];\n",
                    p->tl - ((1 << k) - 1), (long long)(p->off_t + (int64_t)k * p->tl),
                    (long long)(p->off_t + (int64_t)(k - 1) * p->tl),
                    (long long)(p->off_t + (int64_t)(k - 1) * p->tl + m));
        }
        fprintf(f, "                    for (int j = 0; j < %d; j++)\n"
                   "                        yr[j] +=",
                p->w);
        int off = 0;
        first = 1;
        for (int k = levels; k >= 0; k--)
            if (w & (1 << k)) {
                fprintf(f, "%s s[%lld + j]", first ? "" : " +",
                        (long long)(p->off_t + (int64_t)k * p->tl + off));
                off += 1 << k;
                first = 0;
            }
        fprintf(f, ";\n                }\n");
    }
}

void emit_box_gather_fn(FILE *f, const ir_graph *g, const ir_op *op, int index, int vec)
{
    const ir_value *in = &g->values[op->in[0]];
    box_plan p;
    box_plan_make(&p, &op->rows, &op->cols, in->h, in->w, vec);
    int64_t plane = (int64_t)in->h * in->w;
    fprintf(f, "/* op %d: box_gather, kernel %d on %dx%d, %d of %d channels; live regions %dx%d of "
               "%dx%d;\n * %lld gather multiply-adds and %lld box adds per channel */\n",
            index, op->kernel, in->h, in->w, op->g, in->c, p.rows.live1 - p.rows.live0,
            p.cols.live1 - p.cols.live0, op->rows.n, op->cols.n, (long long)p.gather_macs,
            (long long)p.box_adds);
    fprintf(f, "static void op%d_box_gather(const float *restrict in, float *restrict out,\n"
               "    const float *restrict theta, const float *restrict bias, const float *restrict "
               "map,\n    float *restrict scratch, int nthreads)\n{\n",
            index);
    fprintf(f, "    (void)map;\n#pragma omp parallel num_threads(nthreads)\n    {\n");
    fprintf(f, "        float *s = scratch + (int64_t)pk_thread_id() * %lld;\n",
            (long long)pk_scratch_pitch(p.scratch_floats));
    fprintf(f, "        memset(s, 0, %lld * sizeof(float)); /* box pads stay zero across channels */\n",
            (long long)p.scratch_floats);
    fprintf(f, "#pragma omp for schedule(static)\n        for (int c = 0; c < %d; c++) {\n", op->g);
    fprintf(f, "            const float *x = in + (int64_t)c * %lld;\n", (long long)plane);
    fprintf(f, "            float *y = out + (int64_t)c * %lld;\n", (long long)plane);
    fprintf(f, "            const float *t = theta + c * %d;\n", op->rows.n * op->cols.n);
    emit_row_boxes(f, &p);
    fprintf(f, "            for (int xr = 0; xr < %d; xr++) {\n", in->h);
    fprintf(f, "                float *yr = y + xr * %d;\n", in->w);
    if (op->kpe == IR_KPE_MAP)
        fprintf(f, "                for (int j = 0; j < %d; j++)\n"
                   "                    yr[j] = bias[c] + map[c * %lld + xr * %d + j];\n",
                in->w, (long long)plane, in->w);
    else
        fprintf(f, "                for (int j = 0; j < %d; j++)\n                    yr[j] = bias[c];\n",
                in->w);
    emit_gather(f, &p, op->cols.n);
    emit_col_boxes(f, &p);
    fprintf(f, "            }\n        }\n    }\n");
    if (in->c > op->g)
        fprintf(f, "    memcpy(out + %lld, in + %lld, %lld * sizeof(float));\n",
                (long long)(op->g * plane), (long long)(op->g * plane),
                (long long)((in->c - op->g) * plane));
    fprintf(f, "}\n\n");
    box_plan_free(&p);
}

int64_t box_gather_scratch(const ir_graph *g, const ir_op *op, int vec)
{
    const ir_value *in = &g->values[op->in[0]];
    box_plan p;
    box_plan_make(&p, &op->rows, &op->cols, in->h, in->w, vec);
    int64_t n = p.scratch_floats;
    box_plan_free(&p);
    return n;
}
