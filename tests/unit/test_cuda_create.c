/* A GPU model (`pelkc compile --target cuda`) where there is no usable GPU:
 * pelkc_create returns PELKC_ERR_DEVICE, leaves *out NULL, and
 * pelkc_last_error(NULL) says which step failed in one line; nothing crashes,
 * and a later create on a working path is not affected by an earlier failure.
 *   test_cuda_create MODEL.so [STUB_LIBCUDA.so]
 * Cases: a driver library that does not exist (always); the system's
 * libcuda.so.1 when this machine has none; the CUDA toolkit's stub library
 * (a libcuda that answers every call with CUDA_ERROR_STUB_LIBRARY) if given.
 * Where a real driver and GPU are present, only the first case applies. */
#include <dlfcn.h>
#include <stdlib.h>

#include "../../runtime/pelkc_model.h"
#include "check.h"

typedef pelkc_status (*create_fn)(int32_t, pelkc_model **);
typedef const char *(*error_fn)(const pelkc_model *);
typedef const char *(*status_fn)(pelkc_status);

static create_fn create;
static error_fn last_error;

/* Create with $PELKC_CUDA_LIBRARY = lib (NULL: unset); expect a device error starting with want. */
static void expect_failure(const char *lib, const char *want)
{
    if (lib)
        setenv("PELKC_CUDA_LIBRARY", lib, 1);
    else
        unsetenv("PELKC_CUDA_LIBRARY");
    pelkc_model *m = (pelkc_model *)1;
    pelkc_status s = create(PELKC_API_VERSION, &m);
    const char *msg = last_error(NULL);
    printf("library %s: status %d, \"%s\"\n", lib ? lib : "(default libcuda.so.1)", (int)s, msg);
    CHECK(s == PELKC_ERR_DEVICE);
    CHECK(m == NULL);
    CHECK(!strncmp(msg, want, strlen(want)));
    CHECK(strchr(msg, '\n') == NULL);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_cuda_create MODEL.so [STUB_LIBCUDA.so]\n");
        return 2;
    }
    void *so = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!so) {
        fprintf(stderr, "%s\n", dlerror());
        return 1;
    }
    *(void **)&create = dlsym(so, "pelkc_create_abi");
    *(void **)&last_error = dlsym(so, "pelkc_last_error");
    status_fn status_string;
    *(void **)&status_string = dlsym(so, "pelkc_status_string");
    CHECK(create && last_error && status_string);
    if (!create || !last_error || !status_string)
        return check_summary();
    CHECK(!strcmp(status_string(PELKC_ERR_DEVICE),
                  "no usable GPU (CUDA driver or device missing, or it failed)"));

    expect_failure("/nonexistent/libcuda.so.1", "CUDA driver not found (/nonexistent/libcuda.so.1): ");
    void *driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    if (!driver)
        driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!driver)
        expect_failure(NULL, "CUDA driver not found (libcuda.so.1): ");
    else
        printf("this machine has libcuda.so.1: the default-library case does not apply\n");
    if (argc > 2)
        expect_failure(argv[2], "CUDA cuInit failed: CUDA_ERROR_STUB_LIBRARY");
    /* the other failures keep their own codes */
    pelkc_model *m = NULL;
    CHECK(create(PELKC_API_VERSION + 1, &m) == PELKC_ERR_ABI && m == NULL);
    CHECK(create(PELKC_API_VERSION, NULL) == PELKC_ERR_NULL);
    return check_summary();
}
