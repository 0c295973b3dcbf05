/* The runtime every compiled model links: the public API (pelkc_model.h) on
 * top of the generated code's pelkc_desc. Argument checks live here, so the
 * generated code can assume valid, contiguous tensors. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    if (!m || !channels || !height || !width)
        return PELKC_ERR_NULL;
    *channels = pelkc_desc.in_c;
    *height = pelkc_desc.in_h;
    *width = pelkc_desc.in_w;
    return PELKC_OK;
}

PELKC_EXPORT pelkc_status pelkc_output_shape(const pelkc_model *m, int32_t *channels,
                                             int32_t *height, int32_t *width)
{
    if (!m || !channels || !height || !width)
        return PELKC_ERR_NULL;
    *channels = pelkc_desc.out_c;
    *height = pelkc_desc.out_h;
    *width = pelkc_desc.out_w;
    return PELKC_OK;
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
    if (!input || !output)
        return fail(m, PELKC_ERR_NULL, "input and output must not be NULL");
    if (batch < 1)
        return fail(m, PELKC_ERR_ARG, "batch must be at least 1, got %d", (int)batch);
    return run_dense(m, input, batch, output);
}

static int is_f32(const halide_buffer_t *b)
{
    return b->type.code == halide_type_float && b->type.bits == 32 && b->type.lanes == 1;
}

/* Check a buffer's type, rank and host pointer; name says which in messages. */
static pelkc_status check_buffer(pelkc_model *m, const halide_buffer_t *b, const char *name,
                                 int dims)
{
    if (!b)
        return fail(m, PELKC_ERR_NULL, "%s buffer is NULL", name);
    if (!b->host)
        return fail(m, b->device ? PELKC_ERR_TYPE : PELKC_ERR_NULL,
                    "%s buffer has no host memory%s", name,
                    b->device ? " (device buffers are not supported)" : "");
    if (!is_f32(b))
        return fail(m, PELKC_ERR_TYPE, "%s buffer must be float32 (code %d, %d bits, %d lanes)",
                    name, b->type.code, b->type.bits, b->type.lanes);
    if (b->dimensions != dims || !b->dim)
        return fail(m, PELKC_ERR_SHAPE, "%s buffer must have %d dimensions, got %d", name, dims,
                    (int)b->dimensions);
    return PELKC_OK;
}

/* Copy between a contiguous [C,H,W] image and a strided one (Halide order W,H,C). */
static void copy_strided(float *dense, float *strided, const halide_dimension_t *d, int32_t c,
                         int32_t h, int32_t w, int to_dense)
{
    for (int32_t ch = 0; ch < c; ch++)
        for (int32_t y = 0; y < h; y++)
            for (int32_t x = 0; x < w; x++) {
                float *sp = strided + (int64_t)ch * d[2].stride + (int64_t)y * d[1].stride +
                            (int64_t)x * d[0].stride;
                float *dp = dense + ((int64_t)ch * h + y) * w + x;
                if (to_dense)
                    *dp = *sp;
                else
                    *sp = *dp;
            }
}

