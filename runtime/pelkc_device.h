/* The device interface: what a model's runtime does differently on each
 * kind of hardware, under the exported API (pelkc_api.c) that is written
 * once over it. A model's runtime is one translation unit: its device file
 * (pelkc_runtime.c for the CPU, pelkc_cuda.c for CUDA and its host
 * emulation) defines the device's state (struct pk_dev), its functions and
 * `static const pelkc_device pk_device`, then includes pelkc_api.c. Not
 * part of the public API. */
#ifndef PELKC_DEVICE_H
#define PELKC_DEVICE_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "pelkc_buffers.h"
#include "pelkc_model.h"

#define PELKC_EXPORT __attribute__((visibility("default")))

/* Bytes of an error message (pelkc_last_error), on a model or for pelkc_create. */
#define PK_ERROR_BYTES 512

/* A device's own state; each device file completes the type. */
typedef struct pk_dev pk_dev;

/* A model as the API sees it: what every device shares, and its own state. */
struct pelkc_model {
    pk_shapes shapes; /* one image in and out */
    int32_t threads;
    float *staging, *out_one; /* one image each, for strided buffers */
    pk_dev *dev;              /* NULL until the device's create allocates it */
    char error[PK_ERROR_BYTES];
};

typedef struct pelkc_device {
    /* the model's name (pelkc_model_name) and image shapes */
    const char *(*describe)(pk_shapes *shapes);
    /* where a failed pelkc_create's message goes, per thread (pelkc_last_error(NULL));
     * NULL: nowhere, pelkc_last_error(NULL) says "model is NULL" */
    char *(*create_error)(void);
    /* m's shapes, threads (1), staging and out_one are set; allocate m->dev and
     * the device's memory; on failure m->error says why (or is empty: out of
     * memory) and free(m) follows */
    pelkc_status (*create)(pelkc_model *m);
    /* before m->threads becomes threads (in [1, 1024]): resize what depends on it */
    pelkc_status (*set_threads)(pelkc_model *m, int32_t threads);
    /* batch >= 1 contiguous images x [batch][C][H][W] into y, checked by the caller */
    pelkc_status (*run)(pelkc_model *m, const float *x, int32_t batch, float *y);
    /* pelkc_workspace_bytes */
    int64_t (*workspace)(const pelkc_model *m);
    /* release m->dev and what it holds (also after a failed create; m->dev may be NULL) */
    void (*free)(pelkc_model *m);
} pelkc_device;

/* Set m's error message; return s. */
static pelkc_status pk_fail(pelkc_model *m, pelkc_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static pelkc_status pk_fail(pelkc_model *m, pelkc_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->error, sizeof m->error, fmt, ap);
    va_end(ap);
    return s;
}

static inline size_t pk_in_numel(const pelkc_model *m)
{
    return (size_t)m->shapes.in_c * m->shapes.in_h * m->shapes.in_w;
}

static inline size_t pk_out_numel(const pelkc_model *m)
{
    return (size_t)m->shapes.out_c * m->shapes.out_h * m->shapes.out_w;
}

#endif
