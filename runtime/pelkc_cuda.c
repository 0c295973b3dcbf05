/* The runtime of a GPU model (`pelkc compile --target cuda`): the CUDA
 * device (pelkc_device.h) over the generated launch table (pelkc_cuda.h),
 * and the exported API over it (pelkc_api.c, included at the end).
 *
 * The CUDA driver is loaded at pelkc_create with dlopen (libcuda.so.1, or
 * $PELKC_CUDA_LIBRARY): the .so has no link-time CUDA dependency, and where
 * there is no driver or no GPU, pelkc_create returns PELKC_ERR_DEVICE and
 * pelkc_last_error(NULL) says which step failed. Built with
 * -DPELKC_CUDA_EMULATE (`--target cuda-emulate`), "device" memory is host
 * memory and each launch calls the host version of the same kernel body over
 * the same grid: the launch sequence is the one the GPU runs. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "pelkc_cuda.h"
#include "pelkc_device.h"

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

struct pk_dev {
    cuda_api cu;
    int device;
    void *ctx, *module;
    void **functions;
    dptr weights, arena, scratch, in, out;
};

#ifdef PELKC_CUDA_EMULATE
/* ---- emulation: host memory and host kernels ---- */

static pelkc_status device_open(pelkc_model *m) { (void)m; return PELKC_OK; }
static pelkc_status start_run(pelkc_model *m) { (void)m; return PELKC_OK; }
static void device_close(pelkc_model *m) { (void)m; }

static pelkc_status dev_alloc(pelkc_model *m, dptr *p, size_t bytes)
{
    void *h = calloc(1, bytes + 64);
    *p = (dptr)(uintptr_t)h;
    return h ? PELKC_OK : pk_fail(m, PELKC_ERR_NOMEM, "out of memory (%zu bytes)", bytes);
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
    const cuda_api *cu = &m->dev->cu;
    const char *s = NULL;
    if (cu->error_name && cu->error_name(rc, &s) == 0 && s)
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
            return pk_fail(m, PELKC_ERR_DEVICE, "CUDA %s failed: %s (%d)", what,                \
                           cu_name(m, rc_), rc_);                                                  \
    } while (0)

static pelkc_status load_driver(pelkc_model *m)
{
    cuda_api *cu = &m->dev->cu;
    const char *path = getenv("PELKC_CUDA_LIBRARY");
    if (!path || !*path)
        path = "libcuda.so.1";
    cu->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!cu->lib) {
        const char *why = dlerror();
        return pk_fail(m, PELKC_ERR_DEVICE, "CUDA driver not found (%s): %s", path,
                       why ? why : "?");
    }
    struct {
        void **slot;
        const char *name;
    } syms[] = {
        {(void **)&cu->init, "cuInit"},
        {(void **)&cu->device_get_count, "cuDeviceGetCount"},
        {(void **)&cu->device_get, "cuDeviceGet"},
        {(void **)&cu->primary_retain, "cuDevicePrimaryCtxRetain"},
        {(void **)&cu->primary_release, "cuDevicePrimaryCtxRelease_v2"},
        {(void **)&cu->ctx_set, "cuCtxSetCurrent"},
        {(void **)&cu->module_load, "cuModuleLoadDataEx"},
        {(void **)&cu->module_unload, "cuModuleUnload"},
        {(void **)&cu->module_function, "cuModuleGetFunction"},
        {(void **)&cu->mem_alloc, "cuMemAlloc_v2"},
        {(void **)&cu->mem_free, "cuMemFree_v2"},
        {(void **)&cu->h2d, "cuMemcpyHtoD_v2"},
        {(void **)&cu->d2h, "cuMemcpyDtoH_v2"},
        {(void **)&cu->launch, "cuLaunchKernel"},
        {(void **)&cu->synchronize, "cuCtxSynchronize"},
        {(void **)&cu->error_name, "cuGetErrorName"},
    };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        *syms[i].slot = dlsym(cu->lib, syms[i].name);
        if (!*syms[i].slot)
            return pk_fail(m, PELKC_ERR_DEVICE, "CUDA driver %s has no %s (too old?)", path,
                           syms[i].name);
    }
    return PELKC_OK;
}