PELKC_EXPORT pelkc_status pelkc_run(pelkc_model *m, const halide_buffer_t *input,
                                    halide_buffer_t *output)
{
    if (!m)
        return PELKC_ERR_NULL;
    m->error[0] = '\0';
    /* a classifier's output is (classes, N); a map's is (W, H, C, N) */
    int vector_out = pelkc_desc.out_h == 1 && pelkc_desc.out_w == 1;
    pelkc_status s = check_buffer(m, input, "input", 4);
    if (s == PELKC_OK)
        s = check_buffer(m, output, "output", vector_out ? 2 : 4);
    if (s != PELKC_OK)
        return s;
    const halide_dimension_t *di = input->dim, *dout = output->dim;
    int32_t want[3] = {pelkc_desc.in_w, pelkc_desc.in_h, pelkc_desc.in_c};
    int32_t batch = di[3].extent;
    if (di[0].extent != want[0] || di[1].extent != want[1] || di[2].extent != want[2] ||
        batch < 1)
        return fail(m, PELKC_ERR_SHAPE,
                    "input extents (W,H,C,N) = (%d,%d,%d,%d), expected (%d,%d,%d,N>=1)",
                    di[0].extent, di[1].extent, di[2].extent, di[3].extent, want[0], want[1],
                    want[2]);
    int32_t oc = pelkc_desc.out_c, oh = pelkc_desc.out_h, ow = pelkc_desc.out_w;
    if (vector_out && (dout[0].extent != oc || dout[1].extent != batch))
        return fail(m, PELKC_ERR_SHAPE, "output extents (classes,N) = (%d,%d), expected (%d,%d)",
                    dout[0].extent, dout[1].extent, oc, batch);
    if (!vector_out && (dout[0].extent != ow || dout[1].extent != oh || dout[2].extent != oc ||
                        dout[3].extent != batch))
        return fail(m, PELKC_ERR_SHAPE,
                    "output extents (W,H,C,N) = (%d,%d,%d,%d), expected (%d,%d,%d,%d)",
                    dout[0].extent, dout[1].extent, dout[2].extent, dout[3].extent, ow, oh, oc,
                    batch);

    const float *in = (const float *)input->host;
    float *out = (float *)output->host;
    int64_t plane = (int64_t)want[0] * want[1], image = plane * want[2];
    int64_t onum = (int64_t)out_numel();
    int in_dense = di[0].stride == 1 && di[1].stride == want[0] && di[2].stride == plane &&
                   di[3].stride == image;
    int out_dense = vector_out ? dout[0].stride == 1 && dout[1].stride == oc
                               : dout[0].stride == 1 && dout[1].stride == ow &&
                                     dout[2].stride == (int64_t)ow * oh && dout[3].stride == onum;
    /* a classifier's (classes, N) output copies through the same helper as a 1x1 map */
    halide_dimension_t odim[3] = {{0, 1, 0, 0}, {0, 1, 0, 0}, {0, oc, 0, 0}};
    if (vector_out)
        odim[2].stride = dout[0].stride;
    else
        odim[0] = dout[0], odim[1] = dout[1], odim[2] = dout[2];
    int64_t out_batch_stride = vector_out ? dout[1].stride : dout[3].stride;
    if (in_dense && out_dense)
        return run_dense(m, in, batch, out);
    for (int32_t n = 0; n < batch; n++) { /* strided: one image at a time through staging */
        const float *x = in + (int64_t)n * di[3].stride;
        if (!in_dense) {
            copy_strided(m->staging, (float *)x, di, want[2], want[1], want[0], 1);
            x = m->staging;
        }
        float *y = out_dense ? out + (int64_t)n * onum : m->out_one;
        pelkc_desc.run_batch(x, y, 1, m->arena, m->scratch, m->threads);
        if (!out_dense)
            copy_strided(y, out + (int64_t)n * out_batch_stride, odim, oc, oh, ow, 0);
    }
    return PELKC_OK;
}

PELKC_EXPORT const char *pelkc_last_error(const pelkc_model *m)
{
    return m ? m->error : "model is NULL";
}

PELKC_EXPORT const char *pelkc_status_string(pelkc_status s)
{
    switch (s) {
    case PELKC_OK: return "ok";
    case PELKC_ERR_NULL: return "a required pointer was NULL";
    case PELKC_ERR_SHAPE: return "a tensor's shape does not match the model";
    case PELKC_ERR_TYPE: return "a tensor is not float32 or has no host memory";
    case PELKC_ERR_NOMEM: return "out of memory";
    case PELKC_ERR_ARG: return "invalid argument";
    case PELKC_ERR_ABI: return "the caller was built against another pelkc API version";
    case PELKC_ERR_DEVICE: return "no usable GPU (CUDA driver or device missing, or it failed)";
    }
    return "unknown status";
}
