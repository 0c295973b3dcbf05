/* The host side of a `--target cuda` model, end to end, without a GPU: the
 * model loads a stand-in driver (tests/gpu/fake_libcuda.c) whose launches run
 * the host versions of the same kernels. Checks that the model's runtime
 * loads the driver and the PTX, finds every kernel by name, allocates, copies
 * and launches as the emulated build of the same model does (outputs equal bit
 * for bit, batch and repeated runs included), and frees every allocation and
 * the module.
 *   test_cuda_fake CUDA_MODEL.so EMULATED_MODEL.so FAKE_LIBCUDA.so
 * (both models compiled from the same spec and weights). */
#include <dlfcn.h>
#include <stdlib.h>

#include "../../runtime/pelkc_model.h"
#include "check.h"

typedef struct api {
    pelkc_status (*create)(int32_t, pelkc_model **);
    void (*destroy)(pelkc_model *);
    pelkc_status (*input_shape)(const pelkc_model *, int32_t *, int32_t *, int32_t *);
    pelkc_status (*output_shape)(const pelkc_model *, int32_t *, int32_t *, int32_t *);
    pelkc_status (*run_f32)(pelkc_model *, const float *, int32_t, float *);
    const char *(*last_error)(const pelkc_model *);
} api;

static int load(api *a, const char *path)
{
    void *so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!so) {
        fprintf(stderr, "%s\n", dlerror());
        return -1;
    }
    *(void **)&a->create = dlsym(so, "pelkc_create_abi");
    *(void **)&a->destroy = dlsym(so, "pelkc_free");
    *(void **)&a->input_shape = dlsym(so, "pelkc_input_shape");
    *(void **)&a->output_shape = dlsym(so, "pelkc_output_shape");
    *(void **)&a->run_f32 = dlsym(so, "pelkc_run_f32");
    *(void **)&a->last_error = dlsym(so, "pelkc_last_error");
    return a->create && a->destroy && a->input_shape && a->output_shape && a->run_f32 && a->last_error
               ? 0
               : -1;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: test_cuda_fake CUDA_MODEL.so EMULATED_MODEL.so FAKE_LIBCUDA.so\n");
        return 2;
    }
    setenv("PELKC_CUDA_LIBRARY", argv[3], 1);
    setenv("PELKC_FAKE_CUDA_EMULATED", argv[2], 1);
    api gpu, emu;
    if (load(&gpu, argv[1]) || load(&emu, argv[2])) {
        fprintf(stderr, "cannot load the models\n");
        return 1;
    }
    void *fake = dlopen(argv[3], RTLD_NOW | RTLD_LOCAL);
    void (*stats)(long *, long *, long *) = NULL;
    if (fake)
        *(void **)&stats = dlsym(fake, "fake_cuda_stats");
    CHECK(stats != NULL);
    if (!stats)
        return check_summary();

    pelkc_model *g = NULL, *e = NULL;
    pelkc_status s = gpu.create(PELKC_API_VERSION, &g);
    if (s)
        fprintf(stderr, "create: %s\n", gpu.last_error(NULL));
    CHECK(s == PELKC_OK && g);
    CHECK(emu.create(PELKC_API_VERSION, &e) == PELKC_OK && e);
    if (!g || !e)
        return check_summary();
    long live, launches, modules;
    stats(&live, &launches, &modules);
    CHECK(modules == 1 && live == 5 && launches == 0); /* weights, arena, scratch, input, output */

    int32_t c, h, w, oc, oh, ow;
    gpu.input_shape(g, &c, &h, &w);
    gpu.output_shape(g, &oc, &oh, &ow);
    enum { N = 3 };
    size_t in = (size_t)c * h * w, out = (size_t)oc * oh * ow;
    float *x = malloc(N * in * sizeof *x), *yg = malloc(N * out * sizeof *yg);
    float *ye = malloc(N * out * sizeof *ye), *y1 = malloc(out * sizeof *y1);
    unsigned seed = 7;
    for (size_t i = 0; i < N * in; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)(seed >> 8) / 16777216.0f * 2 - 1;
    }
    CHECK(gpu.run_f32(g, x, N, yg) == PELKC_OK);
    CHECK(emu.run_f32(e, x, N, ye) == PELKC_OK);
    CHECK(!memcmp(yg, ye, N * out * sizeof *yg));
    stats(&live, &launches, &modules);
    CHECK(launches > 0 && launches % N == 0);
    long per_image = launches / N;
    CHECK(gpu.run_f32(g, x + in, 1, y1) == PELKC_OK); /* image 1 alone, after the batch */
    CHECK(!memcmp(y1, yg + out, out * sizeof *y1));
    stats(&live, &launches, &modules);
    CHECK(launches == (N + 1) * per_image);
    printf("%ld launches per image, outputs equal to the emulated build's\n", per_image);

    gpu.destroy(g);
    emu.destroy(e);
    stats(&live, &launches, &modules);
    CHECK(live == 0 && modules == 0);
    /* a second model after the first is gone */
    g = NULL;
    CHECK(gpu.create(PELKC_API_VERSION, &g) == PELKC_OK && g);
    CHECK(g && gpu.run_f32(g, x, 1, y1) == PELKC_OK && !memcmp(y1, yg, out * sizeof *y1));
    gpu.destroy(g);
    stats(&live, &launches, &modules);
    CHECK(live == 0 && modules == 0);
    free(x), free(yg), free(ye), free(y1);
    return check_summary();
}