static pelkc_status device_open(pelkc_model *m)
{
    pk_dev *d = m->dev;
    cuda_api *cu = &d->cu;
    pelkc_status s = load_driver(m);
    if (s)
        return s;
    int count = 0;
    CU_CHECK(m, cu->init(0), "cuInit");
    CU_CHECK(m, cu->device_get_count(&count), "cuDeviceGetCount");
    if (count < 1)
        return pk_fail(m, PELKC_ERR_DEVICE, "CUDA driver found but no GPU");
    CU_CHECK(m, cu->device_get(&d->device, 0), "cuDeviceGet");
    CU_CHECK(m, cu->primary_retain(&d->ctx, d->device), "cuDevicePrimaryCtxRetain");
    CU_CHECK(m, cu->ctx_set(d->ctx), "cuCtxSetCurrent");
    char log[1024] = "";
    int opts[2] = {5 /* CU_JIT_ERROR_LOG_BUFFER */, 6 /* CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES */};
    void *vals[2] = {log, (void *)(uintptr_t)sizeof log};
    int rc = cu->module_load(&d->module, D.ptx, 2, opts, vals);
    if (rc)
        return pk_fail(m, PELKC_ERR_DEVICE, "CUDA cuModuleLoadDataEx failed: %s (%d): %.300s",
                       cu_name(m, rc), rc, log);
    d->functions = calloc((size_t)D.n_kernels + 1, sizeof *d->functions);
    if (!d->functions)
        return pk_fail(m, PELKC_ERR_NOMEM, "out of memory");
    for (int i = 0; i < D.n_kernels; i++)
        CU_CHECK(m, cu->module_function(&d->functions[i], d->module, D.kernel_names[i]),
                 "cuModuleGetFunction");
    return PELKC_OK;
}

static void device_close(pelkc_model *m)
{
    pk_dev *d = m->dev;
    cuda_api *cu = &d->cu;
    if (d->module)
        cu->module_unload(d->module);
    if (d->ctx)
        cu->primary_release(d->device);
    free(d->functions);
    /* the driver library stays loaded: unloading CUDA under live threads is unsafe */
}

static pelkc_status dev_alloc(pelkc_model *m, dptr *p, size_t bytes)
{
    cuda_api *cu = &m->dev->cu;
    CU_CHECK(m, cu->mem_alloc(p, bytes + 64), "cuMemAlloc");
    return PELKC_OK;
}

static void dev_free(pelkc_model *m, dptr p)
{
    cuda_api *cu = &m->dev->cu;
    if (p)
        cu->mem_free(p);
}

static pelkc_status copy_to(pelkc_model *m, dptr d, const void *h, size_t n)
{
    cuda_api *cu = &m->dev->cu;
    CU_CHECK(m, cu->h2d(d, h, n), "cuMemcpyHtoD");
    return PELKC_OK;
}

static pelkc_status copy_from(pelkc_model *m, void *h, dptr d, size_t n)
{
    cuda_api *cu = &m->dev->cu;
    CU_CHECK(m, cu->d2h(h, d, n), "cuMemcpyDtoH");
    return PELKC_OK;
}

static pelkc_status launch(pelkc_model *m, const pk_gpu_launch *l, dptr *args)
{
    pk_dev *d = m->dev;
    cuda_api *cu = &d->cu;
    void *params[PK_GPU_NARGS];
    for (int i = 0; i < PK_GPU_NARGS; i++)
        params[i] = &args[i];
    CU_CHECK(m, cu->launch(d->functions[l->kernel], (unsigned)l->blocks, 1, 1, PK_GPU_BLOCK, 1, 1,
                           0, NULL, params, NULL),
             D.kernel_names[l->kernel]);
    return PELKC_OK;
}

/* The model's context is made current on whichever thread runs it. */
static pelkc_status start_run(pelkc_model *m)
{
    pk_dev *d = m->dev;
    cuda_api *cu = &d->cu;
    CU_CHECK(m, cu->ctx_set(d->ctx), "cuCtxSetCurrent");
    return PELKC_OK;
}

static pelkc_status finish_run(pelkc_model *m)
{
    cuda_api *cu = &m->dev->cu;
    CU_CHECK(m, cu->synchronize(), "cuCtxSynchronize");
    return PELKC_OK;
}
#endif

/* ---- the device ---- */

