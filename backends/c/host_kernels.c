/* The generic lowered conv of runtime/pelkc_host.h, built into pelkc by the
 * system compiler (CMake gives this file -O3, the target's -march and OpenMP)
 * for models compiled in process by libtcc; their other kernels are the
 * runtime's library (runtime/pelkc_kernels_lib.c). It is a generic version of
 * emit_box_gather.c's code: the same schedule and scratch layout
 * (box_plan.h), with loop bounds read from the plan instead of printed as
 * literals. */
#include <stdlib.h>
#include <string.h>

#include "../../runtime/pelkc_kernels.h" /* PK_VEC: the target's widest */
/* after the kernels: its macros rename pk_* to pkl_* for generated code */
#include "../../runtime/pelkc_host.h"

#include "../lowered_model.h"

/* the scratch layout pkx_box_gather expects (tcc_build.c emits for it) */
int host_kernels_vec(void) { return PK_VEC; }

/* ---- the lowered conv, generic ---- */

static float *rowbox(const box_plan *p, float *s, int i) { return s + box_rowbox_at(p, i); }

/* (1) row boxes B_h(i,j) = sum_{t<h} X(i+t,j): powers of two by doubling, other heights as sums
 * of powers; rows [1 - h, h) of each array, as the specialised code writes them. */
static void row_boxes(const box_plan *p, const float *x, float *s)
{
    float *b0 = rowbox(p, s, 0);
    for (int i = 0; i < p->h; i++)
        memcpy(b0 + (int64_t)i * p->wp, x + (int64_t)i * p->w, (size_t)p->w * sizeof(float));
    for (int k = 1; k < p->rows.n_pow; k++) {
        int m = 1 << (k - 1);
        const float *src = rowbox(p, s, k - 1);
        float *dst = rowbox(p, s, k);
        for (int i = 1 - 2 * m; i < p->h; i++)
            for (int j = 0; j < p->wp; j++)
                dst[i * p->wp + j] = src[i * p->wp + j] + src[(i + m) * p->wp + j];
    }
    for (int r = p->rows.n_pow; r < p->n_rowbox; r++) {
        int h = p->rowbox_height[r];
        float *dst = rowbox(p, s, r);
        for (int i = 1 - h; i < p->h; i++) {
            float *d = dst + i * p->wp;
            int off = 0, first = 1;
            for (int k = p->rows.n_pow - 1; k >= 0; k--)
                if (h & (1 << k)) { /* the highest power first, as the specialised code adds */
                    const float *src = rowbox(p, s, k) + (i + off) * p->wp;
                    for (int j = 0; j < p->wp; j++)
                        d[j] = first ? src[j] : d[j] + src[j];
                    off += 1 << k, first = 0;
                }
        }
    }
}

/* (2) Z_b for output row xr: sum over live row regions a of theta[a,b] * B_{h_a}(xr + P_a - r),
 * eight column regions at a time so each loaded row vector feeds eight accumulators. */
static void gather(const box_plan *p, const float *t, int kc, int xr, float *s,
                   const float *const *arow)
{
    const box_axis *R = &p->rows, *C = &p->cols;
    enum { NB = 8 };
    for (int b0 = C->live0; b0 < C->live1; b0 += NB) {
        int nb = C->live1 - b0 < NB ? C->live1 - b0 : NB;
        for (int jb = 0; jb < p->wp; jb += PK_VEC) {
            pk_vf z[NB] = {{0}};
            for (int a = R->live0; a < R->live1; a++) {
                pk_vf v = pk_load(arow[a] + (int64_t)(xr + R->lo[a]) * p->wp + jb);
                const float *ta = t + a * kc + b0;
                for (int q = 0; q < nb; q++)
                    z[q] += ta[q] * v;
            }
            for (int q = 0; q < nb; q++)
                pk_store(s + box_z_at(p, 0, b0 + q) + jb, z[q]);
        }
    }
}

