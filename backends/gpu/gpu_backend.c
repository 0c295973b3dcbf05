/* The GPU backend's two entries in the backend interface: `cuda` (PTX run
 * through the CUDA driver) and `cuda-emulate` (the same kernels and launches
 * run on the CPU). Both print the same PTX module. */
#include <stdio.h>
#include <stdlib.h>

#include "../backend.h"
#include "gpu.h"

/* The PTX module, after one comment line per kernel saying its configuration. */
static int emit_ptx(const ir_graph *g, const build_options *o, FILE *out, pelk_diag *d)
{
    gpu_plan p;
    if (gpu_plan_make(g, &p, d))
        return -1;
    char *ptx = gpu_emit_ptx(&p, g->name, o->sm, d);
    if (ptx) {
        fprintf(out, "// %s: %d kernels, %d launches per image (pelkc emit ptx --sm %d)\n",
                g->name, p.n_kernels, p.n_launches, o->sm);
        for (int i = 0; i < p.n_kernels; i++)
            fprintf(out, "// %s: %s\n", p.kernels[i].name, p.kernels[i].key);
        fputs(ptx, out);
        free(ptx);
    }
    gpu_plan_free(&p);
    return ptx ? 0 : -1;
}

static int cuda_build_so(const ir_graph *g, const build_options *o, const char *path,
                         pelk_diag *d)
{
    return gpu_build_so(g, o, o->sm, 0, path, d);
}

static int emulate_build_so(const ir_graph *g, const build_options *o, const char *path,
                            pelk_diag *d)
{
    return gpu_build_so(g, o, o->sm, 1, path, d);
}

static void *cuda_open(const ir_graph *g, const build_options *o, char *built_by, size_t cap,
                       pelk_diag *d)
{
    snprintf(built_by, cap, "the GPU backend (PTX for sm_%d, run through the CUDA driver)", o->sm);
    return so_model_build(&backend_cuda, g, o, d);
}

static void *emulate_open(const ir_graph *g, const build_options *o, char *built_by, size_t cap,
                          pelk_diag *d)
{
    snprintf(built_by, cap, "the GPU backend's kernels and launches, emulated on the CPU");
    return so_model_build(&backend_cuda_emulate, g, o, d);
}

const pelkc_backend backend_cuda = {
    .name = "cuda",
    .what = "the GPU backend",
    .keep_norms = 1, /* a LayerNorm is its own launch, not fused into the next layer */
    .emit = emit_ptx,
    .build_so = cuda_build_so,
    .open = cuda_open,
    .symbol = so_model_symbol,
    .close = so_model_close,
};

const pelkc_backend backend_cuda_emulate = {
    .name = "cuda-emulate",
    .what = "the GPU backend (emulated)",
    .keep_norms = 1,
    .emit = emit_ptx,
    .build_so = emulate_build_so,
    .open = emulate_open,
    .symbol = so_model_symbol,
    .close = so_model_close,
};
