/* pelkc_run's Halide buffers, for the API (pelkc_api.c): their type, rank
 * and extents against the model's shapes, and the copies between a strided
 * image and a contiguous one. Static functions: each .so has its own copy
 * and exports nothing more. Not part of the public API. */
#ifndef PELKC_BUFFERS_H
#define PELKC_BUFFERS_H

#include <stdarg.h>
#include <stdio.h>

#include "pelkc_model.h"

/* A model's image shapes, [C,H,W] in and out (out 1x1 for a classifier). */
typedef struct pk_shapes {
    int32_t in_c, in_h, in_w;
    int32_t out_c, out_h, out_w;
} pk_shapes;

/* How a pelkc_run call's buffers lie, once checked. */
typedef struct pk_run_buffers {
    int32_t batch;
    int in_dense, out_dense;    /* contiguous [N][C][H][W] (a classifier's output: [N][classes]) */
    halide_dimension_t odim[3]; /* one output image in Halide order W, H, C; a classifier's
                                   (classes, N) output as a 1x1 map */
    int64_t out_batch_stride;
} pk_run_buffers;

static pelkc_status pk__buffer_fail(char *err, size_t cap, pelkc_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return s;
}

/* A buffer's type, rank and host pointer; name says which in messages. */
static pelkc_status pk__check_buffer(const halide_buffer_t *b, const char *name, int dims,
                                     char *err, size_t cap)
{
    if (!b)
        return pk__buffer_fail(err, cap, PELKC_ERR_NULL, "%s buffer is NULL", name);
    if (!b->host)
        return pk__buffer_fail(err, cap, b->device ? PELKC_ERR_TYPE : PELKC_ERR_NULL,
                               "%s buffer has no host memory%s", name,
                               b->device ? " (device buffers are not supported)" : "");
    if (b->type.code != halide_type_float || b->type.bits != 32 || b->type.lanes != 1)
        return pk__buffer_fail(err, cap, PELKC_ERR_TYPE,
                               "%s buffer must be float32 (code %d, %d bits, %d lanes)", name,
                               b->type.code, b->type.bits, b->type.lanes);
    if (b->dimensions != dims || !b->dim)
        return pk__buffer_fail(err, cap, PELKC_ERR_SHAPE,
                               "%s buffer must have %d dimensions, got %d", name, dims,
                               (int)b->dimensions);
    return PELKC_OK;
}

/* Check pelkc_run's buffers against the model's shapes s: the input
 * (W,H,C,N), the output (classes,N) for a classifier, else (W,H,C,N); fill r.
 * On an error, its message is in err. */
static pelkc_status pk_check_run_buffers(const halide_buffer_t *input,
                                         const halide_buffer_t *output, const pk_shapes *s,
                                         pk_run_buffers *r, char *err, size_t cap)
{
    int vector_out = s->out_h == 1 && s->out_w == 1;
    pelkc_status st = pk__check_buffer(input, "input", 4, err, cap);
    if (st == PELKC_OK)
        st = pk__check_buffer(output, "output", vector_out ? 2 : 4, err, cap);
    if (st != PELKC_OK)
        return st;
    const halide_dimension_t *di = input->dim, *dout = output->dim;
    int32_t batch = di[3].extent, oc = s->out_c, oh = s->out_h, ow = s->out_w;
    if (di[0].extent != s->in_w || di[1].extent != s->in_h || di[2].extent != s->in_c ||
        batch < 1)
        return pk__buffer_fail(err, cap, PELKC_ERR_SHAPE,
                               "input extents (W,H,C,N) = (%d,%d,%d,%d), expected (%d,%d,%d,N>=1)",
                               di[0].extent, di[1].extent, di[2].extent, di[3].extent, s->in_w,
                               s->in_h, s->in_c);
    if (vector_out && (dout[0].extent != oc || dout[1].extent != batch))
        return pk__buffer_fail(err, cap, PELKC_ERR_SHAPE,
                               "output extents (classes,N) = (%d,%d), expected (%d,%d)",
                               dout[0].extent, dout[1].extent, oc, batch);
    if (!vector_out && (dout[0].extent != ow || dout[1].extent != oh || dout[2].extent != oc ||
                        dout[3].extent != batch))
        return pk__buffer_fail(err, cap, PELKC_ERR_SHAPE,
                               "output extents (W,H,C,N) = (%d,%d,%d,%d), expected (%d,%d,%d,%d)",
                               dout[0].extent, dout[1].extent, dout[2].extent, dout[3].extent,
                               ow, oh, oc, batch);
    int64_t plane = (int64_t)s->in_w * s->in_h, onum = (int64_t)oc * oh * ow;
    r->batch = batch;
    r->in_dense = di[0].stride == 1 && di[1].stride == s->in_w && di[2].stride == plane &&
                  di[3].stride == plane * s->in_c;
    r->out_dense = vector_out ? dout[0].stride == 1 && dout[1].stride == oc
                              : dout[0].stride == 1 && dout[1].stride == ow &&
                                    dout[2].stride == (int64_t)ow * oh && dout[3].stride == onum;
    halide_dimension_t one = {0, 1, 0, 0}, classes = {0, oc, 0, 0};
    if (vector_out) {
        classes.stride = dout[0].stride;
        r->odim[0] = one, r->odim[1] = one, r->odim[2] = classes;
    } else {
        r->odim[0] = dout[0], r->odim[1] = dout[1], r->odim[2] = dout[2];
    }
    r->out_batch_stride = vector_out ? dout[1].stride : dout[3].stride;
    return PELKC_OK;
}

/* Copy between a contiguous [C,H,W] image and a strided one (Halide order W,H,C). */
static void pk_copy_strided(float *dense, float *strided, const halide_dimension_t *d, int32_t c,
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

#endif
