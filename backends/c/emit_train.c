/* The training kernels' generator (backends/train.h, spec/TRAIN.md): C for
 * one peripheral conv configuration, its grids as literal offsets, the
 * gathers unrolled over the column regions. One double summed-area table per
 * image and channel gives every region's box sum in 4 lookups; the typed
 * entry points (float and double) are printed from one template. */
#include <stdlib.h>
#include <string.h>

#include "../train.h"

enum { UNROLL_MAX = 24 }; /* column regions + 1 up to this: one unrolled statement per row */

void train_config_describe(const train_config *c, char *buf, size_t cap)
{
    static const char *const kpe[] = {"none", "constant", "border"};
    char rows[2048], cols[2048];
    grid_format(&c->rows, rows, sizeof rows);
    grid_format(&c->cols, cols, sizeof cols);
    snprintf(buf, cap, "kernel %d rows %s cols %s channels %d kpe %s", c->kernel, rows, cols,
             c->channels, kpe[c->kpe]);
}

static int check_config(const train_config *c, pelk_diag *d)
{
    if (c->kernel < 1 || c->kernel % 2 == 0 || c->kernel > 4095)
        return diag_set(d, "kernel must be odd and in [1, 4095], got %d", c->kernel);
    if (c->channels < 1 || c->channels > 65536)
        return diag_set(d, "channels must be in [1, 65536], got %d", c->channels);
    if (grid_sum(&c->rows) != c->kernel || grid_sum(&c->cols) != c->kernel)
        return diag_set(d, "the grids sum to %d (rows) and %d (cols) but the kernel is %d",
                        grid_sum(&c->rows), grid_sum(&c->cols), c->kernel);
    if (c->kpe < TRAIN_KPE_NONE || c->kpe > TRAIN_KPE_BORDER)
        return diag_set(d, "unknown kpe mode %d", (int)c->kpe);
    return 0;
}

/* "static const int NAME[n] = {...};" wrapped at 100 columns. */
static void put_array(FILE *f, const char *name, const int *v, int n, const char *why)
{
    /* unused where the gathers are unrolled: they document the offsets then */
    fprintf(f, "/* %s */\nstatic const int %s[%d] __attribute__((unused)) = {", why, name, n);
    int col = 30;
    for (int i = 0; i < n; i++) {
        char num[16];
        int len = snprintf(num, sizeof num, "%d", v[i]);
        if (col + len > 96) {
            fputs("\n    ", f);
            col = 4;
        }
        fprintf(f, "%s%s", num, i + 1 < n ? ", " : "");
        col += len + 2;
    }
    fputs("};\n", f);
}

/* Prefix sums 0, s_0, s_0 + s_1, ..., k of a grid (forward), or of its reverse (mirrored). */
static int *prefix(const sharing_grid *g, int mirrored)
{
    int *p = xcalloc((size_t)g->n + 1, sizeof *p);
    for (int a = 0; a < g->n; a++)
        p[a + 1] = p[a] + g->size[mirrored ? g->n - 1 - a : a];
    return p;
}

/* Per tap, the index of the region it is in. */
static int *region_of_tap(const sharing_grid *g)
{
    int *r = xcalloc((size_t)grid_sum(g), sizeof *r);
    for (int a = 0, i = 0; a < g->n; a++)
        for (int t = 0; t < g->size[a]; t++)
            r[i++] = a;
    return r;
}

/* Print t with every "$T" replaced by ty, "$S" by sfx and "$A".."$E" by snip[0..4] (NULL:
 * nothing; a snippet's own $T and $S are replaced too). */
static void put_typed(FILE *f, const char *t, const char *ty, const char *sfx,
                      const char *const snip[5])
{
    for (; *t; t++) {
        if (t[0] == '$' && (t[1] == 'T' || t[1] == 'S')) {
            fputs(t[1] == 'T' ? ty : sfx, f);
            t++;
        } else if (t[0] == '$' && t[1] >= 'A' && t[1] <= 'E') {
            const char *sn = snip[t[1] - 'A'];
            if (sn)
                put_typed(f, sn, ty, sfx, snip);
            t += t[2] == '\n' ? 2 : 1; /* a placeholder's line goes with it */
        } else
            fputc(*t, f);
    }
}

