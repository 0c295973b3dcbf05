/* Sharing grids (paper Eq. 1-2, NOTES.md section 1).
 * A grid for kernel size k is a list of positive region sizes summing to k;
 * region a covers kernel taps [offset[a], offset[a] + size[a]). */
#ifndef PELK_GRID_H
#define PELK_GRID_H

#include "../common/diag.h"

typedef struct sharing_grid {
    int n;      /* k': number of regions */
    int *size;  /* n region sizes, sum = kernel */
} sharing_grid;

/* The paper's rule {center: c, base: m}: fills g (owned by caller, free with
 * grid_free). Returns -1 with d set for c < 1, c even, m < 1, k even. */
int grid_from_rule(sharing_grid *g, int kernel, int center, int base, pelk_diag *d);

/* Copy an explicit list. */
void grid_from_list(sharing_grid *g, const int *sizes, int n);

int grid_sum(const sharing_grid *g);
/* Offset of region a: the sum of the sizes before it. */
int grid_offset(const sharing_grid *g, int a);
void grid_copy(sharing_grid *dst, const sharing_grid *src);
void grid_free(sharing_grid *g);
/* "[9, 8, 4, ...]" into buf. */
void grid_format(const sharing_grid *g, char *buf, size_t cap);

#endif
