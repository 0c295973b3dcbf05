/* The schedule of a lowered peripheral conv (NOTES.md section 2), computed
 * once from the op's grid and map size and shared by the cost model, the IR
 * printer and every backend.
 *
 * For one channel, with r = k/2 and row regions a (offset P_a, height h_a),
 * column regions b (offset Q_b, width w_b):
 *
 *   Y(x,y) = sum_b sum_{t<w_b} Z_b(x, y + Q_b - r + t)                  (3) column boxes
 *   Z_b(x,j) = sum_a theta[a,b] * B_{h_a}(x + P_a - r, j)                (2) gather-multiply-add
 *   B_h(i,j) = sum_{t<h} X(i + t, j)     (X zero outside the image)      (1) row boxes
 *
 * (1) is built by doubling (B_2 = B_1 + B_1 shifted by 1, B_4 from B_2, ...,
 * other heights as sums of powers), so every box is a balanced tree of adds:
 * no running sums and no summed-area-table cancellation, whatever the map size.
 * (2) costs k'_rows x k'_cols multiply-adds per output; (3) groups the column
 * regions by width and boxes them the same way. Regions whose box can never
 * touch the map (a kernel larger than the map) are dropped at compile time. */
#ifndef PELK_BOX_PLAN_H
#define PELK_BOX_PLAN_H

#include <stdint.h>

#include "grid.h"

enum { BOX_MAX_SIZES = 32 }; /* distinct heights or widths; sizes <= 4095 need at most ~24 */

typedef struct box_axis {
    int n;        /* regions on this axis (k') */
    int live0, live1; /* live regions [live0, live1): their box can touch the map */
    int *lo;      /* per region: offset of its first tap from the output, P_a - r */
    int *size;    /* per region: h_a or w_b */
    int n_sizes;  /* distinct sizes among the live regions */
    int sizes[BOX_MAX_SIZES];
    int n_pow;    /* powers of two 1, 2, ..., 2^(n_pow-1) the doubling needs */
} box_axis;

typedef struct box_plan {
    int h, w;        /* map */
    int kernel, r;
    int vec;         /* vector width the code is blocked for (floats) */
    int wp;          /* w rounded up to vec: row pitch of every buffer */
    box_axis rows, cols;
    /* row boxes: every array holds rows [-padt, h + padb) with pitch wp;
     * rows whose box misses the map stay zero */
    int padt, padb, hp;
    int n_rowbox;        /* arrays: the powers, then composite heights */
    int rowbox_height[2 * BOX_MAX_SIZES];
    /* column side: per live column region a zero-padded row of pitch zp,
     * data at [zl, zl + wp); then doubling rows holding tl values, of pitch
     * tlp (room for whole-vector reads past tl) */
    int zl, zp, tl, tlp;
    /* scratch layout per thread, in floats */
    int64_t off_rowbox, off_z, off_t, off_out, scratch_floats;
    /* cost per channel and image */
    int64_t gather_macs, box_adds;
} box_plan;

/* Plan the lowered conv of a kernel with these grids on an h x w map, code
 * blocked for vec floats. Free with box_plan_free. */
void box_plan_make(box_plan *p, const sharing_grid *rows, const sharing_grid *cols, int h, int w,
                   int vec);
void box_plan_free(box_plan *p);

/* Index of a row box array of height h in rowbox_height (-1 if none). */
int box_plan_rowbox(const box_plan *p, int height);

/* Where the buffers lie in a thread's scratch, in floats from its start: the
 * layout above, written once for the specialised code (C and LLVM) and the
 * generic kernel. q is one of the two output rows a gather builds at once. */
static inline int64_t box_rowbox_at(const box_plan *p, int i) /* row box array i, its row 0 */
{
    return p->off_rowbox + ((int64_t)i * p->hp + p->padt) * p->wp;
}

static inline int64_t box_z_at(const box_plan *p, int q, int b) /* Z of column region b, data */
{
    int live_c = p->cols.live1 - p->cols.live0;
    return p->off_z + ((int64_t)q * live_c + (b - p->cols.live0)) * p->zp + p->zl;
}

static inline int64_t box_t_at(const box_plan *p, int q, int i, int k) /* width group i, level k */
{
    return p->off_t + (((int64_t)q * p->cols.n_sizes + i) * (p->cols.n_pow + 1) + k) * p->tlp;
}

static inline int64_t box_out_at(const box_plan *p, int q) { return p->off_out + (int64_t)q * p->wp; }

/* Doubling levels a column box of width w needs: the largest k with 2^k <= w. */
static inline int box_width_levels(int w)
{
    int levels = 0;
    while ((2 << levels) <= w)
        levels++;
    return levels;
}

/* Output rows the specialised code gathers together, so that each theta
 * broadcast feeds that many FMAs: two when the accumulators fit AVX-512's 32
 * vector registers. */
static inline int box_gather_rows(const box_plan *p)
{
    int live_c = p->cols.live1 - p->cols.live0;
    return p->vec == 16 && 2 * live_c + 4 <= 32 ? 2 : 1;
}

#endif
