/* The runtime every compiled model links: the public API (pelkc_model.h) on
 * top of the generated code's pelkc_desc. Argument checks live here, so the
 * generated code can assume valid, contiguous tensors. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pelkc_buffers.h"
#include "pelkc_internal.h"
#include "pelkc_model.h"

#define PELKC_EXPORT __attribute__((visibility("default")))

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

struct pelkc_model {
    float *arena;   /* arena_images images' activations, as planned */
    int32_t arena_images;
    float *scratch; /* per-thread scratch of the specialised kernels */
    float *staging; /* one image, for inputs that are not contiguous */
    float *out_one; /* one image's output, for outputs that are not contiguous */
    int32_t threads;
    char error[256];
};

static size_t out_numel(void)
{
    return (size_t)pelkc_desc.out_c * pelkc_desc.out_h * pelkc_desc.out_w;
}

static float *alloc_floats(int64_t n)
{
    size_t bytes = ((size_t)n * sizeof(float) + 63) / 64 * 64 + 64;
    return aligned_alloc(64, bytes);
}

static pelkc_status fail(pelkc_model *m, pelkc_status s, const char *fmt, ...)
{
    if (m) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(m->error, sizeof m->error, fmt, ap);
        va_end(ap);
    }
    return s;
}

PELKC_EXPORT int pelkc_api_version(void) { return PELKC_API_VERSION; }

#ifndef PELKC_BUILT_BY
#define PELKC_BUILT_BY "pelkc"
#endif
PELKC_EXPORT const char *pelkc_built_by(void) { return PELKC_BUILT_BY; }

PELKC_EXPORT const char *pelkc_model_name(void) { return pelkc_desc.name; }

PELKC_EXPORT pelkc_status pelkc_create_abi(int32_t abi_version, pelkc_model **out)
{
    if (!out)
        return PELKC_ERR_NULL;
    *out = NULL;
    if (abi_version != PELKC_API_VERSION)
        return PELKC_ERR_ABI;
    pelkc_model *m = calloc(1, sizeof *m);
    if (!m)
        return PELKC_ERR_NOMEM;
    size_t image = (size_t)pelkc_desc.in_c * pelkc_desc.in_h * pelkc_desc.in_w;
    m->threads = 1;
    m->arena = alloc_floats(pelkc_desc.arena_floats);
    m->arena_images = 1;
    m->scratch = alloc_floats(pelkc_desc.scratch_floats);
    m->staging = malloc(image * sizeof(float));
    m->out_one = malloc(out_numel() * sizeof(float));
    if (!m->arena || !m->scratch || !m->staging || !m->out_one) {
        pelkc_free(m);
        return PELKC_ERR_NOMEM;
    }
    *out = m;
    return PELKC_OK;
}

PELKC_EXPORT void pelkc_free(pelkc_model *m)
{
    if (!m)
        return;
    free(m->arena);
    free(m->scratch);
    free(m->staging);
    free(m->out_one);
    free(m);
}

PELKC_EXPORT pelkc_status pelkc_input_shape(const pelkc_model *m, int32_t *channels,
                                            int32_t *height, int32_t *width)
{
    return pk_shape(m, pelkc_desc.in_c, pelkc_desc.in_h, pelkc_desc.in_w, channels, height, width);
}

PELKC_EXPORT pelkc_status pelkc_output_shape(const pelkc_model *m, int32_t *channels,
                                             int32_t *height, int32_t *width)
{
    return pk_shape(m, pelkc_desc.out_c, pelkc_desc.out_h, pelkc_desc.out_w, channels, height, width);
}

PELKC_EXPORT pelkc_status pelkc_set_threads(pelkc_model *m, int32_t threads)
{
    if (!m)
        return PELKC_ERR_NULL;
    if (threads < 1 || threads > 1024)
        return fail(m, PELKC_ERR_ARG, "threads must be in [1, 1024], got %d", (int)threads);
    float *scratch = alloc_floats(pelkc_desc.scratch_floats * threads);
    if (!scratch)
        return fail(m, PELKC_ERR_NOMEM, "out of memory for %d threads' scratch", (int)threads);
    free(m->scratch);
    m->scratch = scratch;
    m->threads = threads;
    return PELKC_OK;
}

