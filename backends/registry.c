/* The backend registry: every way pelkc can build a model, by name. A backend
 * left out of this build (no LLVM 19) still has an entry, which says so. */
#include <string.h>

#include "backend.h"

#ifndef PELKC_HAVE_LLVM
static const pelkc_backend backend_llvm = {
    .name = "llvm",
    .what = "the LLVM backend",
    .missing = "this pelkc was built without the LLVM backend (cmake -DPELKC_LLVM=ON, needs "
               "llvm-19-dev)",
};
#endif
#ifndef PELKC_HAVE_PTX
#define NO_GPU "this pelkc was built without LLVM 19 (-DPELKC_LLVM=OFF): no GPU backend"
static const pelkc_backend backend_cuda = {
    .name = "cuda", .what = "the GPU backend", .keep_norms = 1, .missing = NO_GPU};
static const pelkc_backend backend_cuda_emulate = {
    .name = "cuda-emulate", .what = "the GPU backend (emulated)", .keep_norms = 1,
    .missing = NO_GPU};
#endif

static const pelkc_backend *const backends[] = {
    &backend_c, &backend_tcc, &backend_llvm, &backend_cuda, &backend_cuda_emulate,
};

const pelkc_backend *backend_find(const char *name)
{
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (!strcmp(backends[i]->name, name))
            return backends[i];
    return NULL;
}

int backend_emit(const pelkc_backend *b, const ir_graph *g, const build_options *o, FILE *out,
                 pelk_diag *d)
{
    if (b->missing)
        return diag_set(d, "%s", b->missing);
    if (!b->emit)
        return diag_set(d, "%s prints no code", b->what);
    return b->emit(g, o, out, d);
}

int backend_build_so(const pelkc_backend *b, const ir_graph *g, const build_options *o,
                     const char *so_path, pelk_diag *d)
{
    if (b->missing)
        return diag_set(d, "%s", b->missing);
    if (!b->build_so)
        return diag_set(d, "%s writes no .so", b->what);
    return b->build_so(g, o, so_path, d);
}

void *backend_open(const pelkc_backend *b, const ir_graph *g, const build_options *o,
                   char *built_by, size_t cap, pelk_diag *d)
{
    if (b->missing) {
        diag_set(d, "%s", b->missing);
        return NULL;
    }
    return b->open(g, o, built_by, cap, d);
}
