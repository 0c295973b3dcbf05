/* The compiled model's C API (runtime/pelkc_model.h), used the way a user
 * would: dlopen two compiled .so files, check every invalid call returns an
 * error (never crashes), and that the halide_buffer_t path, strided buffers,
 * batches and repeated runs agree with the plain pointer path bit for bit.
 * Numerical correctness itself is checked against the float64 reference
 * elsewhere (tests/ref). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>

#include "../../runtime/pelkc_model.h"
#include "check.h"

typedef struct api {
    void *so;
    pelkc_status (*create_abi)(int32_t, pelkc_model **);
    const char *(*built_by)(void);
    void (*destroy)(pelkc_model *);
    pelkc_status (*input_shape)(const pelkc_model *, int32_t *, int32_t *, int32_t *);
    pelkc_status (*output_shape)(const pelkc_model *, int32_t *, int32_t *, int32_t *);
    pelkc_status (*set_threads)(pelkc_model *, int32_t);
    pelkc_status (*workspace)(const pelkc_model *, int64_t *);
    pelkc_status (*run)(pelkc_model *, const halide_buffer_t *, halide_buffer_t *);
    pelkc_status (*run_f32)(pelkc_model *, const float *, int32_t, float *);
    const char *(*last_error)(const pelkc_model *);
    int (*version)(void);
} api;

static int load(api *a, const char *path)
{
    a->so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!a->so) {
        fprintf(stderr, "%s\n", dlerror());
        return -1;
    }
    *(void **)&a->create_abi = dlsym(a->so, "pelkc_create_abi");
    *(void **)&a->built_by = dlsym(a->so, "pelkc_built_by");
    *(void **)&a->destroy = dlsym(a->so, "pelkc_free");
    *(void **)&a->input_shape = dlsym(a->so, "pelkc_input_shape");
    *(void **)&a->output_shape = dlsym(a->so, "pelkc_output_shape");
    *(void **)&a->workspace = dlsym(a->so, "pelkc_workspace_bytes");
    *(void **)&a->set_threads = dlsym(a->so, "pelkc_set_threads");
    *(void **)&a->run = dlsym(a->so, "pelkc_run");
    *(void **)&a->run_f32 = dlsym(a->so, "pelkc_run_f32");
    *(void **)&a->last_error = dlsym(a->so, "pelkc_last_error");
    *(void **)&a->version = dlsym(a->so, "pelkc_api_version");
    return a->create_abi && a->built_by && a->set_threads && a->destroy && a->input_shape && a->output_shape && a->workspace &&
                   a->run && a->run_f32 && a->last_error && a->version
               ? 0
               : -1;
}

static void fill(float *x, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)(seed >> 8) / 16777216.0f * 2 - 1;
    }
}

static halide_buffer_t buffer(void *host, int dims, halide_dimension_t *dim)
{
    halide_buffer_t b;
    memset(&b, 0, sizeof b);
    b.host = host;
    b.type.code = halide_type_float;
    b.type.bits = 32;
    b.type.lanes = 1;
    b.dimensions = dims;
    b.dim = dim;
    return b;
}

/* The C runtime runs a batch layer by layer, its arena growing to the chunk;
 * the GPU runtime goes one image at a time. */
static int batched_runtime = 1;