/* A balanced sum of d<v> * p<v>[y] for v in [lo, hi): independent chains for the FMA units. */
static void put_tree(FILE *f, int lo, int hi)
{
    if (hi - lo == 1) {
        fprintf(f, "d%d * p%d[y]", lo, lo);
        return;
    }
    int mid = (lo + hi) / 2;
    fputc('(', f);
    put_tree(f, lo, mid);
    fputs(" + ", f);
    put_tree(f, mid, hi);
    fputc(')', f);
}

/* "const double *p0 = p + Q[0] * lanes, ...;": one pointer per column corner, each read at unit
 * stride by the vector loop. */
static void put_corner_pointers(FILE *f, const char *indent, const int *q, int kc1, int lanes)
{
    fprintf(f, "%sconst double", indent);
    for (int v = 0; v < kc1; v++)
        fprintf(f, "%s%s%s*p%d = p + %d", v ? "," : "", v && v % 4 == 0 ? "\n    " : " ",
                v && v % 4 == 0 ? indent : "", v, q[v] * lanes);
    fputs(";\n", f);
}

/* The out-of-line inner loops: gcc, given them inlined, vectorised the loop over table rows
 * (with gathers, 3-4x slower) instead of the one over the row's outputs. */
static const char noinline_attr[] = "static __attribute__((noinline)) void";

/* gather_<name>_<lanes>: acc[y] += sum_v d[v] * p[y + Q[v] lanes] for y < w: one table row's
 * share of an output row. */
static void put_gather(FILE *f, const char *name, const int *q, int kc1, int lanes)
{
    fprintf(f, "\n/* acc[y] += sum over column corners v of d[v] * p[y + Q_%s[v] * %d], y < w. */\n"
               "%s gather_%s_%d(const double *restrict p, const double *restrict d, int w,\n"
               "                          double *restrict acc)\n{\n",
            name, lanes, noinline_attr, name, lanes);
    if (kc1 <= UNROLL_MAX) {
        fputs("    const double", f);
        for (int v = 0; v < kc1; v++)
            fprintf(f, "%s%s d%d = d[%d]", v ? "," : "", v && v % 8 == 0 ? "\n       " : "", v, v);
        fputs(";\n", f);
        put_corner_pointers(f, "    ", q, kc1, lanes);
        fputs("#pragma omp simd\n    for (int y = 0; y < w; y++)\n        acc[y] += ", f);
        put_tree(f, 0, kc1);
        fputs(";\n}\n", f);
    } else {
        fprintf(f, "    for (int v = 0; v < KC1; v++) {\n"
                   "        const double dv = d[v], *pv = p + Q_%s[v] * %d;\n"
                   "#pragma omp simd\n"
                   "        for (int y = 0; y < w; y++)\n"
                   "            acc[y] += dv * pv[y];\n"
                   "    }\n}\n", name, lanes);
    }
}

/* conv_row_<name>: acc[y] = sum_{u,v} D[u][v] S(clamp(x - R + P[u]), y - R + Q[v]) for one
 * output row x (u over row corners, v over column corners); rows that clamp alike are merged
 * first (a kernel larger than the map), row 0 is zero. With lanes = L (conv_lanes_<name>) the
 * table interleaves L images per column, so the same loop runs over y * L + image with every
 * column offset times L: one long vector loop however narrow the map. */
