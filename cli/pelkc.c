/* pelkc: the command-line driver. Each subcommand reads straight through the
 * folders: frontend (spec, weights) -> ir -> passes -> backends, and `run`
 * loads what `compile` wrote. */
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../backends/backend.h"
#include "../frontend/build_graph.h"
#include "../frontend/spec.h"
#include "../passes/passes.h"
#include "../runtime/pelkc_model.h"
#include "npy.h"

#define PELKC_VERSION "0.1.0"

static const char usage[] =
    "usage: pelkc COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  check SPEC                          validate a model spec; print a summary\n"
    "  compile SPEC -o M.so (--weights W.safetensors | --random-weights SEED)\n"
    "                                      build a standalone shared library\n"
    "  run M.so [--input X.npy] [--output Y.npy] [--batch N] [--seed S]\n"
    "                                      run a compiled model (random input unless --input)\n"
    "  emit ir SPEC [--print-after-all]    print the IR (after every pass if asked)\n"
    "  emit c SPEC                         print the generated C (code only, not weights)\n"
    "\n"
    "options:\n"
    "  -o, --output-file M.so   where compile writes the library\n"
    "  --weights W              float32 safetensors with the spec's weight names\n"
    "  --random-weights SEED    seeded random weights (for demos and benchmarks)\n"
    "  --cc CC                  C compiler for the C backend (default: $PELKC_CC or cc)\n"
    "  --keep-temps             keep the build directory and print its path\n"
    "  -v, --verbose            print the compiler command line\n"
    "  -h, --help               this text;  --version  the version\n"
    "\n"
    "Errors print one line (file:line:col for specs) and exit 1; nothing is written.\n"
    "Formats: spec/SPEC.md (specs), spec/IR.md (IR), runtime/pelkc_model.h (C API).\n";

typedef struct options {
    const char *cmd, *sub, *path;
    const char *weights, *out, *input, *output, *cc;
    int random_weights, print_after_all, keep_temps, verbose;
    uint64_t seed;
    int batch;
} options;

static int die(const char *msg)
{
    fprintf(stderr, "pelkc: %s\n", msg);
    return 1;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || errno || *s == '-')
        return -1;
    *out = v;
    return 0;
}

/* Parse argv into o; returns 0 to go on, 1 for an error (printed), 2 after --help/--version. */
static int parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->batch = 1;
    o->seed = 1;
    o->cc = getenv("PELKC_CC");
    int pos = 0;
    const char *positional[3] = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return 2;
        } else if (!strcmp(a, "--version")) {
            printf("pelkc %s\n", PELKC_VERSION);
            return 2;
        } else if (!strcmp(a, "--print-after-all")) {
            o->print_after_all = 1, takes = 0;
        } else if (!strcmp(a, "--keep-temps")) {
            o->keep_temps = 1, takes = 0;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            o->verbose = 1, takes = 0;
        } else if (a[0] == '-' && a[1]) {
            static const char *const valued[] = {"--weights", "-o", "--output-file", "--input",
                                                 "--output", "--cc", "--random-weights", "--seed",
                                                 "--batch"};
            int known = 0;
            for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++)
                known |= !strcmp(a, valued[k]);
            if (!known) {
                fprintf(stderr, "pelkc: unknown option '%s' (see pelkc --help)\n", a);
                return 1;
            }
            if (!next) {
                fprintf(stderr, "pelkc: %s needs a value\n", a);
                return 1;
            }
            if (!strcmp(a, "--weights"))
                o->weights = next;
            else if (!strcmp(a, "-o") || !strcmp(a, "--output-file"))
                o->out = next;
            else if (!strcmp(a, "--input"))
                o->input = next;
            else if (!strcmp(a, "--output"))
                o->output = next;
            else if (!strcmp(a, "--cc"))
                o->cc = next;
            else if (!strcmp(a, "--random-weights") || !strcmp(a, "--seed")) {
                if (parse_u64(next, &o->seed)) {
                    fprintf(stderr, "pelkc: %s needs a non-negative integer, got '%s'\n", a, next);
                    return 1;
                }
                if (a[2] == 'r')
                    o->random_weights = 1;
            } else if (!strcmp(a, "--batch")) {
                uint64_t b;
                if (parse_u64(next, &b) || b < 1 || b > 65536) {
                    fprintf(stderr, "pelkc: --batch needs an integer in [1, 65536], got '%s'\n",
                            next);
                    return 1;
                }
                o->batch = (int)b;
            }
            i++;
        } else {
            if (pos == 3) {
                fprintf(stderr, "pelkc: unexpected argument '%s' (see pelkc --help)\n", a);
                return 1;
            }
            positional[pos++] = a;
            takes = 0;
        }
        (void)takes;
    }
    if (pos == 0) {
        fputs(usage, stderr);
        return 1;
    }
    o->cmd = positional[0];
    if (!strcmp(o->cmd, "emit")) {
        o->sub = positional[1];
        o->path = positional[2];
    } else {
        o->path = positional[1];
        if (pos > 2) {
            fprintf(stderr, "pelkc: unexpected argument '%s'\n", positional[2]);
            return 1;
        }
    }
    return 0;
}

