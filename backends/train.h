/* Training kernels for one peripheral conv configuration (spec/TRAIN.md):
 * C specialised to the kernel, the two grids, the channel count and the KPE
 * mode, with a forward, an input gradient and the parameter gradients, each
 * O(k'_r k'_c) per output pixel over a summed-area table (never a dense
 * k x k expansion). The generated file's header documents its C ABI. */
#ifndef PELK_TRAIN_H
#define PELK_TRAIN_H

#include <stdio.h>

#include "../ir/grid.h"

enum { TRAIN_ABI_VERSION = 1 }; /* pelkc_train_abi_version() of the generated .so */

/* Images a narrow map's kernels interleave per table column (L): 8 doubles, one AVX-512 vector. */
enum { TRAIN_LANES = 8 };

typedef enum train_kpe { TRAIN_KPE_NONE, TRAIN_KPE_CONSTANT, TRAIN_KPE_BORDER } train_kpe;

typedef struct train_config {
    int kernel;                /* odd k; stride 1, zero padding k/2 */
    sharing_grid rows, cols;   /* each sums to kernel */
    int channels;              /* g: channels through the conv (the rest pass through) */
    train_kpe kpe;
} train_config;

/* One line naming the configuration ("kernel 13 rows [...] cols [...] channels 4 kpe none"):
 * the generated .so returns it from pelkc_train_config(). */
void train_config_describe(const train_config *c, char *buf, size_t cap);

/* Print the C of the kernels; -1 with d set for a bad configuration. */
int train_emit(const train_config *c, FILE *out, pelk_diag *d);

/* Emit and compile into so_path with cc (NULL: "cc"): -std=gnu11 -O3 -fopenmp
 * -shared -fPIC, plus -march=MARCH unless march is NULL, "" or "generic". verbose echoes the command; keep leaves the build
 * directory and says where. */
int train_build_so(const train_config *c, const char *cc, const char *march, const char *so_path,
                   int verbose, int keep, pelk_diag *d);

#endif
