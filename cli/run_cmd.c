/* pelkc run: load a compiled model and run it on an .npy input (or a random one). */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "npy.h"

pelkc_status api_create(const model_api *api, pelkc_model **m)
{
    return api->create_abi(PELKC_API_VERSION, m);
}

int load_model_api(model_api *api, const char *path, const char *prefix, pelk_diag *d)
{
    char buf[4096];
    /* dlopen searches the library path for names without a slash */
    snprintf(buf, sizeof buf, "%s%s", strchr(path, '/') ? "" : "./", path);
    api->so = dlopen(buf, RTLD_NOW | RTLD_LOCAL);
    if (!api->so)
        return diag_set(d, "cannot load %s: %s", path, dlerror());
    struct {
        void **slot;
        const char *name;
    } syms[] = {
        {(void **)&api->create_abi, "pelkc_create_abi"},
        {(void **)&api->free, "pelkc_free"},
        {(void **)&api->input_shape, "pelkc_input_shape"},
        {(void **)&api->output_shape, "pelkc_output_shape"},
        {(void **)&api->set_threads, "pelkc_set_threads"},
        {(void **)&api->run_f32, "pelkc_run_f32"},
        {(void **)&api->last_error, "pelkc_last_error"},
        {(void **)&api->name, "pelkc_model_name"},
    };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        char name[160];
        snprintf(name, sizeof name, "%s%s", prefix ? prefix : "", syms[i].name);
        *syms[i].slot = dlsym(api->so, name);
        if (!*syms[i].slot)
            return diag_set(d, "%s is not a pelkc model%s: no symbol %s", path,
                            prefix ? " with that --prefix" : "", name);
    }
    return 0;
}

void fill_random(float *x, int64_t n, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 12345;
    for (int64_t i = 0; i < n; i++) { /* uniform in [-1, 1): enough for demos and timing */
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        x[i] = (float)((double)(s >> 11) / 4503599627370496.0 - 1.0);
    }
}

static void print_top5(const float *logits, int classes)
{
    int best[5];
    int n = classes < 5 ? classes : 5;
    for (int k = 0; k < n; k++) {
        best[k] = -1;
        for (int c = 0; c < classes; c++) {
            int taken = 0;
            for (int j = 0; j < k; j++)
                taken |= best[j] == c;
            if (!taken && (best[k] < 0 || logits[c] > logits[best[k]]))
                best[k] = c;
        }
    }
    printf("image 0, top %d classes:", n);
    for (int k = 0; k < n; k++)
        printf(" %d (%.4f)", best[k], logits[best[k]]);
    printf("\n");
}

/* The model to run: a .so, or with --backend llvm a SPEC compiled by the JIT. */
static int open_run_model(const options *o, model_api *api, pelk_diag *d)
{
    if (!backend_is_llvm(o))
        return load_model_api(api, o->path, o->prefix, d);
    if (o->weights && o->random_weights)
        return diag_set(d, "give either --weights or --random-weights, not both");
    size_t n = strlen(o->path);
    if (n > 3 && !strcmp(o->path + n - 3, ".so"))
        return diag_set(d, "run --backend llvm compiles a SPEC; run %s without --backend", o->path);
    model_spec s;
    ir_graph *g = load_graph(o, &s, 1, NULL, d);
    int rc = g ? open_graph_model(g, o, api, d) : -1;
    ir_free(g);
    spec_free(&s);
    return rc;
}

int cmd_run(const options *o)
{
    pelk_diag d;
    if (!o->path)
        return die(backend_is_llvm(o) ? "run --backend llvm needs a SPEC file"
                                      : "run needs a compiled model M.so");
    model_api api = {0};
    if (open_run_model(o, &api, &d)) {
        close_model_api(&api);
        return die(d.msg);
    }
    pelkc_model *m = NULL;
    npy_array x = {0};
    float *y = NULL;
    int rc = 0;
    int32_t c, h, w, oc, oh, ow;
    if (api_create(&api, &m) != PELKC_OK) {
        rc = diag_set(&d, "cannot create the model (out of memory?)");
        goto done;
    }
    if (api.set_threads(m, o->threads) != PELKC_OK) {
        rc = diag_set(&d, "%s", api.last_error(m));
        goto done;
    }
    api.input_shape(m, &c, &h, &w);
    api.output_shape(m, &oc, &oh, &ow);
    int64_t batch = o->batch;
    if (o->input) {
        if (npy_load_f32(&x, o->input, &d)) {
            rc = -1;
            goto done;
        }
        if (x.rank != 4 || x.shape[1] != c || x.shape[2] != h || x.shape[3] != w ||
            x.shape[0] < 1 || x.shape[0] > INT32_MAX) {
            char got[128] = "";
            for (int i = 0; i < x.rank; i++)
                snprintf(got + strlen(got), sizeof got - strlen(got), i ? ", %lld" : "%lld",
                         (long long)x.shape[i]);
            rc = diag_set(&d, "%s: input has shape [%s], expected [N, %d, %d, %d]", o->input, got,
                          c, h, w);
            goto done;
        }
        batch = x.shape[0];
    } else {
        x.data = xcalloc((size_t)(batch * c * h * w), sizeof(float));
        fill_random(x.data, batch * c * h * w, o->seed);
        printf("input: random [%lld, %d, %d, %d], seed %llu\n", (long long)batch, c, h, w,
               (unsigned long long)o->seed);
    }
    int64_t out_image = (int64_t)oc * oh * ow;
    y = xcalloc((size_t)(batch * out_image), sizeof(float));
    double t0 = now_seconds();
    if (api.run_f32(m, x.data, (int32_t)batch, y) != PELKC_OK) {
        rc = diag_set(&d, "run failed: %s", api.last_error(m));
        goto done;
    }
    printf("ran %s on batch %lld with %d thread%s in %.1f ms (one run; `pelkc bench` times "
           "properly); peak_rss_mb: %.1f\n",
           api.name(), (long long)batch, o->threads, o->threads > 1 ? "s" : "",
           (now_seconds() - t0) * 1e3, peak_rss_mb());
    if (oh == 1 && ow == 1)
        print_top5(y, oc);
    if (o->output) {
        int64_t vec_shape[2] = {batch, oc}, map_shape[4] = {batch, oc, oh, ow};
        int map = oh != 1 || ow != 1;
        rc = npy_save_f32(o->output, y, map ? 4 : 2, map ? map_shape : vec_shape, &d);
        if (!rc)
            printf("wrote %s\n", o->output);
    }
done:
    if (m)
        api.free(m);
    npy_free(&x);
    free(y);
    close_model_api(&api);
    return rc ? die(d.msg) : 0;
}
