/* Pictures for the exploring commands, drawn with cairo: writing a PNG, and
 * line/point charts with axes, ticks, labels and a legend. */
#ifndef PELK_PLOT_H
#define PELK_PLOT_H

#include <cairo.h>

#include "../common/diag.h"

/* Write the surface as a PNG: to path.partial, then renamed (nothing is
 * left behind on failure). Destroys the surface (no cairo_t may still use it)
 * and frees cairo's and fontconfig's static caches. */
int png_write(cairo_surface_t *sf, const char *path, pelk_diag *d);

typedef struct plot_series {
    const char *label;
    int n;
    const double *x, *y;   /* points; y <= 0 is skipped on a log axis */
    const char *const *tags; /* NULL, or a short text drawn next to each point */
    int lines;             /* join the points */
} plot_series;

typedef struct plot_panel {
    const char *title, *xlabel, *ylabel;
    int log_y;
    const plot_series *series;
    int n_series;
} plot_panel;

/* n_panels charts side by side, each panel_w x panel_h pixels, into path. */
int plot_png(const plot_panel *panels, int n_panels, int panel_w, int panel_h, const char *path,
             pelk_diag *d);

#endif
