/* The runtime of a GPU model (`pelkc compile --target cuda`): the public API
 * (pelkc_model.h) over the generated launch table (pelkc_cuda.h).
 *
 * The CUDA driver is loaded at pelkc_create with dlopen (libcuda.so.1, or
 * $PELKC_CUDA_LIBRARY): the .so has no link-time CUDA dependency, and where
 * there is no driver or no GPU, pelkc_create returns PELKC_ERR_DEVICE and
 * pelkc_last_error(NULL) says which step failed. Built with
 * -DPELKC_CUDA_EMULATE (`--target cuda-emulate`), "device" memory is host
 * memory and each launch calls the host version of the same kernel body over
 * the same grid: the launch sequence is the one the GPU runs. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pelkc_buffers.h"
#include "pelkc_cuda.h"
#include "pelkc_model.h"

#define PELKC_EXPORT __attribute__((visibility("default")))
#define D pelkc_gpu_desc

typedef unsigned long long dptr; /* CUdeviceptr; a host address when emulating */

/* The driver entry points used, by their ABI names (cuda.h maps cuX to cuX_v2). */
typedef struct cuda_api {
    void *lib;
    int (*init)(unsigned);
    int (*device_get_count)(int *);
    int (*device_get)(int *, int);
    int (*primary_retain)(void **, int);
    int (*primary_release)(int);
    int (*ctx_set)(void *);
    int (*module_load)(void **, const void *, unsigned, int *, void **);
    int (*module_unload)(void *);
    int (*module_function)(void **, void *, const char *);
    int (*mem_alloc)(dptr *, size_t);
    int (*mem_free)(dptr);
    int (*h2d)(dptr, const void *, size_t);
    int (*d2h)(void *, dptr, size_t);
    int (*launch)(void *, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                  void *, void **, void **);
    int (*synchronize)(void);
    int (*error_name)(int, const char **);
} cuda_api;

struct pelkc_model {
    cuda_api cu;
    int device;
    void *ctx, *module;
    void **functions;
    dptr weights, arena, scratch, in, out;
    float *staging, *out_one; /* one image each, for strided buffers */
    int32_t threads;
    char error[512];
};

static _Thread_local char create_error[512];

static size_t in_numel(void) { return (size_t)D.in_c * D.in_h * D.in_w; }
static size_t out_numel(void) { return (size_t)D.out_c * D.out_h * D.out_w; }

static pelkc_status fail(pelkc_model *m, pelkc_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m ? m->error : create_error, sizeof create_error, fmt, ap);
    va_end(ap);
    return s;
}

#ifdef PELKC_CUDA_EMULATE
/* ---- emulation: host memory and host kernels ---- */

static pelkc_status device_open(pelkc_model *m) { (void)m; return PELKC_OK; }
static pelkc_status start_run(pelkc_model *m) { (void)m; return PELKC_OK; }
static void device_close(pelkc_model *m) { (void)m; }

static pelkc_status dev_alloc(pelkc_model *m, dptr *p, size_t bytes)
{
    void *h = calloc(1, bytes + 64);
    *p = (dptr)(uintptr_t)h;
    return h ? PELKC_OK : fail(m, PELKC_ERR_NOMEM, "out of memory (%zu bytes)", bytes);
}

static void dev_free(pelkc_model *m, dptr p) { (void)m; free((void *)(uintptr_t)p); }

static pelkc_status copy_to(pelkc_model *m, dptr d, const void *h, size_t n)
{
    (void)m;
    memcpy((void *)(uintptr_t)d, h, n);
    return PELKC_OK;
}

static pelkc_status copy_from(pelkc_model *m, void *h, dptr d, size_t n)
{
    (void)m;
    memcpy(h, (void *)(uintptr_t)d, n);
    return PELKC_OK;
}

static pelkc_status launch(pelkc_model *m, const pk_gpu_launch *l, dptr *args)
{
    (void)m;
    void *a[PK_GPU_NARGS];
    for (int i = 0; i < PK_GPU_NARGS; i++)
        a[i] = (void *)(uintptr_t)args[i];
    D.host_kernels[l->kernel](a[0], a[1], a[2], a[3], a[4], a[5], a[6], l->blocks);
    return PELKC_OK;
}

static pelkc_status finish_run(pelkc_model *m) { (void)m; return PELKC_OK; }

/* Test hook of emulated models only: the host version of the kernel named `name`
 * (NULL if none), so that a stand-in driver (tests/gpu/fake_libcuda.c) can run
 * a --target cuda model's launches. */
