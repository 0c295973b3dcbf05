/* A stand-in for the CUDA driver (libcuda.so.1), for testing the host side of
 * a `--target cuda` model on a machine without a GPU: the model's runtime
 * loads it through $PELKC_CUDA_LIBRARY. Device memory is host memory. The
 * module loader checks the PTX it is given (NUL-terminated text, .version,
 * .target, each .entry with 7 pointer parameters); a launch runs the kernel of
 * that name from an emulated build of the same model ($PELKC_FAKE_CUDA_EMULATED,
 * a `--target cuda-emulate` .so, through its pelkc_emulate_kernel hook) over
 * the grid it was given. Every call's arguments are checked; a bad one
 * returns CUDA_ERROR_INVALID_VALUE (1). fake_cuda_stats() reports what was
 * done, for the test to check. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))
enum { OK = 0, INVALID = 1, NOT_FOUND = 500, MAX_ENTRIES = 4096 };

typedef void (*host_kernel)(void *, void *, void *, void *, void *, void *, void *, int64_t);

static struct {
    int initialised, ctx_current;
    void *emulated;
    char *entries[MAX_ENTRIES];
    int n_entries;
    long live_allocs, launches, modules;
} st;

EXPORT void fake_cuda_stats(long *live_allocs, long *launches, long *modules)
{
    *live_allocs = st.live_allocs;
    *launches = st.launches;
    *modules = st.modules;
}

EXPORT int cuInit(unsigned flags) { st.initialised = 1; return flags ? INVALID : OK; }
EXPORT int cuDeviceGetCount(int *n) { *n = 1; return st.initialised ? OK : 3; }
EXPORT int cuDeviceGet(int *d, int i) { *d = i; return i == 0 ? OK : INVALID; }
EXPORT int cuDevicePrimaryCtxRetain(void **ctx, int d) { *ctx = &st; return d ? INVALID : OK; }
EXPORT int cuDevicePrimaryCtxRelease_v2(int d) { return d ? INVALID : OK; }
EXPORT int cuCtxSetCurrent(void *ctx) { st.ctx_current = ctx == &st; return st.ctx_current ? OK : INVALID; }
EXPORT int cuCtxSynchronize(void) { return st.ctx_current ? OK : INVALID; }

EXPORT int cuGetErrorName(int rc, const char **s)
{
    *s = rc == INVALID ? "CUDA_ERROR_INVALID_VALUE" : rc == NOT_FOUND ? "CUDA_ERROR_NOT_FOUND" : "?";
    return OK;
}

/* Record the PTX's entries; each must take exactly 7 .u64 parameters. */
static int parse_ptx(const char *ptx)
{
    if (strncmp(ptx, "//", 2) || !strstr(ptx, "\n.version ") || !strstr(ptx, "\n.target sm_"))
        return INVALID;
    for (const char *p = strstr(ptx, ".entry "); p; p = strstr(p + 1, ".entry ")) {
        const char *name = p + 7, *open = strchr(name, '('), *close = open ? strchr(open, ')') : NULL;
        if (!close || st.n_entries == MAX_ENTRIES)
            return INVALID;
        int params = 0;
        for (const char *q = strstr(open, ".param .u64 "); q && q < close; q = strstr(q + 1, ".param .u64 "))
            params++;
        if (params != 7)
            return INVALID;
        st.entries[st.n_entries++] = strndup(name, (size_t)(open - name));
    }
    return st.n_entries ? OK : INVALID;
}

EXPORT int cuModuleLoadDataEx(void **mod, const void *image, unsigned n, int *opts, void **vals)
{
    (void)opts, (void)vals, (void)n;
    if (!st.ctx_current || !image || parse_ptx(image))
        return INVALID;
    const char *path = getenv("PELKC_FAKE_CUDA_EMULATED");
    st.emulated = path ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
    if (!st.emulated) {
        fprintf(stderr, "fake_libcuda: cannot load $PELKC_FAKE_CUDA_EMULATED (%s)\n", path ? path : "unset");
        return INVALID;
    }
    st.modules++;
    *mod = &st.entries;
    return OK;
}

EXPORT int cuModuleUnload(void *mod)
{
    if (mod != &st.entries)
        return INVALID;
    for (int i = 0; i < st.n_entries; i++)
        free(st.entries[i]);
    st.n_entries = 0;
    dlclose(st.emulated);
    st.emulated = NULL;
    st.modules--;
    return OK;
}

EXPORT int cuModuleGetFunction(void **f, void *mod, const char *name)
{
    if (mod != &st.entries)
        return INVALID;
    int found = 0;
    for (int i = 0; i < st.n_entries; i++)
        found |= !strcmp(st.entries[i], name);
    host_kernel (*lookup)(const char *);
    *(void **)&lookup = dlsym(st.emulated, "pelkc_emulate_kernel");
    host_kernel k = found && lookup ? lookup(name) : NULL;
    *f = *(void **)&k;
    return k ? OK : NOT_FOUND;
}

EXPORT int cuMemAlloc_v2(unsigned long long *p, size_t bytes)
{
    void *h = bytes ? calloc(1, bytes) : NULL;
    *p = (unsigned long long)(uintptr_t)h;
    st.live_allocs += h != NULL;
    return h ? OK : 2;
}

EXPORT int cuMemFree_v2(unsigned long long p)
{
    if (!p)
        return INVALID;
    free((void *)(uintptr_t)p);
    st.live_allocs--;
    return OK;
}

EXPORT int cuMemcpyHtoD_v2(unsigned long long d, const void *h, size_t n)
{
    if (!d || !h)
        return INVALID;
    memcpy((void *)(uintptr_t)d, h, n);
    return OK;
}

EXPORT int cuMemcpyDtoH_v2(void *h, unsigned long long d, size_t n)
{
    if (!d || !h)
        return INVALID;
    memcpy(h, (void *)(uintptr_t)d, n);
    return OK;
}

EXPORT int cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                          unsigned bz, unsigned shmem, void *stream, void **params, void **extra)
{
    if (!f || !st.ctx_current || gx == 0 || gy != 1 || gz != 1 || bx != 256 || by != 1 || bz != 1 ||
        shmem || stream || extra || !params)
        return INVALID;
    void *a[7];
    for (int i = 0; i < 7; i++)
        a[i] = (void *)(uintptr_t) * (unsigned long long *)params[i];
    host_kernel k;
    *(void **)&k = f;
    k(a[0], a[1], a[2], a[3], a[4], a[5], a[6], gx);
    st.launches++;
    return OK;
}
