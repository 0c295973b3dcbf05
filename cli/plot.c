/* Charts with cairo: linear x axis, linear or log y axis, "nice" ticks. */
#include "plot.h"

#include <errno.h>
#include <fontconfig/fontconfig.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int png_write(cairo_surface_t *sf, const char *path, pelk_diag *d)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.partial", path);
    cairo_status_t st = cairo_surface_status(sf);
    if (st == CAIRO_STATUS_SUCCESS)
        st = cairo_surface_write_to_png(sf, tmp);
    cairo_surface_destroy(sf);
    /* free cairo's and fontconfig's caches: one picture per run, and LeakSanitizer stays quiet */
    cairo_debug_reset_static_data();
    FcFini();
    if (st != CAIRO_STATUS_SUCCESS) {
        unlink(tmp);
        return diag_set(d, "%s: cannot write the PNG: %s", path, cairo_status_to_string(st));
    }
    if (rename(tmp, path)) {
        unlink(tmp);
        return diag_set(d, "%s: cannot write: %s", path, strerror(errno));
    }
    return 0;
}

/* Distinct colours for up to 6 series (then they repeat). */
static const double palette[6][3] = {{0.12, 0.47, 0.71}, {0.84, 0.15, 0.16}, {0.17, 0.63, 0.17},
                                     {1.00, 0.50, 0.05}, {0.58, 0.40, 0.74}, {0.55, 0.34, 0.29}};

/* A step of 1, 2 or 5 times a power of ten giving about `want` ticks over span. */
static double nice_step(double span, int want)
{
    double raw = span / want, p = pow(10, floor(log10(raw)));
    double m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static void tick_text(double v, char *buf, size_t cap)
{
    if (v != 0 && (fabs(v) >= 1e5 || fabs(v) < 1e-3))
        snprintf(buf, cap, "%.0e", v);
    else
        snprintf(buf, cap, "%g", v);
}

typedef struct frame {
    double x0, y0, w, h;     /* plot area in pixels (y0 at the top) */
    double xmin, xmax, ymin, ymax; /* data range (log10 of it for a log axis) */
    int log_y;
} frame;

static double px(const frame *f, double x) { return f->x0 + (x - f->xmin) / (f->xmax - f->xmin) * f->w; }

static double py(const frame *f, double y)
{
    double v = f->log_y ? log10(y) : y;
    return f->y0 + f->h - (v - f->ymin) / (f->ymax - f->ymin) * f->h;
}

static void text_at(cairo_t *cr, double x, double y, const char *s, double align_x)
{
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    cairo_move_to(cr, x - align_x * e.width, y);
    cairo_show_text(cr, s);
}

/* The data range of a panel; 0 if it has no point to draw. */
static int data_range(const plot_panel *p, frame *f)
{
    int any = 0;
    for (int s = 0; s < p->n_series; s++)
        for (int i = 0; i < p->series[s].n; i++) {
            double x = p->series[s].x[i], y = p->series[s].y[i];
            if (p->log_y && !(y > 0))
                continue;
            double v = p->log_y ? log10(y) : y;
            if (!any || x < f->xmin) f->xmin = x;
            if (!any || x > f->xmax) f->xmax = x;
            if (!any || v < f->ymin) f->ymin = v;
            if (!any || v > f->ymax) f->ymax = v;
            any = 1;
        }
    if (!any)
        return 0;
    if (!p->log_y && f->ymin > 0)
        f->ymin = 0; /* linear axes start at zero: sizes compare by eye */
    if (f->xmax == f->xmin) f->xmin -= 1, f->xmax += 1;
    if (f->ymax == f->ymin) f->ymin -= 0.5, f->ymax += 0.5;
    double pad = (f->ymax - f->ymin) * 0.05;
    f->ymax += pad;
    if (p->log_y)
        f->ymin -= pad;
    double xpad = (f->xmax - f->xmin) * 0.06; /* room for the point tags */
    f->xmin -= xpad, f->xmax += xpad;
    return 1;
}

static void draw_axes(cairo_t *cr, const plot_panel *p, const frame *f)
{
    char buf[64];
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, f->x0 + 0.5, f->y0 + 0.5, f->w, f->h);
    cairo_stroke(cr);
    cairo_set_font_size(cr, 11);
    double step = nice_step(f->xmax - f->xmin, 6);
    for (double x = ceil(f->xmin / step) * step; x <= f->xmax; x += step) {
        cairo_move_to(cr, px(f, x), f->y0 + f->h);
        cairo_line_to(cr, px(f, x), f->y0 + f->h + 4);
        cairo_stroke(cr);
        tick_text(x, buf, sizeof buf);
        text_at(cr, px(f, x), f->y0 + f->h + 16, buf, 0.5);
    }
    if (p->log_y) { /* 1, 2, 5 times each power of ten */
        static const double mant[3] = {1, 2, 5};
        for (double e = floor(f->ymin); e <= f->ymax; e += 1)
            for (int m = 0; m < 3; m++) {
                double v = e + log10(mant[m]);
                if (v < f->ymin || v > f->ymax)
                    continue;
                double y = f->y0 + f->h - (v - f->ymin) / (f->ymax - f->ymin) * f->h;
                cairo_move_to(cr, f->x0 - 4, y);
                cairo_line_to(cr, f->x0, y);
                cairo_stroke(cr);
                tick_text(pow(10, v), buf, sizeof buf);
                text_at(cr, f->x0 - 6, y + 4, buf, 1);
            }
    } else {
        step = nice_step(f->ymax - f->ymin, 6);
        for (double y = ceil(f->ymin / step) * step; y <= f->ymax; y += step) {
            cairo_move_to(cr, f->x0 - 4, py(f, y));
            cairo_line_to(cr, f->x0, py(f, y));
            cairo_stroke(cr);
            tick_text(y, buf, sizeof buf);
            text_at(cr, f->x0 - 6, py(f, y) + 4, buf, 1);
        }
    }
    cairo_set_font_size(cr, 12);
    text_at(cr, f->x0 + f->w / 2, f->y0 + f->h + 34, p->xlabel, 0.5);
    cairo_save(cr);
    cairo_move_to(cr, f->x0 - 58, f->y0 + f->h / 2);
    cairo_rotate(cr, -M_PI / 2);
    cairo_text_extents_t e;
    cairo_text_extents(cr, p->ylabel, &e);
    cairo_rel_move_to(cr, -e.width / 2, 0);
    cairo_show_text(cr, p->ylabel);
    cairo_restore(cr);
    cairo_set_font_size(cr, 13);
    text_at(cr, f->x0 + f->w / 2, f->y0 - 10, p->title, 0.5);
}