#ifdef PELKC_PREFIX
#define pelkc_emulate_kernel PELKC_CAT(PELKC_PREFIX, pelkc_emulate_kernel)
#endif
PELKC_EXPORT pk_host_kernel pelkc_emulate_kernel(const char *name)
{
    for (int i = 0; name && i < D.n_kernels; i++)
        if (!strcmp(D.kernel_names[i], name))
            return D.host_kernels[i];
    return NULL;
}
#else
/* ---- the CUDA driver API ---- */

/* The driver's name for an error; a few by number when it cannot say (a stub library). */
static const char *cu_name(pelkc_model *m, int rc)
{
    const char *s = NULL;
    if (m->cu.error_name && m->cu.error_name(rc, &s) == 0 && s)
        return s;
    switch (rc) {
    case 2: return "CUDA_ERROR_OUT_OF_MEMORY";
    case 3: return "CUDA_ERROR_NOT_INITIALIZED";
    case 34: return "CUDA_ERROR_STUB_LIBRARY (the toolkit's stub, not a driver)";
    case 35: return "CUDA_ERROR_INSUFFICIENT_DRIVER";
    case 100: return "CUDA_ERROR_NO_DEVICE";
    case 209: return "CUDA_ERROR_NO_BINARY_FOR_GPU";
    case 218: return "CUDA_ERROR_INVALID_PTX";
    case 222: return "CUDA_ERROR_UNSUPPORTED_PTX_VERSION";
    case 803: return "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH";
    }
    return "unknown CUDA error";
}

#define CU_CHECK(m, call, what)                                                                    \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_)                                                                                   \
            return fail(m, PELKC_ERR_DEVICE, "CUDA %s failed: %s (%d)", what, cu_name(m, rc_), rc_); \
    } while (0)

static pelkc_status load_driver(pelkc_model *m)
{
    const char *path = getenv("PELKC_CUDA_LIBRARY");
    if (!path || !*path)
        path = "libcuda.so.1";
    m->cu.lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!m->cu.lib) {
        const char *why = dlerror();
        return fail(m, PELKC_ERR_DEVICE, "CUDA driver not found (%s): %s", path, why ? why : "?");
    }
    struct {
        void **slot;
        const char *name;
    } syms[] = {
        {(void **)&m->cu.init, "cuInit"},
        {(void **)&m->cu.device_get_count, "cuDeviceGetCount"},
        {(void **)&m->cu.device_get, "cuDeviceGet"},
        {(void **)&m->cu.primary_retain, "cuDevicePrimaryCtxRetain"},
        {(void **)&m->cu.primary_release, "cuDevicePrimaryCtxRelease_v2"},
        {(void **)&m->cu.ctx_set, "cuCtxSetCurrent"},
        {(void **)&m->cu.module_load, "cuModuleLoadDataEx"},
        {(void **)&m->cu.module_unload, "cuModuleUnload"},
        {(void **)&m->cu.module_function, "cuModuleGetFunction"},
        {(void **)&m->cu.mem_alloc, "cuMemAlloc_v2"},
        {(void **)&m->cu.mem_free, "cuMemFree_v2"},
        {(void **)&m->cu.h2d, "cuMemcpyHtoD_v2"},
        {(void **)&m->cu.d2h, "cuMemcpyDtoH_v2"},
        {(void **)&m->cu.launch, "cuLaunchKernel"},
        {(void **)&m->cu.synchronize, "cuCtxSynchronize"},
        {(void **)&m->cu.error_name, "cuGetErrorName"},
    };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        *syms[i].slot = dlsym(m->cu.lib, syms[i].name);
        if (!*syms[i].slot)
            return fail(m, PELKC_ERR_DEVICE, "CUDA driver %s has no %s (too old?)", path,
                        syms[i].name);
    }
    return PELKC_OK;
}

static pelkc_status device_open(pelkc_model *m)
{
    pelkc_status s = load_driver(m);
    if (s)
        return s;
    int count = 0;
    CU_CHECK(m, m->cu.init(0), "cuInit");
    CU_CHECK(m, m->cu.device_get_count(&count), "cuDeviceGetCount");
    if (count < 1)
        return fail(m, PELKC_ERR_DEVICE, "CUDA driver found but no GPU");
    CU_CHECK(m, m->cu.device_get(&m->device, 0), "cuDeviceGet");
    CU_CHECK(m, m->cu.primary_retain(&m->ctx, m->device), "cuDevicePrimaryCtxRetain");
    CU_CHECK(m, m->cu.ctx_set(m->ctx), "cuCtxSetCurrent");
    char log[1024] = "";
    int opts[2] = {5 /* CU_JIT_ERROR_LOG_BUFFER */, 6 /* CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES */};
    void *vals[2] = {log, (void *)(uintptr_t)sizeof log};
    int rc = m->cu.module_load(&m->module, D.ptx, 2, opts, vals);
    if (rc)
        return fail(m, PELKC_ERR_DEVICE, "CUDA cuModuleLoadDataEx failed: %s (%d): %.300s",
                    cu_name(m, rc), rc, log);
    m->functions = calloc((size_t)D.n_kernels + 1, sizeof *m->functions);
    if (!m->functions)
        return fail(m, PELKC_ERR_NOMEM, "out of memory");
    for (int i = 0; i < D.n_kernels; i++)
        CU_CHECK(m, m->cu.module_function(&m->functions[i], m->module, D.kernel_names[i]),
                 "cuModuleGetFunction");
    return PELKC_OK;
}

