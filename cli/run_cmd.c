/* pelkc run: run a model on an .npy input (or a random one). The model is a
 * .so that `compile` wrote, or a spec compiled right here: in process by
 * libtcc (nothing written to disk), by LLVM's JIT with --backend llvm (nothing
 * written either), or by the system compiler with --cc. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "npy.h"

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

/* A compiled model: named *.so, or starting with the ELF magic; anything else is a spec. */
static int is_shared_object(const char *path)
{
    size_t n = strlen(path);
    if (n > 3 && !strcmp(path + n - 3, ".so"))
        return 1;
    unsigned char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    n = fread(magic, 1, 4, f);
    fclose(f);
    return n == 4 && !memcmp(magic, "\x7f" "ELF", 4);
}

/* Compile the spec: in process by libtcc unless --cc names a system compiler. */
static int compile_spec(const options *o, model_api *api, pelk_diag *d)
{
    if (o->weights && o->random_weights)
        return diag_set(d, "give either --weights or --random-weights, not both");
    options local = *o;
    if (o->be == &backend_c && !o->cc_flag)
        local.be = &backend_tcc; /* run SPEC's default: in process */
    o = &local;
    double t0 = now_seconds(), steps[4];
    model_spec s;
    ir_graph *g = load_graph_timed(o, &s, 1, NULL, d, steps);
    int rc = g ? 0 : -1;
    char built_by[256];
    double t1 = now_seconds();
    if (!rc)
        rc = build_model_api(o, o->be, g, api, built_by, sizeof built_by, d);
    double t2 = now_seconds();
    if (!rc) {
        printf("compiled %s in %.3f s by %s\n", s.name, t2 - t0, built_by);
        printf("  spec %.3f s, graph %.3f s, %s weights %.3f s, passes %.3f s, code %.3f s\n",
               steps[0], steps[1], o->weights ? "reading" : "random", steps[2], steps[3], t2 - t1);
    }
    ir_free(g);
    spec_free(&s);
    return rc;
}

int cmd_run(const options *o)
{
    pelk_diag d;
    if (!o->path)
        return die("run needs a compiled model M.so or a SPEC");
    model_api api = {0};
    int so = is_shared_object(o->path);
    if (so && o->be == backend_find("llvm"))
        return die("run --backend llvm compiles a SPEC; run M.so without --backend");
    int rc = so ? load_model_api(&api, o->path, o->prefix, &d) : compile_spec(o, &api, &d);
    if (rc) {
        close_model_api(&api);
        return die(d.msg);
    }
    pelkc_model *m = NULL;
    npy_array x = {0};
    float *y = NULL;
    int32_t c, h, w, oc, oh, ow;
    pelkc_status cs = api_create(&api, &m);
    if (cs == PELKC_ERR_DEVICE) { /* a GPU model says why in last_error(NULL) */
        rc = diag_set(&d, "cannot create the model: %s", api.last_error(NULL));
        goto done;
    }
    if (cs != PELKC_OK) {
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
