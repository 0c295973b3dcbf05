/* pelkc grid: draw the sharing regions of one kernel (the paper's Fig. 1b),
 * one character per tap in the terminal and, on request, a PNG drawn with
 * cairo. The kernel is a stage's of a spec (--stage I) or given directly
 * (--kernel K --grid G). */
#include <cairo.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "plot.h"

/* The grids to draw: a stage's, or --kernel/--grid. */
static int pick_grids(const options *o, sharing_grid *rows, sharing_grid *cols, char *what,
                      size_t cap, pelk_diag *d)
{
    if (!o->path) {
        if (!o->grid || !o->kernel)
            return diag_set(d, "grid needs SPEC --stage I, or --kernel K --grid G");
        snprintf(what, cap, "kernel %d", o->kernel);
        return grid_parse_text(o->grid, o->kernel, rows, cols, d);
    }
    model_spec s;
    if (spec_load(&s, o->path, d))
        return -1;
    int rc = 0;
    if (o->stage < 0)
        rc = diag_set(d, "grid needs --stage I (0 to %d)", s.n_stages - 1);
    else if (o->stage >= s.n_stages)
        rc = diag_set(d, "--stage %d: %s has %d stage%s (0 to %d)", o->stage, o->path, s.n_stages,
                      s.n_stages > 1 ? "s" : "", s.n_stages - 1);
    if (!rc) {
        const stage_spec *st = &s.stages[o->stage];
        grid_copy(rows, &st->rows);
        grid_copy(cols, &st->cols);
        snprintf(what, cap, "%s stage %d: kernel %d", s.name, o->stage, st->kernel);
    }
    spec_free(&s);
    return rc;
}

static void put_line(const sharing_grid *cols, char fill_cross, char fill)
{
    putchar(fill_cross);
    for (int b = 0; b < cols->n; b++) {
        for (int t = 0; t < cols->size[b]; t++)
            putchar(fill);
        putchar(fill_cross);
    }
    putchar('\n');
}

/* One character per tap; '+', '-', '|' between regions; '#' a tap with its
 * own weight, '.' a tap sharing its region's weight with others. */
static void draw_text(const sharing_grid *rows, const sharing_grid *cols)
{
    put_line(cols, '+', '-');
    for (int a = 0; a < rows->n; a++) {
        for (int t = 0; t < rows->size[a]; t++) {
            putchar('|');
            for (int b = 0; b < cols->n; b++) {
                char c = rows->size[a] * cols->size[b] == 1 ? '#' : '.';
                for (int u = 0; u < cols->size[b]; u++)
                    putchar(c);
                putchar('|');
            }
            putchar('\n');
        }
        put_line(cols, '+', '-');
    }
}

/* PNG geometry (the tests compute the same numbers). */
enum { PNG_MARGIN = 16, PNG_TITLE = 24, PNG_MIN_WIDTH = 400 };

static int png_cell(int kernel)
{
    int c = 768 / kernel;
    return c < 4 ? 4 : c > 32 ? 32 : c;
}

/* Wide enough for the title line. */
static int png_width(int kernel)
{
    int w = kernel * png_cell(kernel) + 2 * PNG_MARGIN;
    return w < PNG_MIN_WIDTH ? PNG_MIN_WIDTH : w;
}

/* Each region filled by its area: taps with their own weight in a full blue
 * (32, 96, 160), larger regions paler on a log scale; black lines between
 * regions, one pixel wide, on the pixel grid. */
static int draw_png(const sharing_grid *rows, const sharing_grid *cols, const char *title,
                    const char *path, pelk_diag *d)
{
    int k = grid_sum(rows), cell = png_cell(k);
    int width = png_width(k), height = k * cell + 2 * PNG_MARGIN + PNG_TITLE;
    cairo_surface_t *sf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    cairo_t *cr = cairo_create(sf);
    cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    int max_area = 1;
    for (int a = 0; a < rows->n; a++)
        for (int b = 0; b < cols->n; b++)
            if (rows->size[a] * cols->size[b] > max_area)
                max_area = rows->size[a] * cols->size[b];
    int x0 = PNG_MARGIN, y0 = PNG_MARGIN + PNG_TITLE;
    for (int a = 0, y = 0; a < rows->n; y += rows->size[a++])
        for (int b = 0, x = 0; b < cols->n; x += cols->size[b++]) {
            int area = rows->size[a] * cols->size[b];
            double t = max_area > 1 ? log((double)area) / log((double)max_area) : 0;
            cairo_set_source_rgb(cr, (32 + t * (235 - 32)) / 255.0, (96 + t * (240 - 96)) / 255.0,
                                 (160 + t * (250 - 160)) / 255.0);
            cairo_rectangle(cr, x0 + x * cell, y0 + y * cell, cols->size[b] * cell,
                            rows->size[a] * cell);
            cairo_fill(cr);
        }
    /* region boundaries: the line at tap offset p covers pixel column x0 + p*cell (clipped to
       the last pixel at the far edge) */
    cairo_set_source_rgb(cr, 0, 0, 0);
    for (int a = 0, y = 0; a <= rows->n; y += a < rows->n ? rows->size[a] : 0, a++) {
        int py = y0 + y * cell - (a == rows->n);
        cairo_rectangle(cr, x0, py, k * cell, 1);
    }
    for (int b = 0, x = 0; b <= cols->n; x += b < cols->n ? cols->size[b] : 0, b++) {
        int px = x0 + x * cell - (b == cols->n);
        cairo_rectangle(cr, px, y0, 1, k * cell);
    }
    cairo_fill(cr);
    cairo_set_antialias(cr, CAIRO_ANTIALIAS_DEFAULT);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 14);
    cairo_move_to(cr, PNG_MARGIN, PNG_MARGIN + 14);
    cairo_show_text(cr, title);
    cairo_destroy(cr);
    return png_write(sf, path, d);
}

int cmd_grid(const options *o)
{
    pelk_diag d;
    sharing_grid rows = {0}, cols = {0};
    char what[256];
    if (pick_grids(o, &rows, &cols, what, sizeof what, &d))
        return die(d.msg);
    int k = grid_sum(&rows);
    char r[1024], c[1024], title[400];
    grid_format(&rows, r, sizeof r);
    grid_format(&cols, c, sizeof c);
    snprintf(title, sizeof title, "%s, grid %dx%d", what, rows.n, cols.n);
    int rc = o->png ? draw_png(&rows, &cols, title, o->png, &d) : 0;
    if (!rc) {
        printf("%s (%d of %d weights per channel)\nrows %s\ncols %s\n", title, rows.n * cols.n,
               k * k, r, c);
        printf("one character per tap: '#' has its own weight, '.' shares its region's weight\n");
        draw_text(&rows, &cols);
        if (o->png)
            printf("wrote %s (%dx%d pixels, %d per tap)\n", o->png, png_width(k),
                   k * png_cell(k) + 2 * PNG_MARGIN + PNG_TITLE, png_cell(k));
    }
    grid_free(&rows);
    grid_free(&cols);
    return rc ? die(d.msg) : 0;
}