static void put_conv_row(FILE *f, const char *name, const int *q, int kc1, int lanes)
{
    put_gather(f, name, q, kc1, lanes);
    fprintf(f,
            "\n/* One output row x of the box-sum-plus-gather on grid %s%s: acc[y] = sum over corners\n"
            " * (u, v) of D[u][v] * S(clamp(x - R + P[u]), y - R + Q[v]). */\n"
            "static void %s_%s(const double *restrict S, int pitch, int h, int x,\n"
            "                        const double *restrict D, int w, double *restrict acc,\n"
            "                        scratch *s)\n{\n"
            "    int nr = 0, last = -1;\n"
            "    for (int u = 0; u < KR1; u++) {\n"
            "        int i = x - R + P_%s[u];\n"
            "        i = i < 0 ? 0 : i > h ? h : i;\n"
            "        if (i == 0)\n"
            "            continue; /* S's row 0 is zero */\n"
            "        if (i != last) {\n"
            "            s->rows[nr] = S + (ptrdiff_t)i * pitch;\n"
            "            memcpy(s->Dm + nr * KC1, D + u * KC1, sizeof(double) * KC1);\n"
            "            nr++, last = i;\n"
            "        } else {\n"
            "            for (int v = 0; v < KC1; v++)\n"
            "                s->Dm[(nr - 1) * KC1 + v] += D[u * KC1 + v];\n"
            "        }\n"
            "    }\n"
            "    memset(acc, 0, sizeof(double) * (size_t)w);\n"
            "    for (int m = 0; m < nr; m++)\n"
            "        gather_%s_%d(s->rows[m], s->Dm + m * KC1, w, acc);\n"
            "}\n",
            name, lanes > 1 ? ", L images interleaved" : "", lanes > 1 ? "conv_lanes" : "conv_row", name,
            name, name, lanes);
}

/* corr_row: Gc[u][v] += sum_y g[y] S(clamp(x - R + P[u]), y - R + Q[v]) for one row x of dY;
 * corr_lanes (lanes = L) the same over L interleaved images at once, summed over them too. */
static void put_corr_row(FILE *f, const int *q, int kc1, int lanes)
{
    fprintf(f, "\n/* sum[v] = sum over y < w of g[y] * p[y + Q_FWD[v] * %d]. */\n"
               "%s corr_sums_%d(const double *restrict p, const double *restrict g, int w,\n"
               "                         double *restrict sum)\n{\n",
            lanes, noinline_attr, lanes);
    if (kc1 <= UNROLL_MAX) {
        put_corner_pointers(f, "    ", q, kc1, lanes);
        fputs("    double", f);
        for (int v = 0; v < kc1; v++)
            fprintf(f, "%s%s s%d = 0", v ? "," : "", v && v % 8 == 0 ? "\n       " : "", v);
        fputs(";\n#pragma omp simd reduction(+:", f);
        for (int v = 0; v < kc1; v++)
            fprintf(f, "%ss%d", v ? "," : "", v);
        fputs(")\n    for (int y = 0; y < w; y++) {\n        const double gy = g[y];\n", f);
        for (int v = 0; v < kc1; v++)
            fprintf(f, "        s%d += gy * p%d[y];\n", v, v);
        fputs("    }\n", f);
        for (int v = 0; v < kc1; v++)
            fprintf(f, "    sum[%d] = s%d;\n", v, v);
        fputs("}\n", f);
    } else {
        fprintf(f, "    for (int v = 0; v < KC1; v++) {\n"
                   "        const double *pv = p + Q_FWD[v] * %d;\n"
                   "        double sv = 0;\n"
                   "#pragma omp simd reduction(+:sv)\n"
                   "        for (int y = 0; y < w; y++)\n"
                   "            sv += g[y] * pv[y];\n"
                   "        sum[v] = sv;\n"
                   "    }\n}\n", lanes);
    }
    fprintf(f, "\n/* One row x of dY against the box sums' corners%s: G[u][v] += sum_y g[y] *\n"
               " * S(clamp(x - R + P[u]), y - R + Q[v]); rows that clamp alike share their sums. */\n"
               "static void %s(const double *restrict S, int pitch, int h, int x,\n"
               "                     const double *restrict g, int w, double *restrict Gc)\n{\n"
               "    double sum[KC1] = {0};\n"
               "    int last = -1;\n"
               "    for (int u = 0; u < KR1; u++) {\n"
               "        int i = x - R + P_FWD[u];\n"
               "        i = i < 0 ? 0 : i > h ? h : i;\n"
               "        if (i == 0)\n"
               "            continue;\n"
               "        if (i != last) {\n"
               "            corr_sums_%d(S + (ptrdiff_t)i * pitch, g, w, sum);\n"
               "            last = i;\n"
               "        }\n"
               "        for (int v = 0; v < KC1; v++)\n"
               "            Gc[u * KC1 + v] += sum[v];\n"
               "    }\n}\n",
            lanes > 1 ? " (L images interleaved)" : "", lanes > 1 ? "corr_lanes" : "corr_row", lanes);
}