/* ---- check ---- */

static void print_summary(const model_spec *s, const ir_graph *g)
{
    int64_t params = 0, macs = 0;
    for (int i = 0; i < g->n_consts; i++)
        params += ir_const_numel(&g->consts[i]);
    for (int i = 0; i < g->n_ops; i++)
        macs += ir_op_macs(g, &g->ops[i]);
    printf("%s: input %dx%dx%d, stem %dx%d stride %d, %d stage%s, kpe %s, %d classes\n", s->name,
           s->channels, s->height, s->width, s->stem_kernel, s->stem_kernel, s->stem_stride,
           s->n_stages, s->n_stages > 1 ? "s" : "", kpe_mode_name(s->kpe), s->classes);
    for (int i = 0; i < s->n_stages; i++) {
        const stage_spec *st = &s->stages[i];
        char rows[512], cols[512];
        grid_format(&st->rows, rows, sizeof rows);
        grid_format(&st->cols, cols, sizeof cols);
        printf("  stage %d: dim %d, depth %d, map %dx%d, conv on %d channels, hidden %d\n", i,
               st->dim, st->depth, st->map_h, st->map_w, st->conv_channels, st->hidden);
        printf("    kernel %d, grid %dx%d (%d of %d weights per channel, %.1f%%)\n", st->kernel,
               st->rows.n, st->cols.n, st->rows.n * st->cols.n, st->kernel * st->kernel,
               100.0 * st->rows.n * st->cols.n / ((double)st->kernel * st->kernel));
        printf("    rows %s\n    cols %s\n", rows, cols);
    }
    printf("parameters: %lld (%.2f M)\n", (long long)params, params / 1e6);
    printf("multiply-adds per image (convs dense): %.3f G\n", macs / 1e9);
}

/* ---- the compile pipeline shared by check, compile and emit ---- */

static ir_graph *load_graph(const options *o, model_spec *s, int need_weights, FILE *dump,
                            pelk_diag *d)
{
    if (!o->path) {
        diag_set(d, "%s needs a SPEC file", o->cmd);
        return NULL;
    }
    if (spec_load(s, o->path, d))
        return NULL;
    ir_graph *g = build_graph(s);
    if (o->weights) {
        if (bind_weights(g, o->weights, d)) {
            ir_free(g);
            return NULL;
        }
    } else if (o->random_weights) {
        bind_random_weights(g, o->seed);
    } else if (need_weights) {
        diag_set(d, "compile needs --weights W.safetensors or --random-weights SEED");
        ir_free(g);
        return NULL;
    }
    pass_options po = {.periph_dense = 1};
    if (run_passes(g, &po, dump, d)) {
        ir_free(g);
        return NULL;
    }
    return g;
}

static int cmd_check(const options *o)
{
    pelk_diag d;
    model_spec s;
    if (!o->path)
        return die("check needs a SPEC file");
    if (spec_load(&s, o->path, &d))
        return die(d.msg);
    ir_graph *g = build_graph(&s);
    int rc = ir_verify(g, &d);
    if (!rc)
        print_summary(&s, g);
    ir_free(g);
    spec_free(&s);
    return rc ? die(d.msg) : 0;
}