static const char *cuda_describe(pk_shapes *s)
{
    if (s)
        *s = (pk_shapes){D.in_c, D.in_h, D.in_w, D.out_c, D.out_h, D.out_w};
    return D.name;
}

/* A failed create's message: the driver or the GPU may be missing, and no model says why. */
static char *cuda_create_error(void)
{
    static _Thread_local char create_error[PK_ERROR_BYTES];
    return create_error;
}

static void cuda_free(pelkc_model *m)
{
    pk_dev *d = m->dev;
    if (!d)
        return;
    dev_free(m, d->weights);
    dev_free(m, d->arena);
    dev_free(m, d->scratch);
    dev_free(m, d->in);
    dev_free(m, d->out);
    device_close(m);
    free(d);
}

/* The driver, the module, the device buffers and the weights copied in. */
static pelkc_status cuda_create(pelkc_model *m)
{
    pk_dev *d = m->dev = calloc(1, sizeof *m->dev);
    if (!d)
        return PELKC_ERR_NOMEM;
    pelkc_status s = device_open(m);
    if (!s)
        s = dev_alloc(m, &d->weights, (size_t)D.weight_bytes);
    if (!s)
        s = dev_alloc(m, &d->arena, (size_t)D.arena_floats * sizeof(float));
    if (!s)
        s = dev_alloc(m, &d->scratch, (size_t)D.scratch_floats * sizeof(float));
    if (!s)
        s = dev_alloc(m, &d->in, pk_in_numel(m) * sizeof(float));
    if (!s)
        s = dev_alloc(m, &d->out, pk_out_numel(m) * sizeof(float));
    if (!s)
        s = copy_to(m, d->weights, pelkc_weights, (size_t)D.weight_bytes);
    return s;
}

/* The GPU runs every kernel over its whole grid; the setting is kept for the API's sake. */
static pelkc_status cuda_set_threads(pelkc_model *m, int32_t threads)
{
    (void)m;
    (void)threads;
    return PELKC_OK;
}

/* Device memory besides the weights: arena, scratch, one input and one output image. */
static int64_t cuda_workspace(const pelkc_model *m)
{
    int64_t images = (int64_t)pk_in_numel(m) + (int64_t)pk_out_numel(m);
    return (D.arena_floats + D.scratch_floats + images) * (int64_t)sizeof(float);
}

/* One image: copy in, every launch in order, copy out. */
static pelkc_status run_image(pelkc_model *m, const float *x, float *y)
{
    pk_dev *d = m->dev;
    pelkc_status s = start_run(m);
    if (!s)
        s = copy_to(m, d->in, x, pk_in_numel(m) * sizeof(float));
    for (int i = 0; i < D.n_launches && !s; i++) {
        const pk_gpu_launch *l = &D.launches[i];
        dptr args[PK_GPU_NARGS];
        for (int a = 0; a < PK_GPU_NARGS; a++) {
            int64_t off = l->offset[a];
            switch (l->kind[a]) {
            case PK_ARG_INPUT: args[a] = d->in; break;
            case PK_ARG_OUTPUT: args[a] = d->out; break;
            case PK_ARG_ARENA: args[a] = d->arena + (dptr)off * sizeof(float); break;
            case PK_ARG_SCRATCH: args[a] = d->scratch + (dptr)off * sizeof(float); break;
            case PK_ARG_WEIGHT: args[a] = d->weights + (dptr)off; break;
            default: args[a] = 0; break;
            }
        }
        s = launch(m, l, args);
    }
    if (!s)
        s = finish_run(m);
    if (!s)
        s = copy_from(m, y, d->out, pk_out_numel(m) * sizeof(float));
    return s;
}

static pelkc_status cuda_run(pelkc_model *m, const float *x, int32_t batch, float *y)
{
    pelkc_status s = PELKC_OK;
    for (int32_t n = 0; n < batch && !s; n++)
        s = run_image(m, x + (size_t)n * pk_in_numel(m), y + (size_t)n * pk_out_numel(m));
    return s;
}

static const pelkc_device pk_device = {
    .describe = cuda_describe,
    .create_error = cuda_create_error,
    .create = cuda_create,
    .set_threads = cuda_set_threads,
    .run = cuda_run,
    .workspace = cuda_workspace,
    .free = cuda_free,
};

#include "pelkc_api.c"
