/* C code for one lowered peripheral conv (box_gather), specialised for its
 * grid, kernel, channels and map: every offset, region size and loop bound is
 * a literal. The schedule is ir/box_plan.h; this file only prints it.
 * Per channel: (1) row boxes by doubling, (2) for each output row the
 * gather-multiply-add into one register accumulator per live column region,
 * (3) column boxes grouped by width, by doubling, added into the output. */
#include <stdio.h>

#include "emit_c_internal.h"

/* Row box array i, pointer to its row 0. */
static void rowbox_ptr(FILE *f, const box_plan *p, int i, const char *name)
{
    fprintf(f, "            float *%s = s + %lld;\n", name, (long long)box_rowbox_at(p, i));
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
                long long base = box_rowbox_at(p, k);
                fprintf(f, "%s s[%lld + (i + %d) * %d + j]", first ? "" : " +", base, off, p->wp);
                off += 1 << k;
                first = 0;
            }
        fprintf(f, ";\n            }\n");
    }
}

/* The gather for output rows xr .. xr + rows - 1 into Z rows zbase + q * zrow. */
static void emit_gather(FILE *f, const box_plan *p, int kc, int rows)
{
    const box_axis *R = &p->rows, *C = &p->cols;
    fprintf(f, "                for (int jb = 0; jb < %d; jb += %d) {\n", p->wp, p->vec);
    for (int q = 0; q < rows; q++)
        for (int b = C->live0; b < C->live1; b++)
            fprintf(f, "                    pk_vf z%d_%d = {0};\n", q, b);
    for (int a = R->live0; a < R->live1; a++) {
        int box = box_plan_rowbox(p, R->size[a]);
        long long row0 = box_rowbox_at(p, box);
        fprintf(f, "                    {");
        for (int q = 0; q < rows; q++)
            fprintf(f, " pk_vf v%d = pk_load(s + %lld + (xr + %d) * %d + jb);", q, row0,
                    R->lo[a] + q, p->wp);
        for (int b = C->live0; b < C->live1; b++) {
            fprintf(f, "\n                      { float tv = t[%d];", a * kc + b);
            for (int q = 0; q < rows; q++)
                fprintf(f, " z%d_%d += tv * v%d;", q, b, q);
            fprintf(f, " }");
        }
        fprintf(f, " }\n");
    }
    for (int q = 0; q < rows; q++)
        for (int b = C->live0; b < C->live1; b++)
            fprintf(f, "                    pk_store(s + %lld + jb, z%d_%d);\n",
                    (long long)box_z_at(p, q, b), q, b);
    fprintf(f, "                }\n");
}

/* box_t_at as a long long, for printf */
static long long tbuf(const box_plan *p, int q, int i, int k) { return box_t_at(p, q, i, k); }

/* Column boxes for output rows xr .. xr + rows - 1, all in whole vectors with
 * literal trip counts. Level by level across every width group and row, so
 * that a store and the shifted load that reads it back are far apart (a load
 * straddling two recent stores cannot be forwarded and stalls). */
static void emit_col_boxes(FILE *f, const box_plan *p, int rows)
{
    const box_axis *C = &p->cols;
    int v = p->vec;
    int tlv = (p->tl + v - 1) / v * v, max_levels = 0;
    fprintf(f, "                /* (3) column boxes, grouped by width, by doubling */\n");
    for (int q = 0; q < rows; q++)
        for (int i = 0; i < C->n_sizes; i++) {
            int w = C->sizes[i];
            if (box_width_levels(w) > max_levels)
                max_levels = box_width_levels(w);
            fprintf(f, "                for (int u = 0; u < %d; u += %d) /* row %d, width %d */\n"
                       "                    pk_store(s + %lld + u,",
                    tlv, v, q, w, tbuf(p, q, i, 0));
            int first = 1;
            for (int b = C->live0; b < C->live1; b++)
                if (C->size[b] == w) {
                    long long z = box_z_at(p, q, b) + C->lo[b];
                    fprintf(f, "%s pk_load(s + %lld + u)", first ? "" : " +", z);
                    first = 0;
                }
            fprintf(f, ");\n");
        }
    for (int k = 1; k <= max_levels; k++)
        for (int q = 0; q < rows; q++)
            for (int i = 0; i < C->n_sizes; i++) {
                if (box_width_levels(C->sizes[i]) < k)
                    continue;
                int m = 1 << (k - 1), len = p->tl - ((1 << k) - 1);
                fprintf(f, "                for (int u = 0; u < %d; u += %d)\n"
                           "                    pk_store(s + %lld + u, pk_load(s + %lld + u) + "
                           "pk_load(s + %lld + u));\n",
                        (len + v - 1) / v * v, v, tbuf(p, q, i, k), tbuf(p, q, i, k - 1),
                        tbuf(p, q, i, k - 1) + m);
            }
    for (int q = 0; q < rows; q++) {
        fprintf(f, "                {\n                float *yr = s + %lld;\n",
                (long long)box_out_at(p, q));
        fprintf(f, "                for (int j = 0; j < %d; j += %d)\n"
                   "                    pk_store(yr + j, pk_load(yr + j)", p->wp, v);
        for (int i = 0; i < C->n_sizes; i++) {
            int w = C->sizes[i], off = 0;
            for (int k = box_width_levels(w); k >= 0; k--)
                if (w & (1 << k)) {
                    fprintf(f, " + pk_load(s + %lld + j)", tbuf(p, q, i, k) + off);
                    off += 1 << k;
                }
        }
        fprintf(f, ");\n                }\n");
    }
}

