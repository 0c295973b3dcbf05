/* The GPU kernels of the ops no spec leaves standing after the passes
 * (batchnorm, mul_channel, gelu, a partial add: the folds and fusions remove
 * them), run on the CPU through `--target cuda-emulate` and checked against
 * the same ops computed here in double. A hand-built graph:
 *   x [6,5,7] -> batchnorm{g=4} -> mul_channel -> gelu -> add{g=3}(., x)
 * with random data from a fresh seed (printed).
 *   test_gpu_ops WORKDIR */
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "../../backends/gpu/gpu.h"
#include "../../runtime/pelkc_model.h"
#include "check.h"

enum { C = 6, H = 5, W = 7, G_BN = 4, G_ADD = 3, HW = H * W };

static uint64_t rng;

static double uniform(double lo, double hi)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return lo + (hi - lo) * (double)(rng >> 11) / 9007199254740992.0;
}

static int add_const(ir_graph *g, const char *name, int n, double lo, double hi)
{
    int shape[1] = {n};
    int id = ir_add_const(g, name, 1, shape);
    g->consts[id].data = xcalloc((size_t)n, sizeof(float));
    for (int i = 0; i < n; i++)
        g->consts[id].data[i] = (float)uniform(lo, hi);
    return id;
}

static int add_op(ir_graph *g, op_kind kind, int in0, int in1, const int *cst, int n_cst, int gch,
                  const char *out)
{
    ir_op op = {.kind = kind, .in = {in0, in1}, .n_in = in1 >= 0 ? 2 : 1, .n_cst = n_cst, .g = gch,
                .eps = 1e-5};
    for (int i = 0; i < n_cst; i++)
        op.cst[i] = cst[i];
    op.out = ir_add_value(g, out, 4, C, H, W);
    ir_add_op(g, &op);
    return op.out;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_gpu_ops WORKDIR\n");
        return 2;
    }
    rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    printf("seed: %llu\n", (unsigned long long)rng);
    rng |= 1;
    ir_graph *g = ir_new("gpu_ops");
    g->input = ir_add_value(g, "x", 4, C, H, W);
    int w = add_const(g, "bn.weight", G_BN, 0.5, 1.5), b = add_const(g, "bn.bias", G_BN, -1, 1);
    int mean = add_const(g, "bn.mean", G_BN, -1, 1), var = add_const(g, "bn.var", G_BN, 0.2, 2);
    int gamma = add_const(g, "gamma", C, -2, 2);
    int bn_c[4] = {w, b, mean, var};
    int v = add_op(g, OP_BATCHNORM, g->input, -1, bn_c, 4, G_BN, "bn");
    v = add_op(g, OP_MUL_CHANNEL, v, -1, &gamma, 1, 0, "scaled");
    v = add_op(g, OP_GELU, v, -1, NULL, 0, 0, "gelu");
    g->output = add_op(g, OP_ADD, v, g->input, NULL, 0, G_ADD, "sum");
    pelk_diag d;
    CHECK(ir_verify(g, &d) == 0);

    char so[4096];
    snprintf(so, sizeof so, "%s/gpu_ops_emulated.so", argv[1]);
    build_options o = {0};
    int rc = gpu_build_so(g, &o, 80, 1, so, &d);
    if (rc)
        fprintf(stderr, "build: %s\n", d.msg);
    CHECK(rc == 0);
    void *lib = rc ? NULL : dlopen(so, RTLD_NOW | RTLD_LOCAL);
    pelkc_status (*create)(int32_t, pelkc_model **) = NULL;
    pelkc_status (*run)(pelkc_model *, const float *, int32_t, float *) = NULL;
    void (*destroy)(pelkc_model *) = NULL;
    if (lib) {
        *(void **)&create = dlsym(lib, "pelkc_create_abi");
        *(void **)&run = dlsym(lib, "pelkc_run_f32");
        *(void **)&destroy = dlsym(lib, "pelkc_free");
    }
    CHECK(create && run && destroy);
    if (!create || !run || !destroy) {
        ir_free(g);
        return check_summary();
    }

    float x[C * HW], y[C * HW];
    for (int i = 0; i < C * HW; i++)
        x[i] = (float)uniform(-3, 3);
    pelkc_model *m = NULL;
    CHECK(create(PELKC_API_VERSION, &m) == PELKC_OK);
    CHECK(run(m, x, 1, y) == PELKC_OK);
    destroy(m);

    /* the same ops in double */
    const float *fw = g->consts[w].data, *fb = g->consts[b].data, *fm = g->consts[mean].data,
                *fv = g->consts[var].data, *fg = g->consts[gamma].data;
    double err = 0, norm = 0;
    for (int c = 0; c < C; c++)
        for (int p = 0; p < HW; p++) {
            double t = x[c * HW + p];
            if (c < G_BN)
                t = (t - fm[c]) / sqrt((double)fv[c] + 1e-5) * fw[c] + fb[c];
            t *= fg[c];
            t = 0.5 * t * (1 + erf(t / sqrt(2.0)));
            double ref = c < G_ADD ? t + x[c * HW + p] : t;
            err += (y[c * HW + p] - ref) * (y[c * HW + p] - ref);
            norm += ref * ref;
        }
    double rel = sqrt(err / norm);
    printf("rel_l2: %.3e\n", rel);
    CHECK(rel < 1e-6);
    ir_free(g);
    dlclose(lib);
    return check_summary();
}
