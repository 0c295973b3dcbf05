/* The runtime every CPU model links: the CPU device (pelkc_device.h) on top
 * of the generated code's pelkc_desc, and the exported API over it
 * (pelkc_api.c, included at the end). The API checks the arguments, so the
 * generated code can assume valid, contiguous tensors. */
#include <stdlib.h>

#include "pelkc_device.h"
#include "pelkc_internal.h"

#ifdef _OPENMP
#include <dlfcn.h>
/* The OpenMP runtime this library pulled in must outlive it: its worker
 * threads stay parked after a run, and unloading it under them (dlclose of
 * the model) would crash the process. */
__attribute__((constructor)) static void pin_openmp_runtime(void)
{
    dlopen("libgomp.so.1", RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}
#endif

struct pk_dev {
    float *arena;   /* arena_images images' activations, as planned */
    int32_t arena_images;
    float *scratch; /* per-thread scratch of the specialised kernels */
};

static float *alloc_floats(int64_t n)
{
    size_t bytes = ((size_t)n * sizeof(float) + 63) / 64 * 64 + 64;
    return aligned_alloc(64, bytes);
}

static const char *cpu_describe(pk_shapes *s)
{
    if (s)
        *s = (pk_shapes){pelkc_desc.in_c,  pelkc_desc.in_h,  pelkc_desc.in_w,
                         pelkc_desc.out_c, pelkc_desc.out_h, pelkc_desc.out_w};
    return pelkc_desc.name;
}

static pelkc_status cpu_create(pelkc_model *m)
{
    pk_dev *d = m->dev = calloc(1, sizeof *m->dev);
    if (!d)
        return PELKC_ERR_NOMEM;
    d->arena = alloc_floats(pelkc_desc.arena_floats);
    d->arena_images = 1;
    d->scratch = alloc_floats(pelkc_desc.scratch_floats);
    return d->arena && d->scratch ? PELKC_OK : PELKC_ERR_NOMEM;
}

static void cpu_free(pelkc_model *m)
{
    if (!m->dev)
        return;
    free(m->dev->arena);
    free(m->dev->scratch);
    free(m->dev);
}

/* Each thread has its own scratch. */
static pelkc_status cpu_set_threads(pelkc_model *m, int32_t threads)
{
    float *scratch = alloc_floats(pelkc_desc.scratch_floats * threads);
    if (!scratch)
        return pk_fail(m, PELKC_ERR_NOMEM, "out of memory for %d threads' scratch", (int)threads);
    free(m->dev->scratch);
    m->dev->scratch = scratch;
    return PELKC_OK;
}

static int64_t cpu_workspace(const pelkc_model *m)
{
    return (pelkc_desc.arena_floats * m->dev->arena_images +
            pelkc_desc.scratch_floats * m->threads) *
           (int64_t)sizeof(float);
}

/* The arena for a chunk of nimg images (it grows to the largest chunk run). */
static pelkc_status ensure_arena(pelkc_model *m, int32_t nimg)
{
    pk_dev *d = m->dev;
    if (nimg <= d->arena_images)
        return PELKC_OK;
    float *arena = alloc_floats(pelkc_desc.arena_floats * nimg);
    if (!arena)
        return pk_fail(m, PELKC_ERR_NOMEM,
                       "out of memory for %d images' activations (%lld bytes)", (int)nimg,
                       (long long)(pelkc_desc.arena_floats * nimg * sizeof(float)));
    free(d->arena);
    d->arena = arena;
    d->arena_images = nimg;
    return PELKC_OK;
}

/* Contiguous images in chunks of at most PELKC_MAX_BATCH, each layer by layer. */
static pelkc_status cpu_run(pelkc_model *m, const float *input, int32_t batch, float *output)
{
    size_t image = pk_in_numel(m), onum = pk_out_numel(m);
    int32_t chunk = batch < PELKC_MAX_BATCH ? batch : PELKC_MAX_BATCH;
    pelkc_status s = ensure_arena(m, chunk);
    if (s != PELKC_OK)
        return s;
    for (int32_t n = 0; n < batch; n += chunk) {
        int32_t cnt = batch - n < chunk ? batch - n : chunk;
        pelkc_desc.run_batch(input + n * image, output + (size_t)n * onum, cnt, m->dev->arena,
                             m->dev->scratch, m->threads);
    }
    return PELKC_OK;
}

static const pelkc_device pk_device = {
    .describe = cpu_describe,
    .create_error = NULL, /* nothing to explain beyond the status: no driver to find */
    .create = cpu_create,
    .set_threads = cpu_set_threads,
    .run = cpu_run,
    .workspace = cpu_workspace,
    .free = cpu_free,
};

#include "pelkc_api.c"