/* one output row at a time: the first of the layout's two */
static float *tbuf(const box_plan *p, float *s, int i, int k) { return s + box_t_at(p, 0, i, k); }

/* (3) column boxes of row yr (already holding bias and map), grouped by width, by doubling. */
static void col_boxes(const box_plan *p, float *s, float *yr)
{
    const box_axis *C = &p->cols;
    int v = PK_VEC, tlv = (p->tl + v - 1) / v * v;
    for (int i = 0; i < C->n_sizes; i++) {
        float *t0 = tbuf(p, s, i, 0);
        for (int u = 0; u < tlv; u += v) {
            pk_vf acc = {0};
            for (int b = C->live0; b < C->live1; b++)
                if (C->size[b] == C->sizes[i])
                    acc += pk_load(s + box_z_at(p, 0, b) + C->lo[b] + u);
            pk_store(t0 + u, acc);
        }
        for (int k = 1; k <= box_width_levels(C->sizes[i]); k++) {
            int m = 1 << (k - 1), len = p->tl - ((1 << k) - 1);
            float *dst = tbuf(p, s, i, k), *src = tbuf(p, s, i, k - 1);
            for (int u = 0; u < (len + v - 1) / v * v; u += v)
                pk_store(dst + u, pk_load(src + u) + pk_load(src + u + m));
        }
    }
    for (int j = 0; j < p->wp; j += v) {
        pk_vf acc = pk_load(yr + j);
        for (int i = 0; i < C->n_sizes; i++) {
            int w = C->sizes[i], off = 0;
            for (int k = box_width_levels(w); k >= 0; k--)
                if (w & (1 << k)) {
                    acc += pk_load(tbuf(p, s, i, k) + off + j);
                    off += 1 << k;
                }
        }
        pk_store(yr + j, acc);
    }
}

void pkx_box_gather(const float *in, float *out, const float *theta, const float *bias,
                    const float *map, float *scratch, int nthreads, const pkx_box_config *cfg)
{
    sharing_grid rows = {cfg->n_rows, (int *)cfg->rows}, cols = {cfg->n_cols, (int *)cfg->cols};
    box_plan p;
    box_plan_make(&p, &rows, &cols, cfg->h, cfg->w, PK_VEC);
    int64_t plane = (int64_t)cfg->h * cfg->w, pitch = pk_scratch_pitch(p.scratch_floats);
    (void)nthreads;
#pragma omp parallel num_threads(nthreads)
    {
        float *s = scratch + (int64_t)pk_thread_id() * pitch;
        memset(s, 0, (size_t)p.scratch_floats * sizeof(float)); /* box pads stay zero */
        const float **arow = xcalloc((size_t)cfg->n_rows, sizeof *arow); /* row box of region a */
        for (int a = p.rows.live0; a < p.rows.live1; a++)
            arow[a] = rowbox(&p, s, box_plan_rowbox(&p, p.rows.size[a]));
#pragma omp for schedule(static)
        for (int c = 0; c < cfg->g; c++) {
            const float *x = in + c * plane, *t = theta + (int64_t)c * cfg->n_rows * cfg->n_cols;
            float *y = out + c * plane, *yr = s + box_out_at(&p, 0);
            row_boxes(&p, x, s);
            for (int xr = 0; xr < cfg->h; xr++) {
                gather(&p, t, cfg->n_cols, xr, s, arow);
                for (int j = 0; j < cfg->w; j++)
                    yr[j] = bias[c] + (cfg->map ? map[c * plane + (int64_t)xr * cfg->w + j] : 0.0f);
                col_boxes(&p, s, yr);
                memcpy(y + (int64_t)xr * cfg->w, yr, (size_t)cfg->w * sizeof(float));
            }
        }
        free(arow);
    }
    if (cfg->c > cfg->g)
        memcpy(out + cfg->g * plane, in + cfg->g * plane,
               (size_t)((cfg->c - cfg->g) * plane) * sizeof(float));
    box_plan_free(&p);
}