static void device_close(pelkc_model *m)
{
    if (m->module)
        m->cu.module_unload(m->module);
    if (m->ctx)
        m->cu.primary_release(m->device);
    free(m->functions);
    /* the driver library stays loaded: unloading CUDA under live threads is unsafe */
}

static pelkc_status dev_alloc(pelkc_model *m, dptr *p, size_t bytes)
{
    CU_CHECK(m, m->cu.mem_alloc(p, bytes + 64), "cuMemAlloc");
    return PELKC_OK;
}

static void dev_free(pelkc_model *m, dptr p)
{
    if (p)
        m->cu.mem_free(p);
}

static pelkc_status copy_to(pelkc_model *m, dptr d, const void *h, size_t n)
{
    CU_CHECK(m, m->cu.h2d(d, h, n), "cuMemcpyHtoD");
    return PELKC_OK;
}

static pelkc_status copy_from(pelkc_model *m, void *h, dptr d, size_t n)
{
    CU_CHECK(m, m->cu.d2h(h, d, n), "cuMemcpyDtoH");
    return PELKC_OK;
}

static pelkc_status launch(pelkc_model *m, const pk_gpu_launch *l, dptr *args)
{
    void *params[PK_GPU_NARGS];
    for (int i = 0; i < PK_GPU_NARGS; i++)
        params[i] = &args[i];
    CU_CHECK(m, m->cu.launch(m->functions[l->kernel], (unsigned)l->blocks, 1, 1, PK_GPU_BLOCK, 1, 1,
                             0, NULL, params, NULL),
             D.kernel_names[l->kernel]);
    return PELKC_OK;
}

/* The model's context is made current on whichever thread runs it. */
static pelkc_status start_run(pelkc_model *m)
{
    CU_CHECK(m, m->cu.ctx_set(m->ctx), "cuCtxSetCurrent");
    return PELKC_OK;
}

static pelkc_status finish_run(pelkc_model *m)
{
    CU_CHECK(m, m->cu.synchronize(), "cuCtxSynchronize");
    return PELKC_OK;
}
#endif

/* ---- the public API ---- */

PELKC_EXPORT int pelkc_api_version(void) { return PELKC_API_VERSION; }

#ifndef PELKC_BUILT_BY
#define PELKC_BUILT_BY "pelkc"
#endif
PELKC_EXPORT const char *pelkc_built_by(void) { return PELKC_BUILT_BY; }
PELKC_EXPORT const char *pelkc_model_name(void) { return D.name; }

PELKC_EXPORT void pelkc_free(pelkc_model *m)
{
    if (!m)
        return;
    dev_free(m, m->weights);
    dev_free(m, m->arena);
    dev_free(m, m->scratch);
    dev_free(m, m->in);
    dev_free(m, m->out);
    device_close(m);
    free(m->staging);
    free(m->out_one);
    free(m);
}

PELKC_EXPORT pelkc_status pelkc_create_abi(int32_t abi_version, pelkc_model **out)
{
    create_error[0] = '\0';
    if (!out)
        return fail(NULL, PELKC_ERR_NULL, "out is NULL");
    *out = NULL;
    if (abi_version != PELKC_API_VERSION)
        return fail(NULL, PELKC_ERR_ABI, "built against API %d, the model has %d", (int)abi_version,
                    PELKC_API_VERSION);
    pelkc_model *m = calloc(1, sizeof *m);
    if (!m)
        return fail(NULL, PELKC_ERR_NOMEM, "out of memory");
    m->threads = 1;
    m->staging = malloc(in_numel() * sizeof(float));
    m->out_one = malloc(out_numel() * sizeof(float));
    pelkc_status s = m->staging && m->out_one ? device_open(m) : PELKC_ERR_NOMEM;
    if (!s)
        s = dev_alloc(m, &m->weights, (size_t)D.weight_bytes);
    if (!s)
        s = dev_alloc(m, &m->arena, (size_t)D.arena_floats * sizeof(float));
    if (!s)
        s = dev_alloc(m, &m->scratch, (size_t)D.scratch_floats * sizeof(float));
    if (!s)
        s = dev_alloc(m, &m->in, in_numel() * sizeof(float));
    if (!s)
        s = dev_alloc(m, &m->out, out_numel() * sizeof(float));
    if (!s)
        s = copy_to(m, m->weights, pelkc_weights, (size_t)D.weight_bytes);
    if (s) {
        snprintf(create_error, sizeof create_error, "%s", m->error[0] ? m->error : "out of memory");
        pelkc_free(m);
        return s;
    }
    *out = m;
    return PELKC_OK;
}