void emit_box_gather_fn(FILE *f, const lowered_model *m, int index)
{
    const ir_op *op = &m->g->ops[index];
    const ir_value *in = &m->g->values[op->in[0]];
    const box_plan *p = &m->box[index];
    int64_t plane = (int64_t)in->h * in->w;
    fprintf(f, "/* op %d: box_gather, kernel %d on %dx%d, %d of %d channels; live regions %dx%d of "
               "%dx%d;\n * %lld gather multiply-adds and %lld box adds per channel */\n",
            index, op->kernel, in->h, in->w, op->g, in->c, p->rows.live1 - p->rows.live0,
            p->cols.live1 - p->cols.live0, op->rows.n, op->cols.n, (long long)p->gather_macs,
            (long long)p->box_adds);
    fprintf(f, "static void op%d_box_gather(const float *restrict in, float *restrict out,\n"
               "    const float *restrict theta, const float *restrict bias, const float *restrict "
               "map,\n    float *restrict scratch, int nthreads)\n{\n",
            index);
    fprintf(f, "    (void)map;\n#pragma omp parallel num_threads(nthreads)\n    {\n");
    fprintf(f, "        float *s = scratch + (int64_t)pk_thread_id() * %lld;\n",
            (long long)pk_scratch_pitch(p->scratch_floats));
    fprintf(f, "        memset(s, 0, %lld * sizeof(float)); /* box pads stay zero across channels */\n",
            (long long)p->scratch_floats);
    fprintf(f, "#pragma omp for schedule(static)\n        for (int c = 0; c < %d; c++) {\n", op->g);
    fprintf(f, "            const float *x = in + (int64_t)c * %lld;\n", (long long)plane);
    fprintf(f, "            float *y = out + (int64_t)c * %lld;\n", (long long)plane);
    fprintf(f, "            const float *t = theta + c * %d;\n", op->rows.n * op->cols.n);
    emit_row_boxes(f, p);
    int rows = box_gather_rows(p);
    for (int pass = 0; pass < 2; pass++) {
        /* rows at a time, then one at a time for what is left */
        int step = pass == 0 ? rows : 1;
        if (pass == 1 && rows == 1)
            break;
        if (pass == 0)
            fprintf(f, "            int xr = 0;\n            for (; xr + %d <= %d; xr += %d) {\n", step,
                    in->h, step);
        else
            fprintf(f, "            for (; xr < %d; xr++) {\n", in->h);
        emit_gather(f, p, op->cols.n, step);
        /* the rows are built in padded buffers, then their w floats copied out */
        for (int q = 0; q < step; q++) {
            fprintf(f, "                {\n                float *yr = s + %lld;\n",
                    (long long)box_out_at(p, q));
            if (op->kpe == IR_KPE_MAP)
                fprintf(f, "                for (int j = 0; j < %d; j++)\n"
                           "                    yr[j] = bias[c] + map[c * %lld + (xr + %d) * %d + j];\n"
                           "                }\n",
                        in->w, (long long)plane, q, in->w);
            else
                fprintf(f, "                for (int j = 0; j < %d; j++)\n"
                           "                    yr[j] = bias[c];\n                }\n",
                        in->w);
        }
        emit_col_boxes(f, p, step);
        for (int q = 0; q < step; q++)
            fprintf(f, "                memcpy(y + (xr + %d) * %d, s + %lld, %d * sizeof(float));\n",
                    q, in->w, (long long)box_out_at(p, q), in->w);
        fprintf(f, "            }\n");
    }
    fprintf(f, "        }\n    }\n");
    if (in->c > op->g)
        fprintf(f, "    memcpy(out + %lld, in + %lld, %lld * sizeof(float));\n",
                (long long)(op->g * plane), (long long)(op->g * plane),
                (long long)((in->c - op->g) * plane));
    fprintf(f, "}\n\n");
}

static void int_list(FILE *f, const sharing_grid *gr)
{
    for (int i = 0; i < gr->n; i++)
        fprintf(f, "%s%d", i ? ", " : "", gr->size[i]);
}

void emit_box_gather_config(FILE *f, const ir_graph *g, const ir_op *op, int index)
{
    const ir_value *in = &g->values[op->in[0]];
    fprintf(f, "/* op %d: box_gather, kernel %d on %dx%d, %d of %d channels (generic kernel) */\n",
            index, op->kernel, in->h, in->w, op->g, in->c);
    fprintf(f, "static const int op%d_rows[] = {", index);
    int_list(f, &op->rows);
    fprintf(f, "};\nstatic const int op%d_cols[] = {", index);
    int_list(f, &op->cols);
    fprintf(f, "};\nstatic const pkx_box_config op%d_config = {%d, %d, %d, %d, %d, %d, %d, "
               "op%d_rows, op%d_cols};\n\n",
            index, in->c, op->g, in->h, in->w, op->kpe == IR_KPE_MAP, op->rows.n, op->cols.n,
            index, index);
}