static void draw_series(cairo_t *cr, const plot_panel *p, const frame *f)
{
    for (int s = 0; s < p->n_series; s++) {
        const plot_series *sr = &p->series[s];
        const double *c = palette[s % 6];
        cairo_set_source_rgb(cr, c[0], c[1], c[2]);
        cairo_set_line_width(cr, 1.5);
        int pen = 0;
        for (int i = 0; sr->lines && i < sr->n; i++) {
            if (p->log_y && !(sr->y[i] > 0)) {
                pen = 0;
                continue;
            }
            if (pen)
                cairo_line_to(cr, px(f, sr->x[i]), py(f, sr->y[i]));
            else
                cairo_move_to(cr, px(f, sr->x[i]), py(f, sr->y[i]));
            pen = 1;
        }
        cairo_stroke(cr);
        cairo_set_font_size(cr, 10);
        for (int i = 0; i < sr->n; i++) {
            if (p->log_y && !(sr->y[i] > 0))
                continue;
            cairo_arc(cr, px(f, sr->x[i]), py(f, sr->y[i]), 3, 0, 2 * M_PI);
            cairo_fill(cr);
            if (sr->tags && sr->tags[i])
                text_at(cr, px(f, sr->x[i]) + 5, py(f, sr->y[i]) - 5, sr->tags[i], 0);
        }
        /* legend, top left inside the frame */
        double ly = f->y0 + 16 + 16 * s;
        cairo_rectangle(cr, f->x0 + 10, ly - 8, 14, 8);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_set_font_size(cr, 11);
        text_at(cr, f->x0 + 30, ly, sr->label, 0);
    }
}

int plot_png(const plot_panel *panels, int n_panels, int panel_w, int panel_h, const char *path,
             pelk_diag *d)
{
    cairo_surface_t *sf =
        cairo_image_surface_create(CAIRO_FORMAT_RGB24, panel_w * n_panels, panel_h);
    cairo_t *cr = cairo_create(sf);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    for (int i = 0; i < n_panels; i++) {
        frame f = {.x0 = i * panel_w + 80, .y0 = 36, .w = panel_w - 100, .h = panel_h - 90,
                   .log_y = panels[i].log_y};
        if (!data_range(&panels[i], &f)) {
            f.xmin = f.ymin = 0;
            f.xmax = f.ymax = 1;
        }
        draw_axes(cr, &panels[i], &f);
        draw_series(cr, &panels[i], &f);
    }
    cairo_destroy(cr);
    return png_write(sf, path, d);
}