#include "emit_train_text.h" /* the fixed parts of the generated file, as C strings */

int train_emit(const train_config *c, FILE *f, pelk_diag *d)
{
    if (check_config(c, d))
        return -1;
    char what[4400];
    train_config_describe(c, what, sizeof what);
    int k = c->kernel, kr = c->rows.n, kc = c->cols.n;
    fprintf(f, "/* Generated by pelkc: peripheral conv training kernels for\n *   %s\n", what);
    fputs(train_text_abi, f);
    fprintf(f, "\nenum { K = %d, R = %d, KR = %d, KC = %d, KR1 = %d, KC1 = %d, G = %d, KPE = %d, L = %d };\n",
            k, k / 2, kr, kc, kr + 1, kc + 1, c->channels, (int)c->kpe, TRAIN_LANES);
    fprintf(f, "static const char config[] = \"%s\";\n\n", what);
    int *pf = prefix(&c->rows, 0), *qf = prefix(&c->cols, 0);
    int *pm = prefix(&c->rows, 1), *qm = prefix(&c->cols, 1);
    put_array(f, "P_FWD", pf, kr + 1, "row corners: region a covers taps [P_FWD[a], P_FWD[a+1])");
    put_array(f, "Q_FWD", qf, kc + 1, "column corners");
    put_array(f, "P_MIR", pm, kr + 1, "the mirrored grid's corners (dX: rows reversed)");
    put_array(f, "Q_MIR", qm, kc + 1, "and columns reversed");
    if (c->kpe != TRAIN_KPE_NONE) {
        int *ra = region_of_tap(&c->rows), *cb = region_of_tap(&c->cols);
        put_array(f, "ROW_REGION", ra, k, "per kernel row, its row region (the KPE terms)");
        put_array(f, "COL_REGION", cb, k, "per kernel column, its column region");
        free(ra);
        free(cb);
    }
    fputs(train_text_common, f);
    static const int lane_counts[2] = {1, TRAIN_LANES}; /* one image per row; L interleaved */
    for (int i = 0; i < 2; i++) {
        put_conv_row(f, "FWD", qf, kc + 1, lane_counts[i]);
        put_conv_row(f, "MIR", qm, kc + 1, lane_counts[i]);
        put_corr_row(f, qf, kc + 1, lane_counts[i]);
    }
    if (c->kpe == TRAIN_KPE_CONSTANT)
        fputs(train_text_kpe_constant, f);
    else if (c->kpe == TRAIN_KPE_BORDER)
        fputs(train_text_kpe_border, f);
    /* per KPE mode: forward setup, forward row, dparams end, dparams row, dparams start */
    static const char *const snips[3][5] = {
        {NULL, NULL, NULL, NULL, NULL},
        {snip_fwd_setup_constant, NULL, snip_bwd_end_constant, NULL, NULL},
        {snip_fwd_setup_border, snip_fwd_row_border, snip_bwd_end_border, snip_bwd_row_border,
         snip_bwd_start_border}};
    static const char *const ty[2] = {"float", "double"}, *const sfx[2] = {"f32", "f64"};
    for (int t = 0; t < 2; t++) {
        put_typed(f, train_text_typed_head, ty[t], sfx[t], snips[c->kpe]);
        put_typed(f, train_text_forward, ty[t], sfx[t], snips[c->kpe]);
        put_typed(f, train_text_dx, ty[t], sfx[t], snips[c->kpe]);
        put_typed(f, train_text_dparams, ty[t], sfx[t], snips[c->kpe]);
    }
    free(pf);
    free(qf);
    free(pm);
    free(qm);
    return ferror(f) ? diag_set(d, "writing the generated C failed") : 0;
}
