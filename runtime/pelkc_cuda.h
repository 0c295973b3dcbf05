/* The contract between the launch table pelkc generates for a GPU model
 * (backends/gpu/gpu_build_so.c) and the runtime it links with
 * (pelkc_cuda.c). The table lists the kernels of the PTX module by name and
 * the launches that run one image, in order; each launch's arguments are
 * offsets into the device buffers. Not part of the public API. */
#ifndef PELKC_CUDA_H
#define PELKC_CUDA_H

#include <stdint.h>

enum { PK_GPU_NARGS = 7, PK_GPU_BLOCK = 256 };

/* Where an argument points (backends/gpu/gpu.h: gpu_arg_kind). */
enum { PK_ARG_NONE, PK_ARG_INPUT, PK_ARG_OUTPUT, PK_ARG_ARENA, PK_ARG_SCRATCH, PK_ARG_WEIGHT };

typedef struct pk_gpu_launch {
    int32_t kernel;
    int64_t blocks; /* of PK_GPU_BLOCK threads, one dimension */
    int32_t kind[PK_GPU_NARGS];
    int64_t offset[PK_GPU_NARGS]; /* floats (arena, scratch) or bytes (weights) */
} pk_gpu_launch;

/* The host version of a kernel: its body over the launch grid (emulation). */
typedef void (*pk_host_kernel)(void *, void *, void *, void *, void *, void *, void *, int64_t);

typedef struct pk_gpu_desc {
    const char *name;
    int32_t in_c, in_h, in_w;
    int32_t out_c, out_h, out_w;
    int64_t arena_floats, scratch_floats, weight_bytes;
    int n_kernels, n_launches;
    const char *const *kernel_names;
    const pk_gpu_launch *launches;
    const pk_host_kernel *host_kernels; /* NULL unless built for emulation */
    const char *ptx;                    /* the PTX module, NUL-terminated */
} pk_gpu_desc;

extern const pk_gpu_desc pelkc_gpu_desc;
extern const unsigned char pelkc_weights[];

#endif