static void test_model(api *a)
{
    pelkc_model *m = NULL;
    CHECK(a->version() == PELKC_API_VERSION);
    CHECK(a->create_abi(PELKC_API_VERSION, NULL) == PELKC_ERR_NULL);
    CHECK(a->create_abi(PELKC_API_VERSION + 1, &m) == PELKC_ERR_ABI && m == NULL);
    CHECK(!strncmp(a->built_by(), "pelkc ", 6));
    CHECK(a->create_abi(PELKC_API_VERSION, &m) == PELKC_OK && m);
    int32_t c, h, w, k, kh, kw;
    int64_t ws;
    CHECK(a->input_shape(NULL, &c, &h, &w) == PELKC_ERR_NULL);
    CHECK(a->input_shape(m, NULL, &h, &w) == PELKC_ERR_NULL);
    CHECK(a->output_shape(m, NULL, &kh, &kw) == PELKC_ERR_NULL);
    CHECK(a->input_shape(m, &c, &h, &w) == PELKC_OK &&
          a->output_shape(m, &k, &kh, &kw) == PELKC_OK);
    CHECK(kh == 1 && kw == 1);
    CHECK(a->workspace(m, &ws) == PELKC_OK && ws > 0);
    CHECK(a->set_threads(NULL, 2) == PELKC_ERR_NULL);
    CHECK(a->set_threads(m, 0) == PELKC_ERR_ARG);
    CHECK(a->set_threads(m, 2) == PELKC_OK);
    int64_t ws2t = 0; /* one image's arena, 2 threads' scratch */
    CHECK(a->workspace(m, &ws2t) == PELKC_OK && ws2t >= ws);
    size_t image = (size_t)c * h * w;
    enum { N = 11 }; /* two chunks of a layer-by-layer batch: 8 and 3 */
    float *x = malloc(N * image * sizeof *x), *y = malloc(N * (size_t)k * sizeof *y);
    float *y1 = malloc((size_t)k * sizeof *y1), *y2 = malloc(N * (size_t)k * sizeof *y2);
    fill(x, N * image, 42);

    /* plain pointers: errors */
    CHECK(a->run_f32(NULL, x, 1, y) == PELKC_ERR_NULL);
    CHECK(a->run_f32(m, NULL, 1, y) == PELKC_ERR_NULL);
    CHECK(strlen(a->last_error(m)) > 0);
    CHECK(a->run_f32(m, x, 1, NULL) == PELKC_ERR_NULL);
    CHECK(a->run_f32(m, x, 0, y) == PELKC_ERR_ARG);
    CHECK_STR(a->last_error(m), "batch must be at least 1, got 0");
    CHECK(a->run_f32(m, x, -5, y) == PELKC_ERR_ARG);

    /* a batch gives each image's own result, and runs are deterministic, also on 2 threads */
    CHECK(a->run_f32(m, x, N, y) == PELKC_OK);
    CHECK_STR(a->last_error(m), "");
    int64_t ws8 = 0; /* the arena now holds a chunk of 8 images (the GPU runtime: still one) */
    CHECK(a->workspace(m, &ws8) == PELKC_OK && (batched_runtime ? ws8 > ws2t : ws8 == ws2t));
    for (int n = 0; n < N; n++) {
        CHECK(a->run_f32(m, x + n * image, 1, y1) == PELKC_OK);
        CHECK(!memcmp(y1, y + (size_t)n * k, (size_t)k * sizeof *y1));
    }
    CHECK(a->run_f32(m, x, N, y2) == PELKC_OK);
    CHECK(!memcmp(y, y2, N * (size_t)k * sizeof *y));
    /* across thread counts too: every output is summed by one thread in a fixed order */
    CHECK(a->set_threads(m, 1) == PELKC_OK);
    CHECK(a->run_f32(m, x, N, y2) == PELKC_OK);
    CHECK(!memcmp(y, y2, N * (size_t)k * sizeof *y));
    CHECK(a->set_threads(m, 2) == PELKC_OK);

    /* halide_buffer_t, dense */
    halide_dimension_t din[4] = {{0, w, 1, 0}, {0, h, w, 0}, {0, c, h * w, 0}, {0, N, (int32_t)image, 0}};
    halide_dimension_t dout[2] = {{0, k, 1, 0}, {0, N, k, 0}};
    halide_buffer_t bin = buffer(x, 4, din), bout = buffer(y2, 2, dout);
    memset(y2, 0, N * (size_t)k * sizeof *y2);
    CHECK(a->run(m, &bin, &bout) == PELKC_OK);
    CHECK(!memcmp(y, y2, N * (size_t)k * sizeof *y));

    /* halide_buffer_t, strided: channels-last input, class-major output */
    float *xl = malloc(N * image * sizeof *xl);
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < c; ch++)
            for (int p = 0; p < h * w; p++)
                xl[n * image + (size_t)p * c + ch] = x[n * image + (size_t)ch * h * w + p];
    halide_dimension_t dl[4] = {{0, w, c, 0}, {0, h, w * c, 0}, {0, c, 1, 0}, {0, N, (int32_t)image, 0}};
    halide_dimension_t dt[2] = {{0, k, N, 0}, {0, N, 1, 0}};
    float *yt = malloc(N * (size_t)k * sizeof *yt);
    halide_buffer_t bl = buffer(xl, 4, dl), bt = buffer(yt, 2, dt);
    CHECK(a->run(m, &bl, &bt) == PELKC_OK);
    int same = 1;
    for (int n = 0; n < N; n++)
        for (int j = 0; j < k; j++)
            same &= yt[j * N + n] == y[n * k + j];
    CHECK(same);

    /* halide_buffer_t: errors */
    CHECK(a->run(m, NULL, &bout) == PELKC_ERR_NULL);
    CHECK(a->run(m, &bin, NULL) == PELKC_ERR_NULL);
    halide_buffer_t bad = bin;
    bad.type.bits = 64;
    CHECK(a->run(m, &bad, &bout) == PELKC_ERR_TYPE);
    bad = bin;
    bad.type.code = halide_type_int;
    CHECK(a->run(m, &bad, &bout) == PELKC_ERR_TYPE);
    bad = bin;
    bad.dimensions = 3;
    CHECK(a->run(m, &bad, &bout) == PELKC_ERR_SHAPE);
    bad = bin;
    bad.dim = NULL;
    CHECK(a->run(m, &bad, &bout) == PELKC_ERR_SHAPE);
    bad = bin;
    bad.host = NULL;
    bad.device = 1;
    CHECK(a->run(m, &bad, &bout) == PELKC_ERR_TYPE);
    bad.device = 0;
    CHECK(a->run(m, &bad, &bout) == PELKC_ERR_NULL);
    halide_dimension_t dwrong[4] = {{0, w + 1, 1, 0}, {0, h, w + 1, 0}, {0, c, h * (w + 1), 0}, {0, 1, 0, 0}};
    bad = buffer(x, 4, dwrong);
    CHECK(a->run(m, &bad, &bout) == PELKC_ERR_SHAPE);
    CHECK(strstr(a->last_error(m), "input extents") != NULL);
    halide_dimension_t dout_wrong[2] = {{0, k, 1, 0}, {0, N - 1, k, 0}};
    halide_buffer_t bo = buffer(y2, 2, dout_wrong);
    CHECK(a->run(m, &bin, &bo) == PELKC_ERR_SHAPE);
    CHECK(strstr(a->last_error(m), "output extents") != NULL);
    halide_dimension_t dzero[4] = {{0, w, 1, 0}, {0, h, w, 0}, {0, c, h * w, 0}, {0, 0, (int32_t)image, 0}};
    bad = buffer(x, 4, dzero);
    CHECK(a->run(m, &bad, &bout) == PELKC_ERR_SHAPE);

    a->destroy(m);
    a->destroy(NULL); /* freeing NULL is a no-op */
    free(x), free(y), free(y1), free(y2), free(xl), free(yt);
}