static int cmd_compile(const options *o)
{
    pelk_diag d;
    model_spec s;
    if (!o->out)
        return die("compile needs -o M.so");
    if (o->weights && o->random_weights)
        return die("give either --weights or --random-weights, not both");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ir_graph *g = load_graph(o, &s, 1, NULL, &d);
    if (!g) {
        spec_free(&s);
        return die(d.msg);
    }
    build_options bo = {.cc = o->cc, .keep_temps = o->keep_temps, .verbose = o->verbose};
    int rc = c_build_so(g, &bo, o->out, &d);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!rc)
        printf("compiled %s -> %s (%s weights, %d ops, %.2f s)\n", s.name, o->out,
               o->weights ? o->weights : "random", g->n_ops,
               (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    ir_free(g);
    spec_free(&s);
    return rc ? die(d.msg) : 0;
}

static int cmd_emit(const options *o)
{
    pelk_diag d;
    model_spec s;
    if (!o->sub || (strcmp(o->sub, "ir") && strcmp(o->sub, "c")))
        return die("emit needs what to emit: 'ir' or 'c' (pelkc emit ir SPEC)");
    int ir = !strcmp(o->sub, "ir");
    ir_graph *g = load_graph(o, &s, 0, ir && o->print_after_all ? stdout : NULL, &d);
    int rc = g ? 0 : -1;
    if (g && ir && !o->print_after_all) {
        char *text = ir_print(g);
        fputs(text, stdout);
        free(text);
    } else if (g && !ir) {
        rc = c_emit(g, stdout, &d);
    }
    ir_free(g);
    spec_free(&s);
    return rc ? die(d.msg) : 0;
}

/* ---- run ---- */

typedef struct model_api {
    void *so;
    pelkc_status (*create)(pelkc_model **);
    void (*free)(pelkc_model *);
    pelkc_status (*input_shape)(const pelkc_model *, int32_t *, int32_t *, int32_t *);
    pelkc_status (*output_shape)(const pelkc_model *, int32_t *);
    pelkc_status (*run_f32)(pelkc_model *, const float *, int32_t, float *);
    const char *(*last_error)(const pelkc_model *);
    const char *(*name)(void);
} model_api;

static int load_api(model_api *api, const char *path, pelk_diag *d)
{
    char buf[4096];
    /* dlopen searches the library path for names without a slash */
    snprintf(buf, sizeof buf, "%s%s", strchr(path, '/') ? "" : "./", path);
    api->so = dlopen(buf, RTLD_NOW | RTLD_LOCAL);
    if (!api->so)
        return diag_set(d, "cannot load %s: %s", path, dlerror());
    struct { void **slot; const char *name; } syms[] = {
        {(void **)&api->create, "pelkc_create"},
        {(void **)&api->free, "pelkc_free"},
        {(void **)&api->input_shape, "pelkc_input_shape"},
        {(void **)&api->output_shape, "pelkc_output_shape"},
        {(void **)&api->run_f32, "pelkc_run_f32"},
        {(void **)&api->last_error, "pelkc_last_error"},
        {(void **)&api->name, "pelkc_model_name"},
    };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        *syms[i].slot = dlsym(api->so, syms[i].name);
        if (!*syms[i].slot)
            return diag_set(d, "%s is not a pelkc model: no symbol %s", path, syms[i].name);
    }
    return 0;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void random_input(float *x, int64_t n, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 12345;
    for (int64_t i = 0; i < n; i++) { /* uniform in [-1, 1): enough for a demo input */
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

static int cmd_run(const options *o)
{
    pelk_diag d;
    if (!o->path)
        return die("run needs a compiled model M.so");
    model_api api = {0};
    if (load_api(&api, o->path, &d)) {
        if (api.so)
            dlclose(api.so);
        return die(d.msg);
    }
    pelkc_model *m = NULL;
    npy_array x = {0};
    float *y = NULL;
    int rc = 0;
    int32_t c, h, w, classes;
    if (api.create(&m) != PELKC_OK) {
        rc = diag_set(&d, "cannot create the model (out of memory?)");
        goto done;
    }
    api.input_shape(m, &c, &h, &w);
    api.output_shape(m, &classes);
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
        random_input(x.data, batch * c * h * w, o->seed);
        printf("input: random [%lld, %d, %d, %d], seed %llu\n", (long long)batch, c, h, w,
               (unsigned long long)o->seed);
    }
    y = xcalloc((size_t)(batch * classes), sizeof(float));
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (api.run_f32(m, x.data, (int32_t)batch, y) != PELKC_OK) {
        rc = diag_set(&d, "run failed: %s", api.last_error(m));
        goto done;
    }
    double secs = seconds_since(&t0);
    printf("ran %s on batch %lld in %.1f ms -> [%lld, %d]\n", api.name(), (long long)batch,
           secs * 1e3, (long long)batch, classes);
    print_top5(y, classes);
    if (o->output) {
        int64_t shape[2] = {batch, classes};
        rc = npy_save_f32(o->output, y, 2, shape, &d);
        if (!rc)
            printf("wrote %s\n", o->output);
    }
done:
    if (m)
        api.free(m);
    npy_free(&x);
    free(y);
    dlclose(api.so);
    return rc ? die(d.msg) : 0;
}

int main(int argc, char **argv)
{
    options o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc == 2 ? 0 : 1;
    if (!strcmp(o.cmd, "check"))
        return cmd_check(&o);
    if (!strcmp(o.cmd, "compile"))
        return cmd_compile(&o);
    if (!strcmp(o.cmd, "run"))
        return cmd_run(&o);
    if (!strcmp(o.cmd, "emit"))
        return cmd_emit(&o);
    if (!strcmp(o.cmd, "help")) {
        fputs(usage, stdout);
        return 0;
    }
    fprintf(stderr, "pelkc: unknown command '%s' (see pelkc --help)\n", o.cmd);
    return 1;
}
