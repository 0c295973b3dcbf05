#include "box_plan.h"

#include <stdlib.h>

#include "../common/diag.h"

static int max_int(int a, int b) { return a > b ? a : b; }

static int round_up(int x, int m) { return (x + m - 1) / m * m; }

static void add_size(box_axis *ax, int s)
{
    for (int i = 0; i < ax->n_sizes; i++)
        if (ax->sizes[i] == s)
            return;
    if (ax->n_sizes < BOX_MAX_SIZES)
        ax->sizes[ax->n_sizes++] = s;
}

/* Regions of one axis, which of them can touch a map of `extent` pixels, and
 * the distinct sizes among those. A region is live iff some output x has its
 * box [x + lo, x + lo + size) meeting [0, extent): lo <= extent-1 and
 * lo + size >= 2 - extent. lo grows with the region index, so the live ones
 * are a contiguous run. */
static void make_axis(box_axis *ax, const sharing_grid *g, int extent)
{
    int r = grid_sum(g) / 2;
    ax->n = g->n;
    ax->lo = xcalloc((size_t)g->n, sizeof *ax->lo);
    ax->size = xcalloc((size_t)g->n, sizeof *ax->size);
    ax->live0 = g->n;
    ax->live1 = 0;
    ax->n_sizes = 0;
    for (int a = 0, p = 0; a < g->n; p += g->size[a], a++) {
        ax->lo[a] = p - r;
        ax->size[a] = g->size[a];
        if (ax->lo[a] <= extent - 1 && ax->lo[a] + ax->size[a] >= 2 - extent) {
            if (ax->live0 > a)
                ax->live0 = a;
            ax->live1 = a + 1;
            add_size(ax, ax->size[a]);
        }
    }
    int maxs = 1;
    for (int i = 0; i < ax->n_sizes; i++)
        maxs = max_int(maxs, ax->sizes[i]);
    ax->n_pow = 1;
    while ((1 << ax->n_pow) <= maxs)
        ax->n_pow++;
}

static int max_size(const box_axis *ax)
{
    int m = 1;
    for (int i = 0; i < ax->n_sizes; i++)
        m = max_int(m, ax->sizes[i]);
    return m;
}

void box_plan_make(box_plan *p, const sharing_grid *rows, const sharing_grid *cols, int h, int w,
                   int vec)
{
    p->h = h;
    p->w = w;
    p->kernel = grid_sum(rows);
    p->r = p->kernel / 2;
    p->vec = vec;
    p->wp = round_up(w, vec);
    make_axis(&p->rows, rows, h);
    make_axis(&p->cols, cols, w);

    /* row boxes: the powers of two, then the other heights */
    int maxh = max_size(&p->rows);
    p->n_rowbox = 0;
    for (int k = 0; k < p->rows.n_pow; k++)
        p->rowbox_height[p->n_rowbox++] = 1 << k;
    for (int i = 0; i < p->rows.n_sizes; i++)
        if (box_plan_rowbox(p, p->rows.sizes[i]) < 0)
            p->rowbox_height[p->n_rowbox++] = p->rows.sizes[i];
    p->padt = maxh;
    p->padb = maxh;
    for (int a = p->rows.live0; a < p->rows.live1; a++) {
        p->padt = max_int(p->padt, -p->rows.lo[a]);
        p->padb = max_int(p->padb, p->rows.lo[a]);
    }
    p->hp = h + p->padt + p->padb;

    /* column side: Z rows read at u + lo_b for u in [0, wp + maxw) */
    int maxw = max_size(&p->cols), lo_min = 0, lo_max = 0;
    for (int b = p->cols.live0; b < p->cols.live1; b++) {
        lo_min = lo_min < p->cols.lo[b] ? lo_min : p->cols.lo[b];
        lo_max = max_int(lo_max, p->cols.lo[b]);
    }
    p->tl = p->wp + maxw;
    p->tlp = round_up(p->tl, vec) + round_up(maxw, vec) + vec;
    p->zl = round_up(-lo_min, vec);
    p->zp = round_up(p->zl + lo_max + round_up(p->tl, vec), vec) + vec;

    int live_r = p->rows.live1 - p->rows.live0, live_c = p->cols.live1 - p->cols.live0;
    if (live_r < 0)
        live_r = 0;
    if (live_c < 0)
        live_c = 0;
    p->off_rowbox = 0;
    p->off_z = p->off_rowbox + (int64_t)p->n_rowbox * p->hp * p->wp;
    p->off_t = p->off_z + (int64_t)2 * live_c * p->zp; /* two output rows' worth */
    /* doubling buffers per output row (two), per width group, per level */
    p->off_out = p->off_t + (int64_t)2 * p->cols.n_sizes * (p->cols.n_pow + 1) * p->tlp;
    p->scratch_floats = p->off_out + 2 * p->wp;

    p->gather_macs = (int64_t)live_r * live_c * h * w;
    /* adds: each row box array once per row, each column region once per
     * row in T, each doubling level and each set bit once per row */
    int64_t row_adds = (int64_t)(p->n_rowbox - 1) * (h + maxh) * w;
    int64_t col_adds = (int64_t)h * (live_c + p->cols.n_sizes * (p->cols.n_pow + 2)) * p->tl;
    p->box_adds = row_adds + col_adds;
}

void box_plan_free(box_plan *p)
{
    free(p->rows.lo);
    free(p->rows.size);
    free(p->cols.lo);
    free(p->cols.size);
    p->rows.lo = p->rows.size = p->cols.lo = p->cols.size = NULL;
}

int box_plan_rowbox(const box_plan *p, int height)
{
    for (int i = 0; i < p->n_rowbox; i++)
        if (p->rowbox_height[i] == height)
            return i;
    return -1;
}
