/* The GPU backend (backends/gpu): the lowered graph as a list of
 * GPU kernels, one per distinct layer configuration, and the launches that
 * run one image through them. Every kernel body is built once, with the LLVM
 * C API, by a builder that takes its (block, thread) indices from outside:
 * for NVPTX they are the ctaid.x / tid.x special registers of a kernel entry;
 * for the host they are the loop counters of a CPU wrapper that walks the
 * launch grid. The same plan drives the PTX module, the host object and the
 * launch table of the .so (runtime/pelkc_cuda.c). */
#ifndef PELK_GPU_H
#define PELK_GPU_H

#include <stdint.h>

#include "../lowered_model.h"

/* Pointer arguments of every kernel: two value inputs, the output, four constants. */
enum { GPU_NARGS = 7, GPU_BLOCK = 256 /* threads per block, a literal in every kernel */ };

typedef enum gpu_kind {
    GK_CONV2D,         /* p: ci, h, w, co, k, stride; one thread per output element */
    GK_LAYERNORM,      /* p: c, hw, affine; eps; one thread per pixel */
    GK_ROW_BOXES,      /* p: g, h, w; live row regions: R[c][a][i][j] = sum of X over rows */
    GK_REGION_GATHER,  /* p: g, hw, live rows, live cols, theta per channel, theta cols, live0 r, c */
    GK_COL_BOXES,      /* p: c, g, h, w, map; live col regions: Y = bias (+ map) + column boxes of Z */
    GK_DWCONV,         /* p: c, h, w, g, k, bias, map */
    GK_POINTWISE,      /* p: ci, co, hw, act, residual */
    GK_GELU,           /* p: n */
    GK_MUL_CHANNEL,    /* p: c, hw */
    GK_ADD,            /* p: n, rest */
    GK_BATCHNORM,      /* p: c, hw, g; eps */
    GK_AVGPOOL,        /* p: c, hw; one thread per channel, summed in double */
    GK_COUNT
} gpu_kind;

/* One region axis of a lowered peripheral conv, live regions only. */
typedef struct gpu_regions {
    int n;
    int *lo;   /* first tap's offset from the output pixel */
    int *size; /* taps */
} gpu_regions;

typedef struct gpu_kernel {
    gpu_kind kind;
    int p[8];
    float eps;
    gpu_regions regions; /* row boxes: the row regions; region gather: none;
                            column boxes: the column regions */
    int64_t threads;     /* per launch: every launch of a kernel has the same grid */
    char *key;           /* the configuration in words: equal keys share one kernel */
    char name[32];       /* symbol: pk<index>_<kind> */
} gpu_kernel;

/* Where a kernel argument points. */
typedef enum gpu_arg_kind {
    GA_NONE,    /* NULL */
    GA_INPUT,   /* the image being run */
    GA_OUTPUT,  /* its result */
    GA_ARENA,   /* offset in floats in the activation arena (passes/plan_memory.c) */
    GA_SCRATCH, /* offset in floats in the box kernels' scratch */
    GA_WEIGHT   /* offset in bytes in the weights blob */
} gpu_arg_kind;

typedef struct gpu_arg {
    gpu_arg_kind kind;
    int64_t offset;
} gpu_arg;

typedef struct gpu_launch {
    int kernel; /* index into gpu_plan.kernels */
    int op;     /* the IR op it belongs to */
    int64_t blocks;
    gpu_arg arg[GPU_NARGS];
} gpu_launch;

typedef struct gpu_plan {
    gpu_kernel *kernels;
    int n_kernels;
    gpu_launch *launches;
    int n_launches;
    int64_t scratch_floats;  /* the box kernels' R and Z buffers */
    lowered_model lowered; /* the arena and the weights (every constant plain, row-major) */
} gpu_plan;

/* Kernels and launches for a lowered graph (after run_passes). -1 with d set
 * for ops the GPU backend cannot run or sizes past 2^31 - 1 elements. */
int gpu_plan_make(const ir_graph *g, gpu_plan *p, pelk_diag *d);
void gpu_plan_free(gpu_plan *p);
const char *gpu_kind_name(gpu_kind k);

/* ---- LLVM (gpu_ptx.c): the module of all kernels ---- */

typedef enum gpu_target {
    GPU_TARGET_PTX, /* NVPTX kernels reading ctaid.x / tid.x */
    GPU_TARGET_HOST /* host functions pk<i>_<kind>_cpu(args..., blocks) looping over the grid */
} gpu_target;

/* PTX text for sm (80 or 90) in a malloc'd string; NULL with d set on failure. */
char *gpu_emit_ptx(const gpu_plan *p, const char *model, int sm, pelk_diag *d);
/* A relocatable host object (position independent) at path. */
int gpu_emit_host_object(const gpu_plan *p, const char *model, const char *path, pelk_diag *d);

/* ---- the .so (gpu_build_so.c) ---- */

/* emulate: run the host versions of the kernels instead of the PTX through CUDA. */
int gpu_build_so(const ir_graph *g, const build_options *o, int sm, int emulate,
                 const char *so_path, pelk_diag *d);

#endif