/* One model instance run by one thread: for the concurrency check. */
typedef struct job {
    api *a;
    pelkc_model *m;
    const float *x;
    float *y;
    int batch;
    pelkc_status status;
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    for (int rep = 0; rep < 5 && j->status == PELKC_OK; rep++)
        j->status = j->a->run_f32(j->m, j->x, j->batch, j->y);
    return NULL;
}

/* Two instances of one model, run from two threads at once, give the same
 * bits as one run alone. */
static void test_concurrent(api *a)
{
    pelkc_model *m1, *m2;
    int32_t c, h, w, k, kh, kw;
    CHECK(a->create_abi(PELKC_API_VERSION, &m1) == PELKC_OK);
    CHECK(a->create_abi(PELKC_API_VERSION, &m2) == PELKC_OK);
    a->input_shape(m1, &c, &h, &w);
    a->output_shape(m1, &k, &kh, &kw);
    a->set_threads(m1, 2);
    a->set_threads(m2, 2);
    enum { N = 2 };
    size_t nx = N * (size_t)c * h * w, ny = N * (size_t)k;
    float *x = malloc(nx * sizeof *x), *want = malloc(ny * sizeof *want);
    float *y1 = malloc(ny * sizeof *y1), *y2 = malloc(ny * sizeof *y2);
    fill(x, nx, 99);
    CHECK(a->run_f32(m1, x, N, want) == PELKC_OK);
    job j1 = {a, m1, x, y1, N, PELKC_OK}, j2 = {a, m2, x, y2, N, PELKC_OK};
    pthread_t t1, t2;
    pthread_create(&t1, NULL, run_job, &j1);
    pthread_create(&t2, NULL, run_job, &j2);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    CHECK(j1.status == PELKC_OK && j2.status == PELKC_OK);
    CHECK(!memcmp(y1, want, ny * sizeof *y1) && !memcmp(y2, want, ny * sizeof *y2));
    a->destroy(m1);
    a->destroy(m2);
    free(x), free(want), free(y1), free(y2);
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[3], "--one-image-at-a-time"))
        batched_runtime = 0;
    else if (argc != 3) {
        fprintf(stderr, "usage: test_api MODEL_A.so MODEL_B.so [--one-image-at-a-time]\n");
        return 2;
    }
    api a = {0}, b = {0};
    if (load(&a, argv[1]) || load(&b, argv[2])) {
        fprintf(stderr, "cannot load the models\n");
        return 1;
    }
    test_model(&a);
    test_model(&b);
    test_concurrent(&a);

    /* two models in one process keep their own weights and shapes */
    pelkc_model *ma, *mb;
    int32_t ka, kb, ca, ha, wa, cb, hb, wb;
    CHECK(a.create_abi(PELKC_API_VERSION, &ma) == PELKC_OK &&
          b.create_abi(PELKC_API_VERSION, &mb) == PELKC_OK);
    int32_t one;
    a.output_shape(ma, &ka, &one, &one);
    b.output_shape(mb, &kb, &one, &one);
    a.input_shape(ma, &ca, &ha, &wa);
    b.input_shape(mb, &cb, &hb, &wb);
    CHECK(ca != cb || ha != hb || wa != wb || ka != kb); /* the test uses two different specs */
    float *xa = malloc((size_t)ca * ha * wa * sizeof *xa), *xb = malloc((size_t)cb * hb * wb * sizeof *xb);
    float *ya = malloc((size_t)ka * sizeof *ya), *yb = malloc((size_t)kb * sizeof *yb);
    float *ya2 = malloc((size_t)ka * sizeof *ya2);
    fill(xa, (size_t)ca * ha * wa, 7);
    fill(xb, (size_t)cb * hb * wb, 8);
    CHECK(a.run_f32(ma, xa, 1, ya) == PELKC_OK);
    CHECK(b.run_f32(mb, xb, 1, yb) == PELKC_OK);
    CHECK(a.run_f32(ma, xa, 1, ya2) == PELKC_OK);
    CHECK(!memcmp(ya, ya2, (size_t)ka * sizeof *ya));
    /* a second instance of the same .so gives the same answer */
    pelkc_model *ma2;
    CHECK(a.create_abi(PELKC_API_VERSION, &ma2) == PELKC_OK);
    CHECK(a.run_f32(ma2, xa, 1, ya2) == PELKC_OK);
    CHECK(!memcmp(ya, ya2, (size_t)ka * sizeof *ya));
    a.destroy(ma), a.destroy(ma2), b.destroy(mb);
    free(xa), free(xb), free(ya), free(yb), free(ya2);
    dlclose(a.so);
    dlclose(b.so);
    return check_summary();
}
