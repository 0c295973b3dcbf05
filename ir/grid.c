#include "grid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int grid_from_rule(sharing_grid *g, int kernel, int center, int base, pelk_diag *d)
{
    g->n = 0;
    g->size = NULL;
    if (kernel < 1 || kernel % 2 == 0)
        return diag_set(d, "kernel must be odd and positive, got %d", kernel);
    if (center < 1 || center % 2 == 0)
        return diag_set(d, "grid center must be odd and positive, got %d", center);
    if (base < 1)
        return diag_set(d, "grid base must be at least 1, got %d", base);

    int r = (kernel - 1) / 2, rc = (center - 1) / 2;
    if (rc > r)
        rc = r; /* a centre wider than the kernel: every tap its own region */

    /* half[] lists the rings outward from the centre tap. */
    int *half = xcalloc((size_t)r + 1, sizeof *half);
    int nh = 0, sum = 0;
    for (; nh < rc; nh++)
        half[nh] = 1;
    sum = rc;
    long long ring = 1;
    while (sum < r) {
        ring *= base;
        long long s = ring;
        if (s > r - sum) /* the last ring is cut to the remainder */
            s = r - sum;
        half[nh++] = (int)s;
        sum += (int)s;
        if (ring > r) /* keep the power bounded; sizes are cut anyway */
            ring = r;
    }

    g->n = 2 * nh + 1;
    g->size = xcalloc((size_t)g->n, sizeof *g->size);
    for (int i = 0; i < nh; i++) {
        g->size[nh - 1 - i] = half[i];
        g->size[nh + 1 + i] = half[i];
    }
    g->size[nh] = 1;
    free(half);
    return 0;
}

void grid_from_list(sharing_grid *g, const int *sizes, int n)
{
    g->n = n;
    g->size = NULL; /* an empty grid owns nothing */
    if (n <= 0)
        return;
    g->size = xcalloc((size_t)n, sizeof *g->size);
    memcpy(g->size, sizes, (size_t)n * sizeof *sizes);
}

int grid_sum(const sharing_grid *g)
{
    long long s = 0;
    for (int i = 0; i < g->n; i++)
        s += g->size[i];
    return s > 1 << 30 ? 1 << 30 : (int)s;
}

int grid_offset(const sharing_grid *g, int a)
{
    int s = 0;
    for (int i = 0; i < a; i++)
        s += g->size[i];
    return s;
}

void grid_copy(sharing_grid *dst, const sharing_grid *src)
{
    grid_from_list(dst, src->size, src->n);
}

void grid_free(sharing_grid *g)
{
    free(g->size);
    g->size = NULL;
    g->n = 0;
}

void grid_format(const sharing_grid *g, char *buf, size_t cap)
{
    size_t used = 0;
    int n = snprintf(buf, cap, "[");
    used = n > 0 ? (size_t)n : 0;
    for (int i = 0; i < g->n && used < cap; i++) {
        n = snprintf(buf + used, cap - used, i ? ", %d" : "%d", g->size[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    if (used < cap)
        snprintf(buf + used, cap - used, "]");
}
