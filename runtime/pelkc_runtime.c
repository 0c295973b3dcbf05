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

struct pelkc_model {
    float *arena;   /* one image's activations, as planned */
    float *staging; /* one image, for inputs that are not contiguous */
    float *out_one; /* one image's logits, for outputs that are not contiguous */
    char error[256];
};

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

PELKC_EXPORT const char *pelkc_model_name(void) { return pelkc_desc.name; }

PELKC_EXPORT pelkc_status pelkc_create(pelkc_model **out)
{
    if (!out)
        return PELKC_ERR_NULL;
    *out = NULL;
    pelkc_model *m = calloc(1, sizeof *m);
    if (!m)
        return PELKC_ERR_NOMEM;
    size_t image = (size_t)pelkc_desc.in_c * pelkc_desc.in_h * pelkc_desc.in_w;
    m->arena = aligned_alloc(64, ((size_t)pelkc_desc.arena_floats * sizeof(float) + 63) / 64 * 64 + 64);
    m->staging = malloc(image * sizeof(float));
    m->out_one = malloc((size_t)pelkc_desc.classes * sizeof(float));
    if (!m->arena || !m->staging || !m->out_one) {
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

PELKC_EXPORT pelkc_status pelkc_output_shape(const pelkc_model *m, int32_t *classes)
{
    if (!m || !classes)
        return PELKC_ERR_NULL;
    *classes = pelkc_desc.classes;
    return PELKC_OK;
}

PELKC_EXPORT pelkc_status pelkc_workspace_bytes(const pelkc_model *m, int64_t *bytes)
{
    if (!m || !bytes)
        return PELKC_ERR_NULL;
    *bytes = pelkc_desc.arena_floats * (int64_t)sizeof(float);
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
    size_t image = (size_t)pelkc_desc.in_c * pelkc_desc.in_h * pelkc_desc.in_w;
    for (int32_t n = 0; n < batch; n++)
        pelkc_desc.run_image(input + n * image, output + (size_t)n * pelkc_desc.classes, m->arena);
    return PELKC_OK;
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

PELKC_EXPORT pelkc_status pelkc_run(pelkc_model *m, const halide_buffer_t *input,
                                    halide_buffer_t *output)
{
    if (!m)
        return PELKC_ERR_NULL;
    m->error[0] = '\0';
    pelkc_status s = check_buffer(m, input, "input", 4);
    if (s == PELKC_OK)
        s = check_buffer(m, output, "output", 2);
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
    if (dout[0].extent != pelkc_desc.classes || dout[1].extent != batch)
        return fail(m, PELKC_ERR_SHAPE, "output extents (classes,N) = (%d,%d), expected (%d,%d)",
                    dout[0].extent, dout[1].extent, pelkc_desc.classes, batch);

    const float *in = (const float *)input->host;
    float *out = (float *)output->host;
    int64_t plane = (int64_t)want[0] * want[1], image = plane * want[2];
    int in_dense = di[0].stride == 1 && di[1].stride == want[0] && di[2].stride == plane &&
                   di[3].stride == image;
    int out_dense = dout[0].stride == 1 && dout[1].stride == pelkc_desc.classes;
    for (int32_t n = 0; n < batch; n++) {
        const float *x = in + (int64_t)n * di[3].stride;
        if (!in_dense) { /* gather a strided image into contiguous NCHW */
            for (int32_t c = 0; c < want[2]; c++)
                for (int32_t y = 0; y < want[1]; y++)
                    for (int32_t xx = 0; xx < want[0]; xx++)
                        m->staging[c * plane + y * want[0] + xx] =
                            x[(int64_t)c * di[2].stride + (int64_t)y * di[1].stride +
                              (int64_t)xx * di[0].stride];
            x = m->staging;
        }
        float *y = out_dense ? out + (int64_t)n * pelkc_desc.classes : m->out_one;
        pelkc_desc.run_image(x, y, m->arena);
        if (!out_dense)
            for (int32_t k = 0; k < pelkc_desc.classes; k++)
                out[(int64_t)n * dout[1].stride + (int64_t)k * dout[0].stride] = y[k];
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
    }
    return "unknown status";
}