PELKC_EXPORT pelkc_status pelkc_input_shape(const pelkc_model *m, int32_t *channels,
                                            int32_t *height, int32_t *width)
{
    return pk_shape(m, D.in_c, D.in_h, D.in_w, channels, height, width);
}

PELKC_EXPORT pelkc_status pelkc_output_shape(const pelkc_model *m, int32_t *channels,
                                             int32_t *height, int32_t *width)
{
    return pk_shape(m, D.out_c, D.out_h, D.out_w, channels, height, width);
}

/* The GPU runs every kernel over its whole grid; the setting is kept for the API's sake. */
PELKC_EXPORT pelkc_status pelkc_set_threads(pelkc_model *m, int32_t threads)
{
    if (!m)
        return PELKC_ERR_NULL;
    if (threads < 1 || threads > 1024)
        return fail(m, PELKC_ERR_ARG, "threads must be in [1, 1024], got %d", (int)threads);
    m->threads = threads;
    return PELKC_OK;
}

PELKC_EXPORT int32_t pelkc_threads(const pelkc_model *m) { return m ? m->threads : 0; }

/* Device memory besides the weights: arena, scratch, one input and one output image. */
PELKC_EXPORT pelkc_status pelkc_workspace_bytes(const pelkc_model *m, int64_t *bytes)
{
    if (!m || !bytes)
        return PELKC_ERR_NULL;
    *bytes = (D.arena_floats + D.scratch_floats + (int64_t)in_numel() + (int64_t)out_numel()) *
             (int64_t)sizeof(float);
    return PELKC_OK;
}

/* One image: copy in, every launch in order, copy out. */
static pelkc_status run_image(pelkc_model *m, const float *x, float *y)
{
    pelkc_status s = start_run(m);
    if (!s)
        s = copy_to(m, m->in, x, in_numel() * sizeof(float));
    for (int i = 0; i < D.n_launches && !s; i++) {
        const pk_gpu_launch *l = &D.launches[i];
        dptr args[PK_GPU_NARGS];
        for (int a = 0; a < PK_GPU_NARGS; a++) {
            int64_t off = l->offset[a];
            switch (l->kind[a]) {
            case PK_ARG_INPUT: args[a] = m->in; break;
            case PK_ARG_OUTPUT: args[a] = m->out; break;
            case PK_ARG_ARENA: args[a] = m->arena + (dptr)off * sizeof(float); break;
            case PK_ARG_SCRATCH: args[a] = m->scratch + (dptr)off * sizeof(float); break;
            case PK_ARG_WEIGHT: args[a] = m->weights + (dptr)off; break;
            default: args[a] = 0; break;
            }
        }
        s = launch(m, l, args);
    }
    if (!s)
        s = finish_run(m);
    if (!s)
        s = copy_from(m, y, m->out, out_numel() * sizeof(float));
    return s;
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
    for (int32_t n = 0; n < batch && !s; n++)
        s = run_image(m, input + (size_t)n * in_numel(), output + (size_t)n * out_numel());
    return s;
}

PELKC_EXPORT pelkc_status pelkc_run(pelkc_model *m, const halide_buffer_t *input,
                                    halide_buffer_t *output)
{
    if (!m)
        return PELKC_ERR_NULL;
    m->error[0] = '\0';
    pk_shapes shapes = {D.in_c, D.in_h, D.in_w, D.out_c, D.out_h, D.out_w};
    pk_run_buffers r;
    pelkc_status s = pk_check_run_buffers(input, output, &shapes, &r, m->error, sizeof m->error);
    if (s != PELKC_OK)
        return s;
    for (int32_t n = 0; n < r.batch && !s; n++) { /* one image at a time through staging */
        pk_copy_strided(m->staging, (float *)input->host + (int64_t)n * input->dim[3].stride,
                        input->dim, D.in_c, D.in_h, D.in_w, 1);
        s = run_image(m, m->staging, m->out_one);
        if (!s)
            pk_copy_strided(m->out_one, (float *)output->host + (int64_t)n * r.out_batch_stride,
                            r.odim, D.out_c, D.out_h, D.out_w, 0);
    }
    return s;
}

PELKC_EXPORT const char *pelkc_last_error(const pelkc_model *m)
{
    return m ? m->error : create_error;
}

PELKC_EXPORT const char *pelkc_status_string(pelkc_status s) { return pk_status_text(s); }
