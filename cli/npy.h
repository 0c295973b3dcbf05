/* NumPy .npy files (format 1.0-3.0): float32 little-endian, C order. */
#ifndef PELK_NPY_H
#define PELK_NPY_H

#include <stdint.h>

#include "../common/diag.h"

typedef struct npy_array {
    int rank;
    int64_t shape[8];
    float *data; /* owned */
} npy_array;

int npy_load_f32(npy_array *a, const char *path, pelk_diag *d);
int npy_save_f32(const char *path, const float *data, int rank, const int64_t *shape, pelk_diag *d);
void npy_free(npy_array *a);

#endif
