/* The exported API (pelkc_model.h), once for every device: argument checks,
 * the model's common state and the strided-buffer staging live here, so a
 * device (pelkc_device.h) only creates, runs and frees, over contiguous
 * images. Included at the end of a device file, after `static const
 * pelkc_device pk_device`; the device's functions stay static, so a .so
 * exports these (and, emulated GPU models only, pelkc_emulate_kernel). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pelkc_buffers.h"
#include "pelkc_device.h"
#include "pelkc_model.h"


#ifndef PELKC_BUILT_BY
#define PELKC_BUILT_BY "pelkc"
#endif

PELKC_EXPORT int pelkc_api_version(void) { return PELKC_API_VERSION; }

PELKC_EXPORT const char *pelkc_built_by(void) { return PELKC_BUILT_BY; }

PELKC_EXPORT const char *pelkc_model_name(void) { return pk_device.describe(NULL); }

/* A failed pelkc_create's message, where the device keeps one; return s. */
static pelkc_status pk_create_fail(pelkc_status s, const char *fmt, ...)
{
    char *err = pk_device.create_error ? pk_device.create_error() : NULL;
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, PK_ERROR_BYTES, fmt, ap);
        va_end(ap);
    }
    return s;
}

PELKC_EXPORT void pelkc_free(pelkc_model *m)
{
    if (!m)
        return;
    pk_device.free(m);
    free(m->staging);
    free(m->out_one);
    free(m);
}

PELKC_EXPORT pelkc_status pelkc_create_abi(int32_t abi_version, pelkc_model **out)
{
    char *err = pk_device.create_error ? pk_device.create_error() : NULL;
    if (err)
        err[0] = '\0';
    if (!out)
        return pk_create_fail(PELKC_ERR_NULL, "out is NULL");
    *out = NULL;
    if (abi_version != PELKC_API_VERSION)
        return pk_create_fail(PELKC_ERR_ABI, "built against API %d, the model has %d",
                              (int)abi_version, PELKC_API_VERSION);
    pelkc_model *m = calloc(1, sizeof *m);
    if (!m)
        return pk_create_fail(PELKC_ERR_NOMEM, "out of memory");
    pk_device.describe(&m->shapes);
    m->threads = 1;
    m->staging = malloc(pk_in_numel(m) * sizeof(float));
    m->out_one = malloc(pk_out_numel(m) * sizeof(float));
    pelkc_status s = m->staging && m->out_one ? pk_device.create(m) : PELKC_ERR_NOMEM;
    if (s) {
        pk_create_fail(s, "%s", m->error[0] ? m->error : "out of memory");
        pelkc_free(m);
        return s;
    }
    *out = m;
    return PELKC_OK;
}

/* pelkc_input_shape / pelkc_output_shape: one [C,H,W] into the caller's. */
static pelkc_status pk_shape(const pelkc_model *m, int in, int32_t *channels, int32_t *height,
                             int32_t *width)
{
    if (!m || !channels || !height || !width)
        return PELKC_ERR_NULL;
    const pk_shapes *s = &m->shapes;
    *channels = in ? s->in_c : s->out_c;
    *height = in ? s->in_h : s->out_h;
    *width = in ? s->in_w : s->out_w;
    return PELKC_OK;
}

PELKC_EXPORT pelkc_status pelkc_input_shape(const pelkc_model *m, int32_t *channels,
                                            int32_t *height, int32_t *width)
{
    return pk_shape(m, 1, channels, height, width);
}

PELKC_EXPORT pelkc_status pelkc_output_shape(const pelkc_model *m, int32_t *channels,
                                             int32_t *height, int32_t *width)
{
    return pk_shape(m, 0, channels, height, width);
}

PELKC_EXPORT pelkc_status pelkc_set_threads(pelkc_model *m, int32_t threads)
{
    if (!m)
        return PELKC_ERR_NULL;
    if (threads < 1 || threads > 1024)
        return pk_fail(m, PELKC_ERR_ARG, "threads must be in [1, 1024], got %d", (int)threads);
    pelkc_status s = pk_device.set_threads(m, threads);
    if (s == PELKC_OK)
        m->threads = threads;
    return s;
}

PELKC_EXPORT int32_t pelkc_threads(const pelkc_model *m) { return m ? m->threads : 0; }

PELKC_EXPORT pelkc_status pelkc_workspace_bytes(const pelkc_model *m, int64_t *bytes)
{
    if (!m || !bytes)
        return PELKC_ERR_NULL;
    *bytes = pk_device.workspace(m);
    return PELKC_OK;
}

PELKC_EXPORT pelkc_status pelkc_run_f32(pelkc_model *m, const float *input, int32_t batch,
                                        float *output)
{
    if (!m)
        return PELKC_ERR_NULL;
    m->error[0] = '\0';
    if (!input || !output)
        return pk_fail(m, PELKC_ERR_NULL, "input and output must not be NULL");
    if (batch < 1)
        return pk_fail(m, PELKC_ERR_ARG, "batch must be at least 1, got %d", (int)batch);
    return pk_device.run(m, input, batch, output);
}

PELKC_EXPORT pelkc_status pelkc_run(pelkc_model *m, const halide_buffer_t *input,
                                    halide_buffer_t *output)
{
    if (!m)
        return PELKC_ERR_NULL;
    m->error[0] = '\0';
    const pk_shapes *sh = &m->shapes;
    pk_run_buffers r;
    pelkc_status s = pk_check_run_buffers(input, output, sh, &r, m->error, sizeof m->error);
    if (s != PELKC_OK)
        return s;
    const float *in = (const float *)input->host;
    float *out = (float *)output->host;
    if (r.in_dense && r.out_dense)
        return pk_device.run(m, in, r.batch, out);
    int64_t in_stride = input->dim[3].stride, onum = (int64_t)pk_out_numel(m);
    for (int32_t n = 0; n < r.batch && !s; n++) { /* strided: one image at a time through staging */
        const float *x = in + (int64_t)n * in_stride;
        if (!r.in_dense) {
            pk_copy_strided(m->staging, (float *)x, input->dim, sh->in_c, sh->in_h, sh->in_w, 1);
            x = m->staging;
        }
        float *y = r.out_dense ? out + (int64_t)n * onum : m->out_one;
        s = pk_device.run(m, x, 1, y);
        if (!s && !r.out_dense)
            pk_copy_strided(y, out + (int64_t)n * r.out_batch_stride, r.odim, sh->out_c,
                            sh->out_h, sh->out_w, 0);
    }
    return s;
}

PELKC_EXPORT const char *pelkc_last_error(const pelkc_model *m)
{
    if (m)
        return m->error;
    return pk_device.create_error ? pk_device.create_error() : "model is NULL";
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
