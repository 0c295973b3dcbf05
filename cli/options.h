/* The pelkc command line, parsed (cli/pelkc.c fills it; every command reads it). */
#ifndef PELK_CLI_OPTIONS_H
#define PELK_CLI_OPTIONS_H

#include <stdint.h>

#include "../backends/backend.h"

enum { MAX_LIST = 64 }; /* --grid and --kernel given at most this often */

/* What compile builds (--target). `emit ptx` prints TARGET_CUDA's kernels. */
typedef enum target_kind {
    TARGET_C,            /* the default: C (or LLVM, --backend) for this CPU */
    TARGET_CUDA,         /* PTX, run through the CUDA driver */
    TARGET_CUDA_EMULATE, /* the same GPU kernels and launches, run on the CPU */
} target_kind;

/* --target's spelling of t */
static inline const char *target_name(target_kind t)
{
    static const char *const names[] = {"c", "cuda", "cuda-emulate"};
    return names[t];
}

typedef struct options {
    const char *cmd, *sub, *path;
    const char *weights, *out, *input, *output, *cc, *march, *grid, *kpe, *prefix;
    target_kind target;
    int sm;             /* GPU architecture for PTX: 80 or 90 */
    const char *backend; /* "c" or "llvm" */
    const pelkc_backend *be;  /* what builds the model: from --backend, --target, --cc tcc, emit's kind */
    int random_weights, print_after_all, keep_temps, verbose, periph_dense;
    uint64_t seed;
    int batch, threads, iters, kernel, channels, height, width;
    const char *cc_flag;      /* --cc as given on the command line (NULL: not given) */
    int stage;                /* --stage I (-1: not given) */
    const char *png, *csv, *model;
    const char *grids[MAX_LIST]; /* every --grid, in order (sweep) */
    int n_grids;
    int kernels[MAX_LIST];       /* every --kernel, in order (sweep, scaling) */
    int n_kernels;
    int dense_max;               /* scaling: time dense convs up to this kernel */
} options;

#endif