PELKC_EXPORT int32_t pelkc_threads(const pelkc_model *m) { return m ? m->threads : 0; }

PELKC_EXPORT pelkc_status pelkc_workspace_bytes(const pelkc_model *m, int64_t *bytes)
{
    if (!m || !bytes)
        return PELKC_ERR_NULL;
    *bytes = (pelkc_desc.arena_floats * m->arena_images + pelkc_desc.scratch_floats * m->threads) *
             (int64_t)sizeof(float);
    return PELKC_OK;
}

/* The arena for a chunk of nimg images (it grows to the largest chunk run). */
static pelkc_status ensure_arena(pelkc_model *m, int32_t nimg)
{
    if (nimg <= m->arena_images)
        return PELKC_OK;
    float *arena = alloc_floats(pelkc_desc.arena_floats * nimg);
    if (!arena)
        return fail(m, PELKC_ERR_NOMEM, "out of memory for %d images' activations (%lld bytes)",
                    (int)nimg, (long long)(pelkc_desc.arena_floats * nimg * sizeof(float)));
    free(m->arena);
    m->arena = arena;
    m->arena_images = nimg;
    return PELKC_OK;
}

/* Contiguous images in chunks of at most PELKC_MAX_BATCH, each layer by layer. */
static pelkc_status run_dense(pelkc_model *m, const float *input, int32_t batch, float *output)
{
    size_t image = (size_t)pelkc_desc.in_c * pelkc_desc.in_h * pelkc_desc.in_w;
    int32_t chunk = batch < PELKC_MAX_BATCH ? batch : PELKC_MAX_BATCH;
    pelkc_status s = ensure_arena(m, chunk);
    if (s != PELKC_OK)
        return s;
    for (int32_t n = 0; n < batch; n += chunk) {
        int32_t cnt = batch - n < chunk ? batch - n : chunk;
        pelkc_desc.run_batch(input + n * image, output + (size_t)n * out_numel(), cnt, m->arena,
                             m->scratch, m->threads);
    }
    return PELKC_OK;
}

PELKC_EXPORT pelkc_status pelkc_run_f32(pelkc_model *m, const float *input, int32_t batch,
                                        float *output)
{
    if (!m)
        return PELKC_ERR_NULL;
    m->error[0] = '\0';
    pelkc_status s = pk_check_run_f32(input, batch, output, m->error, sizeof m->error);
    if (s != PELKC_OK)
        return s;
    return run_dense(m, input, batch, output);
}

PELKC_EXPORT pelkc_status pelkc_run(pelkc_model *m, const halide_buffer_t *input,
                                    halide_buffer_t *output)
{
    if (!m)
        return PELKC_ERR_NULL;
    m->error[0] = '\0';
    const pelkc_model_desc *D = &pelkc_desc;
    pk_shapes shapes = {D->in_c, D->in_h, D->in_w, D->out_c, D->out_h, D->out_w};
    pk_run_buffers r;
    pelkc_status s = pk_check_run_buffers(input, output, &shapes, &r, m->error, sizeof m->error);
    if (s != PELKC_OK)
        return s;
    const float *in = (const float *)input->host;
    float *out = (float *)output->host;
    if (r.in_dense && r.out_dense)
        return run_dense(m, in, r.batch, out);
    int64_t in_stride = input->dim[3].stride, onum = (int64_t)out_numel();
    for (int32_t n = 0; n < r.batch; n++) { /* strided: one image at a time through staging */
        const float *x = in + (int64_t)n * in_stride;
        if (!r.in_dense) {
            pk_copy_strided(m->staging, (float *)x, input->dim, D->in_c, D->in_h, D->in_w, 1);
            x = m->staging;
        }
        float *y = r.out_dense ? out + (int64_t)n * onum : m->out_one;
        D->run_batch(x, y, 1, m->arena, m->scratch, m->threads);
        if (!r.out_dense)
            pk_copy_strided(y, out + (int64_t)n * r.out_batch_stride, r.odim, D->out_c, D->out_h,
                            D->out_w, 0);
    }
    return PELKC_OK;
}

PELKC_EXPORT const char *pelkc_last_error(const pelkc_model *m)
{
    return m ? m->error : "model is NULL";
}

PELKC_EXPORT const char *pelkc_status_string(pelkc_status s) { return pk_status_text(s); }
