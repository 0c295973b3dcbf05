/* pelkc_model.h: the C API of a model compiled by pelkc.
 *
 * Every .so that `pelkc compile` writes exports exactly these functions. The
 * weights are inside the .so; nothing else is read at run time. Images are
 * float32 NCHW; the batch N is chosen per call. Tensors cross the API as
 * Halide's halide_buffer_t (HalideRuntime.h, Halide's dimension order:
 * dim[0] is the innermost, i.e. W for an image and the class for the output),
 * or as plain contiguous pointers with pelkc_run_f32.
 *
 * Every call that can fail returns a pelkc_status; invalid arguments (NULL
 * pointers, wrong shapes or types) return an error, never crash. After an
 * error on a model, pelkc_last_error(model) says what went wrong in one line.
 * A model is not safe to run from two threads at once; two models are
 * independent (load two .so files, or create two models from one). */
#ifndef PELKC_MODEL_H
#define PELKC_MODEL_H

#include <stdint.h>

#include <HalideRuntime.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI: bumped whenever a signature, a struct or a meaning below changes.
 * pelkc_create checks that the caller was built against the same one. */
#define PELKC_API_VERSION 2

/* `pelkc compile --prefix P` names every exported symbol P<name> so that
 * several models can be linked into one program; define PELKC_PREFIX to P
 * before including this header to call such a model by the plain names. */
#ifdef PELKC_PREFIX
#define PELKC_CAT2(a, b) a##b
#define PELKC_CAT(a, b) PELKC_CAT2(a, b)
#define pelkc_api_version PELKC_CAT(PELKC_PREFIX, pelkc_api_version)
#define pelkc_built_by PELKC_CAT(PELKC_PREFIX, pelkc_built_by)
#define pelkc_model_name PELKC_CAT(PELKC_PREFIX, pelkc_model_name)
#define pelkc_create_abi PELKC_CAT(PELKC_PREFIX, pelkc_create_abi)
#define pelkc_free PELKC_CAT(PELKC_PREFIX, pelkc_free)
#define pelkc_input_shape PELKC_CAT(PELKC_PREFIX, pelkc_input_shape)
#define pelkc_output_shape PELKC_CAT(PELKC_PREFIX, pelkc_output_shape)
#define pelkc_set_threads PELKC_CAT(PELKC_PREFIX, pelkc_set_threads)
#define pelkc_threads PELKC_CAT(PELKC_PREFIX, pelkc_threads)
#define pelkc_workspace_bytes PELKC_CAT(PELKC_PREFIX, pelkc_workspace_bytes)
#define pelkc_run PELKC_CAT(PELKC_PREFIX, pelkc_run)
#define pelkc_run_f32 PELKC_CAT(PELKC_PREFIX, pelkc_run_f32)
#define pelkc_last_error PELKC_CAT(PELKC_PREFIX, pelkc_last_error)
#define pelkc_status_string PELKC_CAT(PELKC_PREFIX, pelkc_status_string)
#endif

typedef enum pelkc_status {
    PELKC_OK = 0,
    PELKC_ERR_NULL = 1,   /* a required pointer was NULL */
    PELKC_ERR_SHAPE = 2,  /* a tensor's shape does not match the model */
    PELKC_ERR_TYPE = 3,   /* a tensor is not float32, or lives only on a device */
    PELKC_ERR_NOMEM = 4,  /* an allocation failed */
    PELKC_ERR_ARG = 5,    /* another invalid argument (e.g. batch < 1) */
    PELKC_ERR_ABI = 6,    /* the caller was built against another PELKC_API_VERSION */
    PELKC_ERR_DEVICE = 7  /* GPU models: no CUDA driver, no GPU, or a driver call failed */
} pelkc_status;

typedef struct pelkc_model pelkc_model;

/* Version of this API the .so implements (PELKC_API_VERSION), and the pelkc
 * that built it ("pelkc 0.2.0"). */
int pelkc_api_version(void);
const char *pelkc_built_by(void);
/* The spec's name, e.g. "pelk_t". */
const char *pelkc_model_name(void);

/* Create a model from the embedded weights; *out is NULL on failure, and
 * PELKC_ERR_ABI if abi_version is not the .so's. A GPU model (`--target cuda`)
 * loads the CUDA driver here: without one, or without a GPU, it returns
 * PELKC_ERR_DEVICE and pelkc_last_error(NULL) says why, in one line (on the
 * thread that called it). Call it as pelkc_create(&m); through dlsym, look up "pelkc_create_abi" and pass PELKC_API_VERSION. */
pelkc_status pelkc_create_abi(int32_t abi_version, pelkc_model **out);
#define pelkc_create(out) pelkc_create_abi(PELKC_API_VERSION, (out))
void pelkc_free(pelkc_model *m);

/* Per-image input and output shapes (channels, height, width). A classifier's
 * output is (classes, 1, 1); a model that ends in a map (e.g. one conv layer
 * from `pelkc conv`) has a map's shape. */
pelkc_status pelkc_input_shape(const pelkc_model *m, int32_t *channels, int32_t *height,
                               int32_t *width);
pelkc_status pelkc_output_shape(const pelkc_model *m, int32_t *channels, int32_t *height,
                                int32_t *width);

/* Threads the model runs on (default 1); each model has its own, so two
 * models in one process do not share a setting. */
pelkc_status pelkc_set_threads(pelkc_model *m, int32_t threads);
int32_t pelkc_threads(const pelkc_model *m);

/* Bytes of working memory the model holds: its activation arena plus its
 * kernels' scratch for the current thread count. The arena holds one image's
 * planned activations at creation; a run over a batch of N contiguous images
 * goes layer by layer over chunks of min(N, 8) images, and the arena grows
 * to the largest chunk run so far. */
pelkc_status pelkc_workspace_bytes(const pelkc_model *m, int64_t *bytes);

/* input: 4-D float32 buffer, extents (W, H, C, N) in Halide order, any strides.
 * output: float32, any strides: 2-D (classes, N) for a classifier, else 4-D
 * (W, H, C, N). */
pelkc_status pelkc_run(pelkc_model *m, const halide_buffer_t *input, halide_buffer_t *output);

/* input: contiguous float32 [batch, C, H, W]; output: contiguous
 * [batch, classes] (or [batch, C, H, W] for a map). */
pelkc_status pelkc_run_f32(pelkc_model *m, const float *input, int32_t batch, float *output);

/* The last error on this model ("" if none); valid until the next call on it.
 * For m == NULL: a GPU model's last pelkc_create failure on this thread; a C
 * model says "model is NULL". */
const char *pelkc_last_error(const pelkc_model *m);
/* A fixed description of a status code. */
const char *pelkc_status_string(pelkc_status s);

#ifdef __cplusplus
}
#endif

#endif
